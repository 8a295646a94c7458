"""Starting ``idx-server`` where it cannot listen: one line saying which address and
why, exit status 1, no traceback, and nothing lost (the running server keeps serving;
a root password generated on the failed start was shown, and works)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from idx_server.testing import UNREACHABLE_UPSTREAM, start_server

pytestmark = pytest.mark.slow


def run_server(serverdir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "idx_server",
            "--serverdir",
            str(serverdir),
            "--mirror-url",
            UNREACHABLE_UPSTREAM,
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def test_a_port_in_use_is_one_clear_line_and_the_running_server_goes_on(tmp_path: Path) -> None:
    server = start_server(tmp_path / "srv", "--mirror-url", UNREACHABLE_UPSTREAM)
    try:
        port = str(urlsplit(server.url).port)
        # The same server directory, the same port: someone started it twice.
        second = run_server(server.serverdir, "--host", "127.0.0.1", "--port", port)
        assert second.returncode == 1
        assert "Traceback" not in second.stderr
        error = [line for line in second.stderr.splitlines() if line.startswith("idx-server:")]
        assert error == [
            f"idx-server: cannot listen on 127.0.0.1:{port}: the address is already in use "
            "(another idx-server, or another program, listens there); stop it or pick another "
            "port (--port, IDX_PORT)"
        ]
        assert "listening on" not in second.stdout
        assert server.json("/+api")["result"]["login"].endswith("/+login")
    finally:
        assert server.stop() == 0


@pytest.mark.skipif(
    Path("/proc/sys/net/ipv4/ip_nonlocal_bind").exists()
    and Path("/proc/sys/net/ipv4/ip_nonlocal_bind").read_text().strip() != "0",
    reason="net.ipv4.ip_nonlocal_bind is on: binding any address succeeds here",
)
def test_an_address_of_no_interface_here_says_to_check_host(tmp_path: Path) -> None:
    # 192.0.2.0/24 is TEST-NET-1: never assigned to this machine.
    result = run_server(tmp_path / "srv", "--host", "192.0.2.1", "--port", "0", "--root-password", "pw")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert (
        "idx-server: cannot listen on 192.0.2.1:0: no network interface of this machine has that address"
        in (result.stderr)
    )


def test_the_root_password_generated_on_a_failed_start_was_shown_and_works(tmp_path: Path) -> None:
    holder = start_server(tmp_path / "holder", "--mirror-url", UNREACHABLE_UPSTREAM)
    try:
        port = str(urlsplit(holder.url).port)
        failed = run_server(tmp_path / "fresh", "--host", "127.0.0.1", "--port", port)
    finally:
        holder.stop()
    assert failed.returncode == 1
    assert "already in use" in failed.stderr
    shown = [
        line for line in failed.stdout.splitlines() if line.startswith("Created user 'root' with password: ")
    ]
    assert len(shown) == 1
    password = shown[0].rsplit(" ", 1)[1]
    # The next start (on a free port) keeps the stored password: the one shown works.
    server = start_server(tmp_path / "fresh", "--mirror-url", UNREACHABLE_UPSTREAM)
    try:
        assert "Created user 'root'" not in server.log()  # shown once, on the failed start
        status, body = server.request("POST", "/+login", {"user": "root", "password": password})
        assert status == 200, body
        status, _ = server.request("POST", "/+login", {"user": "root", "password": password + "x"})
        assert status == 401
    finally:
        server.stop()
