"""Distribution files: filename rules and the facts kept for each file."""

from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Literal

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    NormalizedName,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import Version

from idx_server.model.errors import InvalidUpload

MAX_FILENAME_LENGTH = 255
SDIST_EXTENSIONS = (".tar.gz", ".zip")
ALLOWED_EXTENSIONS = (".whl", *SDIST_EXTENSIONS)

DistKind = Literal["wheel", "sdist"]


@dataclass(frozen=True)
class DistFilename:
    """What a distribution's filename says about it."""

    filename: str
    project: NormalizedName
    version: Version
    kind: DistKind

    @property
    def is_wheel(self) -> bool:
        return self.kind == "wheel"


def check_safe_filename(filename: str) -> None:
    """Refuse names that could escape a directory or confuse a terminal or a header."""
    if not filename or len(filename) > MAX_FILENAME_LENGTH:
        raise InvalidUpload(
            f"Invalid filename {filename[:80]!r}: it must be 1 to {MAX_FILENAME_LENGTH} characters"
        )
    if "/" in filename or "\\" in filename or filename in (".", "..") or filename.startswith("."):
        raise InvalidUpload(f"Invalid filename {filename!r}: it must not contain a path")
    if any(unicodedata.category(ch).startswith("C") for ch in filename):
        raise InvalidUpload(f"Invalid filename {filename!r}: it must not contain control characters")


def parse_dist_filename(filename: str) -> DistFilename:
    """Parse a wheel or sdist filename; anything else raises :class:`InvalidUpload`."""
    check_safe_filename(filename)
    lower = filename.lower()
    if lower.endswith(".whl"):
        try:
            name, version, _build, _tags = parse_wheel_filename(filename)
        except InvalidWheelFilename as exc:
            raise InvalidUpload(f"Invalid wheel filename {filename!r}: {exc}") from None
        return DistFilename(filename, name, version, "wheel")
    if lower.endswith(SDIST_EXTENSIONS):
        try:
            name, version = parse_sdist_filename(filename)
        except InvalidSdistFilename as exc:
            raise InvalidUpload(f"Invalid sdist filename {filename!r}: {exc}") from None
        return DistFilename(filename, name, version, "sdist")
    raise InvalidUpload(
        f"Invalid file extension in {filename!r}: use .whl or .tar.gz (or a legacy .zip sdist)"
    )


def release_filename_matches(dist: DistFilename, project: str, version: Version) -> None:
    """Refuse a file whose name disagrees with the release it is uploaded to."""
    if dist.project != project:
        raise InvalidUpload(
            f"Filename {dist.filename!r} is for project {dist.project!r}, "
            f"but the upload is for project {project!r}"
        )
    if dist.version != version:
        raise InvalidUpload(
            f"Filename {dist.filename!r} has version {dist.version}, but the upload is for version {version}"
        )


def relpath_for(path_key: str, filename: str) -> str:
    """The path of a file under an index: ``+f/{key[:3]}/{key[3:16]}/{filename}`` (devpi's)."""
    return f"+f/{path_key[:3]}/{path_key[3:16]}/{filename}"


@dataclass(frozen=True)
class DistFile:
    """A file of a release on one index, with the facts clients are told about it."""

    index_id: int
    project: str
    version: str
    filename: str
    #: The hash naming the file's URL: its sha256, or for a mirror file whose upstream
    #: gives none, a hash of its upstream URL.
    path_key: str
    sha256: str
    size: int | None
    upload_time: str
    hashes: dict[str, str] = field(default_factory=dict)
    uploader: str = ""
    yanked: bool = False
    yanked_reason: str = ""
    requires_python: str = ""
    #: sha256 of the PEP 658 core metadata file, when one is served.
    core_metadata_sha256: str = ""
    #: For mirror files: where upstream serves it; and whether the bytes are cached here.
    url: str = ""
    cached: bool = True
    #: Upstream's own claim about a PEP 658 file (mirror files): its hashes, or {} when
    #: advertised without a hash.
    upstream_core_metadata: dict[str, str] | None = None
    log: tuple[dict[str, Any], ...] = ()
    attestations: str = ""
    id: int = 0

    @property
    def relpath(self) -> str:
        return relpath_for(self.path_key, self.filename)

    @property
    def public_hashes(self) -> dict[str, str]:
        """The hashes clients are shown: sha256, or for a mirror file whose upstream gave
        none, upstream's hashes that hashlib knows by those names (installers check
        every hash they are given, and refuse names they do not know)."""
        if self.sha256:
            return {"sha256": self.sha256}
        return {name: value for name, value in self.hashes.items() if name in hashlib.algorithms_guaranteed}
