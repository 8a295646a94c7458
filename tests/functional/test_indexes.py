"""``/{user}/{index}``: creating, showing, modifying and deleting indexes (devpi's JSON API)."""

from __future__ import annotations

import pytest


def config_of(mapp, name: str) -> dict:
    r = mapp.get_json(f"/{name}")
    assert r.json["type"] == "indexconfig"
    return r.json["result"]


# -- creating ------------------------------------------------------------------------------------
def test_create_index_with_bases(mapp):
    mapp.create_and_login_user("alice")
    r = mapp.create_index("dev", bases=["root/pypi"], title="Dev")
    assert r.status_int == 201
    assert r.json["type"] == "indexconfig"
    assert r.json["result"]["bases"] == ["root/pypi"]


def test_index_json_has_devpis_shape(mapp):
    mapp.create_and_login_user("alice")
    mapp.create_index("dev", bases=["root/pypi"])
    config = config_of(mapp, "alice/dev")
    assert config == {
        "type": "stage",
        "bases": ["root/pypi"],
        "volatile": True,
        "acl_upload": ["alice"],
        "acl_toxresult_upload": [":ANONYMOUS:"],
        "acl_read": [":ANONYMOUS:"],
        "mirror_whitelist": [],
        "mirror_whitelist_inheritance": "intersection",
        "title": "",
        "description": "",
        "custom_data": None,
        "projects": [],
    }


def test_index_json_lists_its_projects(mapp):
    mapp.create_and_login_user("alice")
    mapp.create_index("dev")
    mapp.upload("alice/dev", name="Hello_World", version="1.0")
    assert config_of(mapp, "alice/dev")["projects"] == ["Hello_World"]
    r = mapp.app.get("/alice/dev?no_projects", headers={"Accept": "application/json"})
    assert "projects" not in r.json["result"]


def test_the_mirror_index_json(testapp):
    r = testapp.get("/root/pypi", headers={"Accept": "application/json"})
    config = r.json["result"]
    assert config["type"] == "mirror"
    assert config["volatile"] is False
    assert config["mirror_url"].startswith("http")
    assert config["mirror_cache_expiry"] == 1800


def test_unknown_key_is_400_and_creates_nothing(mapp):
    mapp.create_and_login_user("alice")
    r = mapp.create_index("dev", colour="red", status=400)
    assert "colour" in r.json["message"]
    assert "colour" in r.status, "the reason phrase carries the message"
    mapp.get_json("/alice/dev", status=404)


def test_nonexistent_base_is_400(mapp):
    mapp.create_and_login_user("alice")
    r = mapp.create_index("dev", bases=["alice/nope"], status=400)
    assert "alice/nope" in r.json["message"]
    mapp.get_json("/alice/dev", status=404)


def test_an_index_cannot_be_its_own_base(mapp):
    mapp.create_and_login_user("alice")
    mapp.create_index("dev")
    mapp.modify_index("alice/dev", {"bases": ["alice/dev"]}, status=400)
    assert config_of(mapp, "alice/dev")["bases"] == []


@pytest.mark.parametrize(
    "config",
    [
        {"volatile": "perhaps"},
        {"bases": "not a name"},
        {"type": "nonsense"},
        {"mirror_whitelist_inheritance": "x"},
    ],
)
def test_invalid_values_are_400(mapp, config):
    mapp.create_and_login_user("alice")
    mapp.create_index("dev", status=400, **config)
    mapp.get_json("/alice/dev", status=404)


def test_creating_an_existing_index_is_409(mapp):
    mapp.create_and_login_user("alice")
    mapp.create_index("dev", title="first")
    mapp.create_index("dev", title="second", status=409)
    assert config_of(mapp, "alice/dev")["title"] == "first"


def test_only_the_owner_or_root_creates_indexes(mapp):
    mapp.create_and_login_user("alice")
    mapp.create_and_login_user("bob")
    mapp.create_index("alice/dev", status=403)
    mapp.logout()
    mapp.create_index("alice/dev", status=401)
    mapp.login_root()
    mapp.create_index("alice/dev")
    assert config_of(mapp, "alice/dev")["acl_upload"] == ["alice"], "the owner, not root, may upload"


def test_index_for_a_missing_user_is_404(mapp):
    mapp.login_root()
    mapp.create_index("nobody/dev", status=404)


def test_missing_index_is_404(testapp):
    testapp.get("/root/nope", headers={"Accept": "application/json"}, status=404)


def test_body_must_be_a_json_object(mapp):
    mapp.create_and_login_user("alice")
    mapp.app.put("/alice/dev", "not json", headers=mapp.headers, content_type="application/json", status=400)
    mapp.app.put_json("/alice/dev", ["title=x"], headers=mapp.headers, status=400)


