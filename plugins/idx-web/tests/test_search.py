"""Search at /+search: FTS5 over names, summaries and descriptions of readable indexes."""

from __future__ import annotations

import re

import idx_web.plugin
import pytest
from idx_server.app import build_core, initialize, make_app
from idx_server.plugins import get_plugin_manager
from idx_server.testing import Mapp, Project, make_wheel
from idx_web.search.indexer import SearchIndexer


def results(page):
    return re.findall(r'<h2><a href="http://localhost/([^"]+)">', page.text)


@pytest.fixture
def published(mapp, wait_events):
    mapp.create_and_login_user("alice")
    mapp.create_index("dev")
    mapp.upload(
        "alice/dev",
        make_wheel(
            Project("fast-json", "1.0", summary="Parses JSON quickly", description="Uses SIMD tricks.")
        ),
    )
    mapp.upload(
        "alice/dev",
        make_wheel(Project("fast-json", "2.0", summary="Parses JSON very quickly", description="Zero-copy.")),
    )
    mapp.upload("alice/dev", make_wheel(Project("slowpoke", "0.1", summary="Takes its time")))
    mapp.create_index("secret", acl_read=["alice"])
    mapp.upload(
        "alice/secret",
        make_wheel(Project("inhouse", "1.0", summary="Internal tool", description="codename walrus")),
    )
    wait_events()
    return mapp


def test_search_by_name_summary_and_description(browser, published, indexer):
    assert results(browser.get("/+search?q=fast-json")) == ["alice/dev/fast-json"]
    assert results(browser.get("/+search?q=fast")) == ["alice/dev/fast-json"]  # prefix
    assert results(browser.get("/+search?q=takes time")) == ["alice/dev/slowpoke"]
    page = browser.get("/+search?q=zero-copy")
    assert results(page) == ["alice/dev/fast-json"]
    assert "<mark>Zero</mark>" in page.text
    assert "Parses JSON very quickly" in page.text  # the latest release
    assert results(browser.get("/+search?q=simd")) == []  # only the latest release's description


def test_private_releases_only_for_who_may_read(browser, published, indexer, mapp):
    assert results(browser.get("/+search?q=walrus")) == []
    assert results(browser.get("/+search?q=inhouse")) == []
    mapp.login_root()
    mapp.create_user("bob", "secret")
    browser.login("bob")
    assert results(browser.get("/+search?q=walrus")) == []
    browser.logout()
    browser.login("alice")
    assert results(browser.get("/+search?q=walrus")) == ["alice/secret/inhouse"]


def test_exact_name_first(browser, mapp, wait_events, indexer):
    mapp.create_and_login_user("alice")
    mapp.create_index("dev")
    mapp.upload("alice/dev", make_wheel(Project("requests-extra", "1.0", summary="More requests requests")))
    mapp.upload("alice/dev", make_wheel(Project("requests", "1.0", summary="HTTP")))
    wait_events()
    assert results(browser.get("/+search?q=requests"))[0] == "alice/dev/requests"


def test_deleted_releases_leave_the_index(browser, published, indexer, wait_events):
    published.app.delete("/alice/dev/slowpoke/0.1", headers=published.headers)
    wait_events()
    assert results(browser.get("/+search?q=slowpoke")) == []
    published.app.delete("/alice/dev/fast-json/2.0", headers=published.headers)
    wait_events()
    page = browser.get("/+search?q=fast-json")
    assert "Parses JSON quickly" in page.text
    assert "very quickly" not in page.text


def test_an_upload_reads_only_the_new_release_when_it_is_the_latest(
    browser, published, indexer, wait_events, monkeypatch
):
    listed = []
    original = indexer.meta.list_releases
    monkeypatch.setattr(indexer.meta, "list_releases", lambda *args: listed.append(args) or original(*args))
    published.upload("alice/dev", make_wheel(Project("fast-json", "3.0", summary="Parses JSON at once")))
    wait_events()
    assert "Parses JSON at once" in browser.get("/+search?q=fast-json").text
    assert listed == []
    # An older version (or a pre-release after a final) does not change the latest: the
    # project is read whole, and the entry stays 3.0's.
    for version in ("2.5", "4.0rc1"):
        published.upload("alice/dev", make_wheel(Project("fast-json", version, summary=f"v{version}")))
        wait_events()
        page = browser.get("/+search?q=fast-json")
        assert "Parses JSON at once" in page.text
        assert f"v{version}" not in page.text
    assert len(listed) == 2


def test_deleted_index_is_not_searched(browser, published, indexer):
    published.app.delete("/alice/dev", headers=published.headers)
    assert results(browser.get("/+search?q=fast")) == []
    published.create_index("dev")  # a new index of the same name is not the old one
    assert results(browser.get("/+search?q=fast")) == []


