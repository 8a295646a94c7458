"""Indexes, their configuration, and the resolution order over ``bases``."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from idx_server.model import config_values as cv
from idx_server.model.errors import InvalidInput
from idx_server.model.names import project_name, split_index_name

ANONYMOUS = ":ANONYMOUS:"
AUTHENTICATED = ":AUTHENTICATED:"


@dataclass(frozen=True)
class ConfigKey:
    """One index configuration key: its kind, default and documentation."""

    name: str
    kind: cv.ValueKind
    default: Any
    help: str
    #: A callable giving the default from the owner's name (for ``acl_upload``).
    default_for_owner: Callable[[str], Any] | None = None
    #: Secrets are shown as ``REDACTED`` in the JSON API; sent back so, they are kept.
    secret: bool = False

    def default_value(self, owner: str) -> Any:
        if self.default_for_owner is not None:
            return self.default_for_owner(owner)
        return _copy(self.default)

    def parse(self, value: Any) -> Any:
        return self.kind.parse(value, self.name)


def _copy(value: Any) -> Any:
    return list(value) if isinstance(value, list) else value


def _parse_mirror_url(value: Any, name: str) -> str:
    url = cv.parse_str(value, name).strip()
    if not url.startswith(("http://", "https://")):
        raise InvalidInput(f"{name}: expected an http:// or https:// URL, got {url!r}")
    return url if url.endswith("/") else url + "/"


def _parse_project_list(value: Any, name: str) -> list[str]:
    names = []
    for item in cv.parse_str_list(value, name):
        normalized = item if item == "*" else project_name(item)
        if normalized not in names:
            names.append(normalized)
    return names


def _parse_bases(value: Any, name: str) -> list[str]:
    bases = cv.parse_str_list(value, name)
    for base in bases:
        split_index_name(base)
    return bases


COMMON_KEYS: tuple[ConfigKey, ...] = (
    ConfigKey("title", cv.STR, "", "A short title shown in listings."),
    ConfigKey("description", cv.STR, "", "A longer description of the index."),
    ConfigKey("custom_data", cv.JSON, None, "Free-form data, stored as given."),
    ConfigKey(
        "acl_read",
        cv.STR_LIST,
        [ANONYMOUS],
        "Who may read the index (pages, files, JSON): principals as in acl_upload. The owner "
        "and acl_upload members always may. Reading an index also needs read access to "
        "every index of its resolution order.",
    ),
    ConfigKey(
        "volatile",
        cv.BOOL,
        True,
        "Whether files may be overwritten and releases deleted. False makes the index "
        "append-only: a different file under an existing name is refused with 409.",
    ),
)

STAGE_KEYS: tuple[ConfigKey, ...] = (
    ConfigKey(
        "bases",
        cv.ValueKind("list", _parse_bases, is_list=True),
        [],
        "Indexes this one inherits from, in order (``user/index``).",
    ),
    ConfigKey(
        "acl_upload",
        cv.STR_LIST,
        None,
        "Who may upload, delete and yank: user names, ':AUTHENTICATED:' or ':ANONYMOUS:'. "
        "Defaults to the owner.",
        default_for_owner=lambda owner: [owner],
    ),
    ConfigKey(
        "acl_toxresult_upload",
        cv.STR_LIST,
        [ANONYMOUS],
        "Who may attach test results to files.",
    ),
    ConfigKey(
        "mirror_whitelist",
        cv.ValueKind("list", _parse_project_list, is_list=True),
        [],
        "Projects (or '*') whose mirror releases stay visible even though an index of "
        "this resolution order has its own project of that name.",
    ),
    ConfigKey(
        "mirror_whitelist_inheritance",
        cv.ValueKind("choice", cv.choice("intersection", "union")),
        "intersection",
        "'intersection' (default): only this index's own whitelist counts; "
        "'union': any non-mirror index of the resolution order may whitelist.",
    ),
)

MIRROR_KEYS: tuple[ConfigKey, ...] = (
    ConfigKey(
        "mirror_url",
        cv.ValueKind("url", _parse_mirror_url),
        "https://pypi.org/simple/",
        "The upstream simple index (PEP 503/691).",
    ),
    ConfigKey(
        "mirror_cache_expiry",
        cv.DURATION,
        1800,
        "Seconds a cached project page is served before it is revalidated upstream.",
    ),
    ConfigKey(
        "mirror_offline",
        cv.BOOL,
        False,
        "Never contact upstream; serve only what is cached.",
    ),
    ConfigKey(
        "mirror_min_age",
        cv.DURATION,
        0,
        "Cool-down: files uploaded upstream less than this long ago are not offered (e.g. 7d). 0 is off.",
    ),
    ConfigKey(
        "mirror_max_size",
        cv.SIZE,
        0,
        "Evict least-recently-used cached files above this total size (e.g. 50G). 0 is unlimited.",
    ),
)


@dataclass(frozen=True)
class IndexType:
    """A kind of index: which keys it has and whether it takes uploads.

    The core defines ``stage`` and ``mirror``; plugins add more through the
    ``idx_index_types`` hook.
    """

    name: str
    keys: tuple[ConfigKey, ...]
    is_mirror: bool = False
    accepts_uploads: bool = True
    description: str = ""

    def key(self, name: str) -> ConfigKey | None:
        for key in self.keys:
            if key.name == name:
                return key
        return None

    @property
    def key_names(self) -> frozenset[str]:
        return frozenset(key.name for key in self.keys)


STAGE = IndexType(
    "stage",
    COMMON_KEYS + STAGE_KEYS,
    description="A private index: accepts uploads and inherits from its bases.",
)
MIRROR = IndexType(
    "mirror",
    COMMON_KEYS + MIRROR_KEYS,
    is_mirror=True,
    accepts_uploads=False,
    description="A caching mirror of an upstream simple index.",
)

#: Keys devpi accepts on mirrors and drops silently; accepted for compatibility.
MIRROR_IGNORED_KEYS = frozenset({"bases", "acl_upload", "mirror_whitelist", "acl_toxresult_upload"})

#: What clients are shown instead of a secret key's value.
REDACTED = "********"
#: Stored keys that no installed type defines (their plugin is gone) are hidden by name.
_SECRET_SUFFIXES = ("secret", "password", "token")


class IndexConfig(Mapping[str, Any]):
    """An index's complete, validated configuration (immutable)."""

    __slots__ = ("_data",)

    def __init__(self, data: Mapping[str, Any]) -> None:
        self._data = dict(data)

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return f"IndexConfig({self._data!r})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, IndexConfig):
            return self._data == other._data
        return NotImplemented

    def __hash__(self) -> int:
        return hash(json.dumps(self._data, sort_keys=True, default=str))

    def as_dict(self) -> dict[str, Any]:
        return {key: _copy(value) for key, value in self._data.items()}

    @property
    def type(self) -> str:
        return str(self._data["type"])

    @property
    def bases(self) -> list[str]:
        return list(self._data.get("bases", []))

    @property
    def volatile(self) -> bool:
        return bool(self._data.get("volatile", True))


