"""idx-remoteuser in process: who the header makes a request, and when it is ignored."""

from __future__ import annotations

import pytest
from idx_remoteuser.plugin import SETTINGS, is_trusted
from idx_server.model.errors import InvalidInput
from idx_server.testing import Mapp, basic_auth

PROXY = {"REMOTE_ADDR": "10.0.0.1"}
ELSEWHERE = {"REMOTE_ADDR": "10.0.0.2"}


def authstatus(mapp: Mapp, headers: dict[str, str], environ: dict[str, str]) -> list:
    return mapp.app.get("/+api", headers=headers, extra_environ=environ).json["result"]["authstatus"]


def test_the_proxy_header_names_the_user_and_groups(mapp: Mapp):
    headers = {"X-Remote-User": "alice", "X-Remote-Groups": "dev, release-managers"}
    assert authstatus(mapp, headers, PROXY) == ["ok", "alice", ["dev", "release-managers"]]


def test_the_header_is_ignored_from_other_addresses(mapp: Mapp):
    assert authstatus(mapp, {"X-Remote-User": "alice"}, ELSEWHERE)[:2] == ["noauth", ""]


@pytest.mark.parametrize("idx_settings_overrides", [{}])
def test_without_trusted_proxies_the_header_is_ignored(mapp: Mapp):
    assert authstatus(mapp, {"X-Remote-User": "alice"}, PROXY)[:2] == ["noauth", ""]


def test_root_is_refused_unless_allowed(mapp: Mapp):
    assert authstatus(mapp, {"X-Remote-User": "root"}, PROXY)[:2] == ["noauth", ""]
    # root's own password still works, through the proxy too.
    assert authstatus(mapp, basic_auth("root", "root"), PROXY)[:2] == ["ok", "root"]


@pytest.mark.parametrize(
    "idx_settings_overrides", [{"remoteuser_trusted_proxies": "10.0.0.0/24", "remoteuser_allow_root": "yes"}]
)
def test_root_can_be_allowed_and_networks_trusted(mapp: Mapp):
    assert authstatus(mapp, {"X-Remote-User": "root"}, {"REMOTE_ADDR": "10.0.0.77"})[:2] == ["ok", "root"]


def test_an_invalid_name_makes_the_request_anonymous(mapp: Mapp):
    mapp.create_and_login_user("alice", "secret")
    headers = {"X-Remote-User": "../etc", **basic_auth("alice", "secret")}
    assert authstatus(mapp, headers, PROXY)[:2] == ["noauth", ""]


def test_the_header_wins_over_credentials_and_an_empty_one_defers_to_them(mapp: Mapp):
    mapp.create_and_login_user("alice", "secret")
    mapp.logout()
    both = {"X-Remote-User": "bob", **basic_auth("alice", "secret")}
    assert authstatus(mapp, both, PROXY)[:2] == ["ok", "bob"]
    empty = {"X-Remote-User": "", **basic_auth("alice", "secret")}
    assert authstatus(mapp, empty, PROXY)[:2] == ["ok", "alice"]


def test_groups_from_the_proxy_grant_acl_rights(mapp: Mapp):
    mapp.create_and_login_user("alice", "secret")
    mapp.create_index("dev", acl_upload=["alice", ":release-managers:"])
    mapp.headers = {"X-Remote-User": "bob", "X-Remote-Groups": "release-managers"}
    mapp.app.extra_environ = PROXY
    mapp.upload("alice/dev", name="demo", version="1.0")
    mapp.headers = {"X-Remote-User": "carol"}
    mapp.upload("alice/dev", name="demo", version="2.0", status=403)


def test_ipv4_mapped_ipv6_peers_match():
    assert is_trusted("::ffff:10.0.0.1", ("10.0.0.1",))
    assert not is_trusted("::ffff:10.0.0.2", ("10.0.0.1",))
    assert not is_trusted("not-an-address", ("10.0.0.1",))
    assert not is_trusted("10.0.0.1", ())


def test_settings_are_checked():
    by_name = {s.name: s for s in SETTINGS}
    with pytest.raises(InvalidInput, match="not an IP address or network"):
        by_name["remoteuser_trusted_proxies"].parse("10.0.0.300")
    with pytest.raises(InvalidInput, match="'_'"):
        by_name["remoteuser_header"].parse("X_Remote_User")
