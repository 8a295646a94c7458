"""Checks of the harness's own logic (no servers): ``pytest benchmarks/``."""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import pytest
from clients import parse_wrk
from probe import Reply, count_names, file_links
from report import BY_KEY, Results, ratio, table
from static_server import parse_duration, wants_json

WRK_OUTPUT = """\
Running 2s test @ http://127.0.0.1:8000/simple/requests/
  2 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     3.10ms    1.02ms  20.00ms   90.00%
    Req/Sec     2.60k   100.00     2.80k    70.00%
  Latency Distribution
     50%    2.90ms
     75%    3.40ms
     90%    4.10ms
     99%  850.00us
  10400 requests in 2.00s, 7.50MB read
  Socket errors: connect 0, read 3, write 0, timeout 0
  Non-2xx or 3xx responses: 2
Requests/sec:   5200.00
Transfer/sec:      1.50GB
"""


def test_wrk_output_is_parsed_in_binary_units():
    found = parse_wrk(WRK_OUTPUT)
    assert found.requests_per_s == 5200.0
    assert found.p99_ms == pytest.approx(0.85)
    assert found.mib_per_s == pytest.approx(1536.0)
    assert found.requests == 10400
    assert found.bad_status == 2
    assert "read 3" in found.socket_errors


@pytest.mark.parametrize(
    ("accept", "json"),
    [
        ("application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1", True),
        ("text/html", False),
        ("", False),
        ("*/*", False),
        ("text/html, application/vnd.pypi.simple.v1+json", False),
        ("application/vnd.pypi.simple.v1+json", True),
    ],
)
def test_pep691_negotiation(accept, json):
    assert wants_json(accept) is json


def test_durations():
    assert parse_duration("30ms") == pytest.approx(0.03)
    assert parse_duration("0.5s") == 0.5
    assert parse_duration("0") == 0


def test_links_of_html_and_json_pages():
    html = Reply(200, {"content-type": "text/html"}, b'<a href="../../+f/ab/c/x-1.whl#sha256=00">x</a>', 0)
    assert file_links("http://h/i/+simple/x/", html) == {"x-1.whl": "http://h/i/+f/ab/c/x-1.whl"}
    body = b'{"files": [{"filename": "x-1.whl", "url": "/files/x-1.whl"}]}'
    page = Reply(200, {"content-type": "application/vnd.pypi.simple.v1+json"}, body, 0)
    assert file_links("http://h/simple/x/", page) == {"x-1.whl": "http://h/files/x-1.whl"}
    assert count_names(Reply(200, {"content-type": "text/html"}, b"<a href=1>1</a><a href=2>2</a>", 0)) == 2


def test_ratio_means_how_many_times_better_whichever_the_direction():
    results = Results()
    results.add("idx", "html_rps", 3000)
    results.add("devpi", "html_rps", 1000)
    results.add("idx", "pip_cold", 4.0)
    results.add("direct", "pip_cold", 2.0)
    assert ratio(results, BY_KEY["html_rps"], "idx", "devpi") == 3.0
    assert ratio(results, BY_KEY["pip_cold"], "idx", "direct") == 0.5


def test_table_shows_medians_failures_and_reasons_never_made_up_numbers():
    results = Results()
    for value in (1.0, 9.0, 2.0):
        results.add("idx", "pip_warm", value)
    results.fail("devpi", "pip_warm", "pip exit 1")
    results.not_applicable("direct", "pip_warm", "no cache")
    results.get("idx", "tox_matrix").pending = "needs idx test"
    text = table(results, ["idx", "devpi", "direct"], {"uploads": "200", "singles": "20"})
    row = next(line for line in text.splitlines() if line.startswith("| pip download, warm"))
    assert "| 2.00 " in row
    assert "FAIL [" in row
    assert "n/a [" in row
    assert "not measured yet" in text
    assert "devpi: pip download, warm: pip exit 1" in text
    assert "direct: no cache" in text


def test_rounds_won_pairs_the_installs_run_by_run():
    from report import rounds_won

    results = Results()
    for mine, theirs in ((1.0, 2.0), (2.0, 1.0), (3.0, 4.0)):
        results.add("idx", "pip_warm", mine)
        results.add("devpi", "pip_warm", theirs)
    results.add("direct", "pip_warm", 1.0)  # not every round: not paired
    results.add("direct", "pip_warm", 1.0)
    results.add("proxpi", "pip_warm", 9.0)
    results.add("proxpi", "pip_warm", 9.0)
    results.add("proxpi", "pip_warm", 9.0)
    results.fail("proxpi", "pip_warm", "pip exit 1")
    metric = BY_KEY["pip_warm"]
    assert rounds_won(results, metric, "idx", "devpi") == (2, 3)
    assert rounds_won(results, metric, "devpi", "idx") == (1, 3)
    assert rounds_won(results, metric, "idx", "direct") is None
    assert rounds_won(results, metric, "idx", "proxpi") is None
    text = table(results, ["idx", "devpi", "proxpi", "direct"], {"uploads": "200", "singles": "20"})
    row = next(line for line in text.splitlines() if line.startswith("| pip download, warm") and "/" in line)
    assert row.split("|")[2].strip() == "2/3"  # idx vs devpi
    assert row.split("|")[3].strip() == ""  # idx vs proxpi: proxpi failed


