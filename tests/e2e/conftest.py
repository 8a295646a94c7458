"""Fixtures shared by the e2e tests."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

DEVPI_CLIENT = "devpi-client>=7,<8"


@pytest.fixture(scope="session")
def devpi(venv_factory) -> Path:
    """The ``devpi`` script of a fresh virtualenv with devpi-client 7.x (pip reaches the
    registry here, with this machine's own pip settings, not the tests' dead index)."""
    venv = venv_factory("devpi-client")
    env = {
        k: v for k, v in os.environ.items() if k not in ("PIP_INDEX_URL", "PIP_NO_INDEX", "PIP_CONFIG_FILE")
    }
    process = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", DEVPI_CLIENT],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert process.returncode == 0, f"could not install {DEVPI_CLIENT}:\n{process.stdout}\n{process.stderr}"
    return venv / "bin" / "devpi"
