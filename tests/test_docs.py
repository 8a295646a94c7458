"""The documentation covers what users rely on: every setting, hook, route and index key."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest
from idx_server import hookspecs
from idx_server.model.indexes import MIRROR, STAGE
from idx_server.settings import CORE_SETTINGS

DOCS = Path(__file__).parent.parent / "docs"
README = Path(__file__).parent.parent / "README.md"


def read(name: str) -> str:
    return (DOCS / name).read_text()


@pytest.mark.parametrize("setting", CORE_SETTINGS, ids=lambda s: s.name)
def test_every_setting_is_documented(setting):
    text = read("configuration.md")
    assert f"`{setting.name}`" in text
    assert f"`{setting.flag}`" in text
    assert f"`{setting.env_var}`" in text


@pytest.mark.parametrize("key", sorted({k.name for t in (STAGE, MIRROR) for k in t.keys}))
def test_every_index_key_is_documented(key):
    assert f"| `{key}` |" in read("configuration.md")


HOOKS = [
    (name, fn) for name, fn in inspect.getmembers(hookspecs, inspect.isfunction) if name.startswith("idx_")
]


@pytest.mark.parametrize(("name", "spec"), HOOKS, ids=[name for name, _ in HOOKS])
def test_every_hook_is_documented_with_its_signature(name, spec):
    signature = f"{name}({', '.join(inspect.signature(spec).parameters)})"
    assert f"`{signature}`" in read("hooks.md"), f"docs/hooks.md lacks {signature}"


def test_every_route_is_documented():
    from idx_server import routes

    text = read("api.md")
    source = inspect.getsource(routes)
    patterns = re.findall(r'add\("\w+", f?"([^"]+)"', source)
    assert patterns
    for pattern in patterns:
        readable = (
            pattern.replace("{U}", "{user}")
            .replace("{I}", "{index}")
            .replace("{P}", "{project}")
            .replace("{V}", "{version}")
            .replace("{F}", "+f/{h3}/{h13}")
            .replace("{SLASH}", "")
        )
        readable = re.sub(
            r"\{\{(\w+):([^}]*)\}\}",
            lambda m: "{" + m.group(1) + "}" + (".metadata" if m.group(2).endswith(".metadata") else ""),
            readable,
        )
        readable = readable.replace("{filename}.toxresult-{result_id}", "{filename}.toxresult-{n}")
        assert readable in text, f"docs/api.md does not mention {readable}"


def test_readme_has_the_two_commands_and_ci_runs_the_test_one():
    text = README.read_text()
    blocks = re.findall(r"```\n(.*?)\n```", text, re.S)
    run = next(b for b in blocks if "idx-server" in b and "pip install" in b)
    test = next(b for b in blocks if "pytest" in b)
    assert run.count("\n") == 0
    assert test.count("\n") == 0
    ci = (README.parent / ".ci" / "run").read_text()
    assert test in ci
