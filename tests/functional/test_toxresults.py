"""Test results attached to release files (devpi's POST to the file URL)."""

import json
from urllib.parse import urlsplit

import pytest

TOX_JSON = {"reportversion": "1", "toxversion": "4.0", "platform": "linux", "host": "ci", "testenvs": {}}


@pytest.fixture
def released(mapp):
    mapp.create_and_login_user("alice")
    mapp.create_index("dev")
    mapp.create_index("release")
    mapp.upload("alice/dev", name="pkg", version="1.0")
    return mapp


def file_path(mapp, index="alice/dev"):
    links = mapp.get_json(f"/{index}/pkg/1.0").json["result"]["+links"]
    return urlsplit(links[0]["href"]).path


def test_attach_and_read_back(released):
    path = file_path(released)
    response = released.app.post(path, json.dumps(TOX_JSON), headers={"Content-Type": "application/json"})
    assert response.json["type"] == "toxresultpath"
    links = released.get_json("/alice/dev/pkg/1.0").json["result"]["+links"]
    toxlinks = [link for link in links if link["rel"] == "toxresult"]
    assert len(toxlinks) == 1
    assert toxlinks[0]["for_href"] == links[0]["href"]
    stored = released.app.get(urlsplit(toxlinks[0]["href"]).path)
    assert stored.json == TOX_JSON


def test_results_travel_with_push(released):
    released.app.post(file_path(released), json.dumps(TOX_JSON))
    released.app.post_json(
        "/alice/dev/",
        {"name": "pkg", "version": "1.0", "targetindex": "alice/release"},
        headers=released.headers,
    )
    links = released.get_json("/alice/release/pkg/1.0").json["result"]["+links"]
    assert [link["rel"] for link in links] == ["releasefile", "toxresult"]


def test_bad_results_are_refused(released):
    path = file_path(released)
    assert "JSON" in released.app.post(path, b"not json", status=400).json["message"]
    released.app.post(path, b"[1, 2]", status=400)


def test_acl_toxresult_upload(released):
    released.modify_index("alice/dev", ["acl_toxresult_upload=alice"])
    path = file_path(released)
    released.app.post(path, json.dumps(TOX_JSON), status=401)
    released.app.post(path, json.dumps(TOX_JSON), headers=released.headers)
