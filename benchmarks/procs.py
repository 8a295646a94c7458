"""Servers under test as child processes: start, wait for the first 200, memory and CPU, stop.

Only processes started here are ever signalled, by their own process group (each
server is started in a new session, so its workers go with it).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import probe


class ServiceFailed(Exception):
    """A server did not start or answer; the message says why, with its log's tail."""


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Memory:
    rss_mib: float
    peak_mib: float


class Service:
    """One server process (and its children)."""

    def __init__(self, name: str, cmd: list[str], log_path: Path, env: dict[str, str] | None = None) -> None:
        self.name = name
        self.cmd = cmd
        self.env = env
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, ready_url: str, timeout: float = 120.0) -> float:
        """Start it; return the seconds until ``ready_url`` first answered 200."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        log.write(f"\n--- {time.strftime('%H:%M:%S')} {' '.join(self.cmd)}\n".encode())
        log.flush()
        started = time.perf_counter()
        self.process = subprocess.Popen(
            self.cmd, stdout=log, stderr=subprocess.STDOUT, env=self.env, start_new_session=True
        )
        log.close()
        deadline = started + timeout
        while time.perf_counter() < deadline:
            if self.process.poll() is not None:
                raise ServiceFailed(f"{self.name} exited with {self.process.returncode}: {self.log_tail()}")
            try:
                if probe.get(ready_url, timeout=2).status == 200:
                    return time.perf_counter() - started
            except OSError:
                pass
            time.sleep(0.01)
        self.stop()
        raise ServiceFailed(
            f"{self.name} did not answer {ready_url} within {timeout:.0f} s: {self.log_tail()}"
        )

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def pids(self) -> list[int]:
        if not self.running:
            return []
        assert self.process is not None
        found, todo = [], [self.process.pid]
        while todo:
            pid = todo.pop()
            found.append(pid)
            for task in Path(f"/proc/{pid}/task").glob("*"):
                with contextlib.suppress(OSError):
                    todo += [int(c) for c in (task / "children").read_text().split()]
        return found

    def memory(self) -> Memory:
        """Resident memory now and at its peak (``VmHWM``), summed over the processes."""
        rss = peak = 0
        for pid in self.pids():
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
            rss += int(fields.get("VmRSS", "0 kB").split()[0])
            peak += int(fields.get("VmHWM", "0 kB").split()[0])
        return Memory(rss / 1024, peak / 1024)

    def cpu_seconds(self) -> float:
        """CPU time (user + system) the service's processes have used so far, summed
        (threads that ended are counted; a child that ended is not)."""
        ticks = 0
        for pid in self.pids():
            try:
                # after the command's closing parenthesis: field 3 is the state, 14/15 utime/stime
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            ticks += int(fields[11]) + int(fields[12])
        return ticks / CLOCK_TICKS

    def pause(self) -> None:
        """Stop the service's processes (SIGSTOP) where they are: a peer waiting for its
        turn takes no CPU from the one measured (devpi, idle, wakes up for some 40 ms of
        CPU every 10 s), and keeps its memory and its listening socket."""
        self._signal(signal.SIGSTOP)

    def resume(self) -> None:
        self._signal(signal.SIGCONT)

    def _signal(self, signum: int) -> None:
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signum)

    def stop(self, timeout: float = 20.0) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                os.killpg(self.process.pid, signal.SIGCONT)  # (a paused one gets it only now)
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
            except ProcessLookupError:
                pass
        self.process = None

    def log_tail(self, chars: int = 1500) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return "(no log)"


def disk_usage_mib(path: Path) -> float:
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += (Path(root) / name).lstat().st_blocks * 512
    return total / (1 << 20)


def static_upstream(root: Path, latency: str, log_dir: Path) -> tuple[Service, str]:
    """The benchmark's upstream tree under ``root`` served by ``static_server.py`` with
    ``latency`` added per request, logging each request to ``log_dir/upstream-access.log``:
    the service (not started yet) and its simple index URL."""
    import static_server  # a sibling script, like this module

    port = free_port()
    service = Service(
        "upstream",
        [sys.executable, static_server.__file__, "--root", str(root), "--port", str(port),
         "--latency", latency, "--access-log", str(log_dir / "upstream-access.log")],
        log_dir / "upstream.log",
    )  # fmt: skip
    return service, f"http://127.0.0.1:{port}/simple/"
