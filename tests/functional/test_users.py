"""``/{user}``: creating, showing, modifying and deleting users."""

from __future__ import annotations

from typing import Any

import pytest
from idx_server.testing import basic_auth


def test_root_creates_a_user(mapp):
    mapp.login_root()
    r = mapp.create_user("alice", "secret", email="alice@example.org", title="Alice")
    assert r.status_int == 201
    assert r.json["type"] == "userconfig"
    result = r.json["result"]
    assert result["username"] == "alice"
    assert result["email"] == "alice@example.org"
    assert result["indexes"] == {}
    assert "secret" not in r.text
    assert "pwhash" not in result
    assert "password" not in result
    # the new user can log in
    mapp.login("alice", "secret")


def test_anonymous_cannot_create_users(mapp):
    r = mapp.create_user("alice", status=401)
    assert r.headers["WWW-Authenticate"].startswith("Basic")
    assert "authentication required" in r.json["message"]
    mapp.app.get("/alice", status=404)


def test_a_user_other_than_root_cannot_create_users(mapp):
    mapp.create_and_login_user("alice")
    r = mapp.create_user("bob", status=403)
    assert "alice" in r.json["message"]
    mapp.app.get("/bob", status=404)


def test_creating_an_existing_user_is_409_and_keeps_the_old_password(mapp):
    mapp.create_and_login_user("alice", "secret")
    mapp.login_root()
    r = mapp.create_user("alice", "other", status=409)
    assert "already exists" in r.json["message"]
    mapp.login("alice", "secret")


@pytest.mark.parametrize("body", [{}, {"password": ""}, {"password": 5}, {"password": "x", "colour": "red"}])
def test_creating_a_user_with_a_bad_body_is_400(mapp, body):
    mapp.login_root()
    mapp.app.put_json("/alice", body, headers=mapp.headers, status=400)
    mapp.app.get("/alice", status=404)


@pytest.mark.parametrize("name", ["a$b", "-dash", ".dot", "x" * 65])
def test_invalid_user_names_are_400(mapp, name):
    mapp.login_root()
    r = mapp.create_user(name, status=400)
    assert "invalid user name" in r.json["message"]


class TestSelfRegistration:
    @pytest.fixture
    def idx_settings_overrides(self) -> dict[str, Any]:
        return {"allow_registration": True}

    def test_anyone_may_register(self, mapp):
        r = mapp.create_user("bob", "bobpw", email="bob@example.org")
        assert r.status_int == 201
        mapp.login("bob", "bobpw")
        mapp.create_index("dev")

    def test_registering_cannot_take_over_an_existing_user(self, mapp):
        mapp.create_user("bob", "bobpw")
        mapp.create_user("bob", "mine-now", status=409)
        mapp.login("bob", "bobpw")

    def test_registering_does_not_allow_modifying_others(self, mapp):
        mapp.create_user("bob", "bobpw")
        mapp.create_user("eve", "evepw")
        mapp.login("eve", "evepw")
        mapp.app.patch_json("/bob", {"password": "hacked"}, headers=mapp.headers, status=403)


def test_registration_is_closed_by_default(mapp):
    mapp.create_user("bob", status=401)


# -- showing ---------------------------------------------------------------------------------------
def test_get_user_shows_their_indexes(mapp):
    mapp.create_and_login_user("alice")
    mapp.create_index("dev", title="Development")
    r = mapp.get_json("/alice")
    assert r.json["type"] == "userconfig"
    assert r.json["result"]["username"] == "alice"
    assert r.json["result"]["indexes"]["dev"]["title"] == "Development"
    assert r.json["result"]["indexes"]["dev"]["type"] == "stage"


def test_get_missing_user_is_404(testapp):
    r = testapp.get("/nobody", headers={"Accept": "application/json"}, status=404)
    assert "nobody" in r.json["message"]


def test_user_list(mapp):
    mapp.create_and_login_user("alice")
    r = mapp.get_json("/")
    assert r.json["type"] == "list:userconfig"
    assert set(r.json["result"]) == {"root", "alice"}
    assert "pypi" in r.json["result"]["root"]["indexes"]


# -- modifying -------------------------------------------------------------------------------------
def test_a_user_modifies_themselves(mapp):
    mapp.create_and_login_user("alice", "secret")
    r = mapp.app.patch_json("/alice", {"email": "new@example.org", "title": "Dr A"}, headers=mapp.headers)
    assert r.json["result"]["email"] == "new@example.org"
    assert mapp.get_json("/alice").json["result"]["title"] == "Dr A"