@dataclass(frozen=True)
class Index:
    """An index as stored: ``user/name``, its type and configuration."""

    id: int
    user: str
    name: str
    config: IndexConfig
    created: str = ""
    #: The index type, or None when it comes from a plugin that is not installed.
    index_type: IndexType | None = field(default=None, compare=False)

    @property
    def full_name(self) -> str:
        return f"{self.user}/{self.name}"

    @property
    def type(self) -> str:
        return self.config.type

    @property
    def is_mirror(self) -> bool:
        return self.index_type.is_mirror if self.index_type else self.type == "mirror"

    @property
    def readonly_reason(self) -> str | None:
        """Why the index cannot be written to, or None."""
        if self.index_type is None:
            return (
                f"index {self.full_name} has type {self.type!r}, whose plugin is not installed; "
                "it is read-only until the plugin is installed again"
            )
        return None

    @property
    def accepts_uploads(self) -> bool:
        return self.index_type is not None and self.index_type.accepts_uploads


class IndexTypes:
    """The registry of known index types."""

    def __init__(self, types: Iterable[IndexType] = (STAGE, MIRROR)) -> None:
        self._types: dict[str, IndexType] = {}
        for index_type in types:
            self.add(index_type)

    def add(self, index_type: IndexType) -> None:
        if index_type.name in self._types:
            raise ValueError(f"index type {index_type.name!r} is defined twice")
        self._types[index_type.name] = index_type

    def get(self, name: str) -> IndexType | None:
        return self._types.get(name)

    def names(self) -> list[str]:
        return sorted(self._types)

    def require(self, name: str) -> IndexType:
        index_type = self._types.get(name)
        if index_type is None:
            raise InvalidInput(f"unknown index type {name!r}; known types: {', '.join(self.names())}")
        return index_type


