"""Behind nginx (``x_accel_redirect``): file downloads answered with ``X-Accel-Redirect``,
and nginx's cached check ``X-Idx-File-Check`` (may it send this file from disk?)."""

from __future__ import annotations

from typing import Any

import pytest
from idx_server.testing import Project, make_wheel

DIST = make_wheel(Project("hello", "1.0", code="VALUE = 42\n" * 200))
BLOB = f"{DIST.sha256[:2]}/{DIST.sha256[2:4]}/{DIST.sha256}"


@pytest.fixture
def idx_settings_overrides() -> dict[str, Any]:
    return {"x_accel_redirect": "/+blobs/"}


@pytest.fixture
def url(alice, follow):
    alice.upload("alice/dev", DIST)
    entry = alice.simple_json("alice/dev", "hello").json["files"][0]
    return follow("/alice/dev/+simple/hello/", entry["url"]).request.path


def check(app: Any, url: str, method: str = "GET", **headers: str) -> str:
    r = app.get(url, headers={"X-Idx-File-Check": method, **headers})
    assert r.status_int == 200
    assert r.body == b""
    blob: str = r.headers["X-Idx-Blob"]
    # nginx caches a yes (for its proxy_cache_valid), never a no.
    assert ("X-Accel-Expires" in r.headers) == (blob == "-")
    return blob


@pytest.mark.parametrize("logged_in", [True, False], ids=["owner", "anonymous"])
def test_a_download_is_handed_to_nginx(alice, url, logged_in):
    if not logged_in:
        alice.logout()
    r = alice.app.get(url)
    assert r.body == b""
    assert r.headers["X-Accel-Redirect"] == f"/+blobs/{BLOB}"
    assert r.headers["Content-Length"] == str(len(DIST.content))
    assert r.headers["ETag"] == f'"{DIST.sha256}"'


def test_nginx_may_send_a_public_file_from_disk(alice, url):
    alice.logout()
    assert check(alice.app, url) == BLOB
    assert check(alice.app, url, "HEAD") == BLOB
    # What the client asked for besides does not change the answer.
    assert check(alice.app, url, Range="bytes=0-9", **{"If-None-Match": f'"{DIST.sha256}"'}) == BLOB


@pytest.mark.parametrize("method", ["DELETE", "POST", "PUT"])
def test_other_methods_go_to_idx(alice, url, method):
    assert check(alice.app, url, method) == "-"


def test_a_protected_file_is_never_sent_by_nginx_alone(alice, url, basic_auth_alice):
    alice.modify_index("alice/dev", {"acl_read": ["alice"]})
    alice.logout()
    assert check(alice.app, url) == "-"
    # Even with the owner's credentials the check says no: its answer is cached for all.
    assert check(alice.app, url, **basic_auth_alice) == "-"
    # The request itself then goes to idx, which decides.
    r = alice.app.get(url, status=401)
    assert "WWW-Authenticate" in r.headers
    assert alice.app.get(url, headers=basic_auth_alice).headers["X-Accel-Redirect"] == f"/+blobs/{BLOB}"


def test_unknown_files_and_metadata_go_to_idx(alice, url):
    alice.logout()
    assert check(alice.app, url.replace("hello-1.0", "other-1.0")) == "-"
    assert check(alice.app, url + ".metadata") == "-"
    assert check(alice.app, "/alice/dev/+simple/hello/") == "-"
    assert check(alice.app, url + "?x=1") == "-"


def test_a_deleted_file_is_gone_at_once(alice, url):
    headers = dict(alice.headers)
    alice.logout()
    assert check(alice.app, url) == BLOB
    alice.app.get(url)
    alice.app.delete("/alice/dev/hello", headers=headers)
    assert check(alice.app, url) == "-"
    alice.app.get(url, status=404)


@pytest.fixture
def basic_auth_alice() -> dict[str, str]:
    from idx_server.testing import basic_auth

    return basic_auth("alice", "secret")
