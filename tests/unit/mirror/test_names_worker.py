"""The project-list worker process: its protocol's ``cpus`` puts it back on the CPUs the
server started with (the server itself may be pinned to one, and would share it)."""

from __future__ import annotations

import io
import json
import os
from typing import Any

import pytest
from idx_server.mirror import names_worker


def run_main(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], request: dict[str, Any]
) -> Any:
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(request)))
    assert names_worker.main() == 0
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_cpus_are_restored_before_fetching(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    calls: list[tuple[int, Any]] = []
    monkeypatch.setattr(os, "sched_setaffinity", lambda pid, cpus: calls.append((pid, cpus)), raising=False)
    monkeypatch.setattr(names_worker, "fetch", lambda request: {"status": 304, "saw": calls[:]})
    answer = run_main(monkeypatch, capsys, {"cpus": [0, 1, 3]})
    assert answer == {"status": 304, "saw": [[0, [0, 1, 3]]]}


def test_without_cpus_affinity_is_left_alone(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    calls: list[Any] = []
    monkeypatch.setattr(os, "sched_setaffinity", lambda *args: calls.append(args), raising=False)
    monkeypatch.setattr(names_worker, "fetch", lambda request: {"status": 304})
    assert run_main(monkeypatch, capsys, {"url": "x"}) == {"status": 304}
    assert calls == []


def test_a_refused_cpu_set_does_not_fail_the_fetch(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def refuse(pid: int, cpus: Any) -> None:
        raise OSError(22, "Invalid argument")

    monkeypatch.setattr(os, "sched_setaffinity", refuse, raising=False)
    monkeypatch.setattr(names_worker, "fetch", lambda request: {"status": 304})
    assert run_main(monkeypatch, capsys, {"cpus": [7]}) == {"status": 304}
