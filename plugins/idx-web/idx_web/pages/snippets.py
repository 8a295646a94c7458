"""Copy-ready configuration and commands for using an index with pip, uv, idx and twine."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Snippet:
    """One block a person copies: ``title`` says what it is for (and which file it goes
    in), ``text`` is the block."""

    id: str
    title: str
    text: str


def index_snippets(server_url: str, index_name: str, accepts_uploads: bool, user: str = "") -> list[Snippet]:
    """How to install from (and, for a private index, upload to) ``index_name``."""
    index_url = f"{server_url}/{index_name}/"
    simple = index_url + "+simple/"
    snippets = [
        Snippet("pip", "Install with pip", f"pip install --index-url {simple} PACKAGE"),
        Snippet("pip-conf", "Make it pip's default (pip.conf)", f"[global]\nindex-url = {simple}\n"),
        Snippet("uv", "Install with uv", f"uv pip install --index-url {simple} PACKAGE"),
        Snippet(
            "uv-toml",
            "Use it in a uv project (pyproject.toml)",
            f'[[tool.uv.index]]\nname = "idx"\nurl = "{simple}"\ndefault = true\n',
        ),
        Snippet(
            "idx-use", "Use it with the idx client", f"idx use {server_url}/{index_name}\nidx use --set-cfg"
        ),
    ]
    if accepts_uploads:
        username = user or "YOUR-USER-NAME"
        snippets.append(
            Snippet(
                "pypirc",
                "Upload with twine (~/.pypirc)",
                f"[distutils]\nindex-servers =\n    idx\n\n[idx]\nrepository = {index_url}\n"
                f"username = {username}\n",
            )
        )
        snippets.append(Snippet("twine", "Then upload", "twine upload --repository idx dist/*"))
    return snippets


def install_commands(server_url: str, index_name: str, project: str, version: str) -> list[Snippet]:
    """The commands that install exactly this release from this index."""
    simple = f"{server_url}/{index_name}/+simple/"
    requirement = f"{project}=={version}"
    return [
        Snippet("install-pip", "pip", f"pip install --index-url {simple} {requirement}"),
        Snippet("install-uv", "uv", f"uv pip install --index-url {simple} {requirement}"),
    ]
