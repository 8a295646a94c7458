"""Releases as the server's JSON shows them (devpi's ``{version: versiondata}``): their
files, the newest release a spec means, and which of its files ``idx test`` tests."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from packaging.utils import InvalidWheelFilename, parse_wheel_filename
from packaging.version import InvalidVersion, Version

from idx_client.errors import ClientError, UsageError
from idx_client.specs import ReleaseSpec

SDIST_SUFFIXES = (".tar.gz", ".tgz", ".zip", ".tar.bz2")
#: The tags of a wheel that installs on any Python 3 (devpi tests ``py2.py3-none-any``).
UNIVERSAL_TAGS = ("py3-none-any", "py2.py3-none-any")


@dataclass(frozen=True)
class ReleaseFile:
    """A ``releasefile`` link of a release."""

    filename: str
    url: str
    sha256: str
    size: int | None = None
    yanked: bool = False

    @property
    def is_sdist(self) -> bool:
        return self.filename.endswith(SDIST_SUFFIXES)

    @property
    def is_wheel(self) -> bool:
        return self.filename.endswith(".whl")

    @property
    def is_universal_wheel(self) -> bool:
        if not self.is_wheel:
            return False
        try:
            tags = parse_wheel_filename(self.filename)[3]
        except InvalidWheelFilename:
            return False
        return all(tag.abi == "none" and tag.platform == "any" for tag in tags) and any(
            tag.interpreter == "py3" for tag in tags
        )


@dataclass(frozen=True)
class Release:
    name: str
    version: str
    files: tuple[ReleaseFile, ...]


def release_files(versiondata: Mapping[str, Any]) -> list[ReleaseFile]:
    """The release's files over the resolution order: its own, then the shadowed releases'
    (as installers see them, the first file of a name wins)."""
    files: dict[str, ReleaseFile] = {}
    for entry in [versiondata, *(versiondata.get("+shadowing") or [])]:
        for link in entry.get("+links") or []:
            if link.get("rel") != "releasefile" or not link.get("href"):
                continue
            url = str(link["href"]).split("#", 1)[0]
            filename = unquote(url.rsplit("/", 1)[-1])
            sha256 = str((link.get("hashes") or {}).get("sha256") or "")
            if not sha256 and str(link.get("hash_spec", "")).startswith("sha256="):
                sha256 = str(link["hash_spec"]).split("=", 1)[1]
            size = link.get("size")
            files.setdefault(
                filename,
                ReleaseFile(
                    filename, url, sha256, size if isinstance(size, int) else None, bool(link.get("yanked"))
                ),
            )
    return list(files.values())


def choose_release(versions: Mapping[str, Mapping[str, Any]], spec: ReleaseSpec) -> Release | None:
    """The newest release matching ``spec`` that has files, as pip would pick it: final
    releases before pre-releases (unless the spec names one or there is no final one), and a
    yanked release only when pinned with ``==``."""
    candidates: list[tuple[Version, str, str, list[ReleaseFile]]] = []
    for version, data in versions.items():
        if not spec.matches(version):
            continue
        files = release_files(data)
        if not files or (all(f.yanked for f in files) and spec.exact_version is None):
            continue
        try:
            parsed = Version(version)
        except InvalidVersion:
            continue
        candidates.append((parsed, version, str(data.get("name") or spec.project), files))
    if not candidates:
        return None
    finals = [c for c in candidates if not c[0].is_prerelease]
    wants_pre = spec.exact_version is not None or any(Version(s.version).is_prerelease for s in _plain(spec))
    pool = candidates if wants_pre or not finals else finals
    _, version, name, files = max(pool, key=lambda c: c[0])
    return Release(name, version, tuple(files))


def _plain(spec: ReleaseSpec) -> list[Any]:
    """The spec's clauses whose version parses (``==1.*`` does not)."""
    clauses = []
    for clause in spec.specifier:
        try:
            Version(clause.version)
        except InvalidVersion:
            continue
        clauses.append(clause)
    return clauses


def files_to_test(release: Release, select: str | None) -> tuple[list[ReleaseFile], list[ReleaseFile]]:
    """``(sdists, tested)``: the release's sdists (``.tar.gz`` first; the first one gives the
    tox config) and the files to run tox for: the sdists and universal wheels, or, with
    ``select``, every sdist and wheel whose name the regular expression matches."""
    sdists = sorted(
        (f for f in release.files if f.is_sdist), key=lambda f: not f.filename.endswith(".tar.gz")
    )
    if select is None:
        return sdists, [*sdists, *(f for f in release.files if f.is_universal_wheel)]
    try:
        pattern = re.compile(select)
    except re.error as exc:
        raise UsageError(f"--select: not a regular expression: {exc}") from None
    wheels = [f for f in release.files if f.is_wheel]
    return sdists, [f for f in [*sdists, *wheels] if pattern.search(f.filename)]


def describe_missing(spec_text: str, index: str, versions: Mapping[str, Any]) -> ClientError:
    """The error for a spec no release (with files) matches."""
    shown = ", ".join(list(versions)[:10]) or "none"
    return ClientError(
        f"no release matching {spec_text} with files on {index} or its bases (versions there: {shown})"
    )
