"""Fixtures for the client's unit tests: ``cli`` runs ``idx`` in process against a fake server."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from fakes.idx_transport import SERVER, FakeTransport
from idx_client.cli import main
from idx_client.context import ClientState, Login, StateStore


@dataclass
class Result:
    status: int
    out: str
    err: str


class Cli:
    """Runs ``idx`` in process against a :class:`FakeTransport`."""

    def __init__(
        self, transport: FakeTransport, env: dict[str, str], capsys: pytest.CaptureFixture[str]
    ) -> None:
        self.transport = transport
        self.env = env
        self.capsys = capsys
        self.store = StateStore(Path(env["IDX_CLIENTDIR"]))

    def __call__(self, *args: str, status: int = 0) -> Result:
        self.capsys.readouterr()
        try:
            code = main(list(args), env=self.env, transport=self.transport)
        except SystemExit as exc:
            code = int(exc.code or 0)
        captured = self.capsys.readouterr()
        assert "Traceback" not in captured.err
        assert code == status, f"idx {' '.join(args)} -> {code}\n{captured.out}\n{captured.err}"
        return Result(code, captured.out, captured.err)

    def use(self, index: str = "alice/dev", user: str | None = "alice") -> None:
        self.store.save_state(
            ClientState(
                server=SERVER,
                index=index,
                login_url=SERVER + "+login",
                simpleindex=f"{SERVER}{index}/+simple/",
                pypisubmit=f"{SERVER}{index}/",
                features=("server-keyvalue-parsing",),
            )
        )
        if user:
            self.store.save_login(Login(SERVER, user, "tok-" + user, 0))


@pytest.fixture
def transport() -> FakeTransport:
    return FakeTransport()


@pytest.fixture
def client_home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    return home


@pytest.fixture
def cli(
    transport: FakeTransport, tmp_path: Path, client_home: Path, capsys: pytest.CaptureFixture[str]
) -> Cli:
    env = {
        "HOME": str(client_home),
        "XDG_CONFIG_HOME": str(client_home / ".config"),
        "IDX_CLIENTDIR": str(tmp_path / "clientdir"),
        "IDX_DISABLE_PLUGINS": "all",
    }
    return Cli(transport, env, capsys)
