"""The simple repository API (PEP 503 / 691 / 700 / 658 / 714 / 592) at
``/{user}/{index}/+simple/`` and, by content negotiation, at the index URL itself."""

from __future__ import annotations

import hashlib
import re

import pytest
from idx_server.testing import Project, make_sdist, make_wheel

JSON = "application/vnd.pypi.simple.v1+json"
HTML = "application/vnd.pypi.simple.v1+html"
PIP_ACCEPT = (
    "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01"
)
UV_ACCEPT = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01"
UPLOAD_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


@pytest.fixture
def hello(alice):
    """alice/dev with hello 1.0 (wheel, requires-python >=3.8,<4) and hello 1.0 sdist."""
    alice.upload("alice/dev", make_wheel(Project("hello", "1.0", requires_python=">=3.8,<4")))
    alice.upload("alice/dev", make_sdist(Project("hello", "1.0", requires_python=">=3.8,<4")))
    return alice


def get(app, path, accept=None, status=200, **headers):
    if accept is not None:
        headers["Accept"] = accept
    return app.get(path, headers=headers, status=status)


# -- content negotiation -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("accept", "content_type"),
    [
        (JSON, JSON),
        (HTML, HTML),
        ("text/html", "text/html"),
        ("application/vnd.pypi.simple.latest+json", JSON),
        ("application/vnd.pypi.simple.latest+html", HTML),
        (PIP_ACCEPT, JSON),
        (UV_ACCEPT, JSON),
        (f"text/html, {JSON};q=0.5", "text/html"),
        ("*/*", "text/html"),
        (None, "text/html"),
        ("image/png", "text/html"),
    ],
)
@pytest.mark.parametrize("path", ["/alice/dev/+simple/hello/", "/alice/dev/+simple/"])
def test_negotiation(hello, path, accept, content_type):
    r = get(hello.app, path, accept)
    assert r.content_type == content_type
    assert "Accept" in [v.strip() for v in r.headers["Vary"].split(",")]
    if content_type == JSON:
        assert r.json["meta"]["api-version"] == "1.4"
    else:
        assert '<meta name="pypi:repository-version" content="1.4">' in r.text


@pytest.mark.parametrize(("fmt", "content_type"), [(JSON, JSON), (HTML, HTML), ("text/html", "text/html")])
def test_format_query_wins_over_accept(hello, fmt, content_type):
    other = "text/html" if content_type == JSON else JSON
    r = hello.app.get("/alice/dev/+simple/hello/", params={"format": fmt}, headers={"Accept": other})
    assert r.content_type == content_type


def test_unknown_format_is_406(hello):
    r = hello.app.get("/alice/dev/+simple/hello/", params={"format": "application/xml"}, status=406)
    assert r.headers["Content-Type"]


def test_html_content_type_has_a_charset(hello):
    assert (
        get(hello.app, "/alice/dev/+simple/hello/", "text/html").headers["Content-Type"]
        == "text/html; charset=utf-8"
    )


# -- the JSON project page -----------------------------------------------------------------------
def test_json_project_page(hello):
    wheel = make_wheel(Project("hello", "1.0", requires_python=">=3.8,<4"))
    sdist = make_sdist(Project("hello", "1.0", requires_python=">=3.8,<4"))
    page = hello.simple_json("alice/dev", "hello").json
    assert page["meta"] == {"api-version": "1.4"}
    assert page["name"] == "hello"
    assert page["versions"] == ["1.0"]
    assert page["project-status"] == {"status": "active"}
    files = {f["filename"]: f for f in page["files"]}
    assert set(files) == {wheel.filename, "hello-1.0.tar.gz"}
    for f in files.values():
        assert f["requires-python"] == ">=3.8,<4"
        assert UPLOAD_TIME.match(f["upload-time"]), f["upload-time"]
        assert f["yanked"] is False
    assert files[wheel.filename]["hashes"] == {"sha256": wheel.sha256}
    assert files[wheel.filename]["size"] == len(wheel.content)
    assert files["hello-1.0.tar.gz"]["size"] == len(sdist.content)
    assert not files["hello-1.0.tar.gz"]["core-metadata"], "no .metadata is served for sdists"


def test_versions_are_sorted_by_version(alice):
    for version in ["1.10", "1.9", "2.0rc1", "1.0"]:
        alice.upload("alice/dev", name="hello", version=version)
    assert alice.simple_json("alice/dev", "hello").json["versions"] == ["1.0", "1.9", "1.10", "2.0rc1"]


def test_core_metadata_is_served_byte_identical_with_its_hash(alice, follow):
    wheel = make_wheel(Project("hello", "1.0", requires_dist=["attrs>=22"], description="Ünïcode ✓"))
    alice.upload("alice/dev", wheel)
    page = "/alice/dev/+simple/hello/"
    entry = alice.simple_json("alice/dev", "hello").json["files"][0]
    served = follow(page, entry["url"] + ".metadata").body
    assert served == wheel.metadata
    assert entry["core-metadata"] == {"sha256": hashlib.sha256(served).hexdigest()}
    assert entry["dist-info-metadata"] == entry["core-metadata"]
    html = alice.simple_html("alice/dev", "hello").text
    assert f'data-core-metadata="sha256={hashlib.sha256(served).hexdigest()}"' in html
    assert f'data-dist-info-metadata="sha256={hashlib.sha256(served).hexdigest()}"' in html


