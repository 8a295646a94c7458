"""The soak test's analysis: the server's log, its memory over time, and the verdict.

Pure functions over what ``soak.py`` collected, so the numbers can be recomputed from
the saved JSON and log, and checked by ``pytest benchmarks/`` without a server.
"""

from __future__ import annotations

import math
import re
import statistics
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

#: ``2026-12-01 04:25:37,738 INFO idx.request: GET /root/pypi/+simple/six/ 200 0.4ms``
#: (idx_server/accesslog.py; the path is percent-encoded, so it has no spaces).
REQUEST_LINE = re.compile(
    r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),(\d{3}) INFO idx\.request: (\S+) (\S+) (\S+) ([\d.]+)ms$"
)
#: Any other line of Python's logging format: ``<date> <time>,<ms> LEVEL logger: message``.
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (\w+) ([\w.]+): (.*)$")
LOCKED = re.compile(r"database (table )?is locked", re.IGNORECASE)
#: How many example lines of each kind of problem the report keeps.
EXAMPLES = 20


@dataclass(frozen=True)
class Request:
    at: float  # seconds since the soak started
    method: str
    path: str
    status: int  # 0 when the log did not say
    ms: float

    @property
    def category(self) -> str:
        return categorize(self.method, self.path)


def categorize(method: str, path: str) -> str:
    if method not in ("GET", "HEAD"):
        return "writes (upload, push, yank)"
    if "/+f/" in path:
        return "file metadata (PEP 658)" if path.endswith(".metadata") else "files"
    if "/+simple/" in path:
        return "simple pages"
    return "other reads"


CATEGORIES = (
    "simple pages",
    "files",
    "file metadata (PEP 658)",
    "writes (upload, push, yank)",
    "other reads",
)


@dataclass
class ServerLog:
    requests: list[Request] = field(default_factory=list)
    #: Lines saying "database is locked", anywhere in the log (tracebacks included).
    locked: list[str] = field(default_factory=list)
    locked_count: int = 0
    #: ERROR and CRITICAL log lines, and tracebacks (counted by their first line).
    errors: list[str] = field(default_factory=list)
    error_count: int = 0
    tracebacks: int = 0
    #: WARNING lines, counted by logger (e.g. waitress.queue when requests wait for a thread).
    warnings: Counter[str] = field(default_factory=Counter)
    warning_examples: list[str] = field(default_factory=list)


def log_time(stamp: str, millis: str) -> float:
    """A logging timestamp (local time) as seconds since the epoch."""
    return time.mktime(time.strptime(stamp, "%Y-%m-%d %H:%M:%S")) + int(millis) / 1000


def parse_server_log(lines: Iterable[str], epoch: float) -> ServerLog:
    """Read idx-server's output; ``epoch`` (time.time() at the soak's start) makes times relative."""
    found = ServerLog()
    for raw in lines:
        line = raw.rstrip("\n")
        match = REQUEST_LINE.match(line)
        if match:
            stamp, millis, method, path, status, ms = match.groups()
            found.requests.append(
                Request(
                    at=log_time(stamp, millis) - epoch,
                    method=method,
                    path=path,
                    status=int(status) if status.isdigit() else 0,
                    ms=float(ms),
                )
            )
            continue
        if LOCKED.search(line):
            found.locked_count += 1
            if len(found.locked) < EXAMPLES:
                found.locked.append(line)
        if line.startswith("Traceback (most recent call last)"):
            found.tracebacks += 1
        other = LOG_LINE.match(line)
        if other is None:
            continue
        level, logger, _message = other.groups()
        if level in ("ERROR", "CRITICAL"):
            found.error_count += 1
            if len(found.errors) < EXAMPLES:
                found.errors.append(line)
        elif level == "WARNING":
            found.warnings[logger] += 1
            if len(found.warning_examples) < EXAMPLES:
                found.warning_examples.append(line)
    return found


