"""Test-suite wide setup: no network but loopback, clean environments for real clients,
and marks by folder (tests/e2e/** is ``e2e``)."""

from __future__ import annotations

import ipaddress
import os
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).parent
sys.path.insert(0, str(ROOT / "tests"))

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _is_loopback(address: Any) -> bool:
    if isinstance(address, str | bytes):  # AF_UNIX
        return True
    host = address[0]
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _guarded_connect(self: socket.socket, address: Any) -> Any:
    if not _is_loopback(address):
        raise ConnectionRefusedError(f"tests may only connect to loopback, not {address!r}")
    return _real_connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: Any) -> Any:
    if not _is_loopback(address):
        raise ConnectionRefusedError(f"tests may only connect to loopback, not {address!r}")
    return _real_connect_ex(self, address)


@pytest.fixture(autouse=True, scope="session")
def _no_network() -> Iterator[None]:
    """In this process, only loopback connections (IDX_TEST_PYPI=1 lifts it)."""
    if os.environ.get("IDX_TEST_PYPI") == "1":
        yield
        return
    socket.socket.connect = _guarded_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign]
    yield
    socket.socket.connect = _real_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _real_connect_ex  # type: ignore[method-assign]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        parts = Path(str(item.fspath)).parts
        if "e2e" in parts:
            item.add_marker(pytest.mark.e2e)
        if item.get_closest_marker("pypi") and os.environ.get("IDX_TEST_PYPI") != "1":
            item.add_marker(pytest.mark.skip(reason="talks to the real PyPI; set IDX_TEST_PYPI=1 to run"))


def make_client_env(tmp_path: Path) -> dict[str, str]:
    """An environment for pip, uv, twine and idx subprocesses that ignores this machine's
    configuration (its pip.conf, caches and index settings) and has no usable default index;
    its home and caches are under ``tmp_path``."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PIP_", "UV_", "TWINE_", "IDX_", "VIRTUAL_ENV", "PYTHONPATH"))
    }
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env.update(
        {
            "HOME": str(home),
            "XDG_CONFIG_HOME": str(home / ".config"),
            "XDG_CACHE_HOME": str(home / ".cache"),
            "XDG_DATA_HOME": str(home / ".local" / "share"),
            "PIP_CONFIG_FILE": os.devnull,
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
            "PIP_NO_INPUT": "1",
            "PIP_INDEX_URL": "http://127.0.0.1:9/simple/",
            "UV_NO_CONFIG": "1",
            "UV_CACHE_DIR": str(tmp_path / "uv-cache"),
            "UV_INDEX_URL": "http://127.0.0.1:9/simple/",
            "UV_PYTHON_DOWNLOADS": "never",
            "IDX_CLIENTDIR": str(home / "idx-client"),
            "NO_COLOR": "1",
        }
    )
    return env


@pytest.fixture
def client_env(tmp_path: Path) -> dict[str, str]:
    """:func:`make_client_env` in the test's tmp_path."""
    return make_client_env(tmp_path)


@pytest.fixture(scope="module")
def module_client_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """:func:`make_client_env` shared by a module's tests (for servers and files they share)."""
    return make_client_env(tmp_path_factory.mktemp("client-env"))


@pytest.fixture(scope="session")
def venv_factory(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Makes fresh virtual environments with pip (virtualenv's bundled wheels: no network)."""
    import subprocess

    base = tmp_path_factory.mktemp("venvs")
    counter = iter(range(10_000))

    def make(name: str = "venv") -> Path:
        path = base / f"{name}-{next(counter)}"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "virtualenv",
                "--quiet",
                "--no-periodic-update",
                "--no-setuptools",
                "--no-wheel",
                str(path),
            ],
            check=True,
        )
        return path

    return make