# -- modifying -----------------------------------------------------------------------------------
@pytest.fixture
def dev(mapp):
    mapp.create_and_login_user("alice")
    mapp.create_index("base")
    mapp.create_index("dev", bases=["root/pypi"])
    return mapp


def test_patch_with_a_dict(dev):
    r = dev.modify_index(
        "alice/dev", {"title": "New", "bases": ["alice/base", "root/pypi"], "volatile": False}
    )
    assert r.json["result"]["title"] == "New"
    config = config_of(dev, "alice/dev")
    assert config["bases"] == ["alice/base", "root/pypi"]
    assert config["volatile"] is False
    assert config["acl_upload"] == ["alice"], "keys not given are kept"


def test_patch_with_the_config_as_shown(dev):
    # devpi clients without server-side key=value parsing send back the whole config they got.
    config = config_of(dev, "alice/dev")
    config["title"] = "Round trip"
    dev.modify_index("alice/dev", config)
    assert config_of(dev, "alice/dev")["title"] == "Round trip"


def test_patch_with_operations(dev):
    dev.modify_index(
        "alice/dev",
        [
            "title=Team index",
            "bases+=alice/base",
            "acl_upload+=bob",
            "acl_upload+=carol",
            "acl_upload-=bob",
            "mirror_whitelist=foo,Bar_Baz",
            "volatile=False",
        ],
    )
    config = config_of(dev, "alice/dev")
    assert config["title"] == "Team index"
    assert config["bases"] == ["root/pypi", "alice/base"]
    assert config["acl_upload"] == ["alice", "carol"]
    assert config["mirror_whitelist"] == ["foo", "bar-baz"]
    assert config["volatile"] is False


def test_patch_operation_removing_all_restores_the_default(dev):
    dev.modify_index("alice/dev", ["acl_upload=bob"])
    dev.modify_index("alice/dev", ["acl_upload-="])
    assert config_of(dev, "alice/dev")["acl_upload"] == ["alice"]


@pytest.mark.parametrize(
    "change",
    [
        {"colour": "red"},
        ["colour=red"],
        ["title+=x"],
        ["no operator"],
        {"type": "mirror"},
        ["bases+=alice/nope"],
        42,
    ],
)
def test_bad_patches_are_400_and_change_nothing(dev, change):
    before = config_of(dev, "alice/dev")
    dev.modify_index("alice/dev", change, status=400)
    assert config_of(dev, "alice/dev") == before


def test_bad_patch_of_several_operations_applies_none(dev):
    dev.modify_index("alice/dev", ["title=changed", "colour=red"], status=400)
    assert config_of(dev, "alice/dev")["title"] == ""


def test_only_the_owner_or_root_modifies(dev):
    dev.create_and_login_user("bob")
    dev.modify_index("alice/dev", ["title=bob was here"], status=403)
    dev.logout()
    dev.modify_index("alice/dev", ["title=anon"], status=401)
    dev.login_root()
    dev.modify_index("alice/dev", ["title=root"])
    assert config_of(dev, "alice/dev")["title"] == "root"


def test_modifying_a_missing_index_is_404(dev):
    dev.modify_index("alice/nope", ["title=x"], status=404)


# -- deleting ------------------------------------------------------------------------------------
def test_delete_a_volatile_index(dev, disk):
    dev.upload("alice/dev", name="hello", version="1.0")
    dev.app.delete("/alice/dev", headers=dev.headers)
    dev.get_json("/alice/dev", status=404)
    dev.app.get("/alice/dev/+simple/hello/", status=404)
    assert "dev" not in dev.get_json("/alice").json["result"]["indexes"]
    assert disk.blobs() == set()


def test_a_non_volatile_index_cannot_be_deleted(dev):
    dev.create_index("prod", volatile=False)
    r = dev.app.delete("/alice/prod", headers=dev.headers, status=403)
    assert "volatile" in r.json["message"]
    dev.get_json("/alice/prod")


def test_an_index_that_is_a_base_cannot_be_deleted(dev):
    dev.modify_index("alice/dev", ["bases+=alice/base"])
    r = dev.app.delete("/alice/base", headers=dev.headers, status=409)
    assert "alice/dev" in r.json["message"]
    dev.get_json("/alice/base")
    dev.modify_index("alice/dev", ["bases-=alice/base"])
    dev.app.delete("/alice/base", headers=dev.headers)


def test_only_the_owner_or_root_deletes(dev):
    dev.create_and_login_user("bob")
    dev.app.delete("/alice/dev", headers=dev.headers, status=403)
    dev.app.delete("/alice/dev", status=401)
    dev.get_json("/alice/dev")
