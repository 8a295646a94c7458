"""Writing installers' and uploaders' config for ``idx use --set-cfg``: pip's config
(``[global] index-url``), uv's ``uv.toml`` (a default ``[[index]]``) and ``.pypirc``
(an ``[idx]`` repository). Edits are textual, so comments and other settings survive;
each result is parsed again before it is written, and a changed file is backed up."""

from __future__ import annotations

import configparser
import re
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

from idx_client.errors import ClientError

#: The name of idx's entry in uv.toml and .pypirc (``twine upload -r idx``, ``uv publish --index idx``).
REPOSITORY_NAME = "idx"

_SECTION = re.compile(r"^\s*\[([^\]]+)\]\s*([#;].*)?$")
_TOML_TABLE = re.compile(r"^\s*\[\[?\s*([A-Za-z0-9_.\"' -]+?)\s*\]\]?\s*(#.*)?$")
_TOML_KEY = re.compile(r"^\s*([A-Za-z0-9_\"'.-]+)\s*=")


@dataclass(frozen=True)
class ConfigChange:
    """What ``--set-cfg`` did to one file."""

    tool: str
    path: Path
    #: What was written, for a person ("index-url = ...").
    summary: str
    changed: bool
    backup: Path | None = None


# -- INI files (pip.conf, .pypirc) -------------------------------------------------------------
def _ini_key(line: str) -> str | None:
    if not line.strip() or line[0] in " \t#;[":
        return None
    match = re.match(r"^([^=:]+?)\s*[=:]", line)
    return match.group(1).strip().lower().replace("_", "-") if match else None


def set_ini_values(text: str, section: str, values: dict[str, str]) -> str:
    """``text`` with ``values`` set in ``[section]`` (keys compared case- and ``_``/``-``-blind);
    other lines, comments included, are kept. Multi-line values are given with ``\\n    ``."""
    lines = text.splitlines()
    wanted = {key.lower().replace("_", "-"): key for key in values}
    start = next(
        (
            i
            for i, line in enumerate(lines)
            if (m := _SECTION.match(line)) and m.group(1).strip().lower() == section
        ),
        None,
    )
    new_lines = [
        f"{key} ={value}" if value.startswith("\n") else f"{key} = {value}" for key, value in values.items()
    ]
    if start is None:
        while lines and not lines[-1].strip():
            lines.pop()
        return "\n".join([*lines, *([""] if lines else []), f"[{section}]", *new_lines]) + "\n"
    end = next((i for i in range(start + 1, len(lines)) if _SECTION.match(lines[i])), len(lines))
    body: list[str] = []
    skipping = False
    for line in lines[start + 1 : end]:
        key = _ini_key(line)
        if key is not None:
            skipping = key in wanted
        elif skipping and line[:1] in (" ", "\t") and line.strip():
            continue  # a continuation line of a replaced value
        if not skipping:
            body.append(line)
    while body and not body[-1].strip():
        body.pop()
    trailing = [""] if end < len(lines) else []
    return "\n".join([*lines[: start + 1], *body, *new_lines, *trailing, *lines[end:]]) + "\n"


def _parse_ini(text: str, path: Path) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser(strict=False)
    try:
        parser.read_string(text, source=str(path))
    except configparser.Error as exc:
        raise ClientError(f"cannot update {path}: it is not a valid INI file ({exc})") from None
    return parser


def pip_config_text(text: str, simple_url: str, trusted_host: str | None, path: Path) -> str:
    """pip's config with ``[global] index-url`` (and ``trusted-host`` for plain-HTTP hosts)."""
    _parse_ini(text, path)
    values = {"index-url": simple_url}
    if trusted_host:
        values["trusted-host"] = trusted_host
    result = set_ini_values(text, "global", values)
    _parse_ini(result, path)
    return result


def pypirc_text(text: str, upload_url: str, username: str | None, path: Path) -> str:
    """``.pypirc`` with an ``[idx]`` repository listed in ``[distutils] index-servers``."""
    parser = _parse_ini(text, path)
    if parser.has_option("distutils", "index-servers"):
        servers = parser.get("distutils", "index-servers").split()
    else:
        servers = ["pypi", "testpypi"]  # twine's default list, kept working
    if REPOSITORY_NAME not in servers:
        servers.append(REPOSITORY_NAME)
    result = set_ini_values(text, "distutils", {"index-servers": "\n    " + "\n    ".join(servers)})
    values = {"repository": upload_url}
    if username:
        values["username"] = username
    result = set_ini_values(result, REPOSITORY_NAME, values)
    _parse_ini(result, path)
    return result


