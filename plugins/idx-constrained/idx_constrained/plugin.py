"""The idx-server hooks of idx-constrained (the entry point is this module)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from idx_server import hookimpl
from idx_server.model import config_values as cv
from idx_server.model.distfiles import DistFile
from idx_server.model.errors import InvalidInput
from idx_server.model.indexes import COMMON_KEYS, STAGE_KEYS, ConfigKey, Index, IndexType
from packaging.utils import canonicalize_name

from idx_constrained.constraints import ConstraintError, compile_constraints, normalize_lines

TYPE_NAME = "constrained"


def _parse_constraints(value: Any, name: str) -> list[str]:
    """A JSON list of lines, or a string of lines (one per line: specifiers have commas)."""
    if isinstance(value, str):
        lines = value.splitlines()
    elif isinstance(value, list | tuple) and all(isinstance(item, str) for item in value):
        lines = list(value)
    else:
        raise InvalidInput(
            f"{name}: expected a list of constraints such as 'requests==2.32.3', got {value!r}"
        )
    try:
        return normalize_lines(lines)
    except ConstraintError as exc:
        raise InvalidInput(f"{name}: {exc}") from None


CONSTRAINTS = ConfigKey(
    "constraints",
    cv.ValueKind("list", _parse_constraints, is_list=True),
    [],
    "What the index offers of its bases, in pip constraints syntax ('name', 'name==1.2', "
    "'name>=1,<2'), one per entry; '*' blocks every project no entry names.",
)

#: A stage's inheritance keys (no upload ACLs: it takes no uploads), plus the constraints.
CONSTRAINED = IndexType(
    TYPE_NAME,
    (
        *COMMON_KEYS,
        *(
            key
            for key in STAGE_KEYS
            if key.name in {"bases", "mirror_whitelist", "mirror_whitelist_inheritance"}
        ),
        CONSTRAINTS,
    ),
    accepts_uploads=False,
    description="A vetted view of its bases: only the releases its constraints allow.",
)


@hookimpl
def idx_index_types() -> list[IndexType]:
    return [CONSTRAINED]


@hookimpl
def idx_filter_project_names(index: Index, names: Iterator[str]) -> Iterator[str] | None:
    if index.type != TYPE_NAME:
        return None
    constraints = compile_constraints(tuple(index.config.get("constraints") or ()))
    if not constraints.block_others:
        return None  # every project passes (some only in some versions)
    return (name for name in names if constraints.allows_project(canonicalize_name(name)))


@hookimpl
def idx_filter_project_files(index: Index, project: str, files: list[DistFile]) -> list[DistFile] | None:
    if index.type != TYPE_NAME:
        return None
    constraints = compile_constraints(tuple(index.config.get("constraints") or ()))
    if not constraints.allows_project(project):
        return []
    return [f for f in files if constraints.allows(project, f.version)]
