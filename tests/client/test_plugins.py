"""The hook layer: plugins add commands and answer for passwords; the kill switch."""

import argparse
from importlib import metadata

from fakes.idx_transport import SERVER
from idx_client import hookimpl
from idx_client.cli import collect_commands, main
from idx_client.commands import Command
from idx_client.plugins import BUILTIN_PLUGINS, get_plugin_manager


class HelloPlugin:
    @hookimpl
    def idx_client_commands(self):
        def add_arguments(parser: argparse.ArgumentParser) -> None:
            parser.add_argument("who")

        def run(ctx, args):
            ctx.out.line(f"hello {args.who} from {ctx.state.server or 'nowhere'}")
            return 0

        return [Command("hello", "say hello", add_arguments, run)]


class KeyringPlugin:
    @hookimpl
    def idx_client_get_password(self, url, username):
        return f"pw-of-{username}" if url == SERVER else None


def test_builtin_commands_are_plugins():
    pm = get_plugin_manager(load_entrypoints=False)
    assert {pm.get_name(p) for p in pm.get_plugins()} == set(BUILTIN_PLUGINS)


def test_a_plugin_adds_a_command(cli, capsys):
    pm = get_plugin_manager(load_entrypoints=False, extra_plugins=(HelloPlugin(),))
    assert "hello" in [c.name for c in collect_commands(pm)]
    assert main(["hello", "world"], env=cli.env, transport=cli.transport, pm=pm) == 0
    assert capsys.readouterr().out == "hello world from nowhere\n"


def test_password_provider(cli, transport, capsys):
    cli.use(user=None)
    transport.add("POST", SERVER + "+login", {"password": "tok", "expiration": 60})
    pm = get_plugin_manager(load_entrypoints=False, extra_plugins=(KeyringPlugin(),))
    assert main(["login", "alice"], env=cli.env, transport=transport, pm=pm) == 0
    assert transport.last("POST").json() == {"user": "alice", "password": "pw-of-alice"}


def test_entry_points_and_kill_switch(monkeypatch):
    class FakeEntryPoint:
        name = "hello"
        dist = None

        def load(self):
            return HelloPlugin()

    monkeypatch.setattr(
        metadata, "entry_points", lambda group: [FakeEntryPoint()] if group == "idx_client" else []
    )
    loaded = get_plugin_manager(env={})
    assert loaded.get_plugin("hello") is not None
    for value in ("hello", "1", "all"):
        blocked = get_plugin_manager(env={"IDX_DISABLE_PLUGINS": value})
        assert blocked.get_plugin("hello") is None
        assert "hello" not in [c.name for c in collect_commands(blocked)]


def test_a_broken_plugin_is_skipped(monkeypatch, capsys):
    class Broken:
        name = "broken"
        dist = None

        def load(self):
            raise ImportError("no module named nothing")

    monkeypatch.setattr(metadata, "entry_points", lambda group: [Broken()])
    pm = get_plugin_manager(env={})
    assert pm.get_plugin("broken") is None
    assert "plugin broken () failed to load" in capsys.readouterr().err


def test_tracing(capsys):
    pm = get_plugin_manager(load_entrypoints=False, env={"IDX_TRACE_PLUGINS": "1"})
    collect_commands(pm)
    assert "hook: idx_client_commands" in capsys.readouterr().err
