"""Fault injection: the server is killed with SIGKILL at random moments while uploads and
first-time mirror downloads run, again and again. After every kill:

- ``idx-server check --checksums`` finds no row pointing at a missing or damaged file
  (leftovers of interrupted work, orphan blobs and temp files, are allowed, and
  ``--repair`` removes them);
- after a restart, every upload that was answered 200 is there, byte for byte;
- nothing partial is ever served: every file a client received completely matches the
  sha256 the index advertised for it.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import random
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from urllib.parse import urljoin

import pytest
from fakes.upstream import FakeUpstream
from idx_server.testing import LiveServer, Project, basic_auth, make_wheel, start_server, upload_body

ROUNDS = 6
#: Problems a crash may leave behind by design: work that never committed.
LEFTOVERS = {"orphan-blob", "temp-file"}


class Load:
    """Uploaders and mirror downloaders hammering a server until told to stop."""

    def __init__(self, server: LiveServer, upstream_files: list[str], seed: int) -> None:
        self.url = server.url
        self.upstream_files = upstream_files
        self.random = random.Random(seed)
        self.stop = threading.Event()
        self.acknowledged: dict[str, str] = {}  # filename -> sha256, answered 200
        self.received: list[tuple[str, str, str]] = []  # (filename, expected, got) complete downloads
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.upload_loop, args=(i,)) for i in range(3)]
        self.threads += [threading.Thread(target=self.download_loop) for _ in range(3)]

    def run(self) -> None:
        for thread in self.threads:
            thread.start()

    def join(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(30)

    def upload_loop(self, worker: int) -> None:
        while not self.stop.is_set():
            name = f"crash-{uuid.uuid4().hex[:10]}"
            size = self.random.choice([2_000, 50_000, 400_000])
            dist = make_wheel(Project(name, "1.0", code=f"DATA = {self.random.randbytes(size).hex()!r}\n"))
            content_type, body = upload_body(dist)
            request = urllib.request.Request(
                f"{self.url}/alice/dev/",
                data=body,
                method="POST",
                headers={"Content-Type": content_type, **basic_auth("alice", "pw")},
            )
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    if response.status == 200:
                        with self.lock:
                            self.acknowledged[dist.filename] = dist.sha256
            except (OSError, http.client.HTTPException):
                time.sleep(0.05)

    def download_loop(self) -> None:
        while not self.stop.is_set():
            project = self.random.choice(self.upstream_files)
            page_url = f"{self.url}/root/pypi/+simple/{project}/"
            try:
                request = urllib.request.Request(
                    page_url, headers={"Accept": "application/vnd.pypi.simple.v1+json"}
                )
                with urllib.request.urlopen(request, timeout=30) as response:
                    entry = json.load(response)["files"][0]
                with urllib.request.urlopen(urljoin(page_url, entry["url"]), timeout=30) as response:
                    length = int(response.headers["Content-Length"])
                    data = response.read()
                if len(data) == length:
                    with self.lock:
                        self.received.append(
                            (entry["filename"], entry["hashes"]["sha256"], hashlib.sha256(data).hexdigest())
                        )
            except (OSError, http.client.HTTPException, ValueError, KeyError):
                time.sleep(0.05)


def check(serverdir: Path, *args: str) -> dict:
    result = subprocess.run(
        [sys.executable, "-m", "idx_server", "check", "--serverdir", str(serverdir), "--checksums",
         "--grace", "0", "--json", *args],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode in (0, 1), result.stderr
    return json.loads(result.stdout)


@pytest.fixture
def upstream():
    fake = FakeUpstream()
    for number in range(40):
        fake.add(
            f"mirrored-{number}", "1.0", code=f"DATA = {random.Random(number).randbytes(150_000).hex()!r}\n"
        )
    fake.chunk_delay = 0.002  # downloads take a while: kills land in the middle of them
    yield fake.start()
    fake.stop()


def test_kill_9_loses_nothing_acknowledged(tmp_path, upstream):
    serverdir = tmp_path / "srv"
    server = start_server(serverdir, "--mirror-url", upstream.url)
    request = urllib.request.Request(
        f"{server.url}/alice", data=b'{"password": "pw"}', method="PUT", headers=basic_auth("root", "root")
    )
    urllib.request.urlopen(request, timeout=30).close()
    request = urllib.request.Request(
        f"{server.url}/alice/dev",
        data=b'{"volatile": false}',
        method="PUT",
        headers=basic_auth("alice", "pw"),
    )
    urllib.request.urlopen(request, timeout=30).close()
    acknowledged: dict[str, str] = {}
    received: list[tuple[str, str, str]] = []
    rng = random.Random(20261201)
    projects = list(upstream.projects)
    try:
        for round_number in range(ROUNDS):
            load = Load(server, projects, seed=round_number)
            load.run()
            time.sleep(rng.uniform(0.5, 2.5))
            server.stop(signal.SIGKILL)
            load.join()
            acknowledged.update(load.acknowledged)
            received += load.received

            report = check(serverdir)
            problems = {p["kind"] for p in report["problems"]}
            assert problems <= LEFTOVERS, report["problems"]
            repaired = check(serverdir, "--repair")
            assert {p["kind"] for p in repaired["problems"] if not p.get("repaired")} <= set(), repaired
            assert check(serverdir)["ok"], "check still finds problems after --repair"

            server = start_server(serverdir, "--mirror-url", upstream.url)
            for filename, sha256 in acknowledged.items():
                project = filename.split("-1.0-")[0].replace("_", "-")
                page_url = f"{server.url}/alice/dev/+simple/{project}/"
                page = urllib.request.Request(
                    page_url, headers={"Accept": "application/vnd.pypi.simple.v1+json"}
                )
                try:
                    with urllib.request.urlopen(page, timeout=30) as response:
                        (entry,) = json.load(response)["files"]
                except urllib.error.HTTPError as exc:
                    raise AssertionError(f"acknowledged upload {filename} is gone ({exc.code})") from None
                assert entry["hashes"]["sha256"] == sha256
                url = urljoin(page_url, entry["url"])
                with urllib.request.urlopen(url, timeout=30) as response:
                    assert hashlib.sha256(response.read()).hexdigest() == sha256, filename
    finally:
        server.stop()
    assert acknowledged, "no upload was acknowledged: the load did not run"
    assert received, "no download completed: the load did not run"
    for filename, expected, got in received:
        assert got == expected, f"{filename} was served complete with the wrong bytes"
