"""Composition: build the storage, services and the Pyramid application from settings."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

import pluggy
from pyramid.config import Configurator
from pyramid.request import Request
from pyramid.router import Router

from idx_server.accesslog import AccessLog
from idx_server.events import EventDispatcher
from idx_server.fastpath import FastPath
from idx_server.mirror.service import MirrorService
from idx_server.mirror.upstream import redact_url
from idx_server.model.errors import InvalidInput
from idx_server.model.indexes import MIRROR, STAGE, IndexConfig, IndexTypes, new_config
from idx_server.model.users import ROOT
from idx_server.plugins import get_plugin_manager
from idx_server.services.auth import AuthService
from idx_server.services.files import FileService
from idx_server.services.indexes import IndexService
from idx_server.services.push import PushService
from idx_server.services.releases import ReleaseService
from idx_server.services.resolve import ProjectResolver
from idx_server.services.simple import SimpleService
from idx_server.services.status import StatusService
from idx_server.services.toxresults import ToxResultService
from idx_server.services.uploads import UploadService
from idx_server.services.users import UserService
from idx_server.settings import Settings
from idx_server.storage import BlobStore, MetaStore, StorageBackend
from idx_server.views.common import negotiate_simple

log = logging.getLogger("idx")

T = TypeVar("T")


@dataclass
class Core:
    """Everything a running server is made of; built once per process (or per test)."""

    settings: Settings
    pm: pluggy.PluginManager
    store: MetaStore
    blobs: BlobStore
    events: EventDispatcher
    index_types: IndexTypes
    services: dict[type, Any] = field(default_factory=dict)
    started: float = field(default_factory=time.time)
    access_log: AccessLog = field(default_factory=AccessLog)

    def service(self, kind: type[T]) -> T:
        return self.services[kind]  # type: ignore[no-any-return]

    def close(self) -> None:
        # Background work first (mirror downloads write to the store and emit events),
        # then the events, the plugins, and last the store.
        mirror = self.services.get(MirrorService)
        if mirror is not None:
            mirror.close()
        self.events.wait(5)
        self.events.stop()
        for impl in self.pm.hook.idx_shutdown.get_hookimpls():
            try:
                impl.function()
            except Exception:
                log.exception("plugin %s failed while shutting down", impl.plugin_name)
        files = self.services.get(FileService)
        if files is not None:
            files.flush_access()
        self.access_log.close()
        self.store.close()


def storage_backend(settings: Settings, pm: pluggy.PluginManager) -> StorageBackend:
    backends = {b.name: b for found in pm.hook.idx_storage_backends() for b in found or []}
    backend: StorageBackend | None = backends.get(settings.storage)
    if backend is None:
        raise InvalidInput(
            f"storage: no backend named {settings.storage!r}; available: {', '.join(sorted(backends))}"
        )
    return backend


def index_types(pm: pluggy.PluginManager) -> IndexTypes:
    """The core's and plugins' index types, each with the config keys plugins add to it."""
    found = [STAGE, MIRROR, *(t for types in pm.hook.idx_index_types() for t in types or [])]
    types = IndexTypes([])
    for index_type in found:
        extra = [k for keys in pm.hook.idx_index_config_keys(index_type=index_type) for k in keys or []]
        names = [key.name for key in (*index_type.keys, *extra)]
        clashes = sorted({name for name in names if names.count(name) > 1})
        if clashes:
            raise ValueError(f"index type {index_type.name!r}: config keys defined twice: {clashes}")
        types.add(replace(index_type, keys=(*index_type.keys, *extra)) if extra else index_type)
    return types


def build_core(settings: Settings, pm: pluggy.PluginManager | None = None) -> Core:
    """Open storage and wire the services (no web application yet)."""
    pm = pm or get_plugin_manager()
    store, blobs = storage_backend(settings, pm).open(settings)
    events = EventDispatcher(pm)
    core = Core(settings, pm, store, blobs, events, index_types(pm))
    # On when the request log is wanted (idx-server's logging at info; not in tests).
    core.access_log.enabled = logging.getLogger("idx.request").isEnabledFor(logging.INFO)
    indexes = IndexService(store, blobs, core.index_types, events)
    mirror = MirrorService(store, blobs, settings, events)
    resolver = ProjectResolver(store, indexes, mirror, pm)
    simple = SimpleService(store, indexes, resolver, mirror, settings.serverdir / "+cache")
    services: list[Any] = [
        indexes,
        mirror,
        resolver,
        simple,
        UserService(store, blobs, events),
        AuthService(store, settings.login_expiry, settings.trusted_proxies),
        UploadService(store, blobs, pm, events),
        ReleaseService(store, blobs, resolver, events),
        PushService(store, events),
        ToxResultService(store, blobs, events),
        FileService(store, blobs, indexes, mirror),
        StatusService(store, settings, pm, events, core.started, simple.cache),
    ]
    core.services = {type(service): service for service in services}
    return core


def initialize(core: Core, on_root_password: Callable[[str], None] | None = None) -> str | None:
    """Prepare storage on a first start; on later starts apply settings that change data.

    Returns a generated root password to print once, if one was made; it is also given
    to ``on_root_password`` as soon as it is stored, before anything else can fail.
    """
    store = core.store
    if not store.get_meta("uuid"):
        with store.write():
            store.set_meta("uuid", uuid.uuid4().hex)
    generated = core.service(UserService).ensure_root(core.settings.root_password or None)
    if generated and on_root_password is not None:
        on_root_password(generated)
    indexes = core.service(IndexService)
    pypi = indexes.find(ROOT, "pypi")
    if pypi is None:
        indexes.create(
            ROOT, "pypi", {"type": "mirror", "mirror_url": core.settings.mirror_url, "volatile": False}
        )
    elif "mirror_url" in core.settings.explicit:
        wanted = new_config(MIRROR, ROOT, {"mirror_url": core.settings.mirror_url})["mirror_url"]
        if pypi.config.get("mirror_url") != wanted:
            config = pypi.config.as_dict()
            config["mirror_url"] = wanted
            indexes.set_config(pypi, IndexConfig(config))
            log.info("root/pypi now mirrors %s", redact_url(wanted))
    return generated


def make_app(core: Core) -> Any:
    """The WSGI application: the Pyramid router behind the fast path."""
    settings = core.settings
    with Configurator(settings={"idx": settings}) as config:
        registry = config.registry
        registry["idx.settings"] = settings
        registry["idx.pm"] = core.pm
        registry["idx.store"] = core.store
        registry["idx.services"] = core.services
        registry["idx.auth"] = core.service(AuthService)
        registry["idx.core"] = core
        registry["idx.access_log"] = core.access_log
        config.add_request_method(_find_service, "find_service")
        config.include("idx_server.security")
        config.include("idx_server.predicates")
        config.include("idx_server.tweens")
        config.include("idx_server.routes")
        config.include("idx_server.views.errors")
        config.scan("idx_server.views")
        core.pm.hook.idx_configure(config=config)
    router: Router = config.make_wsgi_app()
    return FastPath(
        router,
        core.store,
        core.service(IndexService),
        core.service(SimpleService),
        core.service(FileService),
        settings,
        negotiate_simple,
        core.access_log,
    )


def _find_service(request: Request, kind: type[T]) -> T:
    services: dict[type, Any] = request.registry["idx.services"]
    return services[kind]  # type: ignore[no-any-return]
