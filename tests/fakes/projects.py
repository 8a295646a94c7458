"""Tiny source projects that build offline (with :mod:`inline_backend`)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

BACKEND = Path(__file__).with_name("inline_backend.py")


def write_project(directory: Path, name: str, version: str) -> Path:
    """A buildable project ``name`` ``version`` in ``directory``; returns ``directory``."""
    package = re.sub(r"[-_.]+", "_", name).lower()
    (directory / package).mkdir(parents=True, exist_ok=True)
    (directory / package / "__init__.py").write_text(f'__version__ = "{version}"\n')
    (directory / "pyproject.toml").write_text(
        "[build-system]\n"
        "requires = []\n"
        'build-backend = "inline_backend"\n'
        'backend-path = ["."]\n\n'
        "[project]\n"
        f'name = "{name}"\n'
        f'version = "{version}"\n'
    )
    shutil.copy(BACKEND, directory / "inline_backend.py")
    return directory
