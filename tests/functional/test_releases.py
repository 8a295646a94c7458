"""``/{user}/{index}/{project}[/{version}]``: devpi's JSON, deleting, yanking."""

from __future__ import annotations

import pytest
from idx_server.testing import Project, make_sdist, make_wheel

WHEEL_1 = make_wheel(Project("hello", "1.0", summary="Says hello", requires_python=">=3.9"))
SDIST_1 = make_sdist(Project("hello", "1.0", summary="Says hello", requires_python=">=3.9"))
WHEEL_2 = make_wheel(Project("hello", "2.0", summary="Says hello louder"))


@pytest.fixture
def hello(alice):
    """alice/dev (volatile) with hello 1.0 (wheel and sdist) and hello 2.0 (wheel)."""
    for dist in (WHEEL_1, SDIST_1, WHEEL_2):
        alice.upload("alice/dev", dist)
    return alice


@pytest.fixture
def stable(alice):
    """alice/prod (non-volatile) with hello 1.0 (wheel) and 2.0."""
    alice.create_index("prod", volatile=False)
    alice.upload("alice/prod", WHEEL_1)
    alice.upload("alice/prod", WHEEL_2)
    return alice


def filenames(mapp, index="alice/dev", project="hello"):
    return sorted(f["filename"] for f in mapp.simple_json(index, project).json["files"])


# -- devpi JSON ----------------------------------------------------------------------------------
def test_project_json(hello):
    r = hello.get_json("/alice/dev/hello")
    assert r.json["type"] == "projectconfig"
    result = r.json["result"]
    assert list(result) == ["2.0", "1.0"]
    assert result["1.0"]["name"] == "hello"
    assert result["1.0"]["version"] == "1.0"
    assert result["1.0"]["summary"] == "Says hello"
    links = {link["href"].rsplit("/", 1)[1]: link for link in result["1.0"]["+links"]}
    assert set(links) == {WHEEL_1.filename, SDIST_1.filename}
    link = links[WHEEL_1.filename]
    assert link["href"] == (
        f"http://localhost/alice/dev/+f/{WHEEL_1.sha256[:3]}/{WHEEL_1.sha256[3:16]}/{WHEEL_1.filename}"
    )
    assert link["rel"] == "releasefile"
    assert link["hashes"] == {"sha256": WHEEL_1.sha256}
    assert link["hash_spec"] == f"sha256={WHEEL_1.sha256}"
    [entry] = link["log"]
    assert entry["what"] == "upload"
    assert entry["who"] == "alice"
    assert entry["dst"] == "alice/dev"
    assert entry["when"]


def test_project_json_hrefs_download(hello):
    for data in hello.get_json("/alice/dev/hello").json["result"].values():
        for link in data["+links"]:
            assert hello.app.get(link["href"].removeprefix("http://localhost")).status_int == 200


def test_project_json_with_non_normalized_name(hello):
    assert sorted(hello.get_json("/alice/dev/Hello").json["result"]) == ["1.0", "2.0"]


def test_release_json(hello):
    r = hello.get_json("/alice/dev/hello/1.0")
    assert r.json["type"] == "versiondata"
    data = r.json["result"]
    assert data["name"] == "hello"
    assert data["version"] == "1.0"
    assert data["summary"] == "Says hello"
    assert data["requires_python"] == ">=3.9"
    assert data["metadata_version"] == "2.1"
    assert sorted(link["href"].rsplit("/", 1)[1] for link in data["+links"]) == sorted(
        [SDIST_1.filename, WHEEL_1.filename]
    )


def test_release_json_with_an_equivalent_version(hello):
    assert hello.get_json("/alice/dev/hello/1.0.0").json["result"]["version"] == "1.0"


@pytest.mark.parametrize(
    "path", ["/alice/dev/nothing", "/alice/dev/hello/9.9", "/alice/dev/hello/not-a-version"]
)
def test_missing_projects_and_releases_are_404(hello, path):
    r = hello.get_json(path, status=404)
    assert r.json["message"]


# -- deleting on a volatile index ----------------------------------------------------------------
def test_delete_project(hello, disk):
    hello.app.delete("/alice/dev/hello", headers=hello.headers)
    hello.simple_json("alice/dev", "hello", status=404)
    hello.get_json("/alice/dev/hello", status=404)
    assert hello.get_json("/alice/dev").json["result"]["projects"] == []
    assert disk.blobs() == set()


def test_delete_release(hello, disk):
    hello.app.delete("/alice/dev/hello/1.0", headers=hello.headers)
    assert filenames(hello) == [WHEEL_2.filename]
    assert hello.simple_json("alice/dev", "hello").json["versions"] == ["2.0"]
    hello.get_json("/alice/dev/hello/1.0", status=404)
    assert not disk.holds(WHEEL_1.content)
    assert not disk.holds(SDIST_1.content)
    assert disk.holds(WHEEL_2.content)


def test_delete_the_last_release_removes_the_project(hello):
    hello.app.delete("/alice/dev/hello/1.0", headers=hello.headers)
    hello.app.delete("/alice/dev/hello/2.0", headers=hello.headers)
    hello.simple_json("alice/dev", "hello", status=404)


