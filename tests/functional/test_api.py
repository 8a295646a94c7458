"""Server-wide endpoints: /+api, /+login, the ways to authenticate, /+status."""

from __future__ import annotations

import base64

import idx_server
import pytest
from idx_server import housekeeping
from idx_server.testing import basic_auth


def devpi_auth(user: str, token: str) -> dict[str, str]:
    return {"X-Devpi-Auth": base64.b64encode(f"{user}:{token}".encode()).decode()}


def login(testapp, user="alice", password="secret") -> str:
    return testapp.post_json("/+login", {"user": user, "password": password}).json["result"]["password"]


# -- /+api ---------------------------------------------------------------------------------------
def test_api_discovery(testapp):
    r = testapp.get("/+api")
    assert r.content_type == "application/json"
    assert r.json["type"] == "apiconfig"
    result = r.json["result"]
    assert result["login"] == "http://localhost/+login"
    assert result["authstatus"][0] == "noauth"
    assert "server-keyvalue-parsing" in result["features"]


def test_index_api_names_the_index_urls(alice):
    result = alice.app.get("/alice/dev/+api").json["result"]
    assert result["index"] == "http://localhost/alice/dev/"
    assert result["simpleindex"] == "http://localhost/alice/dev/+simple/"
    assert result["pypisubmit"] == "http://localhost/alice/dev/"


def test_mirror_api_offers_no_upload_url(testapp):
    result = testapp.get("/root/pypi/+api").json["result"]
    assert result["simpleindex"] == "http://localhost/root/pypi/+simple/"
    assert "pypisubmit" not in result


def test_api_of_a_missing_index_is_404(testapp):
    testapp.get("/root/nope/+api", status=404)


# -- /+login -------------------------------------------------------------------------------------
def test_login_returns_a_token(alice):
    r = alice.app.post_json("/+login", {"user": "alice", "password": "secret"})
    assert r.json["type"] == "proxyauth"
    assert r.json["result"]["password"]
    assert r.json["result"]["password"] != "secret"
    assert r.json["result"]["expiration"] > 0


@pytest.mark.parametrize(("user", "password"), [("alice", "wrong"), ("nobody", "secret"), ("alice", "")])
def test_login_with_wrong_credentials_is_401(alice, user, password):
    r = alice.app.post_json("/+login", {"user": user, "password": password}, status=401)
    assert "invalid user name or password" in r.json["message"]


@pytest.mark.parametrize("body", [{}, {"user": "alice"}, {"user": 1, "password": "x"}, ["alice", "secret"]])
def test_login_with_a_malformed_body_is_400(testapp, body):
    testapp.post_json("/+login", body, status=400)


def test_login_with_broken_json_is_400(testapp):
    r = testapp.post("/+login", "{not json", content_type="application/json", status=400)
    assert "not valid JSON" in r.json["message"]


# -- authenticating ------------------------------------------------------------------------------
AUTH_SCHEMES = {
    "basic password": lambda app: basic_auth("alice", "secret"),
    "basic token": lambda app: basic_auth("alice", login(app)),
    "basic __token__": lambda app: basic_auth("__token__", login(app)),
    "X-Devpi-Auth": lambda app: devpi_auth("alice", login(app)),
}


@pytest.mark.parametrize("scheme", AUTH_SCHEMES)
def test_authenticated_as_alice(alice, scheme):
    headers = AUTH_SCHEMES[scheme](alice.app)
    result = alice.app.get("/+api", headers=headers).json["result"]
    assert result["authstatus"][:2] == ["ok", "alice"]
    # ...and allowed what alice may do.
    r = alice.app.patch_json("/alice/dev", ["title=via " + scheme], headers=headers)
    assert r.json["result"]["title"] == "via " + scheme


@pytest.mark.parametrize(
    "headers",
    [
        basic_auth("alice", "wrong"),
        basic_auth("bob", "secret"),
        basic_auth("alice", "idx_notarealtoken"),
        devpi_auth("alice", "idx_notarealtoken"),
        {"Authorization": "Basic !!!not-base64"},
    ],
    ids=["wrong password", "unknown user", "bad token", "bad devpi token", "garbage"],
)
def test_bad_credentials_are_401_where_auth_is_needed(alice, headers):
    assert alice.app.get("/+api", headers=headers).json["result"]["authstatus"][0] != "ok"
    r = alice.app.patch_json("/alice/dev", ["title=x"], headers=headers, status=401)
    assert r.headers["WWW-Authenticate"].startswith("Basic")
    assert alice.app.get("/alice/dev", headers={"Accept": "application/json"}).json["result"]["title"] == ""


def test_another_users_token_does_not_work_under_alices_name(alice):
    alice.login_root()
    alice.create_user("bob", "bobpw")
    bob_token = login(alice.app, "bob", "bobpw")
    alice.app.patch_json("/alice/dev", ["title=x"], headers=devpi_auth("alice", bob_token), status=401)


def test_logout_revokes_the_token(alice):
    token = login(alice.app)
    alice.app.post("/+logout", headers=devpi_auth("alice", token))
    alice.app.patch_json("/alice/dev", ["title=x"], headers=devpi_auth("alice", token), status=401)


def test_password_change_invalidates_the_old_password(alice):
    alice.app.patch_json("/alice", {"password": "new"}, headers=alice.headers)
    alice.app.patch_json("/alice/dev", ["title=x"], headers=basic_auth("alice", "secret"), status=401)
    alice.app.patch_json("/alice/dev", ["title=x"], headers=basic_auth("alice", "new"))


# -- /+status ------------------------------------------------------------------------------------
def test_status(alice, idx_core):
    r = alice.app.get("/+status", headers={"Accept": "application/json"})
    assert r.json["type"] == "status"
    status = r.json["result"]
    assert status["version"] == idx_server.__version__
    assert status["serial"] == idx_core.store.serial()
    assert status["counts"]["users"] == 2
    assert status["counts"]["indexes"] == 2  # root/pypi and alice/dev
    assert status["counts"]["files"] == 0


def test_status_serial_and_counts_follow_uploads(alice):
    before = alice.app.get("/+status").json["result"]
    alice.upload("alice/dev", name="hello", version="1.0")
    after = alice.app.get("/+status").json["result"]
    assert after["serial"] > before["serial"]
    assert after["counts"]["files"] == 1
    assert after["counts"]["projects"] == 1
    assert after["counts"]["releases"] == 1


def test_responses_carry_the_serial(alice, idx_core):
    r = alice.app.get("/+api")
    assert r.headers["X-Devpi-Serial"] == str(idx_core.store.serial())


def test_metrics_in_prometheus_format(mapp):
    text = mapp.app.get("/+metrics").text
    assert "# TYPE idx_serial gauge" in text
    assert 'idx_objects{kind="users"} 1' in text


def test_metrics_show_memory(mapp):
    values = dict(
        line.split(" ", 1) for line in mapp.app.get("/+metrics").text.splitlines() if not line.startswith("#")
    )
    assert int(values["idx_python_allocated_blocks"]) > 10_000
    # The tests run on CPython linked to the system's libsqlite3, whose counter is reachable.
    assert int(values["idx_sqlite_memory_bytes"]) > 0
    assert int(values["idx_sqlite_connections"]) >= 1
    if housekeeping.malloc_usage() is not None:  # glibc 2.33+: malloc's own account
        assert int(values["idx_malloc_in_use_bytes"]) > 1 << 20
        assert int(values["idx_malloc_free_bytes"]) >= 0
    else:
        assert "idx_malloc_in_use_bytes" not in values