def new_config(index_type: IndexType, owner: str, given: Mapping[str, Any]) -> IndexConfig:
    """A complete configuration for a new index from the keys given by the user."""
    data: dict[str, Any] = {"type": index_type.name}
    for key in index_type.keys:
        data[key.name] = key.default_value(owner)
    return apply_changes(index_type, owner, IndexConfig(data), given)


def apply_changes(
    index_type: IndexType, owner: str, config: IndexConfig, given: Mapping[str, Any]
) -> IndexConfig:
    """``config`` with the keys in ``given`` replaced; unknown keys raise :class:`InvalidInput`."""
    data = config.as_dict()
    unknown = []
    for name, value in given.items():
        if name == "type":
            if value != index_type.name:
                raise InvalidInput(f"type: an index's type cannot be changed (it is {index_type.name!r})")
            continue
        key = index_type.key(name)
        if key is None:
            if (index_type.is_mirror and name in MIRROR_IGNORED_KEYS) or _sent_back_unchanged(
                config, name, value
            ):
                continue
            unknown.append(name)
            continue
        data[name] = key.default_value(owner) if value is None else key.parse(value)
    if unknown:
        raise InvalidInput(
            f"unknown index config key{'s' if len(unknown) > 1 else ''} "
            f"{', '.join(sorted(unknown))} for an index of type {index_type.name!r}; "
            f"known keys: {', '.join(sorted(index_type.key_names))}"
        )
    return IndexConfig(data)


def _sent_back_unchanged(config: IndexConfig, name: str, value: Any) -> bool:
    """A stored key of an uninstalled plugin, sent back as GET showed it (kept as it is)."""
    return name in config and value in (config[name], REDACTED)


def is_secret_key(index_type: IndexType | None, name: str) -> bool:
    key = index_type.key(name) if index_type is not None else None
    if key is not None:
        return key.secret
    return name.lower().endswith(_SECRET_SUFFIXES)


def redact_secrets(index_type: IndexType | None, config: IndexConfig) -> dict[str, Any]:
    """``config`` as clients may see it: each set secret shown as ``REDACTED``."""
    data = config.as_dict()
    for name, value in data.items():
        if value and is_secret_key(index_type, name):
            data[name] = REDACTED
    return data


def keep_secrets(index_type: IndexType, old: IndexConfig, new: IndexConfig) -> IndexConfig:
    """``new`` with each secret that was sent back as ``REDACTED`` set to its stored value."""
    kept = {
        key.name: old.get(key.name, key.default)
        for key in index_type.keys
        if key.secret and new.get(key.name) == REDACTED
    }
    return IndexConfig({**new.as_dict(), **kept}) if kept else new


