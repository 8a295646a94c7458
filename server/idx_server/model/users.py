"""Users and releases as stored."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ROOT = "root"


@dataclass(frozen=True)
class User:
    name: str
    email: str = ""
    pwhash: str = ""
    title: str = ""
    description: str = ""
    custom_data: Any = None
    created: str = ""
    modified: str = ""

    @property
    def is_root(self) -> bool:
        return self.name == ROOT

    def public_dict(self) -> dict[str, Any]:
        """What the JSON API shows (never the password hash)."""
        data: dict[str, Any] = {"username": self.name}
        for key in ("email", "title", "description"):
            value = getattr(self, key)
            if value:
                data[key] = value
        if self.custom_data is not None:
            data["custom_data"] = self.custom_data
        if self.created:
            data["created"] = self.created
        if self.modified:
            data["modified"] = self.modified
        return data


@dataclass(frozen=True)
class Release:
    """A version of a project on one index, with its core metadata (devpi's keys)."""

    index_id: int
    project: str
    version: str
    metadata: dict[str, Any] = field(default_factory=dict)
    created: str = ""
    serial: int = 0
