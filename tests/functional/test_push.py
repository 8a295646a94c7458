"""Push: a release copied server-side to another index (devpi's wire format)."""

import pytest
from idx_server.testing import Project, make_sdist, make_wheel


def push(mapp, source, name, version, target, status=200):
    body = {"name": name, "version": version, "targetindex": target}
    return mapp.app.post_json(f"/{source}/", body, headers=mapp.headers, status=status)


@pytest.fixture
def alice(mapp):
    mapp.create_and_login_user("alice")
    mapp.create_index("dev")
    mapp.create_index("release", volatile=False)
    mapp.upload("alice/dev", make_wheel(Project("pkg", "1.0")))
    mapp.upload("alice/dev", make_sdist(Project("pkg", "1.0")))
    return mapp


def test_push_copies_files_and_metadata(alice):
    response = push(alice, "alice/dev", "pkg", "1.0", "alice/release")
    log = response.json["result"]
    assert log[0] == [200, "register", "pkg", "1.0", "->", "alice/release"]
    assert [entry[1] for entry in log[1:]] == ["store_releasefile", "store_releasefile"]
    source = alice.simple_json("alice/dev", "pkg").json["files"]
    target = alice.simple_json("alice/release", "pkg").json["files"]
    assert [(f["filename"], f["hashes"]) for f in target] == [(f["filename"], f["hashes"]) for f in source]
    data = alice.get_json("/alice/release/pkg/1.0").json["result"]
    assert data["summary"] == "a test package"
    assert data["+links"][0]["log"][-1]["what"] == "push"


def test_push_is_idempotent_and_refuses_other_bytes_on_stable_target(alice):
    push(alice, "alice/dev", "pkg", "1.0", "alice/release")
    push(alice, "alice/dev", "pkg", "1.0", "alice/release")
    alice.upload("alice/dev", make_wheel(Project("pkg", "1.0", code="VALUE = 43\n")))
    response = push(alice, "alice/dev", "pkg", "1.0", "alice/release", status=409)
    assert "File already exists" in response.json["message"]


def test_push_needs_upload_permission_on_target(alice):
    alice.login_root()
    alice.create_user("bob", "pw")
    alice.login("bob", "pw")
    alice.create_index("bob/own")
    response = push(alice, "alice/dev", "pkg", "1.0", "alice/release", status=403)
    assert "alice/release" in response.json["message"]
    push(alice, "alice/dev", "pkg", "1.0", "bob/own")


def test_push_of_missing_release_is_404(alice):
    push(alice, "alice/dev", "pkg", "9.9", "alice/release", status=404)
    push(alice, "alice/dev", "pkg", "1.0", "alice/nowhere", status=404)


def test_push_to_mirror_is_refused(alice):
    alice.login_root()
    response = push(alice, "alice/dev", "pkg", "1.0", "root/pypi", status=405)
    assert "does not take uploads" in response.json["message"]