def apply_operations(
    index_type: IndexType, owner: str, config: IndexConfig, operations: Iterable[str]
) -> IndexConfig:
    """Apply devpi's ``key=value``, ``key+=value``, ``key-=value`` and ``key-=`` operations."""
    data = config.as_dict()
    for operation in operations:
        if not isinstance(operation, str):
            raise InvalidInput(f"expected operations like 'key=value', got {operation!r}")
        name, op, value = _split_operation(operation)
        key = index_type.key(name)
        if name == "type":
            raise InvalidInput("type: an index's type cannot be changed")
        if key is None:
            if index_type.is_mirror and name in MIRROR_IGNORED_KEYS:
                continue
            raise InvalidInput(
                f"unknown index config key {name!r} for an index of type {index_type.name!r}; "
                f"known keys: {', '.join(sorted(index_type.key_names))}"
            )
        if op == "=":
            data[name] = key.parse(value)
        elif op == "-=" and value == "":
            data[name] = key.default_value(owner)
        elif not key.kind.is_list:
            raise InvalidInput(f"{name}: '{op}' only applies to list values")
        elif op == "+=":
            current = list(data.get(name) or [])
            for item in key.parse(value):
                if item not in current:
                    current.append(item)
            data[name] = current
        else:
            removed = set(key.parse(value))
            data[name] = [item for item in data.get(name) or [] if item not in removed]
    return IndexConfig(data)


def _split_operation(operation: str) -> tuple[str, str, str]:
    name, sep, value = operation.partition("=")
    if not sep or not name:
        raise InvalidInput(f"expected 'key=value', 'key+=value' or 'key-=value', got {operation!r}")
    if name.endswith(("+", "-")):
        return name[:-1].strip(), name[-1] + "=", value
    return name.strip(), "=", value


def resolution_order(start: Index, lookup: Callable[[str], Index | None]) -> list[Index]:
    """The indexes consulted for ``start``: itself, then its bases breadth-first in
    listed order, each index once, with mirrors moved to the end.

    ``lookup`` maps ``user/index`` to an index; missing bases are skipped. The bases of
    an index whose type is unknown (its plugin is not installed) are not followed: what
    the type would let through of them (a filter, say) is unknown, so only its own
    files are offered.
    """
    seen = {start.full_name}
    queue = [start]
    ordered: list[Index] = []
    mirrors: list[Index] = []
    while queue:
        index = queue.pop(0)
        (mirrors if index.is_mirror else ordered).append(index)
        follow = index.index_type is not None and not index.is_mirror
        for base_name in index.config.bases if follow else ():
            if base_name in seen:
                continue
            seen.add(base_name)
            base = lookup(base_name)
            if base is not None:
                queue.append(base)
    return ordered + mirrors


@dataclass(frozen=True)
class ProjectResolution:
    """Which indexes of a resolution order are asked for one project."""

    consulted: tuple[Index, ...]
    #: Mirrors left out by the dependency-confusion rule.
    blocked_mirrors: tuple[Index, ...] = ()
    #: The first non-mirror index that has the project (the reason for blocking).
    private_owner: Index | None = None


def resolve_project(
    order: list[Index], project: str, has_project: Callable[[Index], bool]
) -> ProjectResolution:
    """Apply the dependency-confusion rule for ``project`` over ``order``.

    Once a non-mirror index has the project, mirrors are left out (and not asked)
    unless the project is whitelisted: by the requested index's ``mirror_whitelist``,
    or with ``mirror_whitelist_inheritance = union`` by any non-mirror index's.
    ``has_project`` is only called for non-mirror indexes.
    """
    if not order:
        return ProjectResolution(())
    requested = order[0]
    union = requested.config.get("mirror_whitelist_inheritance") == "union"
    whitelists = [
        set(index.config.get("mirror_whitelist") or [])
        for index in (order if union else order[:1])
        if not index.is_mirror
    ]
    whitelisted = any("*" in wl or project in wl for wl in whitelists)
    private_owner = None
    consulted: list[Index] = []
    blocked: list[Index] = []
    for index in order:
        if index.is_mirror:
            if private_owner is not None and not whitelisted:
                blocked.append(index)
            else:
                consulted.append(index)
        else:
            consulted.append(index)
            if private_owner is None and has_project(index):
                private_owner = index
    return ProjectResolution(tuple(consulted), tuple(blocked), private_owner)
