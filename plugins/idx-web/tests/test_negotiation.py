"""One URL, three audiences: browsers get pages, installers the simple API, JSON clients JSON."""

from __future__ import annotations

import pytest

from .conftest import BROWSER_ACCEPT, PIP_ACCEPT

UV_ACCEPT = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01"
JSON_ACCEPT = "application/json"
PAGES = ["/", "/alice", "/alice/dev", "/alice/dev/", "/alice/dev/hello", "/alice/dev/hello/1.0"]


@pytest.fixture
def released(mapp):
    mapp.create_and_login_user("alice")
    mapp.create_index("dev")
    mapp.upload("alice/dev", name="hello", version="1.0")
    return mapp


@pytest.mark.parametrize("path", PAGES)
def test_browser_gets_a_page(released, path):
    response = released.app.get(path, headers={"Accept": BROWSER_ACCEPT})
    assert response.content_type == "text/html"
    assert response.text.startswith("<!doctype html>")
    assert "Content-Security-Policy" in response.headers


@pytest.mark.parametrize("path", PAGES)
def test_json_client_gets_json(released, path):
    response = released.app.get(path, headers={"Accept": JSON_ACCEPT})
    assert response.content_type == "application/json"
    assert "type" in response.json


@pytest.mark.parametrize("path", PAGES)
def test_no_accept_header_gets_json(released, path):
    response = released.app.get(path)
    assert response.content_type == "application/json"


@pytest.mark.parametrize("accept", [PIP_ACCEPT, UV_ACCEPT])
def test_installers_keep_the_simple_api(released, accept):
    index = released.app.get("/alice/dev/", headers={"Accept": accept})
    assert index.content_type.startswith("application/vnd.pypi.simple.v1")
    project = released.app.get("/alice/dev/hello/", headers={"Accept": accept})
    assert project.content_type.startswith("application/vnd.pypi.simple.v1")
    assert "hello-1.0-py3-none-any.whl" in project.text


def test_simple_pages_stay_the_simple_api_for_browsers(released):
    response = released.app.get("/alice/dev/+simple/hello/", headers={"Accept": BROWSER_ACCEPT})
    assert "hello-1.0-py3-none-any.whl" in response.text
    assert 'class="site"' not in response.text  # not one of our pages


def test_format_query_wins_for_installers(released):
    response = released.app.get(
        "/alice/dev/hello/?format=application/vnd.pypi.simple.v1%2Bjson", headers={"Accept": PIP_ACCEPT}
    )
    assert response.json["name"] == "hello"


def test_file_downloads_are_untouched(released):
    links = released.get_json("/alice/dev/hello/1.0").json["result"]["+links"]
    path = links[0]["href"].replace("http://localhost", "")
    response = released.app.get(path, headers={"Accept": BROWSER_ACCEPT})
    assert response.content_type != "text/html"
    assert response.body[:2] == b"PK"


@pytest.mark.parametrize("path", PAGES)
def test_wildcard_clients_are_not_browsers(released, path):
    """requests, twine and curl send ``*/*``: they keep the JSON API and its errors."""
    response = released.app.get(path, headers={"Accept": "*/*"})
    assert response.content_type == "application/json"


def test_twine_keeps_the_reason_of_a_refusal(released):
    from idx_server.testing import Project, make_wheel, twine_fields

    dist = make_wheel(Project("hello", "1.0", code="VALUE = 1\n"))
    released.modify_index("alice/dev", ["volatile=False"])
    response = released.app.post(
        "/alice/dev/",
        params=list(twine_fields(dist).items()),
        upload_files=[("content", dist.filename, dist.content)],
        headers={**released.headers, "Accept": "*/*"},
        status=409,
    )
    assert "File already exists" in response.status
    assert response.content_type != "text/html"
