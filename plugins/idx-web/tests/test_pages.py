"""Every page, as a browser gets it from the in-process server."""

from __future__ import annotations

import json
import re
from urllib.parse import urlsplit

import pytest
from idx_server.testing import Project, make_sdist, make_wheel


@pytest.fixture
def alice(mapp):
    mapp.create_and_login_user("alice")
    mapp.create_index("dev", title="Development", description="Alice's daily builds", bases=["root/pypi"])
    return mapp


def test_root_lists_indexes_with_owners_and_descriptions(browser, alice):
    page = browser.get("/")
    assert "<h1>Indexes</h1>" in page.text
    assert 'href="http://localhost/alice/dev"' in page.text
    assert "Alice&#39;s daily builds" in page.text
    assert 'href="http://localhost/root/pypi"' in page.text
    assert 'href="http://localhost/alice"' in page.text


def test_read_protected_index_is_hidden_from_others(browser, alice):
    alice.create_index("secret", acl_read=["alice"])
    assert "alice/secret" not in browser.get("/").text
    assert "alice/secret" not in browser.get("/alice").text
    browser.login("alice")
    assert "alice/secret" in browser.get("/").text


def test_user_page(browser, alice):
    page = browser.get("/alice")
    assert "<h1>alice" in page.text
    assert "alice/dev" in page.text
    assert "root/pypi" not in page.text
    browser.get("/nobody", status=404)


def test_index_page_lists_projects_config_and_snippets(browser, alice):
    alice.upload("alice/dev", name="Hello_World", version="1.0")
    page = browser.get("/alice/dev")
    assert '<a href="http://localhost/alice/dev/hello-world">Hello_World</a>' in page.text
    assert "inherits from" not in page.text  # that is the root page's wording
    assert 'href="http://localhost/root/pypi">root/pypi</a>' in page.text  # bases, linked
    assert "pip install --index-url http://localhost/alice/dev/+simple/ PACKAGE" in page.text
    assert "uv pip install --index-url http://localhost/alice/dev/+simple/" in page.text
    assert "idx use http://localhost/alice/dev" in page.text
    assert "repository = http://localhost/alice/dev/" in page.text
    assert "username = YOUR-USER-NAME" in page.text
    assert re.search(r"<th scope=\"row\">volatile</th><td>yes</td>", page.text)
    # The same page with a trailing slash (pip's form of the URL) is the page too.
    assert browser.get("/alice/dev/").text.count("Hello_World") == page.text.count("Hello_World")
    browser.login("alice")
    assert "username = alice" in browser.get("/alice/dev").text


def test_index_page_paginates(browser, alice, monkeypatch):
    from idx_web.pages import listing

    for n in range(5):
        alice.upload("alice/dev", name=f"pkg{n}", version="1.0")
    monkeypatch.setattr(listing, "PAGE_SIZE", 2)
    first = browser.get("/alice/dev")
    assert "Page 1 of 3" in first.text
    assert "pkg0" in first.text
    assert "pkg2" not in first.text
    last = browser.get("/alice/dev?page=3")
    assert "pkg4" in last.text
    assert "pkg0" not in last.text
    assert "Page 3 of 3" in browser.get("/alice/dev?page=99").text
    assert "Page 1 of 3" in browser.get("/alice/dev?page=x").text


def test_mirror_index_page_shows_only_cached_projects(browser, mapp):
    page = browser.get("/root/pypi")
    assert "lists only the projects it has cached" in page.text
    assert "No projects cached here yet." in page.text
    assert "twine" not in page.text  # a mirror takes no uploads


def test_project_page_versions_newest_first_with_yanks_and_origin(browser, alice):
    alice.create_index("prod", bases=["alice/dev"])
    for version in ("1.0", "1.10", "1.9", "2.0rc1"):
        alice.upload("alice/dev", name="hello", version=version)
    alice.upload("alice/prod", name="hello", version="0.5")
    alice.app.post("/alice/dev/hello/1.9/+yank", headers=alice.headers)
    page = browser.get("/alice/prod/hello")
    table = page.text.split("<tbody>")[1]
    versions = re.findall(r'<a href="http://localhost/alice/prod/hello/([^"]+)">', table)
    assert versions == ["2.0rc1", "1.10", "1.9", "1.0", "0.5"]
    row_19 = page.text.split('hello/1.9">')[1].split("</tr>")[0]
    assert "yanked" in row_19
    assert '<a href="http://localhost/alice/dev">alice/dev</a>' in row_19
    assert "alice/prod</a></td>" in page.text.split('hello/0.5">')[1].split("</tr>")[0]
    assert 'hello/1.10">1.10</a>' in page.text.split("Latest:")[1]
    assert "pre-release" in page.text


def test_project_url_is_normalized(browser, alice):
    alice.create_index("solo")
    alice.upload("alice/solo", name="hello", version="1.0")
    response = browser.get("/alice/solo/Hello", status=302)
    assert response.location == "http://localhost/alice/solo/hello"
    response = browser.get("/alice/solo/Hello/1.0", status=302)
    assert response.location == "http://localhost/alice/solo/hello/1.0"
    browser.get("/alice/solo/nothing-here", status=404)
    browser.get("/alice/solo/hello/9.9", status=404)
    browser.get("/alice/nothing/hello", status=404)


