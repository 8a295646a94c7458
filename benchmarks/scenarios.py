"""The measurements: the installs first, every peer in turn run by run
(:func:`interleaved_installs`); then the other groups against one peer at a time, in a
fixed order (:func:`measure_peer`).

Each group catches its own failures: a peer that cannot do something gets "FAIL" with
the reason in that row, and the run goes on.
"""

from __future__ import annotations

import contextlib
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import clients
import fixtures
import probe
from peers import PASSWORD, USER, DevpiStyleAPI, Peer
from procs import Service, disk_usage_mib
from report import BY_KEY, METRICS, Results
from upstream import Upstream


@dataclass(frozen=True)
class Plan:
    """How many runs of what: the full run and ``--quick``."""

    cold_runs: int
    warm_runs: int
    wrk_runs: int
    wrk_seconds: int
    uploads: int
    singles: int
    upload_runs: int
    big_samples: int
    big_upload_runs: int
    root_samples: int
    root_timeout: float
    restarts: int
    #: Alternating rounds of the tox matrix: straight from the upstream, then through idx.
    tox_rounds: int = 2
    groups: frozenset[str] = field(default_factory=frozenset)


FULL = Plan(
    cold_runs=9, warm_runs=9, wrk_runs=3, wrk_seconds=10, uploads=200, singles=20, upload_runs=3,
    big_samples=30, big_upload_runs=5, root_samples=5, root_timeout=180, restarts=3,
)  # fmt: skip
QUICK = Plan(
    cold_runs=1, warm_runs=2, wrk_runs=1, wrk_seconds=2, uploads=50, singles=5, upload_runs=1,
    big_samples=10, big_upload_runs=2, root_samples=3, root_timeout=90, restarts=2,
    tox_rounds=1,
)  # fmt: skip

PAGE_PROJECT = "requests"
TOOLS = ("pip", "uv")
_SENT_NOTE = " requests reached the upstream during these runs"


@dataclass
class Bench:
    """What the scenarios share in one run."""

    plan: Plan
    results: Results
    upstream: Upstream
    upstream_service: Service
    upstream_ready_url: str
    work: Path
    log: Callable[[str], None]
    #: The upstream's access log: a line per request.
    upstream_log: Path | None = None
    #: ``time.monotonic()`` after which no further step starts.
    deadline: float = float("inf")
    time_limit_minutes: float = 0
    #: Seconds the upstream adds to every request (``--latency``).
    latency_s: float = 0.03
    #: Requests that reached the upstream during a peer's warm measurements, per metric.
    upstream_sent: dict[tuple[str, str], int] = field(default_factory=dict)
    #: The Python whose pip is measured (the run's: the latest pip, in a venv of its own).
    pip_python: str = sys.executable

    @property
    def expected_files(self) -> int:
        return int(self.upstream.manifest["wheels_of_requirements"])

    def upstream_requests(self) -> int:
        if self.upstream_log is None or not self.upstream_log.exists():
            return 0
        with self.upstream_log.open("rb") as handle:
            return sum(1 for _ in handle)

    @contextlib.contextmanager
    def counting_upstream(self, peer: Peer, keys: tuple[str, ...]) -> Iterator[None]:
        """Note on ``keys`` how many requests reached the upstream meanwhile: a warm
        mirror should send none."""
        before = self.upstream_requests()
        yield
        sent = self.upstream_requests() - before
        if sent:
            for key in keys:
                total = self.upstream_sent.get((peer.name, key), 0) + sent
                self.upstream_sent[(peer.name, key)] = total
                result = self.results.get(peer.name, key)
                if not result.note or result.note.endswith(_SENT_NOTE):
                    result.note = f"{total}{_SENT_NOTE}"


def measure_peer(peer: Peer, bench: Bench) -> None:
    """Every selected measurement that applies to ``peer``; leaves it stopped."""
    plan = bench.plan
    _mark_not_applicable(peer, bench, plan.groups)
    try:
        with _guard(peer, bench, "start", ("start_fresh",)):
            if peer.services:  # left paused, warm, by the installs
                peer.resume()
            elif peer.name != "direct":
                _start(peer, bench, fresh=True)
        for step, keys in STEPS:
            group = BY_KEY[keys[0]].group
            if group not in plan.groups or group in peer.not_applicable:
                continue
            if _past_deadline(peer, bench, keys):
                continue
            with _guard(peer, bench, step.__name__, keys):
                step(peer, bench)
    finally:
        peer.stop()


