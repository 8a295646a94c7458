"""Index configuration, the resolution order over ``bases`` and the dependency-confusion rule."""

from __future__ import annotations

import itertools
import re
from typing import Any

import pytest
from idx_server.model.errors import InvalidInput
from idx_server.model.indexes import (
    MIRROR,
    STAGE,
    Index,
    IndexConfig,
    apply_changes,
    apply_operations,
    new_config,
    resolution_order,
    resolve_project,
)

_ids = itertools.count(1)


def stage(full_name: str, bases: list[str] | None = None, **config: Any) -> Index:
    user, _, name = full_name.partition("/")
    given = {"bases": bases or [], **config}
    return Index(next(_ids), user, name, new_config(STAGE, user, given), index_type=STAGE)


def mirror(full_name: str = "root/pypi", **config: Any) -> Index:
    user, _, name = full_name.partition("/")
    return Index(next(_ids), user, name, new_config(MIRROR, user, config), index_type=MIRROR)


def order_of(start: Index, *others: Index) -> list[str]:
    known = {ix.full_name: ix for ix in (start, *others)}
    return [ix.full_name for ix in resolution_order(start, known.get)]


# -- resolution order ----------------------------------------------------------------------------
def test_order_starts_with_the_index_itself():
    assert order_of(stage("alice/dev")) == ["alice/dev"]


def test_order_is_breadth_first_in_listed_order():
    # dev -> [a, b]; a -> [a1]; b -> [b1]: both direct bases come before any grandparent.
    a1, b1 = stage("x/a1"), stage("x/b1")
    a, b = stage("x/a", ["x/a1"]), stage("x/b", ["x/b1"])
    dev = stage("x/dev", ["x/a", "x/b"])
    assert order_of(dev, a, b, a1, b1) == ["x/dev", "x/a", "x/b", "x/a1", "x/b1"]


def test_order_follows_the_listed_order_not_the_alphabet():
    dev = stage("x/dev", ["x/zeta", "x/alpha"])
    assert order_of(dev, stage("x/zeta"), stage("x/alpha")) == ["x/dev", "x/zeta", "x/alpha"]


def test_order_lists_a_diamond_base_once():
    # dev -> [a, b], a -> [common], b -> [common]
    common = stage("x/common")
    a, b = stage("x/a", ["x/common"]), stage("x/b", ["x/common"])
    dev = stage("x/dev", ["x/a", "x/b"])
    assert order_of(dev, a, b, common) == ["x/dev", "x/a", "x/b", "x/common"]


def test_order_puts_mirrors_last_wherever_they_are_listed():
    pypi = mirror("root/pypi")
    team = stage("x/team")
    dev = stage("x/dev", ["root/pypi", "x/team"])
    assert order_of(dev, pypi, team) == ["x/dev", "x/team", "root/pypi"]


def test_order_puts_a_mirror_reached_through_several_bases_last_and_once():
    pypi = mirror("root/pypi")
    a, b = stage("x/a", ["root/pypi"]), stage("x/b", ["root/pypi", "x/c"])
    c = stage("x/c")
    dev = stage("x/dev", ["x/a", "x/b"])
    assert order_of(dev, pypi, a, b, c) == ["x/dev", "x/a", "x/b", "x/c", "root/pypi"]


def test_order_survives_cycles():
    a = stage("x/a", ["x/b"])
    b = stage("x/b", ["x/a"])
    assert order_of(a, b) == ["x/a", "x/b"]
    assert order_of(b, a) == ["x/b", "x/a"]


def test_order_survives_a_self_reference_reached_through_a_base():
    a = stage("x/a", ["x/b"])
    b = stage("x/b", ["x/b", "x/a"])
    assert order_of(a, b) == ["x/a", "x/b"]


def test_order_skips_missing_bases_but_keeps_the_rest():
    dev = stage("x/dev", ["x/gone", "x/here"])
    here = stage("x/here", ["x/also-gone"])
    assert order_of(dev, here) == ["x/dev", "x/here"]


