"""Fetches an upstream's whole project list (PyPI: ~700,000 names, ~30 MB) in a process
of its own, so that neither its memory (a few hundred MB while parsing and sorting) nor
its CPU stays with the server: the server's project pages are not slowed while it runs,
and its memory is handed back to the system when the process ends.

Protocol: a JSON request on stdin (``url``, ``auth``, ``etag``, timeouts, ``out``: where to
write the compressed list); one JSON line on stdout: ``{"status": 200, "etag", "count"}``,
``{"status": 304}`` or ``{"error": message, "kind": error type}``. ``cpus``, when given,
is the set of CPUs to run on (the server itself may be pinned to one).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from pathlib import Path
from typing import Any

from idx_server.mirror.parse import parse_project_list
from idx_server.mirror.upstream import ACCEPT_LIST, UpstreamClient, redact_url
from idx_server.model.errors import IdxError, UpstreamError
from idx_server.storage import MirrorNames


def fetch(request: dict[str, Any]) -> dict[str, Any]:
    client = UpstreamClient(
        float(request["connect_timeout"]),
        float(request["read_timeout"]),
        int(request["retries"]),
        str(request["user_agent"]),
    )
    headers = {"Accept": ACCEPT_LIST}
    if request.get("etag"):
        headers["If-None-Match"] = str(request["etag"])
    url = str(request["url"])
    response = client.get(url, headers=headers, auth=request.get("auth") or None, stream=True)
    try:
        if response.status == 304:
            return {"status": 304}
        if response.status != 200:
            raise UpstreamError(f"upstream {redact_url(url)} answered {response.status} for the project list")
        names = parse_project_list(
            response.stream(256 * 1024, decode_content=True), response.headers.get("Content-Type", "")
        )
        etag = response.headers.get("ETag") or ""
    finally:
        response.release_conn()
        client.close()
    Path(request["out"]).write_bytes(MirrorNames.build(0, names, etag, 0.0).blob)
    return {"status": 200, "etag": etag, "count": len(names)}


def main() -> int:
    try:
        request = json.load(sys.stdin)
        cpus = request.get("cpus")
        if cpus and hasattr(os, "sched_setaffinity"):
            with contextlib.suppress(OSError):
                os.sched_setaffinity(0, cpus)  # not the server's one pinned CPU
        answer = fetch(request)
    except IdxError as exc:
        answer = {"error": exc.message, "kind": type(exc).__name__}
    except (OSError, ValueError, KeyError) as exc:
        answer = {"error": f"{type(exc).__name__}: {exc}", "kind": "UpstreamError"}
    print(json.dumps(answer), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