def test_a_services_cpu_time_counts_its_threads_and_children(tmp_path):
    import subprocess
    import time

    from procs import Service

    # A parent that idles while its child burns CPU on two threads.
    child = (
        "import threading, time\n"
        "def spin():\n"
        "    while time.process_time() < 0.5: pass\n"
        "threads = [threading.Thread(target=spin) for _ in range(2)]\n"
        "[t.start() for t in threads]; [t.join() for t in threads]\n"
        "time.sleep(30)\n"
    )
    parent = (
        f"import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', {child!r}]); time.sleep(30)"
    )
    service = Service("burner", [sys.executable, "-c", parent], tmp_path / "log")
    service.process = subprocess.Popen(service.cmd, start_new_session=True)
    try:
        deadline = time.monotonic() + 20
        while service.cpu_seconds() < 0.4 and time.monotonic() < deadline:
            time.sleep(0.05)
        used = service.cpu_seconds()
        assert 0.4 <= used < 5, used
    finally:
        service.stop()
    assert service.cpu_seconds() == 0  # stopped: nothing left to count


def test_a_clients_cpu_time_counts_the_client_and_its_children():
    from clients import _run

    # A client that idles while its child burns CPU: both are counted, once each.
    burn = "import time\nwhile time.process_time() < 0.3: pass\n"
    cmd = [sys.executable, "-c", f"import subprocess, sys; subprocess.run([sys.executable, '-c', {burn!r}])"]
    timed = _run(cmd, dict(os.environ), 60)
    assert timed.error is None
    # 0.3 s of the child's and the two interpreters' start-up; counted twice, 0.6 or more
    assert 0.3 <= timed.cpu_seconds < 0.6, timed
    failed = _run([sys.executable, "-c", "raise SystemExit(3)"], dict(os.environ), 60)
    assert failed.error is not None
    assert "exit 3" in failed.error
    assert 0 < failed.cpu_seconds < 5, failed


def test_an_installs_cpu_figure_is_not_applicable_where_the_install_is_not():
    from peers import Direct, Peer
    from scenarios import _mark_not_applicable

    class Bench:
        results = Results()

    class Static(Peer):
        name = "static"
        metric_not_applicable = {"pip_cold": "no cache"}

    peer = Static.__new__(Static)
    _mark_not_applicable(peer, Bench, {"install"})  # type: ignore[arg-type]
    assert Bench.results.get("static", "pip_cold").na == "no cache"
    assert Bench.results.get("static", "pip_cold_cpu").na == "no cache"
    assert Bench.results.get("static", "pip_cold_client_cpu").na == "no cache"
    assert Bench.results.get("static", "pip_warm_cpu").na is None
    assert Direct.metric_not_applicable["uv_warm"]


def test_every_peer_named_can_be_chosen_and_is_made(tmp_path):
    import peers
    import run
    from report import RATIOS

    ctx = peers.Context(
        cache=tmp_path, run_dir=tmp_path / "run", tree=tmp_path / "tree", upstream_url="http://x/"
    )
    made = run.make_peers(list(peers.PEER_ORDER), ctx, upstream_service=None)  # type: ignore[arg-type]
    assert [peer.name for peer in made] == list(peers.PEER_ORDER)
    assert {name for pair in RATIOS for name in pair} <= set(peers.PEER_ORDER)
    # devpi+meta differs from devpi only in its PEP 658 switches, and only its installs run.
    meta = next(peer for peer in made if peer.name == "devpi+meta")
    assert isinstance(meta, peers.Devpi)
    assert meta.server_options == ("--enable-core-metadata",)
    assert set(meta.not_applicable) == {metric.group for metric in BY_KEY.values()} - {"install"}
    assert run.parse_only(["devpi+meta,install"]) == (["devpi+meta"], ["install"])


def test_a_venv_two_peers_share_is_made_again_once_per_run(tmp_path, monkeypatch):
    import peers

    steps: list[str] = []

    def run(cmd: list[str], what: str, timeout: float = 900) -> str:
        steps.append(what.split(maxsplit=1)[0])
        if "venv" in cmd:
            Path(cmd[-1]).mkdir(parents=True)
        return ""

    monkeypatch.setattr(peers, "_run", run)
    monkeypatch.setattr(peers.VenvTool, "remade", set())
    for _ in range(2):  # devpi, then devpi+meta
        peers.VenvTool(tmp_path, "devpi-server", ["devpi-server"]).ensure(reinstall=True)
    assert steps == ["creating", "installing"]
    peers.VenvTool(tmp_path, "proxpi", ["proxpi"]).ensure(reinstall=True)
    assert steps == ["creating", "installing"] * 2