@contextlib.contextmanager
def _guard(peer: Peer, bench: Bench, step: str, keys: tuple[str, ...]) -> Iterator[None]:
    """Turn a step's exception into FAIL on its metrics, and restart a dead peer."""
    started = time.monotonic()
    try:
        yield
    except Exception as exc:
        message = f"{type(exc).__name__}: {exc}"[:400]
        bench.log(f"[{peer.name}] {step} failed: {message}")
        with (bench.work / f"{peer.name}-errors.log").open("a") as errors:
            errors.write(traceback.format_exc() + "\n")
        for key in keys:
            _fail_unmeasured(peer, bench, key, message)
        alive = bool(peer.services) and all(s.running for s in peer.services)
        if peer.name != "direct" and not alive:
            with contextlib.suppress(Exception):
                _start(peer, bench, fresh=False)
    finally:
        if time.monotonic() - started >= 1:
            bench.log(f"[{peer.name}] {step}: {time.monotonic() - started:.0f} s")


def _fail_unmeasured(peer: Peer, bench: Bench, key: str, message: str) -> None:
    """FAIL for a metric with no value yet; a note on one that has some runs."""
    result = bench.results.get(peer.name, key)
    if result.na or result.pending:
        return
    if result.value is None:
        bench.results.fail(peer.name, key, message)
    else:
        result.note = result.note or f"later runs failed: {message}"


def _skipped(peer: Peer, bench: Bench, key: str) -> bool:
    result = bench.results.by_peer.get(peer.name, {}).get(key)
    return BY_KEY[key].group not in bench.plan.groups or bool(result and (result.na or result.error))


def _start(peer: Peer, bench: Bench, fresh: bool) -> None:
    peer.stop()
    seconds = peer.start(fresh=fresh)
    key = "start_fresh" if fresh else "start"
    if peer.name != "direct" and not _skipped(peer, bench, key):
        bench.results.add(peer.name, key, seconds)


def _record(peer: Peer, bench: Bench, key: str, timed: clients.Timed) -> None:
    if timed.error:
        bench.results.fail(peer.name, key, timed.error)
    else:
        bench.results.add(peer.name, key, timed.seconds)


def _install(tool: str, peer: Peer, bench: Bench, retries: int | None = None) -> clients.Timed:
    if tool == "pip":
        return clients.pip_download(
            peer.index_url(), bench.expected_files, retries=retries, python=bench.pip_python
        )
    return clients.uv_install(peer.index_url(), retries=retries)


def _measured_install(tool: str, peer: Peer, bench: Bench, key: str) -> None:
    """One install: its seconds under ``key``, the CPU the peer's servers used meanwhile
    under ``key_cpu`` and the CPU of the client itself under ``key_client_cpu``
    (milliseconds)."""
    cpu_before = peer.cpu_seconds()
    timed = _install(tool, peer, bench)
    cpu = peer.cpu_seconds() - cpu_before
    _record(peer, bench, key, timed)
    if not timed.error:
        bench.results.add(peer.name, f"{key}_cpu", cpu * 1000)
        bench.results.add(peer.name, f"{key}_client_cpu", timed.cpu_seconds * 1000)