def test_file_urls_on_the_page_download_the_file(hello, follow):
    wheel = make_wheel(Project("hello", "1.0", requires_python=">=3.8,<4"))
    page = "/alice/dev/+simple/hello/"
    for entry in hello.simple_json("alice/dev", "hello").json["files"]:
        body = follow(page, entry["url"]).body
        assert hashlib.sha256(body).hexdigest() == entry["hashes"]["sha256"]
    html = hello.simple_html("alice/dev", "hello").text
    href = re.search(r'href="([^"]+\.whl#sha256=[0-9a-f]{64})"', html).group(1)
    assert follow(page, href).body == wheel.content


# -- the HTML project page -----------------------------------------------------------------------
def test_html_project_page(hello):
    wheel = make_wheel(Project("hello", "1.0", requires_python=">=3.8,<4"))
    html = hello.simple_html("alice/dev", "hello").text
    assert '<meta name="pypi:repository-version" content="1.4">' in html
    assert '<meta name="pypi:project-status" content="active">' in html
    anchors = re.findall(r"<a ([^>]*)>([^<]*)</a>", html)
    assert sorted(text for _attrs, text in anchors) == [wheel.filename, "hello-1.0.tar.gz"]
    wheel_attrs = next(attrs for attrs, text in anchors if text == wheel.filename)
    assert f"#sha256={wheel.sha256}" in wheel_attrs
    assert 'data-requires-python="&gt;=3.8,&lt;4"' in wheel_attrs
    assert "data-yanked" not in html


# -- yanked releases -----------------------------------------------------------------------------
def test_yanked_release_with_a_reason(hello):
    hello.app.post_json("/alice/dev/hello/1.0/+yank", {"reason": 'broken "build" <b>'}, headers=hello.headers)
    for entry in hello.simple_json("alice/dev", "hello").json["files"]:
        assert entry["yanked"] == 'broken "build" <b>'
    html = hello.simple_html("alice/dev", "hello").text
    assert html.count('data-yanked="broken &quot;build&quot; &lt;b&gt;"') == 2


def test_yanked_release_without_a_reason(hello):
    hello.app.post("/alice/dev/hello/1.0/+yank", headers=hello.headers)
    assert all(f["yanked"] is True for f in hello.simple_json("alice/dev", "hello").json["files"])
    assert hello.simple_html("alice/dev", "hello").text.count('data-yanked=""') == 2


def test_unyanked_release(hello):
    hello.app.post_json("/alice/dev/hello/1.0/+yank", {"reason": "oops"}, headers=hello.headers)
    hello.app.post("/alice/dev/hello/1.0/+unyank", headers=hello.headers)
    assert all(f["yanked"] is False for f in hello.simple_json("alice/dev", "hello").json["files"])
    assert "data-yanked" not in hello.simple_html("alice/dev", "hello").text


# -- canonical URLs ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("path", "location"),
    [
        ("/alice/dev/+simple/Hello/", "/alice/dev/+simple/hello/"),
        ("/alice/dev/+simple/HELLO", "/alice/dev/+simple/hello/"),
        ("/alice/dev/+simple/hello", "/alice/dev/+simple/hello/"),
        ("/alice/dev/+simple/Hello_World.x/", "/alice/dev/+simple/hello-world-x/"),
        ("/alice/dev/+simple", "/alice/dev/+simple/"),
        ("/alice/dev/+simple/hello?format=" + JSON, "/alice/dev/+simple/hello/?format=" + JSON),
    ],
)
def test_non_canonical_urls_redirect_permanently(hello, path, location):
    r = hello.app.get(path, headers={"Accept": JSON}, status=301)
    assert r.headers["Location"] == "http://localhost" + location
    assert r.headers["Content-Type"]


def test_unknown_project_is_404_never_an_empty_page(alice):
    for accept in (JSON, "text/html"):
        r = get(alice.app, "/alice/dev/+simple/nothing-here/", accept, status=404)
        assert r.headers["Content-Type"]
        assert "nothing-here" in r.text


def test_unknown_index_is_404(testapp):
    testapp.get("/root/nope/+simple/", status=404)
    testapp.get("/root/nope/+simple/hello/", status=404)


def test_invalid_project_name_is_4xx(alice):
    r = alice.app.get("/alice/dev/+simple/-bad-/", status="*")
    assert 400 <= r.status_int < 500


# -- caching -------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/alice/dev/+simple/hello/", "/alice/dev/+simple/"])
@pytest.mark.parametrize("accept", [JSON, "text/html"])
def test_etag_and_if_none_match(hello, path, accept):
    first = get(hello.app, path, accept)
    etag = first.headers["ETag"]
    assert etag.startswith('"')
    assert etag.endswith('"')
    again = get(hello.app, path, accept, status=304, **{"If-None-Match": etag})
    assert again.body == b""
    assert again.headers["ETag"] == etag
    get(hello.app, path, accept, status=200, **{"If-None-Match": '"something-else"'})


