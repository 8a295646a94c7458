"""Browser login and logout: a session cookie, CSRF-protected, on the core's login tokens."""

from __future__ import annotations

import pytest
from idx_server.testing import twine_fields

from .conftest import BROWSER_ACCEPT


@pytest.fixture
def alice(mapp):
    mapp.create_and_login_user("alice")
    mapp.create_index("dev")
    mapp.upload("alice/dev", name="hello", version="1.0")
    mapp.logout()
    return mapp


def test_login_and_logout(browser, alice):
    form = browser.get("/+login")
    assert '<label for="username">User name</label>' in form.text
    assert '<label for="password">Password</label>' in form.text
    response = browser.post(
        "/+login",
        {
            "username": "alice",
            "password": "secret",
            "csrf_token": browser.csrf(form),
            "came_from": "/alice/dev",
        },
    )
    assert response.location == "http://localhost/alice/dev"
    cookie = response.headers.getall("Set-Cookie")
    session_cookie = next(c for c in cookie if c.startswith("idx_session="))
    assert "HttpOnly" in session_cookie
    assert "SameSite=Lax" in session_cookie
    page = browser.get("/alice/dev")
    assert "Logged in as" in page.text
    assert 'action="http://localhost/+logout"' in page.text
    response = browser.logout()
    assert response.location == "http://localhost/"
    assert "idx_session" not in browser.app.cookies
    assert "Logged in as" not in browser.get("/").text


def test_logout_revokes_the_token(browser, alice):
    browser.login("alice")
    stolen = browser.app.cookies["idx_session"]
    browser.logout()
    browser.app.set_cookie("idx_session", stolen)
    page = browser.get("/")
    assert "Logged in as" not in page.text
    # The stale cookie is cleared.
    assert any(c.startswith("idx_session=;") or "Max-Age=0" in c for c in page.headers.getall("Set-Cookie"))


def test_wrong_password(browser, alice):
    form = browser.get("/+login")
    page = browser.post(
        "/+login", {"username": "alice", "password": "nope", "csrf_token": browser.csrf(form)}, status=200
    )
    assert 'role="alert"' in page.text
    assert "invalid user name or password" in page.text
    assert "idx_session" not in browser.app.cookies


def test_login_needs_the_csrf_token(browser, alice):
    browser.get("/+login")
    page = browser.post("/+login", {"username": "alice", "password": "secret"}, status=403)
    assert "reload the page" in page.text
    assert "idx_session" not in browser.app.cookies
    # A token that is not the one in this browser's cookie does not do either (login CSRF).
    browser.post("/+login", {"username": "alice", "password": "secret", "csrf_token": "forged"}, status=403)


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/\\evil", "/+login"])
def test_no_open_redirect_after_login(browser, alice, target):
    form = browser.get("/+login")
    response = browser.post(
        "/+login",
        {"username": "alice", "password": "secret", "csrf_token": browser.csrf(form), "came_from": target},
    )
    assert response.location == "http://localhost/"


def test_logout_needs_the_csrf_token(browser, alice):
    browser.login("alice")
    browser.post("/+logout", {}, status=403)
    assert "Logged in as" in browser.get("/").text


def test_cookie_alone_does_not_authorize_writes(browser, alice):
    """A cross-site form (no CSRF token) cannot use the session: uploads, API calls and
    deletes run anonymously."""
    browser.login("alice")
    from idx_server.testing import Project, make_wheel

    dist = make_wheel(Project("evil", "1.0"))
    browser.app.post(
        "/alice/dev/",
        params=list(twine_fields(dist).items()),
        upload_files=[("content", dist.filename, dist.content)],
        status=401,
    )
    browser.app.delete("/alice/dev/hello/1.0", status=401)
    browser.app.post("/alice/dev/hello/1.0/+yank", headers={"Accept": BROWSER_ACCEPT}, status=403)
    browser.app.post_json("/alice/dev/hello/1.0/+yank", {}, status=401)
    assert alice.get_json("/alice/dev/hello/1.0").json["result"]["+links"][0]["yanked"] is False


def test_explicit_credentials_win_over_the_cookie(browser, alice, mapp):
    browser.login("alice")
    mapp.create_user("bob", password="bobpw", status=401)  # anonymous cannot create users
    response = mapp.app.get("/+api", headers={"Authorization": "Basic Ym9iOmJvYnB3"}, status="*")
    assert response.json["result"]["authstatus"][0] == "noauth"  # bob does not exist: no fallback to alice


def test_read_protected_index_redirects_anonymous_browsers_to_login(browser, alice, mapp):
    mapp.login("alice", "secret")
    mapp.modify_index("alice/dev", ["acl_read=alice"])
    response = browser.get("/alice/dev/hello", status=303)
    assert response.location == "http://localhost/+login?came_from=/alice/dev/hello"
    # Installers and JSON clients get the core's 401 with WWW-Authenticate.
    anonymous = mapp.app.get("/alice/dev/hello", headers={"Accept": "application/json"}, status=401)
    assert "WWW-Authenticate" in anonymous.headers
    # After logging in, the browser reads it (pages and files) with the cookie.
    form = browser.get(response.location)
    login = browser.post(
        "/+login",
        {
            "username": "alice",
            "password": "secret",
            "csrf_token": browser.csrf(form),
            "came_from": "/alice/dev/hello",
        },
    )
    assert login.location == "http://localhost/alice/dev/hello"
    assert "1.0" in browser.get("/alice/dev/hello").text
    release = browser.get("/alice/dev/hello/1.0")
    href = release.text.split('<h3><a href="http://localhost')[1].split('"')[0]
    assert browser.get(href).body[:2] == b"PK"


def test_other_user_gets_a_403_page_on_a_protected_index(browser, alice, mapp):
    mapp.login_root()
    mapp.create_user("bob", "secret")
    mapp.login("alice", "secret")
    mapp.modify_index("alice/dev", ["acl_read=alice"])
    browser.login("bob")
    page = browser.get("/alice/dev", status=403)
    assert "User bob may not" in page.text
    assert "alice/dev" not in browser.get("/").text