def test_order_of_a_mirror_is_just_the_mirror():
    assert order_of(mirror("root/pypi")) == ["root/pypi"]


# -- the dependency-confusion rule ---------------------------------------------------------------
def resolve(order: list[Index], project: str, having: set[str]) -> tuple[list[str], list[str]]:
    """(consulted, blocked mirrors) for ``project`` when the indexes in ``having`` have it."""

    def has_project(index: Index) -> bool:
        assert not index.is_mirror, "a mirror must not be asked whether it has the project"
        return index.full_name in having

    result = resolve_project(order, project, has_project)
    return [ix.full_name for ix in result.consulted], [ix.full_name for ix in result.blocked_mirrors]


def test_project_only_on_the_mirror_is_taken_from_the_mirror():
    pypi = mirror()
    dev = stage("alice/dev", ["root/pypi"])
    assert resolve([dev, pypi], "requests", set()) == (["alice/dev", "root/pypi"], [])


def test_private_project_hides_the_mirror():
    pypi = mirror()
    dev = stage("alice/dev", ["root/pypi"])
    consulted, blocked = resolve([dev, pypi], "internal-tool", {"alice/dev"})
    assert consulted == ["alice/dev"]
    assert blocked == ["root/pypi"]


def test_private_project_in_a_base_hides_the_mirror_too():
    pypi = mirror()
    team = stage("team/prod", ["root/pypi"])
    dev = stage("alice/dev", ["team/prod"])
    result = resolve_project([dev, team, pypi], "internal-tool", lambda ix: ix.full_name == "team/prod")
    assert [ix.full_name for ix in result.blocked_mirrors] == ["root/pypi"]
    assert result.private_owner is team


def test_whitelisting_the_project_on_the_requested_index_unblocks_the_mirror():
    pypi = mirror()
    dev = stage("alice/dev", ["root/pypi"], mirror_whitelist=["internal-tool"])
    assert resolve([dev, pypi], "internal-tool", {"alice/dev"}) == (["alice/dev", "root/pypi"], [])


def test_whitelist_names_are_normalized():
    pypi = mirror()
    dev = stage("alice/dev", ["root/pypi"], mirror_whitelist=["Internal_Tool"])
    assert dev.config["mirror_whitelist"] == ["internal-tool"]
    assert resolve([dev, pypi], "internal-tool", {"alice/dev"}) == (["alice/dev", "root/pypi"], [])


def test_whitelisting_star_unblocks_every_project():
    pypi = mirror()
    dev = stage("alice/dev", ["root/pypi"], mirror_whitelist=["*"])
    assert resolve([dev, pypi], "anything", {"alice/dev"}) == (["alice/dev", "root/pypi"], [])


def test_whitelisting_another_project_does_not_unblock():
    pypi = mirror()
    dev = stage("alice/dev", ["root/pypi"], mirror_whitelist=["other"])
    assert resolve([dev, pypi], "internal-tool", {"alice/dev"}) == (["alice/dev"], ["root/pypi"])


def test_union_inheritance_lets_a_base_whitelist():
    pypi = mirror()
    team = stage("team/prod", ["root/pypi"], mirror_whitelist=["internal-tool"])
    dev = stage("alice/dev", ["team/prod"], mirror_whitelist_inheritance="union")
    consulted, blocked = resolve([dev, team, pypi], "internal-tool", {"team/prod"})
    assert consulted == ["alice/dev", "team/prod", "root/pypi"]
    assert blocked == []


def test_intersection_inheritance_ignores_a_base_whitelist():
    pypi = mirror()
    team = stage("team/prod", ["root/pypi"], mirror_whitelist=["internal-tool"])
    dev = stage("alice/dev", ["team/prod"])
    assert dev.config["mirror_whitelist_inheritance"] == "intersection"
    consulted, blocked = resolve([dev, team, pypi], "internal-tool", {"team/prod"})
    assert consulted == ["alice/dev", "team/prod"]
    assert blocked == ["root/pypi"]


