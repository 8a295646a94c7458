"""Tiny, valid wheels and sdists built in memory, for tests (of idx and of its plugins)."""

from __future__ import annotations

import base64
import hashlib
import io
import tarfile
import time
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from packaging.utils import canonicalize_name


@dataclass
class Dist:
    filename: str
    content: bytes
    metadata: bytes = b""

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()

    def write(self, directory: Path) -> Path:
        path = directory / self.filename
        path.write_bytes(self.content)
        return path


@dataclass
class Project:
    """What goes into a generated distribution."""

    name: str
    version: str = "1.0"
    summary: str = "a test package"
    requires_python: str = ""
    requires_dist: list[str] = field(default_factory=list)
    metadata_version: str = "2.1"
    description: str = "A package made for idx's tests."
    #: Extra module source, importable as ``{module}``.
    code: str = "VALUE = 42\n"
    extra_files: dict[str, str] = field(default_factory=dict)

    @property
    def module(self) -> str:
        return canonicalize_name(self.name).replace("-", "_")

    @property
    def dist_name(self) -> str:
        return canonicalize_name(self.name).replace("-", "_")


def core_metadata(project: Project) -> bytes:
    lines = [
        f"Metadata-Version: {project.metadata_version}",
        f"Name: {project.name}",
        f"Version: {project.version}",
        f"Summary: {project.summary}",
    ]
    if project.requires_python:
        lines.append(f"Requires-Python: {project.requires_python}")
    for requirement in project.requires_dist:
        lines.append(f"Requires-Dist: {requirement}")
    if project.description:
        lines.append("Description-Content-Type: text/markdown")
    text = "\n".join(lines) + "\n\n" + project.description + "\n"
    return text.encode("utf-8")


def _record_line(path: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{path},sha256={digest},{len(data)}"


def _zip_info(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    return info


def make_wheel(
    project: Project, tag: str = "py3-none-any", members: Iterable[tuple[str, bytes]] = ()
) -> Dist:
    dist_info = f"{project.dist_name}-{project.version}.dist-info"
    metadata = core_metadata(project)
    files: list[tuple[str, bytes]] = [
        (f"{project.module}/__init__.py", project.code.encode()),
        *((path, text.encode()) for path, text in project.extra_files.items()),
        *members,
        (f"{dist_info}/METADATA", metadata),
        (
            f"{dist_info}/WHEEL",
            f"Wheel-Version: 1.0\nGenerator: idx-tests\nRoot-Is-Purelib: true\nTag: {tag}\n".encode(),
        ),
    ]
    record = "\n".join([*(_record_line(p, d) for p, d in files), f"{dist_info}/RECORD,,"]) + "\n"
    files.append((f"{dist_info}/RECORD", record.encode()))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path, data in files:
            archive.writestr(_zip_info(path), data)
    filename = f"{project.dist_name}-{project.version}-{tag}.whl"
    return Dist(filename, buffer.getvalue(), metadata)


def make_sdist(project: Project, extra: dict[str, str] | None = None) -> Dist:
    """A PEP 625 sdist with a pyproject.toml (flit_core-free: setuptools-free, just files)."""
    root = f"{project.dist_name}-{project.version}"
    metadata = core_metadata(project)
    files = {
        "PKG-INFO": metadata,
        f"{project.module}/__init__.py": project.code.encode(),
        **{path: text.encode() for path, text in (extra or {}).items()},
        **{path: text.encode() for path, text in project.extra_files.items()},
    }
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", format=tarfile.PAX_FORMAT) as archive:
        for path, data in files.items():
            info = tarfile.TarInfo(f"{root}/{path}")
            info.size = len(data)
            info.mtime = int(time.time())
            info.mode = 0o644
            archive.addfile(info, io.BytesIO(data))
    return Dist(f"{root}.tar.gz", buffer.getvalue(), metadata)
