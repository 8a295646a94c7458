"""A PEP 517 build backend in one stdlib-only file, for building test projects offline.

A test project names it in pyproject.toml (``build-backend = "inline_backend"``,
``backend-path = ["."]``, ``requires = []``), so ``python -m build`` needs no network.
The project's ``[project]`` table gives the name and version; every ``*.py`` file in the
project's package directory (the normalized name with ``_``) goes into the wheel.
"""

from __future__ import annotations

import base64
import hashlib
import io
import re
import tarfile
import tomllib
import zipfile
from pathlib import Path


def _project() -> tuple[str, str, str]:
    data = tomllib.loads(Path("pyproject.toml").read_text())["project"]
    name, version = data["name"], data["version"]
    return name, version, re.sub(r"[-_.]+", "_", name).lower()


def _metadata(name: str, version: str) -> str:
    return f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nSummary: built by inline_backend\n"


def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    name, version, package = _project()
    filename = f"{package}-{version}-py3-none-any.whl"
    dist_info = f"{package}-{version}.dist-info"
    files = {f"{package}/{p.name}": p.read_bytes() for p in sorted(Path(package).glob("*.py"))}
    files[f"{dist_info}/METADATA"] = _metadata(name, version).encode()
    files[f"{dist_info}/WHEEL"] = (
        b"Wheel-Version: 1.0\nGenerator: inline_backend\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    )
    record = []
    with zipfile.ZipFile(Path(wheel_directory) / filename, "w") as wheel:
        for path, content in files.items():
            wheel.writestr(path, content)
            digest = base64.urlsafe_b64encode(hashlib.sha256(content).digest()).rstrip(b"=").decode()
            record.append(f"{path},sha256={digest},{len(content)}")
        record.append(f"{dist_info}/RECORD,,")
        wheel.writestr(f"{dist_info}/RECORD", "\n".join(record) + "\n")
    return filename


def build_sdist(sdist_directory, config_settings=None):
    name, version, package = _project()
    base = f"{package}-{version}"
    filename = f"{base}.tar.gz"
    members = {"PKG-INFO": _metadata(name, version).encode()}
    for path in [
        "pyproject.toml",
        "inline_backend.py",
        *(str(p) for p in sorted(Path(package).glob("*.py"))),
    ]:
        members[path] = Path(path).read_bytes()
    with tarfile.open(Path(sdist_directory) / filename, "w:gz") as tar:
        for path, content in members.items():
            info = tarfile.TarInfo(f"{base}/{path}")
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    return filename
