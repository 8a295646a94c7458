"""A threaded stdlib static server for a PEP 503 tree, with optional added latency.

It is both the benchmark's upstream (with ``--latency 30ms`` it stands in for PyPI)
and, without latency, the "plain static server" baseline. It answers PEP 691 JSON
when the client prefers it and the directory has an ``index.json`` next to its
``index.html``; otherwise it behaves like ``python -m http.server`` speaking HTTP/1.1
(keep-alive), so installers reuse connections as they do with PyPI.

    python benchmarks/static_server.py --root DIR --port 8000 --latency 30ms
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TextIO

JSON_TYPE = "application/vnd.pypi.simple.v1+json"
HTML_TYPES = ("application/vnd.pypi.simple.v1+html", "text/html")


def parse_duration(text: str) -> float:
    """``30ms``, ``0.03s``, ``0.03`` -> seconds."""
    text = text.strip().lower()
    if text.endswith("ms"):
        return float(text[:-2]) / 1000
    if text.endswith("s"):
        return float(text[:-1])
    return float(text)


def accept_quality(accept: str, media_type: str) -> float:
    """The q value ``accept`` gives ``media_type`` (exact match or ``*/*``)."""
    best = 0.0
    for part in accept.split(","):
        fields = [f.strip() for f in part.split(";")]
        if not fields[0]:
            continue
        quality = 1.0
        for param in fields[1:]:
            if param.startswith("q="):
                try:
                    quality = float(param[2:])
                except ValueError:
                    quality = 0.0
        if fields[0] == media_type:
            return quality
        if fields[0] == "*/*":
            best = max(best, quality * 0.999)  # an exact match wins a tie
    return best


def wants_json(accept: str) -> bool:
    """PEP 691 negotiation: JSON only when preferred over every HTML type."""
    if not accept:
        return False
    json_q = accept_quality(accept, JSON_TYPE)
    return json_q > 0 and json_q > max(accept_quality(accept, t) for t in HTML_TYPES)


class SimpleIndexHandler(SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body are separate writes: without TCP_NODELAY, keep-alive clients
    # wait for delayed ACKs (about 40 ms a response), which no real index costs.
    disable_nagle_algorithm = True
    latency = 0.0
    access_log: TextIO | None = None
    _log_lock = threading.Lock()

    def __init__(self, *args: Any, latency: float = 0.0, access_log: TextIO | None = None, **kwargs: Any):
        self.latency = latency
        self.access_log = access_log
        super().__init__(*args, **kwargs)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        if self.access_log is not None:
            with self._log_lock:
                print(f"{self.command} {self.path} {code}", file=self.access_log, flush=True)

    def send_head(self):  # type: ignore[no-untyped-def]
        if self.latency:
            time.sleep(self.latency)
        return super().send_head()

    def translate_path(self, path: str) -> str:
        local = super().translate_path(path)
        if os.path.isdir(local) and path.split("?", maxsplit=1)[0].endswith("/"):
            json_index = os.path.join(local, "index.json")
            if wants_json(self.headers.get("Accept", "")) and os.path.exists(json_index):
                return json_index
        return local

    def guess_type(self, path: str | os.PathLike[str]) -> str:
        if str(path).endswith("index.json"):
            return JSON_TYPE
        if str(path).endswith(".html"):
            return "text/html; charset=utf-8"
        return "application/octet-stream"

    def end_headers(self) -> None:
        if self.path.split("?")[0].endswith("/"):
            self.send_header("Vary", "Accept")
        super().end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


class Server(ThreadingHTTPServer):
    daemon_threads = True
    # The stdlib default backlog (5) drops connections when 16 clients connect at once.
    request_queue_size = 256


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", required=True, help="directory to serve")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--latency", default="0", help="added to every request, e.g. 30ms")
    parser.add_argument("--access-log", help="append 'METHOD PATH STATUS' per request to this file")
    args = parser.parse_args(argv)
    access_log = open(args.access_log, "a") if args.access_log else None  # noqa: SIM115
    handler = partial(
        SimpleIndexHandler, directory=args.root, latency=parse_duration(args.latency), access_log=access_log
    )
    server = Server((args.host, args.port), handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(
        f"serving {args.root} on http://{args.host}:{server.server_port}/ latency {args.latency}", flush=True
    )
    try:
        server.serve_forever()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
