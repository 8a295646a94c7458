"""The ``constrained`` index type in process: what it lets through of its bases."""

from __future__ import annotations

import pytest
from idx_server.testing import Mapp


def filenames(mapp: Mapp, index: str, project: str) -> list[str]:
    return sorted(f["filename"] for f in mapp.simple_json(index, project).json["files"])


@pytest.fixture
def vetted(mapp: Mapp) -> Mapp:
    """alice/dev with demo 1.0 and 2.0 and other 1.0; alice/vetted constrained over it."""
    mapp.create_and_login_user("alice", "secret")
    mapp.create_index("dev")
    for name, version in (("demo", "1.0"), ("demo", "2.0"), ("other", "1.0")):
        mapp.upload("alice/dev", name=name, version=version)
    mapp.create_index("vetted", type="constrained", bases=["alice/dev"], constraints=["demo==1.0", "*"])
    return mapp


def test_only_allowed_releases_are_offered(vetted: Mapp):
    assert filenames(vetted, "alice/vetted", "demo") == ["demo-1.0-py3-none-any.whl"]
    assert filenames(vetted, "alice/vetted", "other") == []
    assert filenames(vetted, "alice/dev", "demo") == [
        "demo-1.0-py3-none-any.whl",
        "demo-2.0-py3-none-any.whl",
    ]


def listed(mapp: Mapp, index: str) -> list[str]:
    accept = {"Accept": "application/vnd.pypi.simple.v1+json"}
    return [p["name"] for p in mapp.app.get(f"/{index}/+simple/", headers=accept).json["projects"]]


def test_with_star_the_project_list_names_only_allowed_projects(vetted: Mapp):
    assert listed(vetted, "alice/dev") == ["demo", "other"]
    assert listed(vetted, "alice/vetted") == ["demo"]
    vetted.modify_index("alice/vetted", ["constraints-=*"])
    assert listed(vetted, "alice/vetted") == ["demo", "other"]


def test_without_star_unnamed_projects_pass(vetted: Mapp):
    vetted.modify_index("alice/vetted", ["constraints-=*"])
    assert filenames(vetted, "alice/vetted", "other") == ["other-1.0-py3-none-any.whl"]


def test_a_change_of_constraints_shows_at_once(vetted: Mapp):
    assert filenames(vetted, "alice/vetted", "demo") == ["demo-1.0-py3-none-any.whl"]
    vetted.modify_index("alice/vetted", ["constraints-=demo==1.0", "constraints+=demo>=1,<3"])
    assert filenames(vetted, "alice/vetted", "demo") == [
        "demo-1.0-py3-none-any.whl",
        "demo-2.0-py3-none-any.whl",
    ]


def test_the_config_shows_normalized_constraints(vetted: Mapp):
    vetted.modify_index("alice/vetted", {"constraints": "Demo >= 1.0, < 2  # vetted\n*\n"})
    config = vetted.get_index("alice/vetted")
    assert config["type"] == "constrained"
    assert config["constraints"] == ["demo<2,>=1.0", "*"]
    assert config["bases"] == ["alice/dev"]


def test_bad_constraints_are_refused_with_the_reason(vetted: Mapp):
    response = vetted.modify_index("alice/vetted", {"constraints": ["demo[extra]==1"]}, status=400)
    assert "constraints" in response.json["message"]
    assert "extras" in response.json["message"]


def test_it_takes_no_uploads(vetted: Mapp):
    vetted.upload("alice/vetted", name="demo", version="3.0", status=403)  # no acl_upload
    vetted.login_root()
    response = vetted.upload("alice/vetted", name="demo", version="3.0", status=405)
    assert "does not take uploads" in response.text


def test_a_stage_can_inherit_from_it(vetted: Mapp):
    vetted.create_index("app", bases=["alice/vetted"])
    vetted.upload("alice/app", name="mine", version="1.0")
    # The filter belongs to the requested index: a stage over a constrained index
    # offers what the constrained index would, plus its own files.
    assert filenames(vetted, "alice/app", "mine") == ["mine-1.0-py3-none-any.whl"]
    assert "demo" in vetted.app.get("/alice/app/+simple/", headers={"Accept": "text/html"}).text


class TestOverAMirror:
    @pytest.fixture
    def upstream(self):
        from fakes.upstream import FakeUpstream

        fake = FakeUpstream().start()
        yield fake
        fake.stop()

    @pytest.fixture
    def idx_settings_overrides(self, upstream) -> dict:
        return {"mirror_url": upstream.url}

    def test_the_versions_list_names_only_what_passes(self, mapp: Mapp, upstream):
        """PEP 700's `versions` of a mirror page names every upstream version; through a
        constrained index only those of the files it lets through."""
        for version in ("1.0", "2.0", "3.0"):
            upstream.add("pinned", version)
        mapp.create_and_login_user("alice", "secret")
        mapp.create_index("vetted", type="constrained", bases=["root/pypi"], constraints=["pinned==2.0", "*"])
        assert mapp.simple_json("root/pypi", "pinned").json["versions"] == ["1.0", "2.0", "3.0"]
        page = mapp.simple_json("alice/vetted", "pinned").json
        assert [f["filename"] for f in page["files"]] == ["pinned-2.0-py3-none-any.whl"]
        assert page["versions"] == ["2.0"]
        upstream.add("unvetted", "1.0")
        mapp.simple_json("root/pypi", "unvetted")
        assert "unvetted" in listed(mapp, "root/pypi")
        assert listed(mapp, "alice/vetted") == ["pinned"]  # with or without upstream's list
