"""docs/client.md documents every command, every option and every hook."""

import argparse
import re
from pathlib import Path

import pytest
from idx_client import hookspecs
from idx_client.cli import build_parser, collect_commands
from idx_client.plugins import get_plugin_manager

DOC = Path(__file__).parents[2] / "docs" / "client.md"
COMMON = {"-h", "--help", "--clientdir"}


def sections() -> dict[str, str]:
    text = DOC.read_text()
    parts = re.split(r"^### `idx (\S+)`$", text, flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser(collect_commands(get_plugin_manager(load_entrypoints=False)))
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return {name: sub for name, sub in action.choices.items() if sub.prog.endswith(" " + name)}


@pytest.mark.parametrize("name", sorted(subparsers()))
def test_every_command_and_option_is_documented(name):
    documented = sections()
    assert name in documented, f"docs/client.md has no '### `idx {name}`' section"
    section = documented[name]
    for action in subparsers()[name]._actions:
        for option in action.option_strings:
            if option not in COMMON:
                assert f"`{option}" in section or f" {option}" in section, (
                    f"idx {name} {option} is undocumented"
                )


def test_global_options_are_documented():
    text = DOC.read_text()
    for option in (
        "--clientdir",
        "--json",
        "--version",
        "IDX_CLIENTDIR",
        "IDX_DISABLE_PLUGINS",
        "IDX_TRACE_PLUGINS",
    ):
        assert f"`{option}" in text


def test_every_hook_is_documented():
    text = DOC.read_text()
    for name in dir(hookspecs):
        if name.startswith("idx_client_"):
            assert f"`{name}(" in text, f"hook {name} is undocumented"