def test_a_base_setting_union_does_not_matter_only_the_requested_index_does():
    pypi = mirror()
    team = stage(
        "team/prod", ["root/pypi"], mirror_whitelist=["internal-tool"], mirror_whitelist_inheritance="union"
    )
    dev = stage("alice/dev", ["team/prod"])
    assert resolve([dev, team, pypi], "internal-tool", {"team/prod"})[1] == ["root/pypi"]


def test_resolution_of_an_empty_order_consults_nothing():
    assert resolve_project([], "x", lambda ix: True).consulted == ()


# -- configuration -------------------------------------------------------------------------------
def test_new_stage_config_has_devpi_defaults():
    config = new_config(STAGE, "alice", {})
    assert config["type"] == "stage"
    assert config["bases"] == []
    assert config["volatile"] is True
    assert config["acl_upload"] == ["alice"]
    assert config["acl_toxresult_upload"] == [":ANONYMOUS:"]
    assert config["mirror_whitelist"] == []
    assert config["mirror_whitelist_inheritance"] == "intersection"
    assert config["title"] == ""
    assert config["description"] == ""


def test_new_mirror_config_has_mirror_keys():
    config = new_config(MIRROR, "root", {"mirror_url": "https://example.org/simple"})
    assert config["type"] == "mirror"
    assert config["mirror_url"] == "https://example.org/simple/"
    assert config["mirror_cache_expiry"] == 1800
    assert "bases" not in config


def test_new_config_parses_given_values():
    config = new_config(STAGE, "alice", {"bases": "root/pypi, alice/base", "volatile": "no", "title": "Dev"})
    assert config["bases"] == ["root/pypi", "alice/base"]
    assert config["volatile"] is False
    assert config["title"] == "Dev"


@pytest.mark.parametrize("key", ["colour", "mirror_url", "mirror_cache_expiry"])
def test_unknown_keys_are_refused_and_named(key):
    with pytest.raises(InvalidInput, match=key):
        new_config(STAGE, "alice", {key: "x"})


def test_unknown_key_message_lists_the_known_keys():
    with pytest.raises(InvalidInput, match=r"known keys: .*volatile"):
        new_config(STAGE, "alice", {"colour": "red"})


@pytest.mark.parametrize(
    ("key", "value", "named"),
    [
        ("volatile", "maybe", "volatile"),
        ("volatile", 2, "volatile"),
        ("bases", "not-an-index-name", "not-an-index-name"),
        ("bases", ["alice/dev/extra"], "alice/dev/extra"),
        ("bases", 5, "bases"),
        ("acl_upload", [1, 2], "acl_upload"),
        ("mirror_whitelist_inheritance", "sometimes", "mirror_whitelist_inheritance"),
        ("title", 3, "title"),
    ],
)
def test_badly_typed_values_are_refused(key, value, named):
    # The message names the key, or at least the offending value.
    with pytest.raises(InvalidInput, match=re.escape(named)):
        new_config(STAGE, "alice", {key: value})


def test_mirror_url_must_be_http():
    with pytest.raises(InvalidInput, match="mirror_url"):
        new_config(MIRROR, "root", {"mirror_url": "ftp://example.org/"})


def test_apply_changes_replaces_only_given_keys():
    config = new_config(STAGE, "alice", {"title": "old", "bases": ["root/pypi"]})
    changed = apply_changes(STAGE, "alice", config, {"title": "new"})
    assert changed["title"] == "new"
    assert changed["bases"] == ["root/pypi"]
    assert config["title"] == "old", "the original config is immutable"


def test_apply_changes_with_none_restores_the_default():
    config = new_config(STAGE, "alice", {"acl_upload": ["bob"]})
    assert apply_changes(STAGE, "alice", config, {"acl_upload": None})["acl_upload"] == ["alice"]


def test_apply_changes_refuses_unknown_keys_and_changes_nothing():
    config = new_config(STAGE, "alice", {})
    with pytest.raises(InvalidInput, match="colour"):
        apply_changes(STAGE, "alice", config, {"title": "x", "colour": "red"})


