"""The hooks idx-server calls, for plugins to implement.

Implement them in a module (or object) registered under the ``idx_server`` entry-point
group::

    from idx_server import hookimpl

    @hookimpl
    def idx_release_uploaded(event):
        ...

Hooks are always called with keyword arguments; an implementation may accept
fewer arguments than the spec names. Unless a hook says it is *firstresult*, every
implementation is called and all their answers are used. Event hooks
(``idx_*_created``, ``idx_release_*``, ``idx_file_cached``, ``idx_toxresult_stored``,
``idx_pushed``) run after the change committed, on a background thread: they never
delay a request, and an exception in one is logged, never shown to the client.

Each docstring says when the hook is called, its arguments, what it returns and how
the answers are combined. ``docs/hooks.md`` is generated from them
(``python docs/gen_hooks.py``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    import argparse
    from collections.abc import Iterable, Iterator

    from pyramid.config import Configurator
    from pyramid.request import Request

    from idx_server.events import Event
    from idx_server.model.distfiles import DistFile
    from idx_server.model.indexes import ConfigKey, Index, IndexType
    from idx_server.model.uploads import UploadCandidate
    from idx_server.security import AuthResult
    from idx_server.settings import Setting
    from idx_server.storage import StorageBackend

hookspec = pluggy.HookspecMarker("idx")


# -- configuration ----------------------------------------------------------------------------
@hookspec
def idx_add_settings() -> list[Setting]:  # type: ignore[empty-body]
    """Called once at start-up, before settings are read (and by the ``idx_settings``
    test fixture).

    Arguments: none.

    Returns a list of :class:`idx_server.settings.Setting`. Each becomes a TOML key, an
    ``IDX_<NAME>`` environment variable and a ``--name`` command-line option; its value is
    ``settings.get(name)``. Name settings with the plugin's prefix (``webhooks_timeout``).

    Not firstresult: the lists of all plugins are joined.
    """


@hookspec
def idx_add_cli_arguments(parser: argparse.ArgumentParser) -> None:
    """Called while ``idx-server``'s argument parser is built.

    Arguments: ``parser``, the :class:`argparse.ArgumentParser`; add arguments to it.
    The value of each argument the command line gave is ``settings.get(dest)``.

    Returns nothing. Prefer ``idx_add_settings`` for anything that is a setting: this
    hook is for command-line-only switches.

    Not firstresult: every plugin is called.
    """


@hookspec
def idx_configure(config: Configurator) -> None:
    """Called once while the web application is built, after the core routes and views.

    Arguments: ``config``, the Pyramid Configurator: add routes, views, tweens, renderers
    or static views; typically ``config.include("my_plugin.web")``. The idx settings are
    ``config.registry["idx.settings"]``, the running core (storage and services) is
    ``config.registry["idx.core"]``.

    Returns nothing. Not firstresult: every plugin is called.
    """


@hookspec
def idx_storage_backends() -> list[StorageBackend]:  # type: ignore[empty-body]
    """Called at start-up, to find the backend the ``storage`` setting names.

    Arguments: none.

    Returns a list of :class:`idx_server.storage.StorageBackend` objects (the core offers
    ``sqlite``). This is how a PostgreSQL or object-store backend plugs in.

    Not firstresult: the lists of all plugins are joined; names must be unique.
    """


# -- security ---------------------------------------------------------------------------------
@hookspec(firstresult=True)
def idx_authenticate(request: Request, username: str, password: str | None) -> AuthResult | None:
    """Called once per request (when the identity is first needed), with or without
    credentials, before idx checks its own passwords and tokens.

    Arguments: ``request`` (the Pyramid request: headers, ``remote_addr``); ``username``
    and ``password`` from HTTP Basic or ``X-Devpi-Auth``, or ``""`` and None when the
    request carries none (e.g. when the identity comes from a trusted proxy header the
    plugin reads from ``request`` itself). Not called when the credentials name ``root``:
    root's password is always checked by idx.

    Returns an :class:`idx_server.security.AuthResult` to accept (``ok=True``, with the
    user name and optionally groups) or reject (``ok=False``: the request is anonymous),
    or None to let the next plugin, and finally idx itself, decide.

    firstresult: the first non-None answer wins.
    """


@hookspec
def idx_groups(username: str) -> list[str]:  # type: ignore[empty-body]
    """Called when an authenticated user's principals are computed (once per request).

    Arguments: ``username``, the authenticated user.

    Returns the group names the user is in; an ACL entry ``:group:`` (e.g.
    ``acl_upload = :admins:``) then matches them.

    Not firstresult: the groups of all plugins (and of ``idx_authenticate``) are joined.
    """


# -- uploads and index types ------------------------------------------------------------------
@hookspec
def idx_validate_upload(candidate: UploadCandidate) -> None:
    """Called for each upload after idx's own checks passed, before anything is stored.

    Arguments: ``candidate`` (:class:`idx_server.model.uploads.UploadCandidate`): the
    index, project, version, filename, hashes, size, metadata, the user and the path of
    the bytes.

    Returns nothing. Raise :class:`idx_server.model.errors.InvalidUpload` (or
    ``Forbidden``) with a message to refuse the upload; the client gets a 400 (403) with
    that message.

    Not firstresult: every plugin is called; the first that raises refuses the upload.
    """


@hookspec
def idx_index_types() -> list[IndexType]:  # type: ignore[empty-body]
    """Called at start-up, to learn the index types beside ``stage`` and ``mirror``.

    Arguments: none.

    Returns a list of :class:`idx_server.model.indexes.IndexType`: its name, config keys
    (with kinds and defaults) and whether it accepts uploads. What an index of the type
    offers from its bases is filtered by ``idx_filter_project_files``. An index whose
    type's plugin is uninstalled stays readable (its own files only, since its filter
    is gone) and refuses writes with a message naming the missing type.

    Not firstresult: the lists of all plugins are joined; type names must be unique.
    """


@hookspec
def idx_index_config_keys(index_type: IndexType) -> list[ConfigKey]:  # type: ignore[empty-body]
    """Called at start-up once for each index type (core and plugin ones), to add config
    keys to existing types.

    Arguments: ``index_type``, the :class:`~idx_server.model.indexes.IndexType` being
    assembled (check ``index_type.name`` or ``index_type.accepts_uploads``).

    Returns a list of :class:`~idx_server.model.indexes.ConfigKey` (or an empty list) to
    append to that type's keys. New indexes get their defaults; existing ones read as
    missing (use ``index.config.get(name)``) until set. A key with ``secret=True`` is
    shown redacted in the JSON API, and the redacted value sent back keeps it.

    Not firstresult: the keys of all plugins are joined; names must not collide.
    """


@hookspec
def idx_filter_project_files(index: Index, project: str, files: list[DistFile]) -> list[DistFile] | None:
    """Called whenever a project page (simple API, devpi JSON) is built for ``index``.

    Arguments: ``index``, the requested :class:`~idx_server.model.indexes.Index`;
    ``project``, the normalized project name; ``files``, the merged
    :class:`~idx_server.model.distfiles.DistFile` list from its resolution order.

    Returns a filtered list to replace ``files``, or None to leave it. Pages are cached
    until the index configuration or the project changes, so the answer must depend
    only on those. When files were taken away, the page's PEP 700 ``versions`` list
    names only the versions of the files left.

    Not firstresult: each plugin is called in turn with the previous one's list.
    """


@hookspec
def idx_filter_project_names(index: Index, names: Iterator[str]) -> Iterable[str] | None:
    """Called when the project list (``/+simple/``) of ``index`` is built.

    Arguments: ``index``, the requested :class:`~idx_server.model.indexes.Index`;
    ``names``, the display names of its projects and its bases' (with a mirror's
    upstream list: PyPI's has 700,000), sorted by normalized name, each once, as an
    iterator to be consumed once.

    Returns an iterable to replace ``names`` (keep their order; a generator keeps the
    memory flat), or None to leave them. Lists are cached until the index
    configuration or a project of its resolution order changes, so the answer must
    depend only on those.

    Not firstresult: each plugin is called in turn with the previous one's names.
    """


# -- events (after commit, off the request path) ----------------------------------------------
@hookspec
def idx_user_created(event: Event) -> None:
    """Called after a user was created.

    Arguments: ``event`` (:class:`idx_server.events.Event`), ``event.user`` and
    ``event.payload["user"]`` name it.

    Returns nothing. Not firstresult: every plugin is called, off the request path.
    """


@hookspec
def idx_index_created(event: Event) -> None:
    """Called after an index was created.

    Arguments: ``event`` (:class:`idx_server.events.Event`): ``event.index`` is
    ``user/name``, ``event.payload["config"]`` its configuration.

    Returns nothing. Not firstresult: every plugin is called, off the request path.
    """


@hookspec
def idx_release_uploaded(event: Event) -> None:
    """Called after a file was uploaded to a stage index.

    Arguments: ``event`` (:class:`idx_server.events.Event`): ``event.index``,
    ``event.project``, ``event.version``, ``event.user``, ``event.files`` (one
    ``{"filename", "sha256", "path", "url"}``: ``path`` is the file's path on the
    server, ``url`` the full URL the uploader's request implied).

    Returns nothing. Not firstresult: every plugin is called, off the request path.
    """


@hookspec
def idx_release_deleted(event: Event) -> None:
    """Called after a project, release or file was deleted from a stage index.

    Arguments: ``event`` (:class:`idx_server.events.Event`): ``event.version`` is ""
    for a whole project; ``event.files`` lists the deleted files as
    ``{"filename", "sha256", "path"}``.

    Returns nothing. Not firstresult: every plugin is called, off the request path.
    """


@hookspec
def idx_release_yanked(event: Event) -> None:
    """Called after a release was yanked or unyanked (PEP 592).

    Arguments: ``event`` (:class:`idx_server.events.Event`): ``event.files`` lists the
    release's files as ``{"filename", "sha256", "path"}``; ``event.payload`` is
    ``{"yanked": bool, "reason": str}``.

    Returns nothing. Not firstresult: every plugin is called, off the request path.
    """


@hookspec
def idx_file_cached(event: Event) -> None:
    """Called after a mirror fetched and cached a file from upstream.

    Arguments: ``event`` (:class:`idx_server.events.Event`): ``event.index`` is the
    mirror, ``event.files`` has the one file.

    Returns nothing. Not firstresult: every plugin is called, off the request path.
    """


@hookspec
def idx_toxresult_stored(event: Event) -> None:
    """Called after a test result was attached to a file.

    Arguments: ``event`` (:class:`idx_server.events.Event`): ``event.payload`` is
    ``{"filename", "toxresult"}`` (the result's path).

    Returns nothing. Not firstresult: every plugin is called, off the request path.
    """


@hookspec
def idx_index_deleted(event: Event) -> None:
    """Called after an index was deleted (also when its owner was deleted).

    Arguments: ``event`` (:class:`idx_server.events.Event`): ``event.index`` is the deleted
    index's ``user/name``, ``event.user`` who deleted it.

    Returns nothing. Not firstresult: every plugin is called, off the request path.
    """


@hookspec
def idx_shutdown() -> None:
    """Called once when the server stops (or a test's core is closed), after the last
    event was delivered: close threads, files and connections a plugin opened.

    Arguments: none. Returns nothing. Not firstresult: every plugin is called; an
    exception in one is logged and the others still run.
    """


@hookspec
def idx_pushed(event: Event) -> None:
    """Called after a release was copied to another index (push).

    Arguments: ``event`` (:class:`idx_server.events.Event`): ``event.index`` is the
    target, ``event.payload["source"]`` the source index, ``event.files`` the copied
    files as ``{"filename", "sha256", "path"}`` (paths on the target).

    Returns nothing. Not firstresult: every plugin is called, off the request path.
    """


# -- observability ----------------------------------------------------------------------------
@hookspec
def idx_metrics(request: Request | None) -> list[tuple[str, str, float]]:  # type: ignore[empty-body]
    """Called when ``/+status`` or ``/+metrics`` is built.

    Arguments: ``request``, the request asking (None outside a request).

    Returns ``[(name, "counter" | "gauge", value), ...]``; names should start with the
    plugin's own prefix.

    Not firstresult: the metrics of all plugins are joined.
    """
