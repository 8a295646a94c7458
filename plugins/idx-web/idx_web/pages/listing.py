"""The root, user and index pages: who has which indexes, and what an index holds."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from idx_server.model.indexes import Index
from idx_server.model.users import User
from idx_server.views.indexes import public_config
from packaging.utils import canonicalize_name

PAGE_SIZE = 100


@dataclass(frozen=True)
class IndexSummary:
    """An index as listings show it."""

    full_name: str
    user: str
    name: str
    type: str
    title: str
    description: str
    bases: tuple[str, ...]
    volatile: bool
    is_mirror: bool
    #: Why the index is read-only (its type's plugin is missing), or "".
    readonly_reason: str


def summarize(index: Index) -> IndexSummary:
    config = index.config
    return IndexSummary(
        full_name=index.full_name,
        user=index.user,
        name=index.name,
        type=index.type,
        title=str(config.get("title") or ""),
        description=str(config.get("description") or ""),
        bases=tuple(config.bases) if not index.is_mirror else (),
        volatile=config.volatile,
        is_mirror=index.is_mirror,
        readonly_reason=index.readonly_reason or "",
    )


@dataclass(frozen=True)
class OwnerIndexes:
    user: str
    title: str
    indexes: tuple[IndexSummary, ...]


def owners_with_indexes(users: list[User], readable: list[Index]) -> list[OwnerIndexes]:
    """The root page: each user with the indexes the requester may read (users with none
    left out)."""
    by_user: dict[str, list[IndexSummary]] = {}
    for index in readable:
        by_user.setdefault(index.user, []).append(summarize(index))
    return [
        OwnerIndexes(user.name, user.title, tuple(by_user[user.name]))
        for user in users
        if user.name in by_user
    ]


@dataclass(frozen=True)
class Pagination:
    page: int
    pages: int
    total: int
    size: int

    @property
    def start(self) -> int:
        return (self.page - 1) * self.size

    @property
    def has_previous(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


def paginate(total: int, requested: str | None, size: int) -> Pagination:
    """Page ``requested`` (1-based, as typed in ``?page=``), clamped to what exists."""
    pages = max(1, math.ceil(total / size))
    try:
        page = int(requested or 1)
    except ValueError:
        page = 1
    return Pagination(min(max(page, 1), pages), pages, total, size)


@dataclass(frozen=True)
class ConfigRow:
    key: str
    value: str


@dataclass(frozen=True)
class IndexPage:
    index: IndexSummary
    #: (normalized, display) names of this page of projects.
    projects: tuple[tuple[str, str], ...]
    pagination: Pagination
    config: tuple[ConfigRow, ...]
    #: The resolution order after the index itself, as full names.
    inherits: tuple[str, ...]


def index_page(
    index: Index, project_names: list[str], order: list[Index], requested_page: str | None
) -> IndexPage:
    """``project_names``: the display names of the index's own projects, sorted."""
    pagination = paginate(len(project_names), requested_page, PAGE_SIZE)
    shown = [
        (canonicalize_name(name), name)
        for name in project_names[pagination.start : pagination.start + pagination.size]
    ]
    config = public_config(index)
    rows = tuple(ConfigRow(key, _config_text(config[key])) for key in sorted(config) if key != "custom_data")
    return IndexPage(
        index=summarize(index),
        projects=tuple(shown),
        pagination=pagination,
        config=rows,
        inherits=tuple(ix.full_name for ix in order[1:]),
    )


def _config_text(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(str(item) for item in value) if value else "(none)"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value is None or value == "":
        return "(none)"
    return str(value)
