"""pin_cpu: the daemon runs every thread on one CPU by default (one interpreter lock,
handed between threads without cross-CPU wake-ups), and on all of them with --no-pin-cpu.
batch_threads: its request threads run under SCHED_BATCH by default, its main thread
under the normal policy; all under the normal one with --no-batch-threads. Read from the
kernel's view of the running process (/proc/PID/task/*/status and stat)."""

from __future__ import annotations

import os
import sys
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest
from idx_server.testing import UNREACHABLE_UPSTREAM, LiveServer, start_server

T = TypeVar("T")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not sys.platform.startswith("linux"), reason="CPU affinity is read from Linux's /proc"
    ),
]


def thread_cpus(server: LiveServer) -> dict[int, set[int]]:
    """Each thread of the server: the CPUs it may run on."""
    found = {}
    for task in Path(f"/proc/{server.process.pid}/task").iterdir():
        for line in (task / "status").read_text().splitlines():
            if line.startswith("Cpus_allowed_list:"):
                found[int(task.name)] = cpu_list(line.split(":", 1)[1].strip())
    return found


def cpu_list(text: str) -> set[int]:
    cpus: set[int] = set()
    for part in text.split(","):
        first, _, last = part.partition("-")
        cpus.update(range(int(first), int(last or first) + 1))
    return cpus


#: Linux's scheduling policies, as /proc/PID/task/TID/stat gives them (its 41st field).
SCHED_OTHER, SCHED_BATCH = 0, 3


def thread_policies(server: LiveServer) -> dict[int, int]:
    """Each thread of the server: its scheduling policy."""
    found = {}
    for task in Path(f"/proc/{server.process.pid}/task").iterdir():
        # The fields after the command name (in parentheses, which may hold spaces)
        # start at the 3rd.
        fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        found[int(task.name)] = int(fields[41 - 3])
    return found


def serve_a_request(server: LiveServer) -> None:
    with urllib.request.urlopen(f"{server.url}/+api", timeout=10) as response:
        assert response.status == 200


def read_while_serving(tmp_path: Path, read: Callable[[LiveServer], T], *args: str) -> tuple[T, LiveServer]:
    """Start the daemon with ``args``, serve one request, ``read`` the running process,
    stop it (cleanly): what was read, and the (stopped) server for its log and pid."""
    server = start_server(tmp_path / "srv", "--mirror-url", UNREACHABLE_UPSTREAM, *args)
    try:
        serve_a_request(server)
        found = read(server)
    finally:
        assert server.stop() == 0, server.log()
    return found, server


def test_every_thread_runs_on_one_cpu_by_default(tmp_path: Path) -> None:
    allowed = os.sched_getaffinity(0)
    threads, server = read_while_serving(tmp_path, thread_cpus, "--log-level", "info")
    assert len(threads) > 5  # the main thread, waitress's workers, housekeeping
    masks = {frozenset(cpus) for cpus in threads.values()}
    assert len(masks) == 1, threads
    (mask,) = masks
    if len(allowed) > 1:
        assert len(mask) == 1
        assert mask <= allowed
        (cpu,) = mask
        assert f"threads run on CPU {cpu} (pin_cpu" in server.log()
    else:  # nothing to choose from: left as it was, and nothing logged
        assert mask == allowed
        assert "threads run on CPU" not in server.log()


def test_no_pin_cpu_leaves_every_cpu(tmp_path: Path) -> None:
    allowed = os.sched_getaffinity(0)
    threads, server = read_while_serving(tmp_path, thread_cpus, "--no-pin-cpu")
    assert len(threads) > 5
    assert all(cpus == allowed for cpus in threads.values()), threads
    assert "threads run on CPU" not in server.log()


def test_request_threads_run_under_sched_batch_by_default(tmp_path: Path) -> None:
    policies, server = read_while_serving(tmp_path, thread_policies, "--threads", "6", "--log-level", "info")
    pid = server.process.pid
    assert policies.pop(pid) == SCHED_OTHER  # the main thread: accepts and reads requests
    batch = [tid for tid, policy in policies.items() if policy == SCHED_BATCH]
    assert len(batch) >= 6, policies  # waitress's 6 request threads, and the stores' threads
    assert "request threads run under SCHED_BATCH (batch_threads" in server.log()


def test_no_batch_threads_leaves_the_normal_policy(tmp_path: Path) -> None:
    policies, server = read_while_serving(
        tmp_path, thread_policies, "--no-batch-threads", "--log-level", "info"
    )
    assert len(policies) > 5
    assert set(policies.values()) == {SCHED_OTHER}, policies
    assert "SCHED_BATCH" not in server.log()
