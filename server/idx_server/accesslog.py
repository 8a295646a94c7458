"""The request log: one line per request (method, path, status, milliseconds).

Written by a background thread in batches rather than through ``logging`` on the
request thread, which cost as much as serving a warm page. The lines look like the
other log lines (``2026-12-01 04:25:37,738 INFO idx.request: GET /... 200 0.4ms``) and go
to the same stream.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import TextIO

#: The environ key holding when a request's handling began (``time.perf_counter``), set
#: by the fast path when it hands a request on: the time it spent (waiting for upstream,
#: say) is then counted in the line the application writes.
STARTED = "idx.started"


class AccessLog:
    def __init__(self, stream: TextIO | None = None, enabled: bool = True) -> None:
        self.enabled = enabled
        self._stream = stream
        self._pending: list[str] = []
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._stopped = False
        self._second = -1
        self._prefix = ""

    def record(self, method: str, path: str, status: int | str, milliseconds: float) -> None:
        if not self.enabled:
            return
        now = time.time()
        second = int(now)
        if second != self._second:
            self._prefix = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(second))
            self._second = second
        millis = int(now % 1 * 1000)
        line = (
            f"{self._prefix},{millis:03d} INFO idx.request: {method} {path} {status} {milliseconds:.1f}ms\n"
        )
        with self._cond:
            self._pending.append(line)
            if len(self._pending) == 1:
                self._cond.notify()
        if self._thread is None:
            self._start()

    def _start(self) -> None:
        with self._cond:
            if self._thread is None and not self._stopped:
                self._thread = threading.Thread(target=self._run, name="idx-access-log", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._stopped:
                    self._cond.wait()
                lines, self._pending = self._pending, []
                stopped = self._stopped
            if lines:
                self._write(lines)
            if stopped:
                return

    def _write(self, lines: list[str]) -> None:
        stream = self._stream or sys.stderr
        try:
            stream.write("".join(lines))
            stream.flush()
        except (OSError, ValueError):
            pass  # a closed or full stream must not take requests down

    def close(self) -> None:
        """Write what is pending and stop the writer."""
        with self._cond:
            self._stopped = True
            self._cond.notify()
            thread = self._thread
        if thread is not None:
            thread.join(5)
        with self._cond:
            lines, self._pending = self._pending, []
        if lines:
            self._write(lines)
