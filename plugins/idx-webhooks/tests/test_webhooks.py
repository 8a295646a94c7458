"""idx-webhooks in process: config keys, the redacted secret, payloads, signatures,
retries, the delivery log and its endpoint."""

from __future__ import annotations

import json
import threading
import time

import pytest
from idx_server.model.indexes import REDACTED
from idx_server.testing import Mapp, Project, make_wheel
from idx_webhooks.delivery import Deliverer, Delivery, Outcome, verify_signature
from idx_webhooks.deliverylog import DeliveryLog
from idx_webhooks.plugin import WebhooksPlugin

SECRET = "s3cr3t"


@pytest.fixture
def alice(mapp: Mapp, receiver) -> Mapp:
    """alice, logged in, owning alice/dev whose webhook goes to ``receiver``."""
    mapp.create_and_login_user("alice", "secret")
    mapp.create_index("dev", webhook_urls=[receiver.url], webhook_secret=SECRET)
    return mapp


def settle(mapp: Mapp, webhooks: WebhooksPlugin) -> None:
    mapp.wait_for_events()
    assert webhooks.service is not None
    assert webhooks.service.deliverer.wait(10)


def test_stages_get_the_keys_and_mirrors_do_not(mapp: Mapp):
    mapp.login_root()
    mapp.create_index("root/plain")
    config = mapp.get_index("root/plain")
    assert config["webhook_urls"] == []
    assert config["webhook_secret"] == ""
    assert "webhook_urls" not in mapp.get_index("root/pypi")


def test_webhook_urls_must_be_http(mapp: Mapp):
    mapp.login_root()
    response = mapp.create_index("root/bad", status=400, webhook_urls=["ftp://example.com/"])
    assert "webhook_urls" in response.json["message"]


def test_the_secret_is_never_shown_and_survives_being_sent_back(alice: Mapp, receiver, webhooks):
    config = alice.get_index("alice/dev")
    assert config["webhook_secret"] == REDACTED
    assert SECRET not in alice.get_json("/alice").text
    # A config edited as shown (secret redacted) keeps the stored secret ...
    config.pop("projects")
    config["title"] = "Dev"
    alice.modify_index("alice/dev", config)
    alice.modify_index("alice/dev", ["webhook_secret=" + REDACTED])
    alice.upload("alice/dev", name="demo", version="1.0")
    settle(alice, webhooks)
    received = receiver.wait_for(1)[0]
    assert verify_signature(SECRET, received.body, received.headers["X-Idx-Signature"])
    # ... and a new value replaces it; "" removes it.
    alice.modify_index("alice/dev", {"webhook_secret": "other"})
    assert alice.get_index("alice/dev")["webhook_secret"] == REDACTED
    alice.modify_index("alice/dev", {"webhook_secret": ""})
    assert alice.get_index("alice/dev")["webhook_secret"] == ""


def test_upload_posts_a_signed_event(alice: Mapp, receiver, webhooks):
    dist = make_wheel(Project("demo", "1.0"))
    alice.upload("alice/dev", dist)
    settle(alice, webhooks)
    [received] = receiver.wait_for(1)
    assert received.path == "/hook"
    assert received.headers["Content-Type"] == "application/json"
    assert received.headers["X-Idx-Event"] == "upload"
    assert verify_signature(SECRET, received.body, received.headers["X-Idx-Signature"])
    event = received.json
    assert {k: event[k] for k in ("event", "index", "project", "version", "user")} == {
        "event": "upload",
        "index": "alice/dev",
        "project": "demo",
        "version": "1.0",
        "user": "alice",
    }
    assert event["time"].endswith("Z")
    [f] = event["files"]
    assert f["filename"] == dist.filename
    assert f["sha256"] == dist.sha256
    assert f["url"].startswith("http://localhost/alice/dev/+f/")
    assert alice.app.get(f["url"].removeprefix("http://localhost")).body == dist.content


