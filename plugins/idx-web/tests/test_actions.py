"""Yank, unyank and delete from the release page, where the core's ACLs allow."""

from __future__ import annotations

import pytest


@pytest.fixture
def released(mapp):
    mapp.create_and_login_user("alice")
    mapp.create_index("dev")
    mapp.create_index("stable", volatile=False)
    for index in ("alice/dev", "alice/stable"):
        mapp.upload(index, name="hello", version="1.0")
        mapp.upload(index, name="hello", version="2.0")
    mapp.login_root()
    mapp.create_user("bob", "secret")
    mapp.logout()
    return mapp


def links(mapp, path):
    return mapp.get_json(path).json["result"]["+links"]


def test_owner_yanks_and_unyanks(browser, released):
    browser.login("alice")
    page = browser.get("/alice/dev/hello/1.0")
    assert "Yank 1.0" in page.text
    response = browser.post(
        "/alice/dev/hello/1.0/+yank", {"csrf_token": browser.csrf(page), "reason": "broken <build>"}
    )
    assert response.location == "http://localhost/alice/dev/hello/1.0?done=yanked"
    assert links(released, "/alice/dev/hello/1.0")[0]["yanked"] == "broken <build>"
    page = browser.get(response.location)
    assert "The release was yanked" in page.text
    assert "broken &lt;build&gt;" in page.text
    assert "Unyank 1.0" in page.text
    simple = released.simple_json("alice/dev", "hello").json
    assert all(f["yanked"] for f in simple["files"] if "-1.0" in f["filename"])
    response = browser.post("/alice/dev/hello/1.0/+unyank", {"csrf_token": browser.csrf(page)})
    assert links(released, "/alice/dev/hello/1.0")[0]["yanked"] is False
    assert "The release was unyanked" in browser.get(response.location).text


def test_owner_deletes_from_a_volatile_index(browser, released):
    browser.login("alice")
    page = browser.get("/alice/dev/hello/1.0")
    assert 'href="http://localhost/alice/dev/hello/1.0/+delete"' in page.text
    confirm = browser.get("/alice/dev/hello/1.0/+delete")
    assert "Delete hello 1.0 from alice/dev?" in confirm.text
    response = browser.post("/alice/dev/hello/1.0/+delete", {"csrf_token": browser.csrf(confirm)})
    assert response.location == "http://localhost/alice/dev/hello"
    released.get_json("/alice/dev/hello/1.0", status=404)
    response = browser.post("/alice/dev/hello/2.0/+delete", {"csrf_token": browser.csrf(confirm)})
    assert response.location == "http://localhost/alice/dev"


def test_non_volatile_index_needs_force_by_the_owner(browser, released):
    browser.login("alice")
    confirm = browser.get("/alice/stable/hello/1.0/+delete")
    assert "is not volatile; delete anyway" in confirm.text
    page = browser.post("/alice/stable/hello/1.0/+delete", {"csrf_token": browser.csrf(confirm)}, status=403)
    assert "not volatile" in page.text
    browser.post("/alice/stable/hello/1.0/+delete", {"csrf_token": browser.csrf(confirm), "force": "1"})
    released.get_json("/alice/stable/hello/1.0", status=404)


def test_other_users_see_no_buttons_and_are_refused(browser, released):
    browser.login("bob")
    page = browser.get("/alice/dev/hello/1.0")
    assert "Yank 1.0" not in page.text
    assert "+delete" not in page.text
    token = browser.csrf(page)
    refused = browser.post("/alice/dev/hello/1.0/+yank", {"csrf_token": token}, status=403)
    assert "User bob may not" in refused.text
    browser.post("/alice/dev/hello/1.0/+delete", {"csrf_token": token}, status=403)
    browser.get("/alice/dev/hello/1.0/+delete", status=403)
    assert links(released, "/alice/dev/hello/1.0")[0]["yanked"] is False


def test_acl_upload_members_may_yank(browser, released):
    released.login("alice", "secret")
    released.modify_index("alice/dev", ["acl_upload+=bob"])
    browser.login("bob")
    page = browser.get("/alice/dev/hello/1.0")
    assert "Yank 1.0" in page.text
    browser.post("/alice/dev/hello/1.0/+yank", {"csrf_token": browser.csrf(page)})
    assert links(released, "/alice/dev/hello/1.0")[0]["yanked"] is True


def test_anonymous_browsers_are_sent_to_login(browser, released):
    page = browser.get("/alice/dev/hello/1.0")
    assert "Manage" not in page.text
    response = browser.get("/alice/dev/hello/1.0/+delete", status=303)
    assert response.location.startswith("http://localhost/+login?came_from=")
    browser.post("/alice/dev/hello/1.0/+yank", {}, status=401)


def test_actions_only_on_the_index_that_holds_the_release(browser, released):
    released.login("alice", "secret")
    released.create_index("child", bases=["alice/dev"])
    browser.login("alice")
    page = browser.get("/alice/child/hello/1.0")
    assert 'From <a href="http://localhost/alice/dev">alice/dev</a>, seen through alice/child' in page.text
    assert "Yank 1.0" not in page.text