def test_json_and_html_have_different_etags(hello):
    json_etag = get(hello.app, "/alice/dev/+simple/hello/", JSON).headers["ETag"]
    html_etag = get(hello.app, "/alice/dev/+simple/hello/", "text/html").headers["ETag"]
    assert json_etag != html_etag


@pytest.mark.parametrize("path", ["/alice/dev/+simple/hello/", "/alice/dev/+simple/"])
def test_private_pages_must_be_revalidated(hello, path):
    assert get(hello.app, path, JSON).headers["Cache-Control"] == "max-age=0, must-revalidate"


def test_a_fresh_upload_is_visible_at_once(hello):
    before = hello.simple_json("alice/dev", "hello")
    hello.upload("alice/dev", name="hello", version="2.0")
    after = hello.simple_json("alice/dev", "hello")
    assert after.json["versions"] == ["1.0", "2.0"]
    assert after.headers["ETag"] != before.headers["ETag"]
    get(hello.app, "/alice/dev/+simple/hello/", JSON, status=200, **{"If-None-Match": before.headers["ETag"]})


def test_a_new_project_appears_in_the_list_at_once(hello):
    before = get(hello.app, "/alice/dev/+simple/", JSON)
    hello.upload("alice/dev", name="world", version="1.0")
    after = get(hello.app, "/alice/dev/+simple/", JSON)
    assert [p["name"] for p in after.json["projects"]] == ["hello", "world"]
    assert after.headers["ETag"] != before.headers["ETag"]


def test_a_yank_changes_the_etag(hello):
    before = hello.simple_json("alice/dev", "hello").headers["ETag"]
    hello.app.post("/alice/dev/hello/1.0/+yank", headers=hello.headers)
    assert hello.simple_json("alice/dev", "hello").headers["ETag"] != before


# -- the project list ----------------------------------------------------------------------------
def test_project_list_json(alice):
    alice.upload("alice/dev", make_wheel(Project("Hello_World", "1.0")), fields={"name": "Hello_World"})
    alice.upload("alice/dev", name="abc", version="1.0")
    r = get(alice.app, "/alice/dev/+simple/", JSON)
    assert r.json == {"meta": {"api-version": "1.4"}, "projects": [{"name": "abc"}, {"name": "Hello_World"}]}


def test_project_list_html_links_resolve_to_project_pages(alice, follow):
    alice.upload("alice/dev", make_wheel(Project("Hello_World", "1.0")), fields={"name": "Hello_World"})
    html = get(alice.app, "/alice/dev/+simple/", "text/html").text
    hrefs = re.findall(r'<a href="([^"]+)">Hello_World</a>', html)
    assert hrefs == ["hello-world/"]
    assert follow("/alice/dev/+simple/", hrefs[0], headers={"Accept": JSON}).json["name"] == "hello-world"


def test_empty_index_has_an_empty_list(alice):
    assert get(alice.app, "/alice/dev/+simple/", JSON).json["projects"] == []


# -- the index URL answers installers ------------------------------------------------------------
@pytest.mark.parametrize("accept", [PIP_ACCEPT, UV_ACCEPT, JSON])
def test_index_url_serves_the_project_list_to_installers(hello, accept):
    r = get(hello.app, "/alice/dev/", accept)
    assert r.content_type == JSON
    assert r.json["projects"] == [{"name": "hello"}]
    assert "Accept" in r.headers["Vary"]


def test_index_url_serves_html_project_list_to_old_installers(hello):
    r = get(hello.app, "/alice/dev/", "text/html")
    assert r.content_type == "text/html"
    assert '<a href="hello/">hello</a>' in r.text


@pytest.mark.parametrize("accept", [PIP_ACCEPT, UV_ACCEPT, "text/html"])
def test_project_under_the_index_url_serves_the_simple_page(hello, follow, accept):
    page = "/alice/dev/hello/"
    r = get(hello.app, page, accept)
    assert r.content_type in (JSON, "text/html")
    if r.content_type == JSON:
        urls = [f["url"] for f in r.json["files"]]
    else:
        urls = re.findall(r'href="([^"]+)"', r.text)
    assert len(urls) == 2
    for url in urls:
        assert follow(page, url).status_int == 200


def test_project_under_the_index_url_redirects_to_the_normalized_name(hello):
    r = get(hello.app, "/alice/dev/HeLLo/", PIP_ACCEPT, status=301)
    assert r.headers["Location"] == "http://localhost/alice/dev/hello/"


def test_project_under_the_index_url_without_slash_redirects(hello):
    r = get(hello.app, "/alice/dev/hello", PIP_ACCEPT, status=301)
    assert r.headers["Location"] == "http://localhost/alice/dev/hello/"


def test_index_url_without_slash_redirects_installers(hello):
    r = get(hello.app, "/alice/dev", PIP_ACCEPT, status=301)
    assert r.headers["Location"] == "http://localhost/alice/dev/"


def test_unknown_project_under_the_index_url_is_404(alice):
    get(alice.app, "/alice/dev/nothing-here/", PIP_ACCEPT, status=404)