def test_type_cannot_change():
    config = new_config(STAGE, "alice", {})
    with pytest.raises(InvalidInput, match="type"):
        apply_changes(STAGE, "alice", config, {"type": "mirror"})
    with pytest.raises(InvalidInput, match="type"):
        apply_operations(STAGE, "alice", config, ["type=mirror"])


def test_type_may_be_repeated_unchanged():
    config = new_config(STAGE, "alice", {})
    assert apply_changes(STAGE, "alice", config, {"type": "stage", "title": "t"})["title"] == "t"


def test_mirror_accepts_and_drops_devpi_stage_keys():
    config = new_config(MIRROR, "root", {"bases": [], "acl_upload": ["root"]})
    assert "bases" not in config
    assert "acl_upload" not in config


# -- key=value operations ------------------------------------------------------------------------
def ops(config: IndexConfig, *operations: str) -> IndexConfig:
    return apply_operations(STAGE, "alice", config, operations)


def test_operation_set():
    config = ops(
        new_config(STAGE, "alice", {}), "title=My index", "volatile=False", "bases=root/pypi,alice/x"
    )
    assert config["title"] == "My index"
    assert config["volatile"] is False
    assert config["bases"] == ["root/pypi", "alice/x"]


def test_operation_value_may_contain_equals_signs():
    assert ops(new_config(STAGE, "alice", {}), "description=a=b")["description"] == "a=b"


def test_operation_add_to_list_keeps_order_and_skips_duplicates():
    config = new_config(STAGE, "alice", {})
    config = ops(config, "acl_upload+=bob", "acl_upload+=carol", "acl_upload+=bob")
    assert config["acl_upload"] == ["alice", "bob", "carol"]


def test_operation_remove_from_list():
    config = new_config(STAGE, "alice", {"acl_upload": ["alice", "bob", "carol"]})
    assert ops(config, "acl_upload-=bob")["acl_upload"] == ["alice", "carol"]


def test_operation_remove_an_absent_item_is_harmless():
    config = new_config(STAGE, "alice", {"acl_upload": ["alice"]})
    assert ops(config, "acl_upload-=zed")["acl_upload"] == ["alice"]


def test_operation_remove_everything_restores_the_default():
    config = new_config(STAGE, "alice", {"acl_upload": ["bob"], "mirror_whitelist": ["x"]})
    config = ops(config, "acl_upload-=", "mirror_whitelist-=")
    assert config["acl_upload"] == ["alice"]
    assert config["mirror_whitelist"] == []


def test_operation_add_normalizes_whitelist_names():
    config = ops(new_config(STAGE, "alice", {}), "mirror_whitelist+=My_Pkg")
    assert config["mirror_whitelist"] == ["my-pkg"]


def test_operation_add_to_a_non_list_is_refused():
    with pytest.raises(InvalidInput, match="title"):
        ops(new_config(STAGE, "alice", {}), "title+=more")


@pytest.mark.parametrize("operation", ["title", "=value", "", "colour=red"])
def test_malformed_or_unknown_operations_are_refused(operation):
    with pytest.raises(InvalidInput):
        ops(new_config(STAGE, "alice", {}), operation)


def test_operations_that_are_not_strings_are_refused():
    with pytest.raises(InvalidInput):
        apply_operations(STAGE, "alice", new_config(STAGE, "alice", {}), [{"title": "x"}])  # type: ignore[list-item]


def test_operation_parses_the_value_by_the_keys_kind():
    with pytest.raises(InvalidInput, match="volatile"):
        ops(new_config(STAGE, "alice", {}), "volatile=perhaps")
    mirror_config = new_config(MIRROR, "root", {})
    changed = apply_operations(
        MIRROR, "root", mirror_config, ["mirror_cache_expiry=1h", "mirror_max_size=2G"]
    )
    assert changed["mirror_cache_expiry"] == 3600
    assert changed["mirror_max_size"] == 2 * 1024**3
