"""What a logged-in browser can change: yank, unyank and delete releases (forms that post
here; permissions are the core's ACLs on the route's index, CSRF is checked first)."""

from __future__ import annotations

from typing import Any

from idx_server.model.names import project_name
from idx_server.model.principals import INDEX_MODIFY
from idx_server.services.releases import ReleaseService, normalize_version
from idx_server.views.common import current_user, outside_url
from pyramid.httpexceptions import HTTPSeeOther
from pyramid.request import Request

from idx_web.session import check_csrf
from idx_web.views.common import index_of, meta_store

MAX_REASON = 1000


def _release_target(request: Request) -> tuple[str, str]:
    return project_name(request.matchdict["project"]), normalize_version(request.matchdict["version"])


def _back_to(request: Request, path: str, done: str = "") -> HTTPSeeOther:
    query = f"?done={done}" if done else ""
    return HTTPSeeOther(location=f"{outside_url(request)}/{path}{query}")


def yank(request: Request) -> HTTPSeeOther:
    check_csrf(request)
    index = index_of(request)
    project, version = _release_target(request)
    reason = str(request.POST.get("reason", "")).strip()[:MAX_REASON]
    request.find_service(ReleaseService).set_yanked(
        index, project, version, True, reason, current_user(request)
    )
    return _back_to(request, f"{index.full_name}/{project}/{version}", "yanked")


def unyank(request: Request) -> HTTPSeeOther:
    check_csrf(request)
    index = index_of(request)
    project, version = _release_target(request)
    request.find_service(ReleaseService).set_yanked(index, project, version, False, "", current_user(request))
    return _back_to(request, f"{index.full_name}/{project}/{version}", "unyanked")


def confirm_delete(request: Request) -> dict[str, Any]:
    """GET: a page asking to confirm (deleting works without JavaScript)."""
    index = index_of(request)
    project, version = _release_target(request)
    return {
        "index": index.full_name,
        "project": project,
        "version": version,
        "needs_force": not index.config.volatile,
        "can_force": bool(request.has_permission(INDEX_MODIFY)),
    }


def delete(request: Request) -> HTTPSeeOther:
    check_csrf(request)
    index = index_of(request)
    project, version = _release_target(request)
    force = request.POST.get("force") == "1" and bool(request.has_permission(INDEX_MODIFY))
    request.find_service(ReleaseService).delete_release(index, project, version, current_user(request), force)
    still_there = bool(meta_store(request).indexes_with_project([index.id], project))
    return _back_to(request, f"{index.full_name}/{project}" if still_there else index.full_name)
