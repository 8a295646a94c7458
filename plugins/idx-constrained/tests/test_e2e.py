"""idx-constrained installed in a real idx-server: pip sees only the vetted releases."""

from __future__ import annotations

import subprocess
import sys

import pytest
from idx_server.testing import UNREACHABLE_UPSTREAM, Project, make_wheel, start_server

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

ALICE = ("alice", "alice-pw")


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=120, check=False)


def test_pip_gets_only_what_the_constraints_allow(tmp_path, client_env):
    server = start_server(tmp_path / "server", "--mirror-url", UNREACHABLE_UPSTREAM)
    try:
        assert "idx-constrained" in server.json("/+status")["result"]["plugins"]
        assert server.request("PUT", "/alice", {"password": "alice-pw"}, auth=("root", "root"))[0] == 201
        assert server.request("PUT", "/alice/dev", {}, auth=ALICE)[0] == 201
        wheels = [
            make_wheel(Project(name, version)).write(tmp_path)
            for name, version in (("vetted-demo", "1.0"), ("vetted-demo", "2.0"), ("unvetted", "1.0"))
        ]
        result = run(
            [sys.executable, "-m", "twine", "upload", "--non-interactive", "--disable-progress-bar",
             "--repository-url", f"{server.url}/alice/dev/", "-u", "alice", "-p", "alice-pw",
             *map(str, wheels)],
            client_env,
        )  # fmt: skip
        assert result.returncode == 0, result.stdout + result.stderr
        config = {"type": "constrained", "bases": ["alice/dev"], "constraints": ["vetted-demo<2", "*"]}
        status, answer = server.request("PUT", "/alice/vetted", config, auth=ALICE)
        assert status == 201, answer

        def pip_download(project: str) -> subprocess.CompletedProcess[str]:
            return run(
                [sys.executable, "-m", "pip", "download", "--no-deps", "--no-cache-dir",
                 "--index-url", f"{server.url}/alice/vetted/+simple/", "-d", str(tmp_path / "got"),
                 project],
                client_env,
            )  # fmt: skip

        got = pip_download("vetted-demo")
        assert got.returncode == 0, got.stdout + got.stderr
        assert sorted(p.name for p in (tmp_path / "got").iterdir()) == ["vetted_demo-1.0-py3-none-any.whl"]
        blocked = pip_download("unvetted")
        assert blocked.returncode != 0
        assert "No matching distribution" in blocked.stderr
    finally:
        server.stop()