def percentile(ordered: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of an already sorted sequence."""
    if not ordered:
        return math.nan
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def latency_summary(values: Iterable[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "count": len(ordered),
        "p50": percentile(ordered, 0.50),
        "p95": percentile(ordered, 0.95),
        "p99": percentile(ordered, 0.99),
        "max": ordered[-1] if ordered else math.nan,
    }


def latency_table(requests: Sequence[Request]) -> dict[str, dict[str, float]]:
    """Milliseconds by category, and for all requests."""
    by_category: dict[str, list[float]] = defaultdict(list)
    for request in requests:
        by_category[request.category].append(request.ms)
    table = {"all requests": latency_summary(r.ms for r in requests)}
    for category in CATEGORIES:
        if by_category.get(category):
            table[category] = latency_summary(by_category[category])
    return table


def status_counts(requests: Iterable[Request]) -> dict[str, int]:
    return dict(sorted(Counter(str(r.status) for r in requests).items()))


def server_errors(requests: Iterable[Request]) -> list[Request]:
    """Requests answered with a 5xx (or whose status the log did not say)."""
    return [r for r in requests if r.status >= 500 or r.status == 0]


@dataclass(frozen=True)
class Sample:
    """One look at the server process."""

    at: float  # seconds since the soak started
    rss_mib: float
    peak_mib: float
    threads: int
    fds: int
    cpu_s: float  # user + system CPU time used so far
    load1: float
    events_pending: int | None = None  # idx_events_pending (None: not reported)
    page_cache_mib: float | None = None  # idx_page_cache_bytes
    #: VmRSS is RssAnon (the heap: Python objects, SQLite's caches) + RssFile (mapped
    #: files, which the kernel can take back) + RssShmem.
    rss_anon_mib: float | None = None
    rss_file_mib: float | None = None
    sqlite_mib: float | None = None  # idx_sqlite_memory_bytes: SQLite's caches
    python_kblocks: float | None = None  # idx_python_allocated_blocks / 1000: live objects
    #: glibc's account (idx_malloc_*_bytes): bytes handed out (C libraries, Python's
    #: large objects), and bytes freed but kept in its arenas.
    malloc_used_mib: float | None = None
    malloc_free_mib: float | None = None


@dataclass(frozen=True)
class Flatness:
    samples: int
    warmup_s: float  # the warm-up actually left out: the first third of the run, or more
    first_mib: float  # median over the first half after warm-up
    last_mib: float  # median over the second half
    growth_pct: float
    slope_mib_per_min: float  # least squares over every sample after warm-up
    peak_mib: float
    max_growth_pct: float
    #: None when there were too few samples after warm-up to tell.
    flat: bool | None


MIN_SAMPLES = 6


def flatness(
    samples: Sequence[Sample], warmup_s: float, max_growth_pct: float, measure: str = "rss_mib"
) -> Flatness:
    """Whether the RSS (or another ``measure`` of the samples) stopped growing.

    The warm-up left out is the first third of the run, or ``warmup_s`` when that is
    longer: a server's bounded caches fill while the load first meets them (SQLite's
    memory up to its soft heap limit, the file-location table, Python's and malloc's
    high-water marks after the first bursts), and that is growth with a ceiling, not a
    leak. The rest is split in halves. Under a steady load a leak grows with the work
    done, so it puts the second half's median above the first half's by its rate times
    a quarter of the run; a cache that is full does not. At most ``max_growth_pct``
    more passes. (A one-hour run at 125 MiB therefore catches a leak from about 0.3
    MiB/min, 19 MiB an hour; the least-squares trend is reported with the verdict.)
    """
    end = max((s.at for s in samples), default=0.0)
    warmup_s = max(warmup_s, end / 3)
    after = [(s.at, getattr(s, measure)) for s in samples if s.at >= warmup_s]
    after = [(at, value) for at, value in after if value is not None]
    peak = max((s.peak_mib for s in samples), default=math.nan)
    if len(after) < MIN_SAMPLES:
        nan = math.nan
        return Flatness(len(after), warmup_s, nan, nan, nan, nan, peak, max_growth_pct, None)
    half = len(after) // 2
    first = statistics.median(value for _, value in after[:half])
    last = statistics.median(value for _, value in after[half:])
    growth = (last - first) / first * 100 if first else math.inf
    slope = _slope([at / 60 for at, _ in after], [value for _, value in after])
    return Flatness(
        len(after), warmup_s, first, last, growth, slope, peak, max_growth_pct, growth <= max_growth_pct
    )


def _slope(xs: Sequence[float], ys: Sequence[float]) -> float:
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(ys)
    spread = sum((x - mean_x) ** 2 for x in xs)
    if spread == 0:
        return 0.0
    return sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / spread


#: A backlog of plugin events this small is noise (events of one burst of writes).
BACKLOG_SLACK = 10


@dataclass(frozen=True)
class Backlog:
    """The server's queue of plugin events (``idx_events_pending``) over the run."""

    samples: int
    first: float  # median over the first third after warm-up
    last: float  # median over the last third
    peak: int
    at_end: int  # at the last sample, when the load stopped
    #: None when the server does not report the gauge or there were too few samples.
    keeping_up: bool | None


