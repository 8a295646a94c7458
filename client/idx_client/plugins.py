"""The plugin manager: idx-client's own command modules, installed plugins, the kill
switch (``IDX_DISABLE_PLUGINS``) and tracing (``IDX_TRACE_PLUGINS``)."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from importlib import metadata

import pluggy

from idx_client import hookspecs

#: idx-client's own modules that implement its hooks (each command is one).
BUILTIN_PLUGINS = (
    "idx_client.commands.use",
    "idx_client.commands.login",
    "idx_client.commands.token",
    "idx_client.commands.user",
    "idx_client.commands.index",
    "idx_client.commands.upload",
    "idx_client.commands.list",
    "idx_client.commands.remove",
    "idx_client.commands.push",
    "idx_client.commands.test",
    "idx_client.commands.yank",
    "idx_client.commands.getjson",
)

ENTRY_POINT_GROUP = "idx_client"
_ALL = {"1", "*", "all", "true", "yes"}


def get_plugin_manager(
    load_entrypoints: bool = True,
    extra_plugins: tuple[object, ...] = (),
    env: Mapping[str, str] | None = None,
) -> pluggy.PluginManager:
    """A plugin manager with the hookspecs, the built-in commands and installed plugins.

    ``IDX_DISABLE_PLUGINS=name,...`` blocks plugins by distribution or entry-point name
    (``1`` or ``all`` blocks every installed plugin); ``IDX_TRACE_PLUGINS=1`` prints
    every hook call to stderr.
    """
    env = os.environ if env is None else env
    pm = pluggy.PluginManager("idx_client")
    pm.add_hookspecs(hookspecs)
    for module_name in BUILTIN_PLUGINS:
        module = __import__(module_name, fromlist=["_"])
        pm.register(module, name=module_name)
    for plugin in extra_plugins:
        pm.register(plugin)
    if load_entrypoints:
        _load_entrypoints(pm, disabled_plugins(env))
    pm.check_pending()
    if env.get("IDX_TRACE_PLUGINS", "").strip().lower() in {"1", "true", "yes", "on"}:
        pm.trace.root.setwriter(lambda message: sys.stderr.write(f"hook: {message.lstrip()}"))
        pm.enable_tracing()
    return pm


def disabled_plugins(env: Mapping[str, str]) -> set[str]:
    return {name.strip().lower() for name in env.get("IDX_DISABLE_PLUGINS", "").split(",") if name.strip()}


def _load_entrypoints(pm: pluggy.PluginManager, blocked: set[str]) -> None:
    if blocked & _ALL:
        return
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist_name = ep.dist.name.lower() if ep.dist else ""
        if dist_name in blocked or ep.name.lower() in blocked:
            pm.set_blocked(ep.name)
            continue
        if pm.get_plugin(ep.name) or pm.is_blocked(ep.name):
            continue
        try:
            plugin = ep.load()
        except Exception as exc:  # a broken plugin must not break the client
            sys.stderr.write(
                f"warning: plugin {ep.name} ({dist_name}) failed to load and is skipped: {exc}\n"
            )
            continue
        pm.register(plugin, name=ep.name)
