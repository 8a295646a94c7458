"""Mirrors are searchable by the names of the projects they cached, never upstream's list."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urljoin

import pytest
from fakes.upstream import FakeUpstream

from .test_search import results


@pytest.fixture
def upstream() -> Iterator[FakeUpstream]:
    fake = FakeUpstream().start()
    yield fake
    fake.stop()


@pytest.fixture
def idx_settings_overrides(upstream: FakeUpstream) -> dict:
    return {"mirror_url": upstream.url}


def test_only_cached_mirror_projects_are_found(browser, mapp, upstream, indexer):
    upstream.add("Cached_Thing", "1.0")
    upstream.add("never-asked", "1.0")
    assert results(browser.get("/+search?q=thing")) == []
    mapp.simple_json("root/pypi", "cached-thing")
    assert results(browser.get("/+search?q=thing")) == ["root/pypi/cached-thing"]
    assert results(browser.get("/+search?q=never")) == []
    assert ">cached-thing</a>" in browser.get("/root/pypi").text
    assert "never-asked" not in browser.get("/root/pypi").text


def test_mirror_project_and_release_pages(browser, mapp, upstream):
    upstream.add("mirrored", "1.0", sdist=True)
    upstream.add("mirrored", "1.1")
    page = browser.get("/root/pypi/mirrored")
    assert "mirrored" in page.text
    assert "hello" not in page.text
    assert page.text.index('mirrored/1.1"') < page.text.index('mirrored/1.0"')
    release = browser.get("/root/pypi/mirrored/1.0")
    assert "mirrored-1.0.tar.gz" in release.text
    assert "not cached yet" in release.text
    assert "Manage" not in release.text


def test_dependency_confusion_explained(browser, mapp, upstream):
    upstream.add("internal-lib", "9.9")
    mapp.create_and_login_user("alice")
    mapp.create_index("dev", bases=["root/pypi"])
    mapp.simple_json("root/pypi", "internal-lib")  # the mirror has it cached
    mapp.upload("alice/dev", name="internal-lib", version="1.0")
    page = browser.get("/alice/dev/internal-lib")
    assert "Releases from root/pypi are not offered" in page.text
    assert "alice/dev has its own project named internal-lib" in page.text
    assert "do not see here:\n  9.9" in page.text or "9.9." in page.text
    assert "mirror_whitelist" in page.text
    table = page.text.split("<tbody>")[1]
    assert "9.9" not in table
    mapp.modify_index("alice/dev", ["mirror_whitelist=internal-lib"])
    page = browser.get("/alice/dev/internal-lib")
    assert "are not offered" not in page.text
    assert "9.9" in page.text.split("<tbody>")[1]


def test_a_cached_file_reindexes_only_a_project_not_indexed_yet(
    mapp, upstream, indexer, wait_events, monkeypatch
):
    upstream.add("twofiles", "1.0")
    upstream.add("twofiles", "1.1")
    refreshed: list[str] = []
    refresh = indexer.refresh
    monkeypatch.setattr(
        indexer,
        "refresh",
        lambda index, project, **kw: (refreshed.append(project), refresh(index, project, **kw)),
    )
    page = mapp.simple_json("root/pypi", "twofiles").json
    mapp.app.get(urljoin("/root/pypi/+simple/twofiles/", page["files"][0]["url"]))
    wait_events()
    assert refreshed == ["twofiles"]  # the first cached file: the project gets its entry
    assert indexer.store.version("root/pypi", "twofiles") is not None
    mapp.app.get(urljoin("/root/pypi/+simple/twofiles/", page["files"][1]["url"]))
    wait_events()
    assert refreshed == ["twofiles"]  # the second changes nothing searchable