def test_push_yank_unyank_and_delete_are_reported(alice: Mapp, receiver, webhooks):
    alice.create_index("prod", webhook_urls=[receiver.url])
    dist = make_wheel(Project("demo", "1.0"))
    alice.upload("alice/dev", dist)
    alice.push("alice/dev", "demo", "1.0", "alice/prod")
    alice.yank("alice/prod", "demo", "1.0", reason="broken")
    alice.unyank("alice/prod", "demo", "1.0")
    alice.delete_release("alice/prod", "demo", "1.0")
    settle(alice, webhooks)
    events = [r.json for r in receiver.wait_for(5)]
    assert [(e["event"], e["index"]) for e in events] == [
        ("upload", "alice/dev"),
        ("push", "alice/prod"),
        ("yank", "alice/prod"),
        ("unyank", "alice/prod"),
        ("delete", "alice/prod"),
    ]
    push, yank = events[1], events[2]
    assert push["source"] == "alice/dev"
    assert yank["reason"] == "broken"
    for event in events[1:]:
        assert [f["filename"] for f in event["files"]] == [dist.filename]
        # The URL of the write request that caused it (events name files by path).
        assert event["files"][0]["url"].startswith("http://localhost/alice/prod/+f/")
    unsigned = receiver.requests[1]
    assert "X-Idx-Signature" not in unsigned.headers


def test_failures_are_retried_with_the_same_delivery_id(alice: Mapp, receiver, webhooks):
    receiver.script[:] = [500, 503]
    alice.upload("alice/dev", name="demo", version="1.0")
    settle(alice, webhooks)
    attempts = receiver.wait_for(3)
    assert len({r.headers["X-Idx-Delivery"] for r in attempts}) == 1
    assert len({r.body for r in attempts}) == 1
    [delivery] = alice.get_json("/alice/dev/+webhooks").json["result"]["deliveries"]
    assert delivery["state"] == "delivered"
    assert delivery["attempts"] == 3
    assert delivery["http_status"] == 200


def test_an_unreachable_receiver_never_fails_the_upload(alice: Mapp, webhooks):
    alice.modify_index("alice/dev", {"webhook_urls": ["http://127.0.0.1:9/nothing-here"]})
    alice.upload("alice/dev", name="demo", version="1.0")
    settle(alice, webhooks)
    [delivery] = alice.get_json("/alice/dev/+webhooks").json["result"]["deliveries"]
    assert delivery["state"] == "failed"
    assert delivery["attempts"] == 3  # the first and webhooks_retries = 2 more
    assert delivery["error"]
    log = (alice.core.settings.serverdir / "+webhooks" / "deliveries.jsonl").read_text().splitlines()
    states = [json.loads(line)["state"] for line in log]
    assert states == ["pending", "retrying", "retrying", "failed"]
    metrics = {m[0]: m[2] for m in alice.get_json("/+status").json["result"]["metrics"]}
    assert metrics["webhooks_failed"] == 1


def test_a_client_error_is_not_retried(alice: Mapp, receiver, webhooks):
    receiver.script[:] = [404]
    alice.upload("alice/dev", name="demo", version="1.0")
    settle(alice, webhooks)
    assert len(receiver.requests) == 1
    [delivery] = alice.get_json("/alice/dev/+webhooks").json["result"]["deliveries"]
    assert (delivery["state"], delivery["http_status"]) == ("failed", 404)


@pytest.mark.parametrize("idx_settings_overrides", [{"webhooks_blocked_networks": "127.0.0.0/8"}])
def test_blocked_networks_are_never_contacted(alice: Mapp, receiver, webhooks):
    alice.upload("alice/dev", name="demo", version="1.0")
    settle(alice, webhooks)
    assert receiver.requests == []
    [delivery] = alice.get_json("/alice/dev/+webhooks").json["result"]["deliveries"]
    assert delivery["state"] == "failed"
    assert "webhooks_blocked_networks" in delivery["error"]


