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
        readable = re.sub(r"\{(\w+):[^{}]*\}", r"{\1}", readable)
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


# -- plugins ----------------------------------------------------------------------------------
def _load_docs_script(name: str):
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"docs_{name}", DOCS / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_hooks_md_is_generated_from_the_hookspecs():
    assert read("hooks.md") == _load_docs_script("gen_hooks").render(), "run: python docs/gen_hooks.py"


@pytest.mark.parametrize(("name", "spec"), HOOKS, ids=[name for name, _ in HOOKS])
def test_every_hookspec_says_when_arguments_returns_and_firstresult(name, spec):
    doc = inspect.getdoc(spec) or ""
    assert doc.startswith("Called "), f"{name}: say when it is called"
    assert "Arguments: " in doc, f"{name}: describe its arguments"
    assert "Returns " in doc, f"{name}: say what it returns"
    firstresult = bool(spec.idx_spec.get("firstresult"))
    assert bool(re.search(r"(^|\n)firstresult: ", doc)) == firstresult
    assert ("Not firstresult" in doc) != firstresult
    assert inspect.signature(spec).return_annotation != inspect.Signature.empty


def _marked(path: Path, marker: str) -> str:
    text = path.read_text()
    start = text.index(f"# --8<-- [start:{marker}]\n") + len(f"# --8<-- [start:{marker}]\n")
    return text[start : text.index(f"# --8<-- [end:{marker}]")]


@pytest.mark.parametrize(
    ("filename", "marker"), [("idx_prefix.py", "plugin"), ("test_idx_prefix.py", "tests")]
)
def test_the_tutorial_shows_the_code_the_tests_run(filename, marker):
    code = _marked(DOCS.parent / "tests" / "tutorial" / filename, marker).strip()
    assert f"```python\n{code}\n```" in read("plugins.md")


PLUGINS = DOCS.parent / "plugins"
FIRST_PARTY = ["idx-webhooks", "idx-constrained", "idx-remoteuser"]


@pytest.mark.parametrize("name", FIRST_PARTY)
def test_first_party_plugins_are_documented(name):
    readme = (PLUGINS / name / "README.md").read_text()
    assert f"pip install ./plugins/{name}" in readme
    assert f"({'../plugins/' + name + '/README.md'})" in read("plugins.md")
    module = __import__(name.replace("-", "_") + ".plugin", fromlist=["_"])
    for setting in getattr(module, "SETTINGS", ()):
        assert f"`{setting.name}`" in readme, f"{name}/README.md lacks the setting {setting.name}"
    for key in getattr(module, "CONFIG_KEYS", ()):
        assert f"`{key.name}`" in readme


def test_remoteuser_caveats_are_in_its_readme_and_the_docs():
    readme = (PLUGINS / "idx-remoteuser" / "README.md").read_text()
    for text in (readme, read("plugins.md")):
        assert "Security caveats" in text or "security caveats" in text
        for point in (
            "Only the proxy may reach idx",
            "The proxy must own the header",
            "Underscores",
            "X-Forwarded-For",
        ):
            assert point in text
