"""``idx test`` against a live idx-server whose root/pypi mirrors a fake upstream serving
real wheels (pytest and its dependencies, flit_core): tox builds and tests a passing and a
failing release with every install served by idx, the results are stored with the files,
``idx list -t``/``-f`` and devpi-client read them, ``idx push`` carries them, and a rerun
needs nothing from upstream.

tox runs are slow, so the server, the uploads and the first runs are shared by the module.
"""

from __future__ import annotations

import json
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fakes.real_wheels import download_wheels, serve_wheels
from fakes.runners import Devpi, Idx, Run
from fakes.upstream import FakeUpstream
from idx_server.testing import ROOT_PASSWORD, LiveServer, Project, make_sdist, make_wheel, start_server

ROOT = Path(__file__).parents[2]
#: What the test releases need from upstream: a test runner and a build backend.
REAL_REQUIREMENTS = ["pytest", "flit_core>=3.2,<5"]

PYPROJECT = """\
[build-system]
requires = ["flit_core>=3.2,<5"]
build-backend = "flit_core.buildapi"

[project]
name = "{name}"
version = "{version}"
description = "a release idx tests"
"""

TOX_INI = """\
[tox]
env_list = py, check

[testenv]
deps = pytest
commands = pytest {{posargs}} tests

[testenv:check]
deps =
commands = python -c "import {module}; print('imported', {module}.__file__)"
"""

PASSING_TEST = """\
import {module}


def test_value():
    assert {module}.VALUE == 42
    # --installpkg installed the release: it is imported from the env, not the sdist dir
    assert "site-packages" in {module}.__file__
"""

FAILING_TEST = """\
import {module}


def test_value():
    assert {module}.VALUE == 41, "deliberately failing"
"""


def tox_release(name: str, version: str, test_code: str, directory: Path) -> list[Path]:
    """An sdist (flit_core-built when installed, with tox.ini and tests) and a universal wheel."""
    project = Project(name, version)
    module = project.module
    extra = {
        "pyproject.toml": PYPROJECT.format(name=name, version=version),
        "tox.ini": TOX_INI.format(module=module),
        "tests/test_it.py": test_code.format(module=module),
    }
    directory.mkdir(parents=True, exist_ok=True)
    return [make_sdist(project, extra=extra).write(directory), make_wheel(project).write(directory)]


@dataclass
class Stage:
    idx: Idx
    server: LiveServer
    upstream: FakeUpstream
    env: dict[str, str]
    first_pass: Run
    first_fail: Run

    def release(self, index: str, project: str, version: str = "1.0") -> dict[str, Any]:
        data = self.server.json(f"/{index}/{project}/{version}")
        return data["result"]  # type: ignore[no-any-return]

    def results(self, index: str, project: str) -> dict[str, list[dict[str, Any]]]:
        """filename -> the tox results stored for it (fetched)."""
        links = self.release(index, project)["+links"]
        found: dict[str, list[dict[str, Any]]] = {}
        for link in links:
            if link["rel"] == "toxresult":
                path = link["href"].removeprefix(self.server.url)
                found.setdefault(link["for_href"].rsplit("/", 1)[-1], []).append(self.server.json(path))
        return found


@pytest.fixture(scope="module")
def stage(module_client_env, tmp_path_factory, request) -> Any:
    """A server mirroring the real wheels, alice/dev with a passing and a failing release,
    both tested once with ``idx test``."""
    cache = getattr(request.config, "cache", None)  # None with -p no:cacheprovider
    wheel_dir = cache.mkdir("idx-test-wheels") if cache else ROOT / ".bench-cache" / "idx-test-wheels"
    wheels = download_wheels(REAL_REQUIREMENTS, Path(wheel_dir))
    upstream = FakeUpstream()
    serve_wheels(upstream, wheels)
    upstream.start()
    tmp = tmp_path_factory.mktemp("idx-test")
    server = start_server(tmp / "srv", "--mirror-url", upstream.url)
    env = {
        **module_client_env,
        # pip's own cache would hide whether idx served the files.
        "PIP_NO_CACHE_DIR": "1",
        "VIRTUALENV_NO_PERIODIC_UPDATE": "1",
        # tox next to this Python (CI runs pytest without activating the venv).
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
    }
    idx = Idx(env, tmp, timeout=600)
    try:
        idx("use", server.url)
        idx("login", "root", "--password", ROOT_PASSWORD)
        idx("user", "-c", "alice", "password=secret", "email=alice@example.com")
        idx("login", "alice", "--password", "secret")
        idx("index", "-c", "dev", "bases=root/pypi")
        idx("index", "-c", "release", "volatile=False")
        idx("use", "alice/dev")
        dist = tmp / "dist"
        tox_release("idx-e2e-passing", "1.0", PASSING_TEST, dist)
        tox_release("idx-e2e-failing", "1.0", FAILING_TEST, dist)
        idx("upload", str(dist))
        first_pass = idx("test", "idx-e2e-passing", status=None)
        first_fail = idx("test", "idx-e2e-failing", status=None)
        yield Stage(idx, server, upstream, env, first_pass, first_fail)
    finally:
        server.stop()
        upstream.stop()