def interleaved_installs(peers: list[Peer], bench: Bench) -> None:
    """The install group for every peer, run by run in turn (idx, devpi, ..., direct,
    then idx again), so that the machine's drift over a run (its speed moves by 10% and
    more within an hour, on this kind of VM) falls on every peer alike instead of on
    whichever was measured in a slow spell, minutes away from the one it is compared with.

    Cold: each run on a freshly started, empty mirror, the upstream slowed down like
    PyPI, stopped after. Warm: every peer started and filled by one unmeasured install of
    each kind, then the measured runs in turn, every other peer paused (SIGSTOP) meanwhile;
    the peers are left paused, warm, for :func:`measure_peer`, which resumes each in its
    turn."""
    for peer in peers:
        _mark_not_applicable(peer, bench, {"install"})
    cold = [p for p in peers if not all(_skipped(p, bench, f"{tool}_cold") for tool in TOOLS)]
    for run in range(bench.plan.cold_runs):
        for peer in cold:
            for tool in TOOLS:
                key = f"{tool}_cold"
                if _skipped(peer, bench, key) or _past_deadline(peer, bench, (key,)):
                    continue
                with _guard(peer, bench, key, (key,)):
                    _start(peer, bench, fresh=True)
                    bench.log(f"[{peer.name}] {key} {run + 1}/{bench.plan.cold_runs}")
                    _measured_install(tool, peer, bench, key)
            peer.stop()
    warm = [p for p in peers if not all(_skipped(p, bench, f"{tool}_warm") for tool in TOOLS)]
    for peer in warm:
        with _guard(peer, bench, "warm-up", tuple(f"{tool}_warm" for tool in TOOLS)):
            _start(peer, bench, fresh=True)
            for tool in TOOLS:
                warm_up = _install(tool, peer, bench)
                if warm_up.error:
                    bench.results.fail(peer.name, f"{tool}_warm", f"warm-up install failed: {warm_up.error}")
        peer.pause()  # only the peer measured runs (see Service.pause)
    for run in range(bench.plan.warm_runs):
        for peer in warm:
            peer.resume()
            for tool in TOOLS:
                key = f"{tool}_warm"
                if _skipped(peer, bench, key) or _past_deadline(peer, bench, (key,)):
                    continue
                with _guard(peer, bench, key, (key,)), bench.counting_upstream(peer, (key,)):
                    bench.log(f"[{peer.name}] {key} {run + 1}/{bench.plan.warm_runs}")
                    _measured_install(tool, peer, bench, key)
            peer.pause()


def _mark_not_applicable(peer: Peer, bench: Bench, groups: Collection[str]) -> None:
    """n/a, with the peer's reason, on every metric of ``groups`` that does not apply to it."""
    for metric in METRICS:
        if metric.group not in groups:
            continue
        reason = (
            peer.not_applicable.get(metric.group)
            or peer.metric_not_applicable.get(metric.key)
            # an install's CPU figures apply where the install does
            or peer.metric_not_applicable.get(metric.key.removesuffix("_client_cpu").removesuffix("_cpu"))
        )
        if reason:
            bench.results.not_applicable(peer.name, metric.key, reason)


def _past_deadline(peer: Peer, bench: Bench, keys: tuple[str, ...]) -> bool:
    if time.monotonic() <= bench.deadline:
        return False
    for key in keys:
        _fail_unmeasured(peer, bench, key, f"not run: time limit ({bench.time_limit_minutes:.0f} min)")
    return True


def _check_wrk(peer: Peer, bench: Bench, keys: tuple[str, ...], found: clients.WrkResult) -> bool:
    if found.bad_status:
        for key in keys:
            bench.results.fail(peer.name, key, f"{found.bad_status} of {found.requests} answers not 2xx/3xx")
        return False
    errors = [
        part for part in found.socket_errors.split(",") if part.strip() and not part.strip().endswith(" 0")
    ]
    if errors:
        for key in keys:
            bench.results.get(peer.name, key).note = f"wrk socket errors: {found.socket_errors}"
    return True


def pages(peer: Peer, bench: Bench) -> None:
    """wrk at 16 connections on one warm project page, HTML then JSON (by Accept)."""
    url = peer.page_url(PAGE_PROJECT)
    for kind, accept in (("html", probe.HTML), ("json", probe.JSON)):
        rps_key, p99_key = f"{kind}_rps", f"{kind}_p99"
        reply = probe.get(url, accept)
        if reply.status != 200:
            for key in (rps_key, p99_key):
                bench.results.fail(peer.name, key, f"GET {url} answered {reply.status}")
            continue
        if kind == "json" and "json" not in reply.content_type:
            for key in (rps_key, p99_key):
                bench.results.not_applicable(
                    peer.name, key, f"answers {reply.content_type or 'no type'} to a JSON Accept (no PEP 691)"
                )
            continue
        headers = {"Accept": accept, "Accept-Encoding": probe.ACCEPT_ENCODING}
        with bench.counting_upstream(peer, (rps_key,)):
            for run in range(bench.plan.wrk_runs):
                bench.log(f"[{peer.name}] {kind} pages {run + 1}/{bench.plan.wrk_runs}")
                found = clients.wrk(url, headers, 16, bench.plan.wrk_seconds)
                if not _check_wrk(peer, bench, (rps_key, p99_key), found):
                    break
                bench.results.add(peer.name, rps_key, found.requests_per_s)
                bench.results.add(peer.name, p99_key, found.p99_ms)


