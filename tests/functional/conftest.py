"""Fixtures shared by the functional (in-process, webtest) tests."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import pytest
from idx_server import passwords
from idx_server.settings import Settings
from idx_server.testing import Mapp


@pytest.fixture(autouse=True)
def _cheap_password_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Still argon2, with the cheapest parameters: each user and login would cost ~0.15 s."""
    cheap = passwords._context.copy(argon2__rounds=1, argon2__memory_cost=64, argon2__parallelism=1)
    monkeypatch.setattr(passwords, "_context", cheap)


@pytest.fixture
def alice(mapp: Mapp) -> Mapp:
    """``mapp`` logged in as alice (password ``secret``), owner of the empty stage ``alice/dev``."""
    mapp.create_and_login_user("alice", "secret")
    mapp.create_index("dev")
    return mapp


@dataclass
class Disk:
    """What the server keeps in its blob directory."""

    files: Path

    def blobs(self) -> set[str]:
        """The sha256 of every stored blob."""
        return {p.name for p in self.files.rglob("*") if p.is_file() and ".tmp" not in p.parts}

    def temp_files(self) -> list[Path]:
        return sorted((self.files / ".tmp").glob("*"))

    def holds(self, content: bytes) -> bool:
        return hashlib.sha256(content).hexdigest() in self.blobs()


@pytest.fixture
def disk(idx_settings: Settings) -> Disk:
    return Disk(idx_settings.serverdir / "+files")


Upload = Callable[..., Any]


@pytest.fixture
def raw_upload(mapp: Mapp) -> Upload:
    """Post a file with exactly the form fields given (for uploads ``mapp.upload`` cannot build)."""

    def upload(index: str, filename: str, content: bytes, status: int, **fields: str) -> Any:
        form = {
            ":action": "file_upload",
            "protocol_version": "1",
            "sha256_digest": hashlib.sha256(content).hexdigest(),
            **fields,
        }
        return mapp.app.post(
            f"/{index}/",
            params=list(form.items()),
            upload_files=[("content", filename, content)],
            headers=mapp.headers,
            status=status,
        )

    return upload


@pytest.fixture
def follow(mapp: Mapp) -> Callable[..., Any]:
    """GET ``href`` as a client does: relative to the page it was found on (fragment dropped)."""

    def get(page_url: str, href: str, status: int = 200, **kwargs: Any) -> Any:
        url = urljoin("http://localhost" + page_url, href.split("#", 1)[0])
        return mapp.app.get(urlsplit(url).path, status=status, **kwargs)

    return get