def test_passing_release(stage):
    run = stage.first_pass
    assert run.returncode == 0, run.output
    assert "downloaded idx_e2e_passing-1.0.tar.gz" in run.stdout
    assert "sha256 checked" in run.stdout
    assert "tox config: tox.ini (from idx_e2e_passing-1.0.tar.gz)" in run.stdout
    assert "1 passed" in run.stdout  # pytest ran inside tox
    assert "passed: idx_e2e_passing-1.0.tar.gz, idx_e2e_passing-1.0-py3-none-any.whl" in run.stdout
    assert run.stdout.count("stored the result at") == 2

    # Every install came through idx: upstream served pytest and flit_core, via root/pypi.
    assert stage.upstream.count("/files/pytest-") >= 1
    assert stage.upstream.count("/files/flit_core-") >= 1

    results = stage.results("alice/dev", "idx-e2e-passing")
    assert sorted(results) == ["idx_e2e_passing-1.0-py3-none-any.whl", "idx_e2e_passing-1.0.tar.gz"]
    for stored in results.values():
        (result,) = stored
        assert {"check", "py"} <= set(result["testenvs"])
        py = result["testenvs"]["py"]
        assert py["result"]["success"] is True
        assert [c["retcode"] for c in py["test"]] == [0]
        text = json.dumps(result)
        assert "secret" not in text
        assert "X-Devpi-Auth" not in text


def test_failing_release(stage):
    run = stage.first_fail
    assert run.returncode == 1, run.output
    assert "deliberately failing" in run.stdout
    assert "failed: idx_e2e_failing-1.0.tar.gz, idx_e2e_failing-1.0-py3-none-any.whl" in run.stdout
    results = stage.results("alice/dev", "idx-e2e-failing")
    for (result,) in results.values():
        assert result["testenvs"]["py"]["result"]["success"] is False
        assert result["testenvs"]["check"]["result"]["success"] is True


def test_list_shows_results(stage):
    listed = stage.idx("list", "idx-e2e-passing", "-t").stdout.splitlines()
    assert listed[0] == "idx-e2e-passing 1.0"
    rows = [line.split() for line in listed if line.startswith("    ")]
    assert len(rows) == 4  # two files, two envs each
    for row in rows:
        assert row[0] in ("py", "check")
        assert row[1] == "{}.{}.{}".format(*sys.version_info[:3])
        assert row[2] == "passed"
        assert row[4] == sys.platform
        assert row[-1] == "UTC"

    failing = stage.idx("list", "idx-e2e-failing", "-t").stdout
    assert "failed" in failing
    assert "deliberately failing" not in failing
    failures = stage.idx("list", "idx-e2e-failing", "-f").stdout
    assert re.search(r"FAIL: \S*pytest tests", failures), failures  # tox records the full path
    assert "deliberately failing" in failures

    data = json.loads(stage.idx("list", "idx-e2e-failing", "-f", "--json").stdout)
    files = data[0]["files"]
    assert len(files) == 2
    for file in files:
        envs = {env["env"]: env for env in file["test_envs"]}
        assert envs["py"]["passed"] is False
        assert envs["py"]["status"] == "failed"
        assert "deliberately failing" in envs["py"]["failures"][-1]["output"]
        assert envs["check"]["passed"] is True
        assert envs["py"]["url"] in file["test_results"]


def test_push_carries_results(stage):
    pushed = stage.idx("push", "idx-e2e-passing==1.0", "alice/release").stdout
    assert "pushed idx-e2e-passing==1.0 from alice/dev to alice/release" in pushed
    results = stage.results("alice/release", "idx-e2e-passing")
    assert len(results) == 2
    listed = stage.idx("list", "idx-e2e-passing", "-t", "--index", "alice/release").stdout
    assert listed.count("passed") == 4


def test_devpi_client_reads_and_stores_results(stage, devpi, tmp_path):
    """``devpi list -t`` reads what ``idx test`` stored, ``idx list -t`` what ``devpi test`` did."""

    run_devpi = Devpi(devpi, stage.env, tmp_path / "devpi", timeout=600)
    run_devpi("use", stage.server.url.rstrip("/") + "/alice/dev")
    run_devpi("login", "alice", "--password", "secret")
    listed = run_devpi("list", "-t", "idx-e2e-passing")
    assert listed.count("tests passed") == 4, listed
    failures = run_devpi("list", "-f", "idx-e2e-failing")
    assert "tests failed" in failures
    assert "deliberately failing" in failures

    # devpi test stores a third result for the failing sdist (it skips py3-none-any wheels).
    tested = run_devpi("test", "idx-e2e-failing", status=1)
    assert "posting tox result data" in tested, tested
    data = json.loads(stage.idx("list", "idx-e2e-failing", "-t", "--json").stdout)
    sdist = next(f for f in data[0]["files"] if f["filename"].endswith(".tar.gz"))
    assert len(sdist["test_results"]) == 2
    newest = {env["env"]: env for env in sdist["test_envs"]}
    assert newest["py"]["url"] == sdist["test_results"][-1]  # the newest result is shown
    assert newest["py"]["status"] == "failed"


def test_rerun_needs_nothing_from_upstream(stage):
    """With the envs recreated, a second run gets every file from idx's cache; with the
    upstream gone, it still passes."""
    stage.upstream.reset_counts()
    again = stage.idx("test", "idx-e2e-passing", "-e", "py")
    assert "passed: " in again.stdout
    assert stage.upstream.count("/files/") == 0

    stage.upstream.stop()
    offline = stage.idx("test", "idx-e2e-passing", "-e", "py", "--select", r"\.tar\.gz$")
    assert "passed: idx_e2e_passing-1.0.tar.gz" in offline.stdout
    assert "idx_e2e_passing-1.0-py3-none-any.whl" not in offline.stdout.split("passed:")[-1]