def _file_urls(peer: Peer, bench: Bench) -> dict[str, str]:
    url = peer.page_url(fixtures.BLOB_PROJECT)
    reply = probe.get(url, probe.HTML)
    if reply.status != 200:
        raise RuntimeError(f"GET {url} answered {reply.status}")
    return probe.file_links(url, reply)


def _fetch_until_cached(url: str, size: int, timeout: float = 300) -> probe.Reply:
    """GET until the peer itself answers 200 with the whole file (a proxy may redirect
    to the upstream while it is still downloading); then once more, from its cache."""
    deadline = time.monotonic() + timeout
    while True:
        reply = probe.get(url, timeout=timeout)
        if reply.status == 200 and len(reply.body) == size:
            return probe.get(url, timeout=timeout)
        if reply.status == 200 or reply.status >= 400 or time.monotonic() > deadline:
            raise RuntimeError(f"GET {url}: {reply.status}, {len(reply.body)} of {size} bytes")
        time.sleep(0.5)


def files(peer: Peer, bench: Bench) -> None:
    """wrk on a cached 1 MB file (16 connections) and 100 MB file (one connection)."""
    links = _file_urls(peer, bench)
    for blob, key, connections in (("1mb", "file_1mb", 16), ("100mb", "file_100mb", 1)):
        info = bench.upstream.blob(blob)
        url = links.get(info["filename"])
        if url is None:
            bench.results.fail(peer.name, key, f"{info['filename']} is not on the page")
            continue
        peer.check_file_reply(_fetch_until_cached(url, int(info["size"])), str(info["sha256"]))
        with bench.counting_upstream(peer, (key,)):
            for run in range(bench.plan.wrk_runs):
                bench.log(f"[{peer.name}] {key} {run + 1}/{bench.plan.wrk_runs}")
                found = clients.wrk(url, {}, connections, bench.plan.wrk_seconds)
                if not _check_wrk(peer, bench, (key,), found):
                    break
                bench.results.add(peer.name, key, found.mib_per_s)


def _stage_peer(peer: Peer) -> DevpiStyleAPI:
    assert isinstance(peer, DevpiStyleAPI), peer.name
    return peer


def _count_files(url: str) -> int:
    reply = probe.get(url, probe.PIP_ACCEPT)
    return len(probe.file_links(url, reply)) if reply.status == 200 else -1


def uploads(peer: Peer, bench: Bench) -> None:
    """N uploads in one twine call, then M twine calls of one file; each run into new
    indexes, with files no server has seen."""
    stage = _stage_peer(peer)
    plan = bench.plan
    for run in range(plan.upload_runs):
        with tempfile.TemporaryDirectory(dir=bench.work) as tmp:
            project = f"bench-upload-{run}"
            url = stage.create_stage(f"upload{run}", [])
            batch = fixtures.upload_batch(Path(tmp) / "batch", project, plan.uploads)
            bench.log(f"[{peer.name}] {len(batch)} uploads in one call {run + 1}/{plan.upload_runs}")
            timed = clients.twine_upload(url, USER, PASSWORD, batch)
            listed = _count_files(stage.stage_page_url(f"upload{run}", project))
            if not timed.error and listed != len(batch):
                timed = clients.Timed(
                    timed.seconds, f"the index lists {listed} of {len(batch)} uploaded files"
                )
            _record(peer, bench, "upload_batch", timed)
            if not timed.error:
                bench.results.add(peer.name, "upload_rate", len(batch) / timed.seconds)
            else:
                bench.results.fail(peer.name, "upload_rate", timed.error)

            url = stage.create_stage(f"single{run}", [])
            singles = fixtures.upload_batch(Path(tmp) / "single", f"bench-single-{run}", plan.singles)
            bench.log(f"[{peer.name}] {len(singles)} single-file twine calls {run + 1}/{plan.upload_runs}")
            total = 0.0
            for path in singles:
                timed = clients.twine_upload(url, USER, PASSWORD, [path])
                if timed.error:
                    break
                total += timed.seconds
            _record(peer, bench, "upload_single", clients.Timed(total, timed.error))


def _timed_page(url: str, expected: int, must_list: str | None = None) -> float:
    reply = probe.get(url, probe.PIP_ACCEPT, timeout=300)
    if reply.status != 200:
        raise RuntimeError(f"GET {url} answered {reply.status}")
    listed = probe.file_links(url, reply)
    if len(listed) < expected or (must_list and must_list not in listed):
        raise RuntimeError(f"GET {url} listed {len(listed)} files (expected {expected}, with {must_list})")
    return reply.seconds * 1000


