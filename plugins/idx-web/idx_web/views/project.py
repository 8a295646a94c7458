"""Pages for ``/{user}/{index}/{project}`` and ``/{user}/{index}/{project}/{version}``."""

from __future__ import annotations

from typing import Any

from idx_server.model.errors import NotFound
from idx_server.model.names import project_name
from idx_server.model.principals import DELETE, INDEX_MODIFY, YANK
from idx_server.services.files import FileService
from idx_server.services.indexes import IndexService
from idx_server.services.resolve import ProjectResolver
from idx_server.views.common import outside_url
from pyramid.httpexceptions import HTTPFound
from pyramid.request import Request

from idx_web.pages.project import project_page
from idx_web.pages.release import release_page
from idx_web.pages.snippets import install_commands
from idx_web.views.common import file_url, index_of, meta_store

#: Messages after an action redirected back to the release page (never text from the URL).
DONE_MESSAGES = {
    "yanked": "The release was yanked: installers skip it unless it is pinned exactly.",
    "unyanked": "The release was unyanked.",
}


def _canonical(request: Request) -> str:
    """The normalized project name; a differently spelled URL redirects to it."""
    match = request.matchdict
    project = project_name(match["project"])
    if match["project"] != project:
        version = f"/{match['version']}" if "version" in match else ""
        query = "?" + request.query_string if request.query_string else ""
        location = f"{outside_url(request)}/{match['user']}/{match['index']}/{project}{version}{query}"
        raise HTTPFound(location=location)
    return project


def project_view(request: Request) -> dict[str, Any]:
    index = index_of(request)
    project = _canonical(request)
    resolved = request.find_service(ProjectResolver).resolve(index, project)
    if not resolved.exists:
        raise NotFound(f"project {project!r} is not on index {index.full_name} or its bases")
    return {"page": project_page(resolved, meta_store(request))}


def release_view(request: Request) -> dict[str, Any]:
    index = index_of(request)
    project = _canonical(request)
    resolved = request.find_service(ProjectResolver).resolve(index, project)
    if not resolved.exists:
        raise NotFound(f"project {project!r} is not on index {index.full_name} or its bases")
    files = request.find_service(FileService)
    page = release_page(
        resolved,
        request.matchdict["version"],
        meta_store(request),
        files.open_blob,
        lambda index_name, relpath: file_url(request, index_name, relpath),
    )
    origin = request.find_service(IndexService).snapshot().find(page.origin)
    can_act = origin is not None and origin.full_name == index.full_name and not origin.is_mirror
    return {
        "page": page,
        "install": install_commands(outside_url(request), index.full_name, page.display_name, page.version),
        "can_yank": can_act and bool(request.has_permission(YANK)),
        "can_delete": can_act and bool(request.has_permission(DELETE)),
        "needs_force": can_act and origin is not None and not origin.config.volatile,
        "can_force": bool(request.has_permission(INDEX_MODIFY)),
        "done": DONE_MESSAGES.get(request.GET.get("done", ""), ""),
    }