def test_pushed_releases_are_found(browser, published, indexer, wait_events):
    published.create_index("prod")
    published.app.post_json(
        "/alice/dev/",
        {"name": "slowpoke", "version": "0.1", "targetindex": "alice/prod"},
        headers=published.headers,
    )
    wait_events()
    assert sorted(results(browser.get("/+search?q=slowpoke"))) == [
        "alice/dev/slowpoke",
        "alice/prod/slowpoke",
    ]


@pytest.mark.parametrize(
    "query", ['"', "AND", "OR NOT", "*", "NEAR(a b)", "-x", "a:b", "{}", "ünïcødé", "x" * 500, "%00", "'"]
)
def test_any_query_is_safe(browser, published, indexer, query):
    browser.get("/+search", params={"q": query})


def test_empty_query_shows_the_form(browser, published):
    page = browser.get("/+search")
    assert '<label for="q">' in page.text
    assert "result" not in page.text


def test_results_paginate(browser, mapp, wait_events, indexer, monkeypatch):
    from idx_web.views import search

    monkeypatch.setattr(search, "RESULTS_PER_PAGE", 2)
    mapp.create_and_login_user("alice")
    mapp.create_index("dev")
    for n in range(5):
        mapp.upload("alice/dev", make_wheel(Project(f"widget{n}", "1.0")))
    wait_events()
    first = browser.get("/+search?q=widget")
    assert "5 results" in first.text
    assert len(results(first)) == 2
    assert "Page 1 of 3" in first.text
    assert 'href="http://localhost/+search?q=widget&amp;page=2"' in first.text
    assert len(results(browser.get("/+search?q=widget&page=3"))) == 1


def test_catch_up_on_start(idx_settings, tmp_path):
    """Releases uploaded while idx-web was not installed are found after it starts."""
    import webtest

    core = build_core(idx_settings, get_plugin_manager(load_entrypoints=False))
    initialize(core)
    mapp = Mapp(webtest.TestApp(make_app(core)), core)
    mapp.create_and_login_user("alice")
    mapp.create_index("dev")
    mapp.upload("alice/dev", make_wheel(Project("early-bird", "1.0", summary="Was here first")))
    core.close()

    core = build_core(
        idx_settings, get_plugin_manager(load_entrypoints=False, extra_plugins=(idx_web.plugin,))
    )
    try:
        app = webtest.TestApp(make_app(core))
        indexer = core.pm.get_plugin("idx-web.search")
        assert isinstance(indexer, SearchIndexer)
        assert indexer.wait_ready()
        page = app.get("/+search?q=first", headers={"Accept": "text/html"})
        assert "early-bird" in page.text
        # A second start finds nothing to do.
        assert indexer.catch_up() == 0
        indexer.close()
    finally:
        core.close()


def test_stopping_the_server_ends_a_running_catch_up_before_the_store_closes(idx_settings, monkeypatch):
    """The catch-up reads the server's store on its own thread: closing the core must stop
    it and wait for it (a store closed under a running query can crash the process), and
    the next start goes on where it stopped."""
    import threading
    import time

    import webtest

    core = build_core(idx_settings, get_plugin_manager(load_entrypoints=False))
    initialize(core)
    mapp = Mapp(webtest.TestApp(make_app(core)), core)
    mapp.create_and_login_user("alice")
    mapp.create_index("dev")
    for n in range(3):
        mapp.upload("alice/dev", make_wheel(Project(f"latecomer{n}", "1.0")))
    core.close()

    inside, go_on = threading.Event(), threading.Event()
    real_entry = SearchIndexer._entry

    def slow_entry(self, *args, **kwargs):
        inside.set()
        go_on.wait(10)
        return real_entry(self, *args, **kwargs)

    with_web = get_plugin_manager(load_entrypoints=False, extra_plugins=(idx_web.plugin,))
    monkeypatch.setattr(SearchIndexer, "_entry", slow_entry)
    core = build_core(idx_settings, with_web)
    make_app(core)
    indexer = core.pm.get_plugin("idx-web.search")
    assert inside.wait(10)
    closing = threading.Thread(target=core.close)
    closing.start()
    time.sleep(0.3)
    assert closing.is_alive()  # waiting for the catch-up, store still open
    go_on.set()
    closing.join(15)
    assert not closing.is_alive()
    assert not indexer._thread.is_alive()
    monkeypatch.undo()

    core = build_core(
        idx_settings, get_plugin_manager(load_entrypoints=False, extra_plugins=(idx_web.plugin,))
    )
    try:
        app = webtest.TestApp(make_app(core))
        assert core.pm.get_plugin("idx-web.search").wait_ready()
        page = app.get("/+search?q=latecomer*", headers={"Accept": "text/html"})
        assert sorted(results(page)) == [f"alice/dev/latecomer{n}" for n in range(3)]
    finally:
        core.close()
