"""The hooks idx-server calls, for plugins to implement.

Implement them in a module registered under the ``idx_server`` entry-point group::

    from idx_server import hookimpl

    @hookimpl
    def idx_release_uploaded(event):
        ...

Hooks are always called with keyword arguments; an implementation may accept
fewer arguments than the spec names. Event hooks (``idx_*_created``, ``idx_release_*``,
``idx_file_cached``, ``idx_toxresult_stored``, ``idx_pushed``) run after the change
committed, on a background thread: they never delay a request, and an exception
in one is logged, never shown to the client.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    import argparse

    from pyramid.config import Configurator
    from pyramid.request import Request

    from idx_server.events import Event
    from idx_server.model.indexes import Index, IndexType
    from idx_server.model.uploads import UploadCandidate
    from idx_server.security import AuthResult
    from idx_server.settings import Setting
    from idx_server.storage import StorageBackend

hookspec = pluggy.HookspecMarker("idx")


# -- configuration ----------------------------------------------------------------------------
@hookspec
def idx_add_settings() -> list[Setting]:  # type: ignore[empty-body]
    """Called once at start-up, before settings are read.

    Return a list of :class:`idx_server.settings.Setting`. Each becomes a TOML key, an
    ``IDX_<NAME>`` environment variable and a ``--name`` command-line option; the value is
    available as ``settings.get(name)``.
    """


@hookspec
def idx_add_cli_arguments(parser: argparse.ArgumentParser) -> None:
    """Called while ``idx-server``'s argument parser is built; add extra arguments to ``parser``.

    Prefer ``idx_add_settings`` for anything that is a setting; this hook is for
    command-line-only switches.
    """


@hookspec
def idx_configure(config: Configurator) -> None:
    """Called once while the web application is built, after the core routes and views.

    ``config`` is the Pyramid Configurator: add routes, views, tweens, renderers or
    static views; typically ``config.include("my_plugin.web")``. The idx settings are
    ``config.registry["idx.settings"]``.
    """


@hookspec
def idx_storage_backends() -> list[StorageBackend]:  # type: ignore[empty-body]
    """Called at start-up. Return :class:`idx_server.storage.StorageBackend` objects.

    The ``storage`` setting picks one by name (the core offers ``sqlite``). This is how a
    PostgreSQL or object-store backend plugs in.
    """


# -- security ---------------------------------------------------------------------------------
@hookspec(firstresult=True)
def idx_authenticate(request: Request, username: str, password: str | None) -> AuthResult | None:
    """Called for every request that carries credentials, before idx checks its own
    passwords and tokens (firstresult: the first non-None answer wins).

    ``password`` is None when the identity comes from elsewhere (e.g. a trusted proxy
    header that a plugin reads from ``request`` itself; then ``username`` is "").
    Return an :class:`idx_server.security.AuthResult` to accept (``ok=True``, optionally
    with groups) or reject (``ok=False``) the credentials, or None to let the next
    plugin, and finally idx itself, decide. Never called for ``root``.
    """


@hookspec
def idx_groups(username: str) -> list[str]:  # type: ignore[empty-body]
    """Called when a user's principals are computed. Return group names the user is in;
    an ACL entry ``:group:`` (e.g. ``acl_upload = :admins:``) then matches them. All
    plugins' answers are combined.
    """


# -- uploads and index types ------------------------------------------------------------------
@hookspec
def idx_validate_upload(candidate: UploadCandidate) -> None:
    """Called for each upload after idx's own checks passed, before anything is stored.

    ``candidate`` (:class:`idx_server.model.uploads.UploadCandidate`) tells the index,
    project, version, filename, hashes, size, metadata and the user. Raise
    :class:`idx_server.model.errors.InvalidUpload` (or ``Forbidden``) with a message to
    refuse the upload; the client gets a 400 (403) with that message.
    """


@hookspec
def idx_index_types() -> list[IndexType]:  # type: ignore[empty-body]
    """Called at start-up. Return extra :class:`idx_server.model.indexes.IndexType` objects.

    A type declares its config keys (with kinds and defaults) and whether it accepts
    uploads. Its filtering of what bases offer is done by ``idx_filter_project_files``.
    An index whose type's plugin is uninstalled stays readable and refuses writes.
    """


@hookspec
def idx_filter_project_files(index: Index, project: str, files: list[Any]) -> list[Any] | None:
    """Called when a project page is built for ``index`` (the requested one), with the
    merged :class:`~idx_server.model.distfiles.DistFile` list.

    Return a filtered list to replace it, or None to leave it. The first non-None answer
    of each plugin is applied in turn. Used by index types such as ``constrained``.
    """


# -- events (after commit, off the request path) ----------------------------------------------
@hookspec
def idx_user_created(event: Event) -> None:
    """A user was created. ``event.payload``: ``{"user": name}``."""


@hookspec
def idx_index_created(event: Event) -> None:
    """An index was created. ``event.index`` is ``user/name``; ``event.payload["config"]``."""


@hookspec
def idx_release_uploaded(event: Event) -> None:
    """A file was uploaded to a private index. ``event.index``, ``event.project``,
    ``event.version``, ``event.files`` (list of ``{"filename", "sha256", "url"}``), ``event.user``."""


@hookspec
def idx_release_deleted(event: Event) -> None:
    """A project, release or file was deleted. ``event.version`` is "" for a whole project;
    ``event.files`` lists deleted files."""


@hookspec
def idx_release_yanked(event: Event) -> None:
    """A release was yanked or unyanked. ``event.payload``: ``{"yanked": bool, "reason": str}``."""


@hookspec
def idx_file_cached(event: Event) -> None:
    """A mirror fetched and cached a file from upstream. ``event.files`` has the one file."""


@hookspec
def idx_toxresult_stored(event: Event) -> None:
    """A test result was attached to a file. ``event.payload``: ``{"filename", "toxresult"}``."""


@hookspec
def idx_pushed(event: Event) -> None:
    """A release was copied to another index. ``event.index`` is the target,
    ``event.payload["source"]`` the source index."""


# -- observability ----------------------------------------------------------------------------
@hookspec
def idx_metrics(request: Request) -> list[tuple[str, str, float]]:  # type: ignore[empty-body]
    """Called when ``/+status`` or ``/+metrics`` is built. Return
    ``[(name, "counter" | "gauge", value), ...]``; names should start with the plugin's
    own prefix."""
