"""The plugin manager: built-in plugins, entry-point discovery, the kill switch and tracing."""

from __future__ import annotations

import logging
import os
from importlib import metadata
from typing import Any

import pluggy
from packaging.utils import canonicalize_name

from idx_server import hookspecs

log = logging.getLogger("idx.plugins")

#: idx-server's own modules that implement its hooks.
BUILTIN_PLUGINS = ("idx_server.storage.plugin",)

ENTRY_POINT_GROUP = "idx_server"


def get_plugin_manager(
    load_entrypoints: bool = True, extra_plugins: tuple[object, ...] = ()
) -> pluggy.PluginManager:
    """A fresh plugin manager with the hookspecs, built-in plugins and installed plugins.

    ``IDX_DISABLE_PLUGINS=name,...`` blocks plugins by distribution (or entry-point) name;
    ``IDX_TRACE_PLUGINS=1`` logs every hook call.
    """
    pm = pluggy.PluginManager("idx")
    pm.add_hookspecs(hookspecs)
    for module_name in BUILTIN_PLUGINS:
        module = __import__(module_name, fromlist=["_"])
        pm.register(module, name=module_name)
    for plugin in extra_plugins:
        pm.register(plugin)
    if load_entrypoints:
        _load_entrypoints(pm)
    pm.check_pending()
    if tracing():
        pm.trace.root.setwriter(lambda message: log.info("hook %s", message.rstrip()))
        pm.enable_tracing()
    return pm


def tracing() -> bool:
    """Whether ``IDX_TRACE_PLUGINS`` asks for every hook call to be logged."""
    return os.environ.get("IDX_TRACE_PLUGINS", "").strip().lower() in {"1", "true", "yes", "on"}


def call_impl(impl: pluggy.HookImpl, hook_name: str, kwargs: dict[str, Any]) -> Any:
    """Call one implementation with the arguments it accepts.

    For hooks idx calls implementation by implementation (events, filters), which
    bypasses pluggy's own tracing; this logs those calls the same way.
    """
    arguments = {name: value for name, value in kwargs.items() if name in impl.argnames}
    if tracing():
        log.info("hook %s [plugin %s] %s", hook_name, impl.plugin_name, sorted(arguments))
    return impl.function(**arguments)


def disabled_plugins() -> set[str]:
    """Names in ``IDX_DISABLE_PLUGINS`` (normalized like distribution names)."""
    raw = os.environ.get("IDX_DISABLE_PLUGINS", "")
    return {canonicalize_name(name.strip()) for name in raw.split(",") if name.strip()}


def _load_entrypoints(pm: pluggy.PluginManager) -> None:
    blocked = disabled_plugins()
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist_name = canonicalize_name(ep.dist.name) if ep.dist else ""
        if dist_name in blocked or canonicalize_name(ep.name) in blocked:
            log.info("plugin %s (%s) disabled by IDX_DISABLE_PLUGINS", ep.name, dist_name)
            pm.set_blocked(ep.name)
            continue
        if pm.get_plugin(ep.name) or pm.is_blocked(ep.name):
            continue
        try:
            plugin = ep.load()
        except Exception:
            log.exception("plugin %s (%s) failed to load; it is skipped", ep.name, dist_name)
            continue
        pm.register(plugin, name=ep.name)
        # What pluggy's own loader records, so list_plugin_distinfo() names the distribution.
        pm._plugin_distinfo.append((plugin, ep.dist))  # type: ignore[arg-type]


def plugin_versions(pm: pluggy.PluginManager) -> dict[str, str]:
    """Installed third-party plugins: distribution name -> version."""
    return {dist.project_name: dist.version for _plugin, dist in pm.list_plugin_distinfo()}
