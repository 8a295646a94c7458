"""Oversized and stalled requests against a live server (``--max-upload-size 1M``).

An upload or JSON body over the limit is refused with 413 while it is still streaming
in: the client is still sending when the answer comes, and the server's memory, its
serverdir and its TMPDIR do not take the body. Clients that stall mid-request do not
tie up the worker threads.

What is measured: requests go over raw sockets (with a small send buffer, so what the
client has sent is close to what the server has read); the server's VmRSS comes from
/proc; the largest file the server holds open is read from /proc/<pid>/fd.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import select
import signal
import socket
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from idx_server.testing import ROOT_PASSWORD, UNREACHABLE_UPSTREAM, LiveServer, start_server

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

MIB = 1024 * 1024
LIMIT = 1 * MIB
#: The most a request may carry besides the file: the upload form's other fields (long
#: descriptions, attestations), as services/upload_form.py allows them.
FORM_ALLOWANCE = 32 * MIB
#: What loopback socket buffers can hold between a client that sends and a server that
#: has stopped reading (Linux autotunes the receive buffer up to a few MiB).
IN_FLIGHT = 8 * MIB
#: An upload past this was not cut off while streaming: the server read on after the
#: most it could ever accept.
CUT_OFF_BY = LIMIT + FORM_ALLOWANCE + IN_FLIGHT
BODY = 64 * MIB
CHUNK = 64 * 1024


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    base = tmp_path_factory.mktemp("oversized")
    tmpdir = base / "tmp"
    tmpdir.mkdir()
    live = start_server(
        base / "srv",
        "--max-upload-size",
        "1M",
        "--threads",
        "2",
        "--mirror-url",
        UNREACHABLE_UPSTREAM,
        env={"TMPDIR": str(tmpdir)},
    )
    root = ("root", ROOT_PASSWORD)
    assert live.request("PUT", "/alice", {"password": "pw"}, auth=root)[0] == 201
    assert live.request("PUT", "/alice/dev", {}, auth=("alice", "pw"))[0] == 201
    yield live
    assert live.stop() == 0, live.log()


# -- measuring the server ------------------------------------------------------------------------
def rss(server: LiveServer) -> int:
    """The server's resident memory in bytes."""
    for line in Path(f"/proc/{server.process.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def largest_open_file(server: LiveServer) -> tuple[int, str]:
    """The size and path of the largest regular file the server has open (deleted ones
    too: waitress buffers request bodies in anonymous temp files)."""
    largest = (0, "")
    fds = Path(f"/proc/{server.process.pid}/fd")
    for fd in fds.iterdir():
        try:
            stat = os.stat(fd)
            target = os.readlink(fd)
        except OSError:
            continue
        if (stat.st_mode & 0o170000) == 0o100000 and "idx.sqlite" not in target:
            largest = max(largest, (stat.st_size, target))
    return largest


def leftovers(server: LiveServer) -> list[str]:
    """Files left in the blob store's temp dir or in the server's TMPDIR."""
    temp = server.serverdir / "+files" / ".tmp"
    tmpdir = server.serverdir.parent / "tmp"
    return [str(p) for p in [*temp.iterdir(), *tmpdir.iterdir()]]


def auth_header(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


# -- a client that streams a body and watches for an early answer ----------------------------------
class Stream:
    """One request over a raw socket whose body is sent in chunks; stops sending as soon
    as the server answers (or closes), and records how much had been sent by then."""

    def __init__(self, server: LiveServer, method: str, path: str, headers: dict[str, str]) -> None:
        host, port = server.url.removeprefix("http://").rstrip("/").rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=60)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 64 * 1024)
        lines = [
            f"{method} {path} HTTP/1.1",
            f"Host: {host}:{port}",
            *(f"{k}: {v}" for k, v in headers.items()),
        ]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        self.sent = 0
        self.peak_open_file = (0, "")
        self.answered_while_sending = False

    def answer_waiting(self) -> bool:
        readable, _, _ = select.select([self.sock], [], [], 0)
        return bool(readable)

    def send(self, chunks: Iterator[bytes], server: LiveServer) -> None:
        for chunk in chunks:
            if self.answer_waiting():
                self.answered_while_sending = True
                return
            try:
                self.sock.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError):
                self.answered_while_sending = True
                return
            self.sent += len(chunk)
            if self.sent % (4 * MIB) < len(chunk):
                self.peak_open_file = max(self.peak_open_file, largest_open_file(server))

    def status(self) -> int:
        """The status of the answer (0 if the connection was closed without one)."""
        self.sock.settimeout(30)
        data = b""
        try:
            while b"\r\n" not in data:
                more = self.sock.recv(4096)
                if not more:
                    break
                data += more
        except (ConnectionResetError, TimeoutError):
            pass
        self.sock.close()
        return int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/") else 0


