"""Indexes inherit from their ``bases``: files show through, earlier indexes shadow later ones.

(The dependency-confusion rule needs a mirror with an upstream: see
tests/unit/model/test_indexes.py.)
"""

from __future__ import annotations

import pytest
from idx_server.testing import Project, make_wheel

WHEEL = "hello-1.0-py3-none-any.whl"


def wheel(version: str = "1.0", value: int = 42):
    return make_wheel(Project("hello", version, code=f"VALUE = {value}\n"))


@pytest.fixture
def team(alice):
    """alice/base holds hello 1.0; alice/dev inherits from it."""
    alice.create_index("base")
    alice.modify_index("alice/dev", ["bases=alice/base"])
    alice.upload("alice/base", wheel(value=1))
    return alice


def shas(mapp, index):
    return {f["filename"]: f["hashes"]["sha256"] for f in mapp.simple_json(index, "hello").json["files"]}


def test_a_file_in_a_base_shows_through(team, follow):
    page = team.simple_json("alice/dev", "hello").json
    assert [f["filename"] for f in page["files"]] == [WHEEL]
    assert follow("/alice/dev/+simple/hello/", page["files"][0]["url"]).body == wheel(value=1).content


def test_the_base_file_is_served_under_the_derived_index(team, follow):
    # Relative URLs stay inside the index the installer was pointed at.
    url = team.simple_json("alice/dev", "hello").json["files"][0]["url"]
    r = follow("/alice/dev/+simple/hello/", url)
    assert r.request.path.startswith("/alice/dev/+f/")
    assert r.body == wheel(value=1).content


def test_base_projects_are_in_the_derived_project_list(team):
    r = team.app.get("/alice/dev/+simple/", headers={"Accept": "application/vnd.pypi.simple.v1+json"})
    assert r.json["projects"] == [{"name": "hello"}]


def test_the_same_filename_in_the_derived_index_shadows_the_base(team, follow):
    own = wheel(value=2)
    team.upload("alice/dev", own)
    assert shas(team, "alice/dev") == {WHEEL: own.sha256}
    assert shas(team, "alice/base") == {WHEEL: wheel(value=1).sha256}
    url = team.simple_json("alice/dev", "hello").json["files"][0]["url"]
    assert follow("/alice/dev/+simple/hello/", url).body == own.content


def test_releases_merge_across_the_order(team):
    team.upload("alice/dev", wheel("2.0"))
    page = team.simple_json("alice/dev", "hello").json
    assert page["versions"] == ["1.0", "2.0"]
    assert sorted(f["filename"] for f in page["files"]) == [WHEEL, "hello-2.0-py3-none-any.whl"]


def test_the_first_base_in_order_wins(team):
    team.create_index("other")
    team.upload("alice/other", wheel(value=3))
    team.modify_index("alice/dev", ["bases=alice/other,alice/base"])
    assert shas(team, "alice/dev") == {WHEEL: wheel(value=3).sha256}
    team.modify_index("alice/dev", ["bases=alice/base,alice/other"])
    assert shas(team, "alice/dev") == {WHEEL: wheel(value=1).sha256}


def test_grandparents_are_inherited(team):
    team.create_index("child", bases=["alice/dev"])
    assert shas(team, "alice/child") == {WHEEL: wheel(value=1).sha256}


def test_an_upload_to_a_base_is_visible_through_the_derived_index_at_once(team):
    before = team.simple_json("alice/dev", "hello")
    team.upload("alice/base", wheel("1.1"))
    after = team.simple_json("alice/dev", "hello")
    assert after.json["versions"] == ["1.0", "1.1"]
    assert after.headers["ETag"] != before.headers["ETag"]


def test_a_delete_in_a_base_is_visible_through_the_derived_index_at_once(team):
    team.upload("alice/base", wheel("1.1"))
    team.simple_json("alice/dev", "hello")
    team.app.delete("/alice/base/hello/1.1", headers=team.headers)
    assert team.simple_json("alice/dev", "hello").json["versions"] == ["1.0"]


def test_removing_a_base_removes_what_it_offered(team):
    team.simple_json("alice/dev", "hello")
    team.modify_index("alice/dev", ["bases="])
    team.simple_json("alice/dev", "hello", status=404)
    r = team.app.get("/alice/dev/+simple/", headers={"Accept": "application/vnd.pypi.simple.v1+json"})
    assert r.json["projects"] == []


def test_a_base_does_not_see_the_derived_index(team):
    team.upload("alice/dev", wheel("2.0"))
    assert team.simple_json("alice/base", "hello").json["versions"] == ["1.0"]


def test_uploading_to_the_derived_index_does_not_need_rights_on_the_base(team):
    team.create_and_login_user("bob")
    team.create_index("mine", bases=["alice/base"])
    team.upload("bob/mine", wheel("3.0"))
    assert team.simple_json("bob/mine", "hello").json["versions"] == ["1.0", "3.0"]


def test_devpi_json_of_the_derived_index_shows_base_releases(team):
    team.upload("alice/dev", wheel("2.0"))
    result = team.get_json("/alice/dev/hello").json["result"]
    assert sorted(result) == ["1.0", "2.0"]
    assert result["1.0"]["+links"][0]["href"].startswith("http://localhost/alice/base/+f/")
    assert result["2.0"]["+links"][0]["href"].startswith("http://localhost/alice/dev/+f/")
    own = team.get_json("/alice/dev/hello?ignore_bases").json["result"]
    assert sorted(own) == ["2.0"]