def big_project(peer: Peer, bench: Bench) -> None:
    """``bench-big`` (9,000 files upstream): the mirror's first and warm page; then
    through an index with 3 bases (two stages and root/pypi): warm, and the first
    page after each new upload."""
    name, expected = fixtures.BIG_PROJECT, int(bench.upstream.manifest["big"]["files"])
    plan, results = bench.plan, bench.results
    mirror_url = peer.page_url(name)
    if not _skipped(peer, bench, "big_cold"):
        bench.log(f"[{peer.name}] {name}: first request")
        results.add(peer.name, "big_cold", _timed_page(mirror_url, expected))
    _timed_page(mirror_url, expected)
    with bench.counting_upstream(peer, ("big_mirror_warm",)):
        for _ in range(plan.big_samples):
            results.add(peer.name, "big_mirror_warm", _timed_page(mirror_url, expected))
    if _skipped(peer, bench, "big_warm"):
        return
    stage = _stage_peer(peer)
    stage.create_stage("base1", [])
    stage.create_stage("base2", [])
    bases = [f"{USER}/base1", f"{USER}/base2", "root/pypi"]
    upload_url = stage.create_stage("big", bases, whitelist=[name])
    page_url = stage.stage_page_url("big", name)
    _timed_page(page_url, expected)
    with tempfile.TemporaryDirectory(dir=bench.work) as tmp:
        for run in range(plan.big_upload_runs):
            wheel = fixtures.one_wheel(Path(tmp), name, f"9999.{run}")
            timed = clients.twine_upload(upload_url, USER, PASSWORD, [wheel])
            if timed.error:
                raise RuntimeError(f"upload to {upload_url}: {timed.error}")
            bench.log(f"[{peer.name}] {name}: first page after upload {run + 1}/{plan.big_upload_runs}")
            results.add(peer.name, "big_after_upload", _timed_page(page_url, expected + run + 1, wheel.name))
            if run == 0:
                with bench.counting_upstream(peer, ("big_warm",)):
                    for _ in range(plan.big_samples):
                        results.add(peer.name, "big_warm", _timed_page(page_url, expected + 1))


def root_listing(peer: Peer, bench: Bench) -> None:
    """The root listing of a mirror whose upstream lists 700,000 names: first answer,
    time until complete (while a project page is fetched every 50 ms: its worst
    latency shows whether the load blocks it), then warm."""
    url, expected = peer.root_url(), int(bench.upstream.manifest["root_names"])
    project_url = peer.page_url("six")
    probe.get(project_url, probe.PIP_ACCEPT)
    results = bench.results
    if not _skipped(peer, bench, "root_first"):
        latencies: list[float] = []
        stop = threading.Event()

        def sample_project_page() -> None:
            while not stop.is_set():
                latencies.append(probe.get(project_url, probe.PIP_ACCEPT, timeout=300).seconds * 1000)
                stop.wait(0.05)

        sampler = threading.Thread(target=sample_project_page, daemon=True)
        sampler.start()
        try:
            started = time.perf_counter()
            identity = {"Accept-Encoding": "identity"}  # no decompression here: keep the GIL free
            reply = probe.get(url, probe.HTML, timeout=bench.plan.root_timeout, headers=identity)
            results.add(peer.name, "root_first", reply.seconds * 1000)
            listed = probe.count_names(reply) if reply.status == 200 else 0
            while listed < expected and time.perf_counter() - started < bench.plan.root_timeout:
                time.sleep(0.5)
                reply = probe.get(url, probe.HTML, timeout=bench.plan.root_timeout, headers=identity)
                listed = probe.count_names(reply) if reply.status == 200 else 0
            if listed >= expected:
                results.add(peer.name, "root_complete", time.perf_counter() - started)
            else:
                results.fail(
                    peer.name,
                    "root_complete",
                    f"{listed} of {expected} names after {bench.plan.root_timeout:.0f} s",
                )
        finally:
            stop.set()
            sampler.join(300)
        if latencies:
            results.add(peer.name, "root_blocking", max(latencies))
    with bench.counting_upstream(peer, ("root_warm",)):
        for _ in range(bench.plan.root_samples):
            reply = probe.get(url, probe.HTML, timeout=bench.plan.root_timeout)
            listed = probe.count_names(reply) if reply.status == 200 else 0
            if listed < expected:
                raise RuntimeError(f"warm root listing: status {reply.status}, {listed} of {expected} names")
            results.add(peer.name, "root_warm", reply.seconds * 1000)