def zeros(total: int) -> Iterator[bytes]:
    chunk = bytes(CHUNK)
    for _ in range(total // CHUNK):
        yield chunk


def chunked(body: Iterator[bytes]) -> Iterator[bytes]:
    for data in body:
        yield f"{len(data):x}\r\n".encode() + data + b"\r\n"
    yield b"0\r\n\r\n"


def upload_head(boundary: str = "oversized") -> bytes:
    return (
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name=":action"\r\n\r\nfile_upload\r\n'
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="content"; filename="hello-1.0-py3-none-any.whl"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()


UPLOAD_HEADERS = {
    "Content-Type": "multipart/form-data; boundary=oversized",
    "Authorization": auth_header("alice", "pw"),
}


def stream_and_check(server: LiveServer, stream: Stream, body: Iterator[bytes]) -> tuple[int, str]:
    before = rss(server)
    stream.send(body, server)
    status = stream.status()
    grown = rss(server) - before
    described = (
        f"answered {status} after {stream.sent / MIB:.1f} MiB sent "
        f"({'while' if stream.answered_while_sending else 'after'} sending); "
        f"memory grew {grown / MIB:.1f} MiB; the largest file the server held open while "
        f"it streamed: {stream.peak_open_file[0] / MIB:.1f} MiB {stream.peak_open_file[1]!r}"
    )
    assert grown < 16 * MIB, described
    assert leftovers(server) == [], described
    server.json("/+api")  # still answering
    return status, described


# -- uploads -------------------------------------------------------------------------------------
def test_an_upload_with_an_honest_length_is_refused_while_it_streams(server: LiveServer) -> None:
    head = upload_head()
    stream = Stream(
        server, "POST", "/alice/dev/", {**UPLOAD_HEADERS, "Content-Length": str(len(head) + BODY)}
    )
    status, described = stream_and_check(server, stream, iter([head, *zeros(BODY)]))
    assert status == 413, described
    assert stream.answered_while_sending, described
    assert stream.sent < CUT_OFF_BY, described


def test_an_upload_whose_length_lies_is_refused_while_it_streams(server: LiveServer) -> None:
    head = upload_head()
    headers = {**UPLOAD_HEADERS, "Content-Length": str(1024 * MIB)}
    stream = Stream(server, "POST", "/alice/dev/", headers)
    status, described = stream_and_check(server, stream, iter([head, *zeros(BODY)]))
    assert status == 413, described
    assert stream.answered_while_sending, described


def test_a_chunked_upload_without_length_is_cut_off_while_it_streams(server: LiveServer) -> None:
    head = upload_head()
    headers = {**UPLOAD_HEADERS, "Transfer-Encoding": "chunked"}
    stream = Stream(server, "POST", "/alice/dev/", headers)
    status, described = stream_and_check(server, stream, chunked(iter([head, *zeros(BODY)])))
    assert status == 413, described
    assert stream.answered_while_sending, described
    assert stream.sent < CUT_OFF_BY, described


def test_an_upload_just_over_the_limit_is_refused_and_leaves_nothing(server: LiveServer) -> None:
    """Small enough for socket buffers to take it whole, so only the answer is checked."""
    head, tail = upload_head(), b"\r\n--oversized--\r\n"
    size = 2 * LIMIT
    stream = Stream(
        server, "POST", "/alice/dev/", {**UPLOAD_HEADERS, "Content-Length": str(len(head) + size + len(tail))}
    )
    status, described = stream_and_check(server, stream, iter([head, *zeros(size), tail]))
    assert status == 413, described
    assert server.json("/alice/dev")["result"]["projects"] == []


# -- JSON bodies ---------------------------------------------------------------------------------
def json_body(total: int) -> Iterator[bytes]:
    yield b'{"description": "'
    for chunk in zeros(total):
        yield chunk.replace(b"\0", b"x")
    yield b'"}'


@pytest.mark.parametrize(("method", "path"), [("PUT", "/alice/huge"), ("PATCH", "/alice/dev")])
def test_a_json_body_far_over_the_limit_is_refused_while_it_streams(
    server: LiveServer, method: str, path: str
) -> None:
    headers = {
        "Content-Type": "application/json",
        "Authorization": auth_header("alice", "pw"),
        "Content-Length": str(BODY + 19),
    }
    stream = Stream(server, method, path, headers)
    status, described = stream_and_check(server, stream, json_body(BODY))
    assert status == 413, described
    assert stream.answered_while_sending, described
    assert stream.sent < CUT_OFF_BY, described
    assert server.request("GET", "/alice/huge")[0] == 404
    assert server.json("/alice/dev")["result"].get("description", "") == ""


@pytest.mark.parametrize(("method", "path"), [("PUT", "/alice/huge"), ("PATCH", "/alice/dev")])
def test_a_json_body_over_its_limit_is_a_413(server: LiveServer, method: str, path: str) -> None:
    """12 MiB: over the 10 MiB a JSON body may have, under what an upload may have."""
    size = 12 * MIB
    headers = {
        "Content-Type": "application/json",
        "Authorization": auth_header("alice", "pw"),
        "Content-Length": str(size + 19),
    }
    stream = Stream(server, method, path, headers)
    status, described = stream_and_check(server, stream, json_body(size))
    assert status == 413, described


# -- stalled clients -----------------------------------------------------------------------------
def test_stalled_requests_do_not_tie_up_the_workers(server: LiveServer) -> None:
    """The server runs 2 worker threads; 12 clients that never finish their request must
    not keep anyone else from being served."""
    host, port = server.url.removeprefix("http://").rstrip("/").rsplit(":", 1)
    stalled = []
    partial_requests = [
        b"GET /+api HTTP/1.1\r\nHost: x\r\nX-Slow: ",  # headers never end
        b"POST /alice/dev/ HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\n"
        b"Authorization: " + auth_header("alice", "pw").encode() + b"\r\n"
        b"Content-Length: 100000\r\n\r\n--b\r\n",  # body never ends
        b"PATCH /alice/dev HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 1000\r\n\r\n{",
    ]
    try:
        for i in range(12):
            sock = socket.create_connection((host, int(port)), timeout=10)
            sock.sendall(partial_requests[i % len(partial_requests)])
            stalled.append(sock)
        stop = threading.Event()

        def trickle() -> None:  # slowloris: a byte now and then keeps each one alive
            while not stop.wait(0.5):
                for sock in stalled:
                    with contextlib.suppress(OSError):
                        sock.sendall(b"a")

        trickler = threading.Thread(target=trickle, daemon=True)
        trickler.start()
        for _ in range(6):
            started = time.monotonic()
            with urllib.request.urlopen(server.url + "/+api", timeout=10) as response:
                assert response.status == 200
            assert time.monotonic() - started < 3, "a normal request waited behind stalled ones"
        stop.set()
        trickler.join(5)
    finally:
        for sock in stalled:
            sock.close()
    assert leftovers(server) == []


def test_waitress_drops_idle_connections_and_bodies_idx_would_refuse(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """waitress closes a connection idle for ``channel_timeout`` seconds: it must be set
    (to minutes, not hours), and the body size it accepts must not exceed what idx could
    accept (else it buffers, on disk outside the serverdir, bodies idx then refuses)."""
    import logging

    import waitress.server
    from idx_server import cli
    from idx_server.plugins import get_plugin_manager
    from idx_server.settings import Settings

    captured: dict[str, Any] = {}

    class NotServing:
        effective_port = 0
        effective_host = "127.0.0.1"

        def run(self) -> None:
            raise KeyboardInterrupt

        def close(self) -> None:
            pass

    def create_server(app: Any, **options: Any) -> NotServing:
        captured.update(options)
        return NotServing()

    monkeypatch.setattr(waitress.server, "create_server", create_server)
    handlers = list(logging.getLogger().handlers)
    sigterm = signal.getsignal(signal.SIGTERM)
    settings = Settings(
        serverdir=tmp_path / "srv",
        root_password=ROOT_PASSWORD,
        mirror_url=UNREACHABLE_UPSTREAM,
        max_upload_size=LIMIT,
    )
    try:
        assert cli.serve(settings, get_plugin_manager(load_entrypoints=False)) == 0
    finally:
        signal.signal(signal.SIGTERM, sigterm)
        logging.getLogger().handlers[:] = handlers
    assert 0 < captured["channel_timeout"] <= 300
    assert captured["max_request_body_size"] <= LIMIT + FORM_ALLOWANCE + 1, json.dumps(
        {k: v for k, v in captured.items() if isinstance(v, int)}
    )