# -- uv.toml -----------------------------------------------------------------------------------
def uv_config_text(text: str, simple_url: str, upload_url: str | None, path: Path) -> str:
    """``uv.toml`` whose default index is idx's: an ``[[index]]`` named ``idx`` with
    ``default = true``. An old top-level ``index-url``, an earlier ``idx`` entry and other
    entries' ``default = true`` are taken out (uv allows one default)."""
    _parse_toml(text, path)
    blocks = _toml_blocks(text.splitlines())
    kept: list[str] = []
    for header, block in blocks:
        if header is None:
            kept += [line for line in block if _toml_key_name(line) not in ("index-url", "index_url")]
        elif header == "[[index]]":
            if _toml_index_name(block) == REPOSITORY_NAME:
                continue
            kept += [
                f"# {line.strip()}  # turned off by 'idx use --set-cfg'"
                if _toml_key_name(line) == "default" and "true" in line
                else line
                for line in block
            ]
        else:
            kept += block
    while kept and not kept[-1].strip():
        kept.pop()
    entry = ["[[index]]", f'name = "{REPOSITORY_NAME}"', f"url = {_toml_string(simple_url)}"]
    if upload_url:
        entry.append(f"publish-url = {_toml_string(upload_url)}")
    entry.append("default = true")
    result = "\n".join([*kept, *([""] if kept else []), *entry]) + "\n"
    _parse_toml(result, path)
    return result


def _toml_blocks(lines: list[str]) -> list[tuple[str | None, list[str]]]:
    """The top-level lines, then each table with its header (normalized: ``[[index]]``)."""
    blocks: list[tuple[str | None, list[str]]] = [(None, [])]
    for line in lines:
        match = _TOML_TABLE.match(line)
        if match:
            double = line.strip().startswith("[[")
            name = match.group(1).strip()
            blocks.append((f"[[{name}]]" if double else f"[{name}]", [line]))
        else:
            blocks[-1][1].append(line)
    return blocks


def _toml_key_name(line: str) -> str | None:
    match = _TOML_KEY.match(line)
    return match.group(1).strip("\"'") if match else None


def _toml_index_name(block: list[str]) -> str | None:
    try:
        data = tomllib.loads("\n".join(block[1:]))
    except tomllib.TOMLDecodeError:
        return None
    name = data.get("name")
    return name if isinstance(name, str) else None


def _toml_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _parse_toml(text: str, path: Path) -> None:
    try:
        tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ClientError(f"cannot update {path}: it is not valid TOML ({exc})") from None


# -- writing -----------------------------------------------------------------------------------
def write_config(
    tool: str, path: Path, new_text: str, summary: str, now: float | None = None
) -> ConfigChange:
    """Write ``new_text`` to ``path`` if it differs, first copying the old file to
    ``<name>.bak-YYYYmmdd-HHMMSS``."""
    try:
        old_text = path.read_text(encoding="utf-8") if path.exists() else None
        if old_text == new_text:
            return ConfigChange(tool, path, summary, changed=False)
        backup = None
        if old_text is not None:
            backup = backup_path(path, now)
            backup.write_text(old_text, encoding="utf-8")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(new_text, encoding="utf-8")
    except OSError as exc:
        raise ClientError(f"cannot write {path}: {exc}") from None
    return ConfigChange(tool, path, summary, changed=True, backup=backup)


def backup_path(path: Path, now: float | None = None) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
    candidate = path.with_name(f"{path.name}.bak-{stamp}")
    counter = 1
    while candidate.exists():
        counter += 1
        candidate = path.with_name(f"{path.name}.bak-{stamp}-{counter}")
    return candidate


def read_config(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8") if path.exists() else ""
    except (OSError, UnicodeDecodeError) as exc:
        raise ClientError(f"cannot read {path}: {exc}") from None
