"""idx-remoteuser installed in a real idx-server that trusts 127.0.0.1: the proxy's
header authenticates, configured from the command line and the environment."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from idx_server.testing import UNREACHABLE_UPSTREAM, start_server

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]


def test_version_lists_the_installed_plugins():
    result = subprocess.run(
        [sys.executable, "-m", "idx_server", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "plugin idx-remoteuser 0.1.0" in result.stdout


def test_a_trusted_proxy_header_authenticates(tmp_path):
    server = start_server(
        tmp_path / "server",
        "--mirror-url",
        UNREACHABLE_UPSTREAM,
        "--remoteuser-trusted-proxies",
        "127.0.0.1",
        env={**os.environ, "IDX_REMOTEUSER_HEADER": "X-Sso-User"},
    )
    try:
        assert "idx-remoteuser" in server.json("/+status")["result"]["plugins"]
        assert server.request("PUT", "/alice", {"password": "alice-pw"}, auth=("root", "root"))[0] == 201
        sso = {"X-Sso-User": "alice"}
        status, answer = server.request("GET", "/+api", headers=sso)
        assert answer["result"]["authstatus"][:2] == ["ok", "alice"]
        status, answer = server.request("PUT", "/alice/dev", {"title": "made via SSO"}, headers=sso)
        assert status == 201, answer
        assert server.request("PATCH", "/alice/dev", {"title": "anonymous"})[0] == 401
        assert server.request("PATCH", "/alice/dev", {"title": "changed"}, headers=sso)[0] == 200
        # The default header name is not the configured one: ignored.
        status, answer = server.request("GET", "/+api", headers={"X-Remote-User": "alice"})
        assert answer["result"]["authstatus"][0] == "noauth"
        assert server.request("GET", "/+api", headers={"X-Sso-User": "root"})[1]["result"]["authstatus"][
            0
        ] == ("noauth")
    finally:
        server.stop()