def test_release_page(browser, alice):
    description = (
        "# Hello\n\nSome *text*.\n\n<script>alert('x')</script>\n\n"
        "[bad](javascript:alert(1)) <img src=x onerror=alert(1)>\n"
    )
    project = Project(
        "hello", "1.0", summary="Says hello", description=description, requires_dist=["attrs>=22"]
    )
    alice.upload("alice/dev", make_wheel(project))
    alice.upload("alice/dev", make_sdist(project))
    page = browser.get("/alice/dev/hello/1.0")
    text = page.text
    assert "<h1>hello 1.0" in text
    assert "Says hello" in text
    assert "<em>text</em>" in text
    assert "<script>alert" not in text
    assert "javascript:" not in text
    assert "onerror" not in text
    assert "hello-1.0-py3-none-any.whl" in text
    assert "hello-1.0.tar.gz" in text
    links = alice.get_json("/alice/dev/hello/1.0").json["result"]["+links"]
    wheel = next(link for link in links if link["href"].endswith(".whl"))
    assert f'href="{wheel["href"]}"' in text
    assert wheel["hashes"]["sha256"] in text
    assert "Uploaded</dt>" in text
    assert "by alice" in text
    assert "pip install --index-url http://localhost/alice/dev/+simple/ hello==1.0" in text
    assert "uv pip install --index-url http://localhost/alice/dev/+simple/ hello==1.0" in text
    assert "<code>attrs&gt;=22</code>" in text
    assert "No test results attached" in text


def test_release_page_shows_test_results_per_env(browser, alice):
    alice.upload("alice/dev", name="hello", version="1.0")
    links = alice.get_json("/alice/dev/hello/1.0").json["result"]["+links"]
    result = {
        "reportversion": "1",
        "toxversion": "4.0",
        "platform": "linux",
        "host": "ci-7",
        "testenvs": {
            "py311": {
                "python": {"version": "3.11.7 (main) [GCC]"},
                "setup": [{"command": ["pip", "install", "."], "retcode": 0, "output": "ok"}],
                "test": [{"command": ["pytest"], "retcode": 0, "output": "5 passed <b>"}],
            },
            "py312": {"test": [{"command": ["pytest"], "retcode": 1, "output": "1 failed"}]},
        },
    }
    alice.app.post(urlsplit(links[0]["href"]).path, json.dumps(result))
    text = browser.get("/alice/dev/hello/1.0").text
    assert "on ci-7 (linux)" in text
    py311 = text.split("py311")[0].rsplit("<summary>", 1)[1]
    assert "passed" in py311
    py312 = text.split("py312")[0].rsplit("<summary>", 1)[1]
    assert "failed" in py312
    assert "Python 3.11.7" in text
    assert "5 passed &lt;b&gt;" in text
    assert ".toxresult-" in text


def test_security_headers_on_pages(browser, alice):
    for path in ("/", "/alice", "/alice/dev", "/+search?q=x", "/+login", "/nothing/at/all/here/x"):
        response = browser.get(path, status="*")
        headers = response.headers
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"], path
        assert "script-src 'self'" in headers["Content-Security-Policy"]
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "same-origin"
        assert "Accept" in headers["Vary"]


def test_pages_have_no_inline_scripts_or_styles(browser, alice):
    alice.upload("alice/dev", name="hello", version="1.0")
    for path in ("/", "/alice/dev", "/alice/dev/hello", "/alice/dev/hello/1.0", "/+login"):
        text = browser.get(path).text
        for inline in ("<script>", " style=", "onclick"):
            assert inline not in text, path


def test_static_files(browser):
    page = browser.get("/")
    css = re.search(r'href="http://localhost(/\+static/[^"]+\.css)"', page.text).group(1)
    response = browser.get(css)
    assert response.content_type == "text/css"
    assert "max-age" in response.headers["Cache-Control"]
    js = re.search(r'src="http://localhost(/\+static/[^"]+\.js)"', page.text).group(1)
    assert "clipboard" in browser.get(js).text


def test_not_found_page_for_browsers_json_for_clients(browser, mapp):
    page = browser.get("/no/such/index", status=404)
    assert page.content_type == "text/html"
    assert "<h1>Not found</h1>" in page.text
    assert mapp.get_json("/no/such/index", status=404).json["type"] == "error"


def test_outside_url_is_used_for_links(browser, alice):
    page = alice.app.get(
        "/alice/dev",
        headers={"Accept": "text/html", "X-Outside-Url": "https://pkgs.example.com/py"},
    )
    assert (
        'href="https://pkgs.example.com/py/alice/dev/' in page.text
        or "https://pkgs.example.com/py/+static" in page.text
    )
    assert "pip install --index-url https://pkgs.example.com/py/alice/dev/+simple/" in page.text
