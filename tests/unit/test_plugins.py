"""Plugin discovery, the kill switch, versions, and plugin settings and options in the CLI."""

from __future__ import annotations

import argparse
from importlib import metadata
from typing import Any

import pytest
from idx_server import cli, hookimpl
from idx_server.model import config_values as cv
from idx_server.plugins import disabled_plugins, get_plugin_manager, plugin_versions
from idx_server.settings import Setting

FIRST_PARTY = ("idx-webhooks", "idx-constrained", "idx-remoteuser")


def installed(name: str) -> bool:
    try:
        metadata.distribution(name)
    except metadata.PackageNotFoundError:
        return False
    return True


needs_first_party = pytest.mark.skipif(
    not all(map(installed, FIRST_PARTY)), reason="install requirements-dev.txt (the first-party plugins)"
)


def test_disabled_names_are_normalized(monkeypatch):
    monkeypatch.setenv("IDX_DISABLE_PLUGINS", " IDX_Webhooks, idx.constrained ,,")
    assert disabled_plugins() == {"idx-webhooks", "idx-constrained"}


@needs_first_party
def test_installed_plugins_are_found_with_their_versions(monkeypatch):
    monkeypatch.delenv("IDX_DISABLE_PLUGINS", raising=False)
    versions = plugin_versions(get_plugin_manager())
    assert {name: versions[name] for name in FIRST_PARTY} == dict.fromkeys(FIRST_PARTY, "0.1.0")


@needs_first_party
def test_the_kill_switch_blocks_by_distribution_name(monkeypatch):
    monkeypatch.setenv("IDX_DISABLE_PLUGINS", "IDX_Webhooks")
    pm = get_plugin_manager()
    assert "idx-webhooks" not in plugin_versions(pm)
    assert "idx-constrained" in plugin_versions(pm)
    assert pm.is_blocked("idx-webhooks")


@needs_first_party
def test_version_lists_plugins(monkeypatch, capsys):
    monkeypatch.delenv("IDX_DISABLE_PLUGINS", raising=False)
    assert cli.main(["--version"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("idx-server ")
    for name in FIRST_PARTY:
        assert f"  plugin {name} 0.1.0" in out


class Options:
    @hookimpl
    def idx_add_settings(self) -> list[Setting]:
        return [Setting("opt_level", cv.INT, 1, "A plugin setting.")]

    @hookimpl
    def idx_add_cli_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--opt-dry-run", action="store_true", help="A command-line-only switch.")


def test_plugin_settings_and_options_reach_the_daemon(monkeypatch, tmp_path):
    seen: dict[str, Any] = {}
    monkeypatch.setattr(
        cli,
        "get_plugin_manager",
        lambda: get_plugin_manager(load_entrypoints=False, extra_plugins=(Options(),)),
    )
    monkeypatch.setattr(
        cli, "serve", lambda settings, pm, options: seen.setdefault("settings", settings) and 0
    )
    monkeypatch.setenv("IDX_OPT_LEVEL", "5")
    cli.main(["--serverdir", str(tmp_path), "--opt-dry-run"])
    settings = seen["settings"]
    assert settings.get("opt_level") == 5
    assert settings.get("opt_dry_run") is True
    assert settings.get("serverdir") == tmp_path
