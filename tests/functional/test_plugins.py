"""The plugin layer in process: plugin index types and config keys, secrets, settings,
events, tracing, and what happens to a plugin's indexes when the plugin is gone."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

import pytest
from idx_server import hookimpl
from idx_server.app import build_core, initialize, make_app
from idx_server.model import config_values as cv
from idx_server.model.indexes import COMMON_KEYS, STAGE_KEYS, ConfigKey, IndexType
from idx_server.plugins import get_plugin_manager
from idx_server.settings import Setting
from idx_server.testing import Mapp


class Curated:
    """A plugin type whose indexes offer only version 1.0 of what their bases have."""

    TYPE = IndexType(
        "curated",
        (*COMMON_KEYS, *(k for k in STAGE_KEYS if k.name == "bases")),
        accepts_uploads=False,
    )

    @hookimpl
    def idx_index_types(self) -> list[IndexType]:
        return [self.TYPE]

    @hookimpl
    def idx_filter_project_files(self, index, files):
        return [f for f in files if f.version == "1.0"] if index.type == "curated" else None


class Extras:
    """Adds a plain and a secret key to stages; a setting; records events."""

    def __init__(self) -> None:
        self.events: list[Any] = []
        self.settings: Any = None

    @hookimpl
    def idx_index_config_keys(self, index_type: IndexType) -> list[ConfigKey]:
        if index_type.name != "stage":
            return []
        return [
            ConfigKey("extra_note", cv.STR, "", "A note."),
            ConfigKey("extra_token", cv.STR, "", "A secret.", secret=True),
        ]

    @hookimpl
    def idx_add_settings(self) -> list[Setting]:
        return [Setting("extras_level", cv.INT, 3, "How much.")]

    @hookimpl
    def idx_configure(self, config) -> None:
        self.settings = config.registry["idx.settings"]

    @hookimpl
    def idx_release_yanked(self, event) -> None:
        self.events.append(event)

    @hookimpl
    def idx_pushed(self, event) -> None:
        self.events.append(event)


@pytest.fixture
def extras() -> Extras:
    return Extras()


@pytest.fixture
def idx_plugins(extras: Extras) -> tuple[object, ...]:
    return (Curated(), extras)


@pytest.fixture
def curated(alice: Mapp) -> Mapp:
    """alice/dev with demo 1.0 and 2.0; alice/cur, a curated index over it."""
    alice.upload("alice/dev", name="demo", version="1.0")
    alice.upload("alice/dev", name="demo", version="2.0")
    alice.create_index("cur", type="curated", bases=["alice/dev"])
    return alice


def files(mapp: Mapp, index: str, project: str, status: int = 200) -> list[str]:
    response = mapp.simple_json(index, project, status=status)
    return [f["filename"] for f in response.json["files"]] if status == 200 else []


def test_a_plugin_type_filters_its_bases(curated: Mapp):
    assert files(curated, "alice/cur", "demo") == ["demo-1.0-py3-none-any.whl"]


def test_plugins_filter_project_lists_in_turn(curated: Mapp):
    class NoDemo:
        @hookimpl
        def idx_filter_project_names(self, index, names):
            return (n for n in names if n != "demo") if index.type == "curated" else None

    class Upper:
        @hookimpl
        def idx_filter_project_names(self, index, names):
            return [n.upper() for n in names] if index.type == "curated" else None

    curated.upload("alice/dev", name="other", version="1.0")
    curated.core.pm.register(Upper())
    curated.core.pm.register(NoDemo())  # registered last, called first (pluggy's order)
    listing = curated.app.get(
        "/alice/cur/+simple/", headers={"Accept": "application/vnd.pypi.simple.v1+json"}
    )
    assert [p["name"] for p in listing.json["projects"]] == ["OTHER"]
    own = curated.app.get("/alice/dev/+simple/", headers={"Accept": "application/vnd.pypi.simple.v1+json"})
    assert [p["name"] for p in own.json["projects"]] == ["demo", "other"]


def test_without_its_plugin_a_type_is_read_only_with_a_clear_message(curated: Mapp, idx_settings, alice):
    curated.core.close()
    # The same server directory, started again without the plugin.
    core = build_core(idx_settings, get_plugin_manager(load_entrypoints=False))
    initialize(core)
    try:
        import webtest

        mapp = Mapp(webtest.TestApp(make_app(core)), core)
        mapp.login("alice", "secret")
        config = mapp.get_index("alice/cur")
        assert (config["type"], config["bases"]) == ("curated", ["alice/dev"])
        assert mapp.get_json("/alice").json["result"]["indexes"]["cur"]["type"] == "curated"
        # Reads work; the filter is gone, so its bases are not passed through unfiltered.
        assert "demo" not in mapp.app.get("/alice/cur/+simple/", headers={"Accept": "text/html"}).text
        files(mapp, "alice/cur", "demo", status=404)
        assert len(files(mapp, "alice/dev", "demo")) == 2
        # Writes answer with the reason.
        mapp.login_root()
        upload = mapp.upload("alice/cur", name="demo", version="3.0", status=405)
        assert "type 'curated', whose plugin is not installed" in upload.text
        modify = mapp.modify_index("alice/cur", {"title": "x"}, status=403)
        assert "whose plugin is not installed" in modify.json["message"]
        # Other indexes still work, also those that have it as a base.
        mapp.create_index("alice/app", bases=["alice/cur"])
        mapp.upload("alice/app", name="mine", version="1.0")
        assert files(mapp, "alice/app", "mine") == ["mine-1.0-py3-none-any.whl"]
    finally:
        core.close()


def test_plugins_add_config_keys_to_core_types(alice: Mapp):
    config = alice.get_index("alice/dev")
    assert (config["extra_note"], config["extra_token"]) == ("", "")
    assert "extra_note" not in alice.get_index("root/pypi")
    alice.modify_index("alice/dev", ["extra_note=hello"])
    assert alice.get_index("alice/dev")["extra_note"] == "hello"


def test_secret_keys_are_redacted_and_kept_when_sent_back(alice: Mapp):
    alice.modify_index("alice/dev", {"extra_token": "t0ps3cret"})
    config = alice.get_index("alice/dev")
    assert config["extra_token"] == "********"
    assert "t0ps3cret" not in alice.get_json("/alice").text
    assert "t0ps3cret" not in alice.app.get("/+api", headers=alice.headers).text
    config.pop("projects")
    alice.modify_index("alice/dev", {**config, "title": "T"})
    assert alice.core is not None
    stored = alice.core.store.get_index("alice", "dev").config
    assert (stored["extra_token"], stored["title"]) == ("t0ps3cret", "T")
    alice.modify_index("alice/dev", ["extra_token=new"])
    assert alice.core.store.get_index("alice", "dev").config["extra_token"] == "new"


def test_keys_of_an_uninstalled_plugin_survive_and_secrets_stay_hidden(alice: Mapp, idx_settings):
    alice.modify_index("alice/dev", {"extra_note": "n", "extra_token": "t0ps3cret"})
    alice.core.close()
    core = build_core(idx_settings, get_plugin_manager(load_entrypoints=False))
    try:
        import webtest

        mapp = Mapp(webtest.TestApp(make_app(core)), core)
        mapp.login("alice", "secret")
        config = mapp.get_index("alice/dev")
        assert (config["extra_note"], config["extra_token"]) == ("n", "********")
        config.pop("projects")
        mapp.modify_index("alice/dev", {**config, "title": "sent back whole"})
        mapp.modify_index("alice/dev", {"extra_note": "changed"}, status=400)
        stored = core.store.get_index("alice", "dev").config
        assert (stored["extra_note"], stored["extra_token"]) == ("n", "t0ps3cret")
    finally:
        core.close()


def test_two_plugins_adding_one_key_is_an_error(idx_settings):
    class Clash:
        @hookimpl
        def idx_index_config_keys(self, index_type):
            return [ConfigKey("title", cv.STR, "", "again")]

    with pytest.raises(ValueError, match="config keys defined twice: \\['title'\\]"):
        build_core(idx_settings, get_plugin_manager(load_entrypoints=False, extra_plugins=(Clash(),)))


@pytest.mark.parametrize("idx_settings_overrides", [{"extras_level": "7", "outside_url": ""}])
def test_plugin_settings_have_defaults_and_take_overrides(idx_settings, extras, testapp):
    assert idx_settings.get("extras_level") == 7
    assert extras.settings.get("extras_level") == 7
    assert idx_settings.get("threads") == 64
    with pytest.raises(KeyError, match="no setting 'nonexistent'"):
        idx_settings.get("nonexistent")


def test_unknown_overrides_are_refused(idx_settings):
    from idx_server.testing import with_overrides

    with pytest.raises(KeyError, match="no setting 'bogus'"):
        with_overrides(idx_settings, [], {"bogus": 1})


def test_events_name_files_by_path(alice: Mapp, extras: Extras):
    alice.create_index("prod")
    alice.upload("alice/dev", name="demo", version="1.0")
    alice.push("alice/dev", "demo", "1.0", "alice/prod")
    alice.yank("alice/prod", "demo", "1.0", reason="bad")
    alice.wait_for_events()
    pushed, yanked = extras.events
    for event in (pushed, yanked):
        [ref] = event.files
        assert ref["filename"] == "demo-1.0-py3-none-any.whl"
        assert ref["path"].startswith("/alice/prod/+f/")
        alice.app.get(ref["path"])
    assert yanked.payload == {"yanked": True, "reason": "bad"}


def test_tracing_logs_per_implementation_calls(alice: Mapp, caplog, monkeypatch, curated):
    monkeypatch.setenv("IDX_TRACE_PLUGINS", "1")
    with caplog.at_level(logging.INFO, logger="idx.plugins"):
        alice.simple_json("alice/cur", "demo")
        alice.yank("alice/dev", "demo", "1.0")
        alice.wait_for_events()
    messages = [r.getMessage() for r in caplog.records]
    assert any(m.startswith("hook idx_filter_project_files [plugin") for m in messages)
    assert any(m.startswith("hook idx_release_yanked [plugin") for m in messages)


def test_a_failing_event_hook_never_breaks_the_request(alice: Mapp, extras, caplog):
    class Broken:
        @hookimpl
        def idx_release_yanked(self, event):
            raise RuntimeError("plugin bug")

    alice.core.pm.register(Broken())
    alice.upload("alice/dev", name="demo", version="1.0")
    with caplog.at_level(logging.ERROR, logger="idx.events"):
        alice.yank("alice/dev", "demo", "1.0")
        alice.wait_for_events()
    assert alice.core.events.failed == 1
    assert len(extras.events) == 1  # the other plugin still got it
    assert "failed handling event release_yanked" in caplog.text


def test_fixtures_settings_are_a_plain_settings_copy(idx_settings):
    assert replace(idx_settings).get("extras_level") == 3