def test_a_user_modifies_themselves_with_the_config_as_shown(mapp):
    # devpi-client's "user -m" GETs the user, changes a field and PATCHes the rest back.
    mapp.create_and_login_user("alice", "secret")
    config = mapp.get_json("/alice").json["result"]
    config.pop("username")
    config.pop("indexes")
    config["email"] = "round@trip.org"
    mapp.app.patch_json("/alice", config, headers=mapp.headers)
    assert mapp.get_json("/alice").json["result"]["email"] == "round@trip.org"


def test_a_user_changes_their_password(mapp):
    mapp.create_and_login_user("alice", "secret")
    mapp.app.patch_json("/alice", {"password": "better"}, headers=mapp.headers)
    mapp.app.post_json("/+login", {"user": "alice", "password": "secret"}, status=401)
    mapp.login("alice", "better")


def test_root_modifies_any_user(mapp):
    mapp.create_and_login_user("alice")
    mapp.login_root()
    mapp.app.patch_json("/alice", {"email": "set@by.root"}, headers=mapp.headers)
    assert mapp.get_json("/alice").json["result"]["email"] == "set@by.root"


def test_users_cannot_modify_each_other(mapp):
    mapp.create_and_login_user("alice", "secret")
    mapp.create_and_login_user("bob", "bobpw")
    mapp.app.patch_json("/alice", {"password": "owned"}, headers=mapp.headers, status=403)
    mapp.app.patch_json("/alice", {"password": "owned"}, status=401)
    mapp.login("alice", "secret")


def test_modifying_with_unknown_fields_is_400(mapp):
    mapp.create_and_login_user("alice")
    r = mapp.app.patch_json("/alice", {"shoe_size": "42"}, headers=mapp.headers, status=400)
    assert "shoe_size" in r.json["message"]


# -- deleting --------------------------------------------------------------------------------------
def test_a_user_deletes_themselves_with_their_indexes(mapp, disk):
    mapp.create_and_login_user("alice", "secret")
    mapp.create_index("dev")
    mapp.upload("alice/dev", name="hello", version="1.0")
    mapp.app.delete("/alice", headers=mapp.headers)
    mapp.app.get("/alice", status=404)
    mapp.app.get("/alice/dev/+simple/hello/", status=404)
    assert disk.blobs() == set()
    mapp.app.post_json("/+login", {"user": "alice", "password": "secret"}, status=401)
    assert (
        mapp.app.get("/+api", headers=basic_auth("alice", "secret")).json["result"]["authstatus"][0]
        == "noauth"
    )


def test_root_deletes_a_user(mapp):
    mapp.create_and_login_user("alice")
    mapp.login_root()
    mapp.app.delete("/alice", headers=mapp.headers)
    mapp.app.get("/alice", status=404)


def test_users_cannot_delete_each_other(mapp):
    mapp.create_and_login_user("alice")
    mapp.create_and_login_user("bob")
    mapp.app.delete("/alice", headers=mapp.headers, status=403)
    mapp.app.delete("/alice", status=401)
    mapp.get_json("/alice")


def test_root_cannot_be_deleted(mapp):
    mapp.login_root()
    mapp.app.delete("/root", headers=mapp.headers, status=403)


def test_a_user_with_a_non_volatile_index_cannot_be_deleted(mapp):
    mapp.create_and_login_user("alice")
    mapp.create_index("prod", volatile=False)
    r = mapp.app.delete("/alice", headers=mapp.headers, status=403)
    assert "alice/prod" in r.json["message"]
    mapp.get_json("/alice/prod")


def test_deleting_a_user_whose_index_is_a_base_of_another_is_409(mapp):
    # As for DELETE /alice/dev itself: removing a base from under bob/dev silently
    # changes what bob/dev serves.
    mapp.create_and_login_user("alice")
    mapp.create_index("dev")
    mapp.create_and_login_user("bob")
    mapp.create_index("dev", bases=["alice/dev"])
    mapp.login("alice", "secret")
    r = mapp.app.delete("/alice", headers=mapp.headers, status=409)
    assert "bob/dev" in r.json["message"]
    mapp.get_json("/alice/dev")
