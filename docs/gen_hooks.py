"""Write docs/hooks.md from the hookspecs in ``idx_server.hookspecs``.

Run ``python docs/gen_hooks.py`` after changing a hookspec; ``tests/test_docs.py``
fails while docs/hooks.md differs from what this renders.
"""

from __future__ import annotations

import inspect
import re
import sys
from pathlib import Path

from idx_server import hookspecs

HOOKS_MD = Path(__file__).with_name("hooks.md")

INTRO = """\
# Plugin hook reference

<!-- Generated from server/idx_server/hookspecs.py by docs/gen_hooks.py: edit those, not this. -->

idx-server calls these hooks; plugins implement them. How plugins are found, switched
off and traced, the pytest fixtures for testing them, the first-party plugins and a
tutorial are in [plugins.md](plugins.md).

A plugin is a module (or object) registered under the `idx_server` entry-point group,
for example in its `pyproject.toml`:

```toml
[project.entry-points.idx_server]
my-plugin = "my_plugin.hooks"
```

and implementing hooks with the marker from `idx_server`:

```python
from idx_server import hookimpl


@hookimpl
def idx_release_uploaded(event):
    print(event.index, event.project, event.version)
```

Hooks are always called with keyword arguments, and an implementation may accept
fewer arguments than the spec names. Unless a hook is marked *firstresult*, every
implementation is called and all answers are used. Event hooks run after the change
committed, on a background thread, in commit order: they never delay a request, and an
exception in one is logged and never reaches the client.
"""

_SECTION = re.compile(r"^# -- (.+?) -+$")


def _sections() -> dict[str, str]:
    """hook name -> the title of the ``# -- title ---`` block it is in."""
    section = ""
    found: dict[str, str] = {}
    for line in inspect.getsource(hookspecs).splitlines():
        match = _SECTION.match(line)
        if match:
            section = match.group(1)
        elif line.startswith("def idx_"):
            found[line[4:].split("(", 1)[0]] = section
    return found


def _markdown(text: str) -> str:
    """Docstring (reST) markup as Markdown: roles and double backticks become code."""
    text = re.sub(r":\w+:`~[\w.]*?(\w+)`", r"`\1`", text)
    text = re.sub(r":\w+:`([^`]+)`", r"`\1`", text)
    return text.replace("``", "`")


def _typed(signature: inspect.Signature) -> str:
    """``(a: T, b: U) -> R`` with the annotations as written (they are strings here)."""
    params = ", ".join(f"{p.name}: {p.annotation}" for p in signature.parameters.values())
    return f"({params}) -> {signature.return_annotation}"


def render() -> str:
    parts = [INTRO]
    current = None
    for name, section in _sections().items():
        spec = getattr(hookspecs, name)
        if section != current:
            current = section
            parts.append(f"\n## {section[0].upper()}{section[1:]}\n")
        signature = inspect.signature(spec)
        plain = f"{name}({', '.join(signature.parameters)})"
        opts = getattr(spec, "idx_spec", {}) or {}
        marker = " (firstresult)" if opts.get("firstresult") else ""
        parts.append(f"\n### `{plain}`{marker}\n")
        parts.append(f"\n```python\ndef {name}{_typed(signature)}\n```\n")
        parts.append("\n" + _markdown(inspect.cleandoc(spec.__doc__ or "")) + "\n")
    return "".join(parts)


def main() -> int:
    HOOKS_MD.write_text(render())
    print(f"wrote {HOOKS_MD}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