def test_delete_file(hello, follow, disk):
    entry = next(
        f for f in hello.simple_json("alice/dev", "hello").json["files"] if f["filename"] == SDIST_1.filename
    )
    path = follow("/alice/dev/+simple/hello/", entry["url"]).request.path
    hello.app.delete(path, headers=hello.headers)
    hello.app.get(path, status=404)
    assert filenames(hello) == [WHEEL_1.filename, WHEEL_2.filename]
    assert not disk.holds(SDIST_1.content)
    assert hello.get_json("/alice/dev/hello/1.0").json["result"]["version"] == "1.0", "the wheel remains"


def test_deleting_a_missing_release_is_404(hello):
    hello.app.delete("/alice/dev/hello/9.9", headers=hello.headers, status=404)
    hello.app.delete("/alice/dev/nothing", headers=hello.headers, status=404)


def test_deleting_needs_upload_rights(hello):
    hello.create_and_login_user("bob")
    hello.app.delete("/alice/dev/hello/1.0", headers=hello.headers, status=403)
    hello.app.delete("/alice/dev/hello/1.0", status=401)
    assert hello.simple_json("alice/dev", "hello").json["versions"] == ["1.0", "2.0"]


def test_deleting_through_a_derived_index_does_not_touch_the_base(hello):
    hello.create_index("child", bases=["alice/dev"])
    hello.app.delete("/alice/child/hello/1.0", headers=hello.headers, status=404)
    assert hello.simple_json("alice/dev", "hello").json["versions"] == ["1.0", "2.0"]


# -- deleting on a non-volatile index ------------------------------------------------------------
def test_non_volatile_project_cannot_be_deleted(stable):
    r = stable.app.delete("/alice/prod/hello", headers=stable.headers, status=403)
    assert "volatile" in r.json["message"]
    assert filenames(stable, "alice/prod") == [WHEEL_1.filename, WHEEL_2.filename]


def test_non_volatile_release_cannot_be_deleted(stable):
    stable.app.delete("/alice/prod/hello/1.0", headers=stable.headers, status=403)
    assert filenames(stable, "alice/prod") == [WHEEL_1.filename, WHEEL_2.filename]


def test_non_volatile_file_cannot_be_deleted(stable, follow):
    entry = stable.simple_json("alice/prod", "hello").json["files"][0]
    path = follow("/alice/prod/+simple/hello/", entry["url"]).request.path
    stable.app.delete(path, headers=stable.headers, status=403)
    assert stable.app.get(path).status_int == 200


# -- yanking -------------------------------------------------------------------------------------
def test_yank_and_unyank(hello):
    r = hello.app.post_json("/alice/dev/hello/1.0/+yank", {"reason": "broken on 3.13"}, headers=hello.headers)
    assert "yanked" in r.json["message"]
    yanked = {f["filename"]: f["yanked"] for f in hello.simple_json("alice/dev", "hello").json["files"]}
    assert yanked == {
        WHEEL_1.filename: "broken on 3.13",
        SDIST_1.filename: "broken on 3.13",
        WHEEL_2.filename: False,
    }
    links = hello.get_json("/alice/dev/hello/1.0").json["result"]["+links"]
    assert all(link["yanked"] == "broken on 3.13" for link in links)

    hello.app.post("/alice/dev/hello/1.0/+unyank", headers=hello.headers)
    assert all(f["yanked"] is False for f in hello.simple_json("alice/dev", "hello").json["files"])


def test_a_yanked_file_stays_downloadable(hello, follow):
    hello.app.post("/alice/dev/hello/1.0/+yank", headers=hello.headers)
    entry = next(
        f for f in hello.simple_json("alice/dev", "hello").json["files"] if f["filename"] == WHEEL_1.filename
    )
    assert follow("/alice/dev/+simple/hello/", entry["url"]).body == WHEEL_1.content


def test_yank_on_a_non_volatile_index(stable):
    stable.app.post_json("/alice/prod/hello/1.0/+yank", {"reason": "security"}, headers=stable.headers)
    yanked = {f["filename"]: f["yanked"] for f in stable.simple_json("alice/prod", "hello").json["files"]}
    assert yanked == {WHEEL_1.filename: "security", WHEEL_2.filename: False}


def test_yank_needs_upload_rights(hello):
    hello.create_and_login_user("bob")
    hello.app.post("/alice/dev/hello/1.0/+yank", headers=hello.headers, status=403)
    hello.app.post("/alice/dev/hello/1.0/+yank", status=401)
    assert all(f["yanked"] is False for f in hello.simple_json("alice/dev", "hello").json["files"])


def test_yank_of_a_missing_release_is_404(hello):
    hello.app.post("/alice/dev/hello/9.9/+yank", headers=hello.headers, status=404)


def test_yank_with_a_bad_body_is_400(hello):
    hello.app.post("/alice/dev/hello/1.0/+yank", "not json", headers=hello.headers,
                   content_type="application/json", status=400)  # fmt: skip