def backlog(samples: Sequence[Sample], warmup_s: float) -> Backlog:
    """Do the plugins' event hooks keep up: the backlog's last third no higher than its
    first (or than BACKLOG_SLACK)?"""
    seen = [s for s in samples if s.events_pending is not None]
    after = [s.events_pending or 0 for s in seen if s.at >= warmup_s]
    peak = max((s.events_pending or 0 for s in seen), default=0)
    at_end = (seen[-1].events_pending or 0) if seen else 0
    if len(after) < MIN_SAMPLES:
        return Backlog(len(after), math.nan, math.nan, peak, at_end, None)
    third = len(after) // 3
    first, last = statistics.median(after[:third]), statistics.median(after[-third:])
    return Backlog(len(after), first, last, peak, at_end, last <= max(first, BACKLOG_SLACK))


def per_minute(requests: Sequence[Request], samples: Sequence[Sample]) -> list[dict[str, Any]]:
    """Per minute of the run: requests, their rate, 5xx, p99, and the process's state."""
    reqs: dict[int, list[Request]] = defaultdict(list)
    for request in requests:
        reqs[int(request.at // 60)].append(request)
    looks: dict[int, list[Sample]] = defaultdict(list)
    for sample in samples:
        looks[int(sample.at // 60)].append(sample)
    rows = []
    for minute in sorted(set(reqs) | set(looks)):
        if minute < 0:
            continue  # set-up before the clock started
        got, seen = reqs.get(minute, []), looks.get(minute, [])
        rows.append(
            {
                "minute": minute,
                "requests": len(got),
                "per_s": len(got) / 60,
                "5xx": len(server_errors(got)),
                "p99_ms": percentile(sorted(r.ms for r in got), 0.99),
                "rss_mib": statistics.median(s.rss_mib for s in seen) if seen else math.nan,
                "anon_mib": _median(s.rss_anon_mib for s in seen),
                "threads": max((s.threads for s in seen), default=0),
                "fds": max((s.fds for s in seen), default=0),
                "load1": statistics.fmean(s.load1 for s in seen) if seen else math.nan,
                "events_pending": max(
                    (s.events_pending for s in seen if s.events_pending is not None), default=None
                ),
                "page_cache_mib": max(
                    (s.page_cache_mib for s in seen if s.page_cache_mib is not None), default=None
                ),
                "sqlite_mib": _median(s.sqlite_mib for s in seen),
                "python_kblocks": _median(s.python_kblocks for s in seen),
                "malloc_used_mib": _median(s.malloc_used_mib for s in seen),
                "malloc_free_mib": _median(s.malloc_free_mib for s in seen),
            }
        )
    return rows


def _median(values: Iterable[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return statistics.median(known) if known else None


@dataclass(frozen=True)
class Check:
    name: str
    value: str
    limit: str
    passed: bool | None  # None: could not be decided


def verdict(result: dict[str, Any]) -> list[Check]:
    """The pass/fail lines, from the JSON form of the collected result (see soak.py)."""
    memory = result["memory"]
    checks = [
        Check("client errors", str(result["client_errors"]), "0", result["client_errors"] == 0),
        Check("server 5xx answers", str(result["server"]["5xx"]), "0", result["server"]["5xx"] == 0),
        Check(
            '"database is locked" in the server log',
            str(result["server"]["locked_count"]),
            "0",
            result["server"]["locked_count"] == 0,
        ),
        Check(
            "ERROR lines and tracebacks in the server log",
            f"{result['server']['error_count']} / {result['server']['tracebacks']}",
            "0 / 0",
            result["server"]["error_count"] == 0 and result["server"]["tracebacks"] == 0,
        ),
        Check(
            "RSS growth, second half vs first half after warm-up (the first third of the run)",
            f"{_pct_text(memory['growth_pct'])} ({_n(memory['first_mib'], '.0f')} -> "
            f"{_n(memory['last_mib'], '.0f')} MiB)",
            f"<= {memory['max_growth_pct']:g} %",
            memory["flat"],
        ),
        *_backlog_check(result.get("events")),
        Check(
            "server ran to the end",
            "yes" if result["server"]["alive_at_end"] else "no",
            "yes",
            bool(result["server"]["alive_at_end"]),
        ),
    ]
    store = result.get("store_check")
    if store is not None:
        checks.append(
            Check("idx-server check --checksums afterwards", store["summary"], "0 problems", store["ok"])
        )
    return checks


def _backlog_check(events: dict[str, Any] | None) -> list[Check]:
    if not events or not events["samples"]:
        return []  # the server does not report idx_events_pending
    return [
        Check(
            "plugin event backlog (idx_events_pending), last third vs first third after warm-up",
            f"{_n(events['first'], '.0f')} -> {_n(events['last'], '.0f')} (peak {events['peak']}, "
            f"{events['at_end']} when the load stopped)",
            f"not growing (or <= {BACKLOG_SLACK})",
            events["keeping_up"],
        )
    ]


def jsonable(value: Any) -> Any:
    """Dataclasses to dicts and NaN to None, for json.dump."""
    if hasattr(value, "__dataclass_fields__"):
        return jsonable(asdict(value))
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


# -- the report ------------------------------------------------------------------------------
def _n(value: Any, spec: str = ".1f") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return format(value, spec)


def _row(cells: Iterable[Any]) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def _mark(passed: bool | None) -> str:
    return {True: "pass", False: "**FAIL**", None: "**undecided**"}[passed]


def markdown(result: dict[str, Any]) -> str:
    """The report, from the JSON form of the result (dataclasses as dicts, NaN as None)."""
    meta, settings, server = result["meta"], result["meta"]["settings"], result["server"]
    box = meta["machine"]
    lines = [
        f"## Soak: {'PASSED' if result['passed'] else 'FAILED'}",
        "",
        f"Run of {meta['started']} ({meta['wall_seconds']:.0f} s in all), `{meta['command']}`",
        "",
        f"- machine: {box['cpu']}, {box['cores']} cores, {box['memory_gib']} GiB, {box['os']}",
        f"- load average at start / end: {meta['load_start']} / {meta['load_end']}; "
        f"mean 1-minute load during the run: {_n(result['load_average_mean'], '.1f')}",
        f"- {meta['idx']} at {meta.get('commit', 'unknown')}"
        + (f" with `{' '.join(settings['server_option'])}`" if settings.get("server_option") else "")
        + (f" with `{' '.join(settings['server_env'])}`" if settings.get("server_env") else "")
        + f" (ready in {meta['idx_start_seconds']} s); "
        + ", ".join(meta["clients"].values()),
        f"- load: {settings['installers']} installers (pip download, pip install --target, uv pip "
        f"install; {settings['subset']} pinned requirements each, rotating), {settings['uploaders']} "
        f"uploaders (twine"
        + (f", keeping {settings['keep_versions']} versions each" if settings.get("keep_versions") else "")
        + ")"
        + (f", {settings['raw_uploaders']} HTTP uploaders" if settings.get("raw_uploaders") else "")
        + (f", `idx-server check` every {settings['check_every']:g} s" if settings.get("check_every") else "")
        + f"; runs started for {settings['duration']:g} s; upstream latency {settings['latency']}; "
        f"{meta['upstream_requests']} requests reached the upstream",
        f"- server CPU: {_n(server['cpu_cores_used'], '.2f')} cores on average; "
        f"{server['requests']} requests answered",
        "",
        _row(["check", "value", "limit", "verdict"]),
        _row(["---"] * 4),
    ]
    lines += [_row([c["name"], c["value"], c["limit"], _mark(c["passed"])]) for c in result["verdict"]]
    lines += ["", "### Client runs (seconds)", "", _row(["run", "count", "failed", "p50", "p95", "max"])]
    lines.append(_row(["---"] * 6))
    for kind, row in sorted(result["clients"].items()):
        cells = [_n(row[key], ".2f") for key in ("p50", "p95", "max")]
        lines.append(_row([kind, row["runs"], row["failed"], *cells]))
    canary = result["canary"]
    wait = canary["after_warmup_ms"]
    lines += [
        "",
        f"Canary (a warm page, `{canary['project']}`, over a new connection every second, timed by the "
        f"client, so waiting for a server thread counts): after warm-up p50 {_n(wait['p50'])} ms, "
        f"p99 {_n(wait['p99'])} ms, max {_n(wait['max'])} ms; {canary['failed']} of "
        f"{canary['requests']} failed.",
        "",
        "### Server latency (ms, from its request log)",
        "",
        _row(["requests", "count", "p50", "p95", "p99", "max"]),
        _row(["---"] * 6),
    ]
    table = dict(server["latency_ms"])
    table["all, after warm-up"] = server["latency_after_warmup_ms"]
    for name, row in table.items():
        lines.append(
            _row([name, row["count"], _n(row["p50"]), _n(row["p95"]), _n(row["p99"]), _n(row["max"])])
        )
    statuses = ", ".join(f"{status}: {count}" for status, count in server["statuses"].items())
    lines += ["", f"Statuses: {statuses}.", "", "### Per minute", ""]
    header = [
        "minute", "requests", "req/s", "5xx", "p99 ms", "RSS MiB", "of it anon", "SQLite MiB",
        "Python objects (k)", "malloc in use MiB", "malloc free MiB", "events pending",
    ]  # fmt: skip
    lines.append(_row([*header, "threads", "fds", "load"]))
    lines.append(_row(["---"] * (len(header) + 3)))
    for m in result["per_minute"]:
        lines.append(
            _row([m["minute"], m["requests"], _n(m["per_s"]), m["5xx"], _n(m["p99_ms"]), _n(m["rss_mib"]),
                  _n(m.get("anon_mib")), _n(m.get("sqlite_mib")), _n(m.get("python_kblocks"), ".0f"),
                  _n(m.get("malloc_used_mib")), _n(m.get("malloc_free_mib")),
                  _n(m.get("events_pending"), "d"), m["threads"], m["fds"],
                  _n(m["load1"])])
        )  # fmt: skip
    memory = result["memory"]
    lines += [
        "",
        f"Memory (VmRSS every {settings['sample_every']:g} s, {memory['samples']} samples after a "
        f"{memory['warmup_s']:.0f} s warm-up): first half {_n(memory['first_mib'])} MiB, second half "
        f"{_n(memory['last_mib'])} MiB ({_pct_text(memory['growth_pct'])}), trend "
        f"{_n(memory['slope_mib_per_min'], '+.2f')} MiB/min, peak (VmHWM) {_n(memory['peak_mib'])} MiB.",
    ]
    anon = result.get("memory_anon")
    if anon and anon["samples"]:
        lines[-1] += (
            f" Of it the heap (RssAnon, without mapped files): first half {_n(anon['first_mib'])} MiB, "
            f"second half {_n(anon['last_mib'])} MiB ({_pct_text(anon['growth_pct'])}), trend "
            f"{_n(anon['slope_mib_per_min'], '+.2f')} MiB/min."
        )
    for key, what in (("memory_malloc_used", "malloc in use"), ("memory_malloc_free", "malloc's free")):
        part = result.get(key)
        if part and part["samples"]:
            lines[-1] += (
                f" {what.capitalize()}: first half {_n(part['first_mib'])} MiB, second half "
                f"{_n(part['last_mib'])} MiB, trend {_n(part['slope_mib_per_min'], '+.2f')} MiB/min."
            )
    lines += _problems(result)
    return "\n".join(lines) + "\n"


def _pct_text(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+.1f} %"


def _problems(result: dict[str, Any]) -> list[str]:
    server = result["server"]
    found: list[str] = []
    for run in result["failures"]:
        found.append(
            f"- {run['worker']} `{run['kind']}` at {run['at']:.0f} s: {run['detail']} ({run['log']})"
        )
    found += [f"- 5xx: `{line}`" for line in server["5xx_examples"]]
    found += [f"- locked: `{line}`" for line in server["locked_examples"]]
    found += [f"- server error: `{line}`" for line in server["error_examples"]]
    if server["warnings"]:
        counted = ", ".join(f"{name}: {count}" for name, count in sorted(server["warnings"].items()))
        found.append(f"- server warnings by logger: {counted} (e.g. `{server['warning_examples'][0]}`)")
    store = result.get("store_check") or {}
    found += [f"- store: {p.get('kind')}: {p.get('message')}" for p in store.get("problems", [])]
    if not found:
        return []
    return ["", "### Problems seen", "", *found]
