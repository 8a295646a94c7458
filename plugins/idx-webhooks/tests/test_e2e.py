"""idx-webhooks installed in a real idx-server: twine uploads, a local receiver gets the
signed event, and the delivery shows up in ``+webhooks``."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
from idx_server.testing import UNREACHABLE_UPSTREAM, Project, make_wheel, start_server
from idx_webhooks.delivery import verify_signature

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

ROOT = ("root", "root")


def test_twine_upload_triggers_a_signed_webhook(tmp_path, receiver, client_env):
    # The plugin's own setting, given as a command-line option of idx-server.
    server = start_server(
        tmp_path / "server", "--mirror-url", UNREACHABLE_UPSTREAM, "--webhooks-backoff", "0.2"
    )
    try:
        assert "idx-webhooks" in server.json("/+status")["result"]["plugins"]
        assert server.request("PUT", "/alice", {"password": "alice-pw"}, auth=ROOT)[0] == 201
        config = {"webhook_urls": [receiver.url], "webhook_secret": "hook-key"}
        status, created = server.request("PUT", "/alice/dev", config, auth=("alice", "alice-pw"))
        assert status == 201, created
        assert created["result"]["webhook_secret"] == "********"
        receiver.script[:] = [502]  # the first attempt fails: the retry delivers

        wheel = make_wheel(Project("hooked", "1.0")).write(tmp_path)
        started = time.monotonic()
        result = subprocess.run(
            [sys.executable, "-m", "twine", "upload", "--non-interactive", "--disable-progress-bar",
             "--repository-url", f"{server.url}/alice/dev/", "-u", "alice", "-p", "alice-pw", str(wheel)],
            env=client_env, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert result.returncode == 0, result.stdout + result.stderr

        first, second = receiver.wait_for(2, timeout=30)
        assert time.monotonic() - started < 60
        assert first.body == second.body
        assert verify_signature("hook-key", second.body, second.headers["X-Idx-Signature"])
        event = second.json
        assert (event["event"], event["index"], event["project"], event["version"], event["user"]) == (
            "upload",
            "alice/dev",
            "hooked",
            "1.0",
            "alice",
        )
        [file] = event["files"]
        assert file["filename"] == wheel.name
        assert file["url"].startswith(f"{server.url}/alice/dev/+f/")

        deliveries = _delivered(server)
        assert (deliveries[0]["state"], deliveries[0]["attempts"]) == ("delivered", 2)
        assert (tmp_path / "server" / "+webhooks" / "deliveries.jsonl").exists()
    finally:
        server.stop()


def _delivered(server) -> list[dict]:
    deadline = time.monotonic() + 10
    while True:
        status, answer = server.request("GET", "/alice/dev/+webhooks", auth=("alice", "alice-pw"))
        assert status == 200, answer
        deliveries = answer["result"]["deliveries"]
        if (deliveries and deliveries[0]["state"] == "delivered") or time.monotonic() > deadline:
            return deliveries
        time.sleep(0.05)


def test_a_stopping_server_sends_what_was_due_first(tmp_path, receiver, client_env):
    """Two uploads just before a stop: the first delivery is still waiting for its answer
    and the second has not been sent when the server is told to stop. Both arrive, and
    the log has both delivered."""
    server = start_server(tmp_path / "server", "--mirror-url", UNREACHABLE_UPSTREAM)
    try:
        assert server.request("PUT", "/alice", {"password": "alice-pw"}, auth=ROOT)[0] == 201
        config = {"webhook_urls": [receiver.url]}
        assert server.request("PUT", "/alice/dev", config, auth=("alice", "alice-pw"))[0] == 201
        receiver.delay = 1.0
        for version in ("1.0", "1.1"):
            wheel = make_wheel(Project("stopping", version)).write(tmp_path)
            result = subprocess.run(
                [sys.executable, "-m", "twine", "upload", "--non-interactive", "--disable-progress-bar",
                 "--repository-url", f"{server.url}/alice/dev/", "-u", "alice", "-p", "alice-pw",
                 str(wheel)],
                env=client_env, capture_output=True, text=True, timeout=120, check=False,
            )  # fmt: skip
            assert result.returncode == 0, result.stdout + result.stderr
        receiver.wait_for(1)  # the first is being answered, slowly
    finally:
        server.stop()
    assert sorted(request.json["version"] for request in receiver.requests) == ["1.0", "1.1"]
    lines = (tmp_path / "server" / "+webhooks" / "deliveries.jsonl").read_text().splitlines()
    states = [json.loads(line)["state"] for line in lines]
    assert states.count("delivered") == 2, states
