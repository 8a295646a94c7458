"""``/{user}/{index}/+f/...``: distribution files and their PEP 658 metadata."""

from __future__ import annotations

import hashlib

import pytest
from idx_server.testing import Project, make_sdist, make_wheel

DIST = make_wheel(Project("hello", "1.0", code="VALUE = 42\n" * 200))


@pytest.fixture
def url(alice, follow):
    """The path of hello's wheel on alice/dev."""
    alice.upload("alice/dev", DIST)
    entry = alice.simple_json("alice/dev", "hello").json["files"][0]
    return follow("/alice/dev/+simple/hello/", entry["url"]).request.path


def test_get_file(alice, url):
    r = alice.app.get(url)
    assert r.body == DIST.content
    assert r.headers["Content-Length"] == str(len(DIST.content))
    assert r.headers["ETag"] == f'"{DIST.sha256}"'
    assert r.headers["Cache-Control"] == "max-age=31536000, immutable"
    assert r.headers["Accept-Ranges"] == "bytes"
    assert r.content_type == "application/octet-stream"


def test_the_url_is_devpis_layout(url):
    assert url == f"/alice/dev/+f/{DIST.sha256[:3]}/{DIST.sha256[3:16]}/{DIST.filename}"


def test_nginx_s_file_check_header_means_nothing_without_x_accel_redirect(alice, url):
    alice.logout()
    r = alice.app.get(url, headers={"X-Idx-File-Check": "GET"})
    assert r.body == DIST.content
    assert "X-Idx-Blob" not in r.headers


def test_files_need_no_credentials_to_read(alice, url):
    alice.logout()
    assert alice.app.get(url).body == DIST.content


@pytest.mark.parametrize(
    ("range_header", "start", "end"),
    [
        ("bytes=0-9", 0, 10),
        ("bytes=100-199", 100, 200),
        ("bytes=-5", len(DIST.content) - 5, len(DIST.content)),
        ("bytes=50-", 50, len(DIST.content)),
    ],
)
def test_range_request(alice, url, range_header, start, end):
    r = alice.app.get(url, headers={"Range": range_header}, status=206)
    assert r.body == DIST.content[start:end]
    assert r.headers["Content-Range"] == f"bytes {start}-{end - 1}/{len(DIST.content)}"
    assert r.headers["Content-Length"] == str(end - start)
    assert r.headers["Cache-Control"] == "max-age=31536000, immutable"
    assert r.headers["ETag"] == f'"{DIST.sha256}"'


def test_unsatisfiable_range_is_416(alice, url):
    r = alice.app.get(url, headers={"Range": f"bytes={len(DIST.content) + 10}-"}, status=416)
    assert r.headers["Content-Range"] == f"bytes */{len(DIST.content)}"


def test_if_none_match_is_304(alice, url):
    r = alice.app.get(url, headers={"If-None-Match": f'"{DIST.sha256}"'}, status=304)
    assert r.body == b""


def test_core_metadata_file(alice, url):
    r = alice.app.get(url + ".metadata")
    assert r.body == DIST.metadata
    assert r.headers["ETag"] == f'"{hashlib.sha256(DIST.metadata).hexdigest()}"'
    assert r.headers["Content-Length"] == str(len(DIST.metadata))


def test_sdists_have_no_core_metadata_file(alice, follow):
    alice.upload("alice/dev", make_sdist(Project("hello", "1.0")))
    entry = next(
        f for f in alice.simple_json("alice/dev", "hello").json["files"] if f["filename"].endswith(".tar.gz")
    )
    follow("/alice/dev/+simple/hello/", entry["url"] + ".metadata", status=404)


@pytest.mark.parametrize(
    "mangle",
    [
        lambda u: u.replace("hello-1.0", "other-1.0"),
        lambda u: u.replace("/+f/", "/+f/0").replace(DIST.sha256[:3] + "/", DIST.sha256[1:4] + "/", 1),
        lambda u: u.replace("/alice/dev/", "/alice/nope/"),
    ],
    ids=["other filename", "other hash path", "other index"],
)
def test_unknown_files_are_404(alice, url, mangle):
    alice.app.get(mangle(url), status=404)


def test_a_file_is_not_served_from_an_unrelated_index(alice, url):
    alice.create_index("other")
    alice.app.get(url.replace("/alice/dev/", "/alice/other/"), status=404)


def test_a_base_file_is_served_through_the_derived_index(alice, url):
    alice.create_index("child", bases=["alice/dev"])
    assert alice.app.get(url.replace("/alice/dev/", "/alice/child/")).body == DIST.content


def test_shared_bytes_survive_deleting_one_copy(alice, url, disk):
    alice.create_index("other")
    alice.upload("alice/other", DIST)
    alice.app.delete("/alice/dev/hello", headers=alice.headers)
    alice.app.get(url, status=404)
    assert alice.app.get(url.replace("/alice/dev/", "/alice/other/")).body == DIST.content
    assert alice.app.get(url.replace("/alice/dev/", "/alice/other/") + ".metadata").body == DIST.metadata
    alice.app.delete("/alice/other/hello", headers=alice.headers)
    assert disk.blobs() == set()


def test_head_of_a_file(alice, url):
    # (The file handle must be closed although the body is never read: pytest reports a
    # leaked one as an unraisable ResourceWarning.)
    r = alice.app.head(url)
    assert r.body == b""
    assert r.headers["Content-Length"] == str(len(DIST.content))
    assert r.headers["ETag"] == f'"{DIST.sha256}"'


def test_head_of_a_range(alice, url):
    r = alice.app.head(url, headers={"Range": "bytes=0-9"}, status=206)
    assert r.body == b""
    assert r.headers["Content-Length"] == "10"


def test_wheels_sharing_their_metadata_keep_it_when_one_is_deleted(alice, url, follow):
    other = make_wheel(Project("hello", "1.0", code="VALUE = 42\n" * 200), tag="py2.py3-none-any")
    assert other.metadata == DIST.metadata
    alice.upload("alice/dev", other)
    alice.app.delete(url, headers=alice.headers)
    [entry] = alice.simple_json("alice/dev", "hello").json["files"]
    assert entry["filename"] == other.filename
    assert follow("/alice/dev/+simple/hello/", entry["url"] + ".metadata").body == DIST.metadata
