"""The client's state (current server, index, login), where it is kept, and the
:class:`Context` every command gets: state, output, HTTP and the plugin hooks."""

from __future__ import annotations

import base64
import json
import os
import tempfile
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pluggy

from idx_client.errors import ClientError, NotConfigured, UsageError
from idx_client.http import Body, Response, ServerError, Transport
from idx_client.output import Output

_NO_BODY: Any = object()


@dataclass(frozen=True)
class ClientState:
    """What ``idx use`` set: the server's root URL and the index in use, with the
    endpoints the server announced in ``+api``."""

    server: str = ""
    index: str = ""
    login_url: str = ""
    simpleindex: str = ""
    pypisubmit: str = ""
    features: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ClientState:
        return cls(
            server=str(data.get("server") or ""),
            index=str(data.get("index") or ""),
            login_url=str(data.get("login_url") or ""),
            simpleindex=str(data.get("simpleindex") or ""),
            pypisubmit=str(data.get("pypisubmit") or ""),
            features=tuple(str(f) for f in data.get("features") or ()),
        )

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["features"] = list(self.features)
        return data


@dataclass(frozen=True)
class Login:
    """A login token for one server, from ``POST /+login``."""

    server: str
    user: str
    token: str
    #: Seconds since the epoch; 0 when unknown.
    expires: float = 0.0

    def expired(self, now: float | None = None) -> bool:
        return bool(self.expires) and (time.time() if now is None else now) >= self.expires

    def header(self) -> str:
        """devpi's ``X-Devpi-Auth`` value: base64 of ``user:token``."""
        return base64.b64encode(f"{self.user}:{self.token}".encode()).decode("ascii")


class StateStore:
    """``current.json`` (server and index) and ``auth.json`` (tokens, per server, mode 0600)."""

    def __init__(self, clientdir: Path) -> None:
        self.clientdir = clientdir
        self.current_path = clientdir / "current.json"
        self.auth_path = clientdir / "auth.json"

    def load_state(self) -> ClientState:
        return ClientState.from_json(self._read(self.current_path))

    def save_state(self, state: ClientState) -> None:
        self._write(self.current_path, state.to_json())

    def load_login(self, server: str) -> Login | None:
        entry = self._read(self.auth_path).get(server)
        if not isinstance(entry, dict) or not entry.get("user") or not entry.get("token"):
            return None
        return Login(server, str(entry["user"]), str(entry["token"]), float(entry.get("expires") or 0))

    def save_login(self, login: Login) -> None:
        data = self._read(self.auth_path)
        data[login.server] = {"user": login.user, "token": login.token, "expires": login.expires}
        self._write(self.auth_path, data, private=True)

    def forget_login(self, server: str) -> None:
        data = self._read(self.auth_path)
        if data.pop(server, None) is not None:
            self._write(self.auth_path, data, private=True)

    def _read(self, path: Path) -> dict[str, Any]:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise ClientError(f"cannot read {path}: {exc}; delete it to start afresh") from None
        if not isinstance(data, dict):
            raise ClientError(f"cannot read {path}: not a JSON object; delete it to start afresh")
        return data

    def _write(self, path: Path, data: dict[str, Any], private: bool = False) -> None:
        """Atomically (temp file + rename), so a crash never leaves half a file."""
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, temp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(data, handle, indent=2)
            if private:
                os.chmod(temp, 0o600)
            os.replace(temp, path)
        except OSError as exc:
            raise ClientError(f"cannot write {path}: {exc}") from None


@dataclass
class Context:
    """Everything a command needs: the state, the output, HTTP and the hooks."""

    store: StateStore
    out: Output
    transport: Transport
    pm: pluggy.PluginManager
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    state: ClientState = field(init=False)

    def __post_init__(self) -> None:
        self.state = self.store.load_state()

    @property
    def hook(self) -> Any:
        return self.pm.hook

    # -- state ---------------------------------------------------------------------------
    def set_state(self, state: ClientState) -> None:
        self.store.save_state(state)
        self.state = state

    def require_server(self) -> str:
        if not self.state.server:
            raise NotConfigured("no server in use: run 'idx use URL' first")
        return self.state.server

    def require_index(self) -> str:
        self.require_server()
        if not self.state.index:
            raise NotConfigured("no index in use: run 'idx use USER/INDEX' first")
        return self.state.index

    @property
    def login(self) -> Login | None:
        return self.store.load_login(self.state.server) if self.state.server else None

    def current_user(self) -> str | None:
        login = self.login
        return login.user if login else None

    # -- names and URLs ------------------------------------------------------------------
    def index_name(self, given: str | None = None) -> str:
        """``user/index`` from ``given`` (``index`` means the logged-in user's), or the current one."""
        if not given:
            return self.require_index()
        given = given.strip("/")
        parts = given.split("/")
        if len(parts) == 2 and all(parts):
            return given
        if len(parts) == 1 and parts[0]:
            user = self.current_user()
            if not user:
                raise UsageError(f"give the index as USER/{given} (or log in to mean your own index)")
            return f"{user}/{given}"
        raise UsageError(f"not an index name: {given!r} (expected USER/INDEX or INDEX)")

    def url(self, path: str) -> str:
        """An absolute URL on the current server for ``path`` (relative to its root)."""
        return self.require_server() + path.lstrip("/")

    def index_url(self, given: str | None = None) -> str:
        return self.url(self.index_name(given) + "/")

    def user_url(self, user: str) -> str:
        if not user or "/" in user:
            raise UsageError(f"not a user name: {user!r}")
        return self.url(user)

    # -- HTTP ----------------------------------------------------------------------------
    def request(
        self,
        method: str,
        url: str,
        json_body: Any = _NO_BODY,
        *,
        headers: Mapping[str, str] | None = None,
        body: Body = None,
        check: bool = True,
        **kwargs: Any,
    ) -> Response:
        """Send a request with the login (for URLs on the current server); raise
        :class:`ServerError` for an error status unless ``check`` is false."""
        all_headers = {"Accept": "application/json", **(headers or {})}
        if json_body is not _NO_BODY:
            body = json.dumps(json_body).encode("utf-8")
            all_headers["Content-Type"] = "application/json"
        login = self.login
        if login is not None and url.startswith(login.server):
            all_headers["X-Devpi-Auth"] = login.header()
        response = self.transport.request(method, url, headers=all_headers, body=body, **kwargs)
        if check and response.status >= 400:
            raise ServerError(response, self._hint(response.status, login))
        return response

    def get_json(self, url: str) -> Response:
        return self.request("GET", url)

    def _hint(self, status: int, login: Login | None) -> str:
        if status not in (401, 403):
            return ""
        if login is None:
            return "log in with 'idx login USER'"
        if status == 401:
            when = "expired" if login.expired() else "is no longer valid"
            return f"the login of {login.user!r} {when}: run 'idx login {login.user}'"
        return ""