def memory_and_disk(peer: Peer, bench: Bench) -> None:
    time.sleep(2)  # let background work settle
    memory = [service.memory() for service in peer.services]
    bench.results.add(peer.name, "rss_peak", sum(m.peak_mib for m in memory))
    bench.results.add(peer.name, "rss_end", sum(m.rss_mib for m in memory))
    data = peer.data_dir()
    if data is not None and not _skipped(peer, bench, "disk"):
        bench.results.add(peer.name, "disk", disk_usage_mib(data))


def tox_matrix(peer: Peer, bench: Bench) -> None:
    """A 3-env tox matrix (a dozen real dependencies each) rebuilt through idx with a warm
    cache, and straight from the upstream: ``benchmarks/tox_matrix.py``'s ``measure()``,
    which alternates the two for ``plan.tox_rounds`` rounds on its own idx-server (at its
    defaults, like this peer) and its own copy of the upstream with the same latency. The
    direct samples go to the ``direct`` column; its own turn then has nothing to do."""
    if peer.name == "direct":
        if bench.results.value("direct", "tox_matrix") is None:
            bench.results.not_applicable(
                "direct", "tox_matrix", "measured in alternation with idx's; run with --only idx,direct"
            )
        return
    import tox_matrix as matrix  # needs idx-client and tox: only this step does

    bench.log(f"[{peer.name}] tox matrix: {bench.plan.tox_rounds} rounds of direct, then idx warm")
    result = matrix.measure(peer.ctx.cache, bench.latency_s, bench.plan.tox_rounds)
    for seconds in result["tox_direct_s"]:
        bench.results.add("direct", "tox_matrix", seconds)
    for seconds in result["tox_idx_warm_s"]:
        bench.results.add(peer.name, "tox_matrix", seconds)
    from_upstream = result["files_from_upstream_when_warm"]
    bench.results.get(peer.name, "tox_matrix").note = (
        f"{from_upstream} files from the upstream while warm; the first `idx test` (cold) took "
        f"{result['idx_test_cold_s']:.1f} s, a warm one {result['idx_test_warm_s']:.1f} s"
    )


def upstream_down(peer: Peer, bench: Bench) -> None:
    """Warm installs with the upstream stopped, then again after a restart. pip and uv
    get no retries here, so a failure shows quickly."""
    if "install" not in bench.plan.groups:
        for tool in TOOLS:  # fill the cache first, as the install group would have
            warm_up = _install(tool, peer, bench)
            if warm_up.error:
                raise RuntimeError(f"warm-up install failed: {warm_up.error}")
    bench.upstream_service.stop()
    try:
        for tool in TOOLS:
            bench.log(f"[{peer.name}] {tool}, upstream down")
            _record(peer, bench, f"down_{tool}", _install(tool, peer, bench, retries=0))
        peer.stop()
        peer.start(fresh=False)
        for tool in TOOLS:
            bench.log(f"[{peer.name}] {tool}, upstream down, after a restart")
            _record(peer, bench, f"down_restart_{tool}", _install(tool, peer, bench, retries=0))
    finally:
        bench.upstream_service.start(bench.upstream_ready_url)


def restarts(peer: Peer, bench: Bench) -> None:
    for _ in range(bench.plan.restarts):
        _start(peer, bench, fresh=False)


#: The steps in order, each with the metrics it measures.
STEPS: tuple[tuple[Callable[[Peer, Bench], None], tuple[str, ...]], ...] = (
    (pages, ("html_rps", "html_p99", "json_rps", "json_p99")),
    (files, ("file_1mb", "file_100mb")),
    (uploads, ("upload_batch", "upload_rate", "upload_single")),
    (big_project, ("big_cold", "big_mirror_warm", "big_warm", "big_after_upload")),
    (root_listing, ("root_first", "root_complete", "root_warm", "root_blocking")),
    (memory_and_disk, ("rss_peak", "rss_end", "disk")),
    (tox_matrix, ("tox_matrix",)),
    (upstream_down, ("down_pip", "down_uv", "down_restart_pip", "down_restart_uv")),
    (restarts, ("start",)),
)


def describe(plan: Plan) -> dict[str, Any]:
    data = dict(plan.__dict__)
    data["groups"] = sorted(plan.groups)
    return data
