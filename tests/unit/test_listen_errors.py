"""``idx-server`` when it cannot listen: waitress's bare OSError or ValueError becomes one
line naming the address and what to change; whatever fails after the store was opened,
the store is closed and root's generated password was shown. (The real daemon on a held
port and on TEST-NET: tests/e2e/test_server_start.py.)"""

from __future__ import annotations

import errno
from typing import Any

import pluggy
import pytest
import waitress.server
from idx_server import app as app_module
from idx_server import cli
from idx_server.cli import CannotListen, _create_server
from idx_server.model.errors import InvalidInput, StorageUnavailable
from idx_server.settings import Settings, load_settings


def failing_create_server(monkeypatch: pytest.MonkeyPatch, error: BaseException) -> None:
    def create_server(*args: Any, **kwargs: Any) -> Any:
        raise error

    monkeypatch.setattr(waitress.server, "create_server", create_server)


def listen_error(monkeypatch: pytest.MonkeyPatch, error: BaseException, host: str, port: int) -> str:
    failing_create_server(monkeypatch, error)
    with pytest.raises(CannotListen) as raised:
        _create_server(object(), host=host, port=port)
    return str(raised.value)


def test_a_host_that_does_not_resolve(monkeypatch: pytest.MonkeyPatch) -> None:
    message = listen_error(monkeypatch, ValueError("Invalid host/port specified."), "nowhere.invalid", 3141)
    assert message == (
        "cannot listen on nowhere.invalid:3141: the host name does not resolve; "
        "check the host setting (--host, IDX_HOST)"
    )


def test_another_value_error_is_not_called_a_bad_host(monkeypatch: pytest.MonkeyPatch) -> None:
    failing_create_server(monkeypatch, ValueError("threads must be positive"))
    with pytest.raises(ValueError, match="threads must be positive"):
        _create_server(object(), host="127.0.0.1", port=3141)


def test_a_privileged_port_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    message = listen_error(monkeypatch, PermissionError(errno.EACCES, "Permission denied"), "0.0.0.0", 80)
    assert message.startswith(
        "cannot listen on 0.0.0.0:80: permission denied: ports below 1024 need privileges"
    )


def test_permission_denied_on_a_high_port_blames_no_port_number(monkeypatch: pytest.MonkeyPatch) -> None:
    # A security module, not the port number: the system's own words.
    message = listen_error(monkeypatch, PermissionError(errno.EACCES, "Permission denied"), "0.0.0.0", 8080)
    assert message == "cannot listen on 0.0.0.0:8080: Permission denied"


@pytest.mark.parametrize("host", ["::1", "[::1]"])
def test_ipv6_addresses_are_bracketed_once(monkeypatch: pytest.MonkeyPatch, host: str) -> None:
    message = listen_error(monkeypatch, OSError(errno.EADDRINUSE, "Address already in use"), host, 3141)
    assert message.startswith("cannot listen on [::1]:3141: the address is already in use")


def test_an_unknown_os_error_keeps_its_own_words(monkeypatch: pytest.MonkeyPatch) -> None:
    message = listen_error(monkeypatch, OSError(errno.ENOBUFS, "No buffer space available"), "127.0.0.1", 1)
    assert message == "cannot listen on 127.0.0.1:1: No buffer space available"


@pytest.fixture
def closes(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Every Core closed during the test."""
    closed: list[object] = []
    original = app_module.Core.close

    def close(self: app_module.Core) -> None:
        closed.append(self)
        original(self)

    monkeypatch.setattr(app_module.Core, "close", close)
    return closed


@pytest.fixture
def idx_settings_overrides() -> dict[str, Any]:
    """A first start (root's password generated) of the daemon, touching no CPU setting
    of the test process."""
    return {"port": 0, "root_password": "", "pin_cpu": False, "batch_threads": False}


def failed_start_said(
    settings: Settings,
    pm: pluggy.PluginManager,
    capsys: pytest.CaptureFixture[str],
    closes: list[object],
    error: str,
) -> None:
    """A first start that failed: status 1, the error in one line, the store closed, and
    root's new password shown once."""
    assert cli.serve(settings, pm) == 1
    out, err = capsys.readouterr()
    assert out.count("Created user 'root' with password: ") == 1
    assert f"idx-server: {error}" in err
    assert len(closes) == 1


def test_a_listen_failure_closes_the_store_and_shows_the_new_password(
    idx_settings: Settings,
    idx_pm: pluggy.PluginManager,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    closes: list[object],
) -> None:
    failing_create_server(monkeypatch, OSError(errno.EADDRINUSE, "Address already in use"))
    failed_start_said(
        idx_settings, idx_pm, capsys, closes, "cannot listen on 127.0.0.1:0: the address is already in use"
    )


def test_a_failure_after_the_password_was_made_still_shows_it(
    idx_settings: Settings,
    idx_pm: pluggy.PluginManager,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    closes: list[object],
) -> None:
    real_initialize = app_module.initialize

    def initialize(core: app_module.Core, on_root_password: Any = None) -> str | None:
        real_initialize(core, on_root_password=on_root_password)
        raise StorageUnavailable("the disk went away")

    monkeypatch.setattr(app_module, "initialize", initialize)
    failed_start_said(idx_settings, idx_pm, capsys, closes, "the disk went away")


def test_an_unexpected_error_closes_the_store_and_propagates(
    idx_settings: Settings,
    idx_pm: pluggy.PluginManager,
    monkeypatch: pytest.MonkeyPatch,
    closes: list[object],
) -> None:
    failing_create_server(monkeypatch, RuntimeError("waitress broke"))
    with pytest.raises(RuntimeError, match="waitress broke"):
        cli.serve(idx_settings, idx_pm)
    assert len(closes) == 1


@pytest.mark.parametrize(("given", "error"), [("70000", "at most 65535, got 70000"), ("-1", "at least 0")])
def test_a_port_outside_tcps_range_is_refused_before_anything_starts(given: str, error: str) -> None:
    # waitress would take 70000 modulo 65536 and listen on 4464.
    with pytest.raises(InvalidInput, match=error):
        load_settings({}, environ={"IDX_PORT": given})


def test_the_highest_port_is_accepted() -> None:
    assert load_settings({}, environ={"IDX_PORT": "65535"}).port == 65535
