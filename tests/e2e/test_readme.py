"""The README's quickstart, run line by line against a live server: what a new user types.

The only changes to the text: the server URL (the test's server has a free port), root's
password (printed at first start; given here), the project directory (a generated
flit_core project with a tox.ini), the venv pip installs into, and the client venv line
(the client is already installed next to this Python). Everything else runs as written,
in a shell whose HOME is a fresh directory, so pip, uv and twine read only what
``idx use --set-cfg`` wrote.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from fakes.real_wheels import download_wheels, serve_wheels
from fakes.upstream import FakeUpstream
from idx_server.testing import ROOT_PASSWORD, start_server

ROOT = Path(__file__).parents[2]

PYPROJECT = """\
[build-system]
requires = ["flit_core>=3.2,<5"]
build-backend = "flit_core.buildapi"

[project]
name = "yourproject"
version = "1.0"
description = "the README's example project"

# idx test (like devpi test) runs tox from the sdist: ship the tox config and the tests.
[tool.flit.sdist]
include = ["tox.ini", "tests/"]
"""

TOX_INI = """\
[tox]
env_list = py

[testenv]
deps = pytest
commands = pytest tests
"""


def quickstart_lines() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Quickstart with the `idx` client", 1)[1]
    block = re.search(r"```\n(.*?)\n```", section, re.S)
    assert block, "README has no quickstart block"
    return [line.split("  #", 1)[0].strip() for line in block.group(1).splitlines() if line.strip()]


def make_project(directory: Path) -> Path:
    (directory / "yourproject").mkdir(parents=True)
    (directory / "yourproject" / "__init__.py").write_text(
        '"""the example"""\n\n__version__ = "1.0"\nVALUE = 42\n'
    )
    (directory / "tests").mkdir()
    (directory / "tests" / "test_it.py").write_text(
        "import yourproject\n\n\ndef test_it():\n    assert yourproject.VALUE == 42\n"
    )
    (directory / "pyproject.toml").write_text(PYPROJECT)
    (directory / "tox.ini").write_text(TOX_INI)
    return directory


@pytest.fixture
def upstream(request):
    cache = getattr(request.config, "cache", None)
    wheel_dir = cache.mkdir("idx-test-wheels") if cache else ROOT / ".bench-cache" / "idx-test-wheels"
    wheels = download_wheels(["pytest", "flit_core>=3.2,<5"], Path(wheel_dir))
    fake = FakeUpstream()
    serve_wheels(fake, wheels)
    yield fake.start()
    fake.stop()


def test_readme_quickstart_works_as_written(tmp_path, upstream, venv_factory):
    user_venv = venv_factory("readme-user")
    server = start_server(tmp_path / "srv", "--mirror-url", upstream.url)
    home = tmp_path / "home"
    home.mkdir()
    project = make_project(tmp_path / "project")
    bindir = Path(sys.executable).parent
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PIP_", "UV_", "TWINE_", "IDX_", "VIRTUAL_ENV"))
    }
    env.update(
        {
            "HOME": str(home),
            "XDG_CONFIG_HOME": str(home / ".config"),
            "XDG_CACHE_HOME": str(home / ".cache"),
            "PATH": os.pathsep.join([str(bindir), env.get("PATH", "")]),
            "PIP_NO_CACHE_DIR": "1",
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
            "UV_CACHE_DIR": str(tmp_path / "uv-cache"),
            "VIRTUALENV_NO_PERIODIC_UPDATE": "1",
            # This machine's pip config adds local wheel directories; a user's would not.
            "PIP_CONFIG_FILE": str(home / ".config" / "pip" / "pip.conf"),
        }
    )
    upstream.reset_counts()
    try:
        for line in quickstart_lines():
            if line.startswith("python3 -m venv .venv-client"):
                continue  # the client is installed next to this Python already
            command = line.replace("http://127.0.0.1:3141", server.url)
            if command == "idx login root":
                command += f" --password {ROOT_PASSWORD}"
            command = command.replace("cd path/to/your/project", f"cd {project}")
            command = command.replace("pip install yourproject", f"{user_venv}/bin/pip install yourproject")
            result = subprocess.run(
                ["bash", "-c", command], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600
            )
            assert result.returncode == 0, f"{line}\n{result.stdout}\n{result.stderr}"
            assert "Traceback" not in result.stderr, result.stderr
            if line.startswith("idx list -t"):
                assert "passed" in result.stdout + result.stderr
        # The release and its test result went to alice/release.
        release = server.json("/alice/release/yourproject/1.0")["result"]
        assert {link["rel"] for link in release["+links"]} == {"releasefile", "toxresult"}
        # Every install (the build backend, pytest for tox) came through idx's mirror.
        assert upstream.count("/files/") > 0
    finally:
        server.stop()
