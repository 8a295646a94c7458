"""What an upload carries, as plugins validating uploads see it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class UploadCandidate:
    """A distribution file that passed idx's own checks and is about to be stored."""

    index: str
    project: str
    version: str
    filename: str
    kind: str
    sha256: str
    size: int
    user: str
    #: Core metadata (devpi's keys: name, version, summary, requires_dist, license...).
    metadata: dict[str, Any] = field(default_factory=dict)
    #: Where the bytes are, readable until the hook returns.
    path: str = ""
