"""docs/operations.md covers the maintenance commands and every problem ``check`` reports."""

from __future__ import annotations

from pathlib import Path

import pytest
from idx_server.cli import COMMANDS
from idx_server.maintenance.check import PROBLEM_KINDS

TEXT = (Path(__file__).parent.parent / "docs" / "operations.md").read_text()


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_maintenance_command_is_documented(command):
    assert f"`idx-server {command}`" in TEXT


@pytest.mark.parametrize("kind", sorted(PROBLEM_KINDS))
def test_every_problem_kind_is_documented(kind):
    assert f"`{kind}`" in TEXT


@pytest.mark.parametrize(
    ("command", "option"),
    [
        ("check", "--checksums"),
        ("check", "--repair"),
        ("check", "--grace"),
        ("check", "--json"),
        ("export", "--include-mirrored-files"),
        ("import", "--from-devpi"),
        ("import", "--skip-index-type"),
    ],
)
def test_every_option_is_documented(command, option):
    module = __import__(COMMANDS[command], fromlist=["build_parser"])
    assert option in module.build_parser().format_help()
    assert f"`{option}" in TEXT