def test_only_who_may_modify_the_index_sees_its_deliveries(alice: Mapp):
    alice.logout()
    alice.get_json("/alice/dev/+webhooks", status=401)
    alice.create_and_login_user("mallory", "secret")
    alice.get_json("/alice/dev/+webhooks", status=403)
    alice.login_root()
    assert alice.get_json("/alice/dev/+webhooks").json["result"]["deliveries"] == []


def test_indexes_without_webhooks_send_nothing(mapp: Mapp, receiver, webhooks):
    mapp.create_and_login_user("bob", "secret")
    mapp.create_index("dev")
    mapp.upload("bob/dev", name="demo", version="1.0")
    settle(mapp, webhooks)
    assert receiver.requests == []


# -- units ------------------------------------------------------------------------------------
def test_backoff_doubles_up_to_a_cap():
    deliverer = Deliverer(lambda d: Outcome(True), lambda *a: None, retries=3, backoff=2)
    assert [deliverer.delay(n) for n in (1, 2, 3)] == [2, 4, 8]
    assert deliverer.delay(30) == 600


def test_the_log_survives_a_restart_and_marks_lost_deliveries(tmp_path):
    log = DeliveryLog(tmp_path)
    first = Delivery("a", "alice/dev", "upload", "http://u:p@example.com/x", b"{}")
    second = Delivery("b", "alice/dev", "upload", "http://example.com/y", b"{}")
    log.record(first, "pending", None)
    log.record(first, "delivered", Outcome(True, http_status=204))
    log.record(second, "retrying", Outcome(False, retry=True, error="timed out"))
    restarted = DeliveryLog(tmp_path)
    recent = restarted.recent("alice/dev")
    assert [(d["id"], d["state"]) for d in recent] == [("b", "interrupted"), ("a", "delivered")]
    assert recent[1]["url"] == "http://***@example.com/x"


def test_a_stopping_server_sends_the_deliveries_due_first():
    """idx_shutdown comes after the last event reached the hooks: an upload just before
    the stop still gets its webhook, within the drain's bound; a retry waiting for its
    backoff is not waited for."""
    sent: list[str] = []
    states: list[tuple[str, str]] = []
    gate = threading.Event()

    def sender(delivery: Delivery) -> Outcome:
        gate.wait(5)
        sent.append(delivery.id)
        return Outcome(delivery.id != "flaky", retry=True, error="503")

    deliverer = Deliverer(sender, lambda d, state, o: states.append((d.id, state)), retries=3, backoff=60)
    for name in ("flaky", "one", "two"):
        deliverer.submit(Delivery(name, "alice/dev", "upload", "http://example.com/", b"{}"))
    gate.set()
    started = time.monotonic()
    deliverer.stop(drain=5)
    assert time.monotonic() - started < 4  # the retry's 60 s backoff was not waited out
    assert sent == ["flaky", "one", "two"]
    assert ("one", "delivered") in states
    assert ("two", "delivered") in states
    assert ("flaky", "retrying") in states
    assert deliverer.pending == 1  # the retry: interrupted, as the log shows after a restart


def test_the_drain_is_bounded():
    release = threading.Event()

    def hung(delivery: Delivery) -> Outcome:
        release.wait(10)
        return Outcome(True)

    deliverer = Deliverer(hung, lambda *a: None, retries=0, backoff=1)
    for name in ("a", "b"):
        deliverer.submit(Delivery(name, "alice/dev", "upload", "http://example.com/", b"{}"))
    started = time.monotonic()
    deliverer.stop(drain=0.3)
    assert time.monotonic() - started < 2
    release.set()
    assert deliverer._thread is not None
    deliverer._thread.join(5)
    assert not deliverer._thread.is_alive()
    assert deliverer.delivered == 1  # "a", which was being sent; "b" never started
    assert deliverer.pending == 1
