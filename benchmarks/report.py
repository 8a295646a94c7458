"""What is measured (the metric list), what came out (results), and the table.

Every cell is the median of its samples, "n/a" with the reason when a measurement
does not apply to a peer, or "FAIL" with what went wrong. Nothing is filled in
that was not measured in this run.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Metric:
    key: str
    group: str
    label: str
    unit: str
    higher_is_better: bool = False


METRICS: tuple[Metric, ...] = (
    Metric("pip_cold", "install", "pip download, cold mirror", "s"),
    Metric("uv_cold", "install", "uv pip install, cold mirror", "s"),
    Metric("pip_warm", "install", "pip download, warm", "s"),
    Metric("uv_warm", "install", "uv pip install, warm", "s"),
    Metric("pip_cold_cpu", "install", "server CPU in a cold pip download", "ms"),
    Metric("uv_cold_cpu", "install", "server CPU in a cold uv install", "ms"),
    Metric("pip_warm_cpu", "install", "server CPU in a warm pip download", "ms"),
    Metric("uv_warm_cpu", "install", "server CPU in a warm uv install", "ms"),
    Metric("pip_cold_client_cpu", "install", "pip's own CPU in a cold download", "ms"),
    Metric("uv_cold_client_cpu", "install", "uv's own CPU in a cold install", "ms"),
    Metric("pip_warm_client_cpu", "install", "pip's own CPU in a warm download", "ms"),
    Metric("uv_warm_client_cpu", "install", "uv's own CPU in a warm install", "ms"),
    Metric("html_rps", "pages", "simple page, HTML, 16 conns", "req/s", True),
    Metric("html_p99", "pages", "simple page, HTML, p99", "ms"),
    Metric("json_rps", "pages", "simple page, JSON, 16 conns", "req/s", True),
    Metric("json_p99", "pages", "simple page, JSON, p99", "ms"),
    Metric("file_1mb", "files", "1 MB file, 16 conns", "MiB/s", True),
    Metric("file_100mb", "files", "100 MB file, 1 conn", "MiB/s", True),
    Metric("upload_batch", "uploads", "{uploads} uploads, one twine call", "s"),
    Metric("upload_rate", "uploads", "uploads/s in that call", "1/s", True),
    Metric("upload_single", "uploads", "{singles} twine calls of one file", "s"),
    Metric("big_cold", "big", "3,000-version page, first request (mirror cold)", "ms"),
    Metric("big_mirror_warm", "big", "3,000-version page from the mirror, warm", "ms"),
    Metric("big_warm", "big", "3,000-version page via 3 bases, warm", "ms"),
    Metric("big_after_upload", "big", "3,000-version page via 3 bases, first after an upload", "ms"),
    Metric("root_first", "root", "700k-name root listing, first answer", "ms"),
    Metric("root_complete", "root", "700k-name root listing, until complete", "s"),
    Metric("root_warm", "root", "700k-name root listing, warm", "ms"),
    Metric("root_blocking", "root", "project page while the listing loads, max", "ms"),
    Metric("start_fresh", "lifecycle", "start-up to first 200, empty", "s"),
    Metric("start", "lifecycle", "start-up to first 200, with data", "s"),
    Metric("rss_peak", "lifecycle", "peak RSS", "MiB"),
    Metric("rss_end", "lifecycle", "RSS after the run", "MiB"),
    Metric("disk", "lifecycle", "on-disk size", "MiB"),
    Metric("down_pip", "down", "pip download, upstream down", "s"),
    Metric("down_uv", "down", "uv pip install, upstream down", "s"),
    Metric("down_restart_pip", "down", "pip download, upstream down, after restart", "s"),
    Metric("down_restart_uv", "down", "uv pip install, upstream down, after restart", "s"),
    Metric("tox_matrix", "tox", "tox matrix rebuild", "s"),
)
BY_KEY = {m.key: m for m in METRICS}
GROUPS = tuple(dict.fromkeys(m.group for m in METRICS))

#: Ratio columns: (the peer measured, the reference it is compared with).
RATIOS = (
    ("idx", "devpi"),
    ("idx", "devpi+meta"),
    ("idx", "proxpi"),
    ("idx", "direct"),
    ("idx", "static"),
    ("idx", "nginx"),
    ("idx+nginx", "nginx"),
)


@dataclass
class Result:
    samples: list[float] = field(default_factory=list)
    na: str | None = None
    error: str | None = None
    note: str | None = None
    #: Set by a measurement that exists only as a placeholder so far.
    pending: str | None = None

    @property
    def value(self) -> float | None:
        if self.error or self.na or self.pending or not self.samples:
            return None
        return float(statistics.median(self.samples))

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"median": self.value, "samples": [round(s, 6) for s in self.samples]}
        for key in ("na", "error", "note", "pending"):
            if getattr(self, key):
                data[key] = getattr(self, key)
        return data


class Results:
    def __init__(self) -> None:
        self.by_peer: dict[str, dict[str, Result]] = {}

    def get(self, peer: str, key: str) -> Result:
        assert key in BY_KEY, key
        return self.by_peer.setdefault(peer, {}).setdefault(key, Result())

    def add(self, peer: str, key: str, value: float) -> None:
        self.get(peer, key).samples.append(value)

    def fail(self, peer: str, key: str, error: str) -> None:
        result = self.get(peer, key)
        result.error = result.error or error

    def not_applicable(self, peer: str, key: str, reason: str) -> None:
        self.get(peer, key).na = reason

    def value(self, peer: str, key: str) -> float | None:
        result = self.by_peer.get(peer, {}).get(key)
        return result.value if result else None

    def as_json(self) -> dict[str, Any]:
        return {
            peer: {key: result.as_json() for key, result in metrics.items()}
            for peer, metrics in self.by_peer.items()
        }


def ratio(results: Results, metric: Metric, peer: str, reference: str) -> float | None:
    """How many times better ``peer`` is than ``reference`` (> 1: ``peer`` wins)."""
    mine, theirs = results.value(peer, metric.key), results.value(reference, metric.key)
    if mine is None or theirs is None or mine <= 0 or theirs <= 0:
        return None
    return mine / theirs if metric.higher_is_better else theirs / mine


#: The installs that run in turn, run by run (see ``scenarios.interleaved_installs``).
INTERLEAVED = ("pip_cold", "uv_cold", "pip_warm", "uv_warm")


def rounds_won(results: Results, metric: Metric, peer: str, reference: str) -> tuple[int, int] | None:
    """In how many of the rounds ``peer`` did better than ``reference``, and how many
    rounds both have: the installs run in turn, so round i of one peer ran within
    minutes of round i of the other. None unless both have every round (a run that
    failed is marked as such and leaves no sample, which would misalign the rest)."""
    mine = results.by_peer.get(peer, {}).get(metric.key)
    theirs = results.by_peer.get(reference, {}).get(metric.key)
    if mine is None or theirs is None or mine.value is None or theirs.value is None:
        return None
    if len(mine.samples) != len(theirs.samples) or len(mine.samples) < 2:
        return None
    better = (lambda a, b: a > b) if metric.higher_is_better else (lambda a, b: a < b)
    won = sum(better(a, b) for a, b in zip(mine.samples, theirs.samples, strict=True))
    return won, len(mine.samples)


def fmt(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


class Footnotes:
    """Numbered notes; the same text for several peers is one note naming them all."""

    def __init__(self) -> None:
        self.peers_by_text: dict[str, list[str]] = {}

    def mark(self, text: str, peer: str = "") -> str:
        peers = self.peers_by_text.setdefault(text, [])
        if peer and peer not in peers:
            peers.append(peer)
        return f"[{list(self.peers_by_text).index(text) + 1}]"

    def lines(self) -> list[str]:
        return [
            f"- [{i}] " + (", ".join(peers) + ": " if peers else "") + text
            for i, (text, peers) in enumerate(self.peers_by_text.items(), 1)
        ]


def table(results: Results, peers: list[str], labels: dict[str, str]) -> str:
    """The results as a markdown table (padded, so it reads in a terminal too)."""
    notes = Footnotes()
    ratios = [(p, r) for p, r in RATIOS if p in peers and r in peers]
    header = ["measurement", *peers, *(f"{p} vs {r}" for p, r in ratios)]
    rows = []
    for metric in METRICS:
        if not any(metric.key in results.by_peer.get(p, {}) for p in peers):
            continue
        arrow = "↑" if metric.higher_is_better else "↓"
        label = metric.label.format(**labels)
        row = [f"{label} ({metric.unit} {arrow})"]
        for peer in peers:
            result = results.by_peer.get(peer, {}).get(metric.key)
            if result is None:
                row.append("")
            elif result.error:
                row.append("FAIL " + notes.mark(f"{label}: {result.error}", peer))
            elif result.na:
                row.append("n/a " + notes.mark(result.na, peer))
            elif result.pending:
                row.append("not measured yet " + notes.mark(result.pending))
            elif result.value is None:
                row.append("")
            else:
                extra = " " + notes.mark(f"{label}: {result.note}", peer) if result.note else ""
                row.append(fmt(result.value) + extra)
        for peer, reference in ratios:
            found = ratio(results, metric, peer, reference)
            row.append(f"{found:.2f}x" if found is not None else "")
        rows.append(row)
    out = _markdown(header, rows)
    out.append("")
    out.append(
        "Each cell is the median of the runs; ↑ higher is better, ↓ lower is better. "
        "'A vs B' is how many times better A is than B (above 1: A wins), whichever the direction."
    )
    if notes.peers_by_text:
        out.append("")
        out += notes.lines()
    paired = _rounds_table(results, ratios, labels)
    if paired:
        out += ["", *paired]
    return "\n".join(out) + "\n"


def _rounds_table(results: Results, ratios: list[tuple[str, str]], labels: dict[str, str]) -> list[str]:
    """The installs round by round: a median ratio near 1 is a tie or a steady small
    loss or win, which the rounds tell apart."""
    rows = []
    for key in INTERLEAVED:
        metric = BY_KEY[key]
        cells = [rounds_won(results, metric, peer, reference) for peer, reference in ratios]
        if any(cells):
            counts = [f"{c[0]}/{c[1]}" if c else "" for c in cells]
            rows.append([metric.label.format(**labels), *counts])
    if not rows:
        return []
    header = ["rounds won", *(f"{p} vs {r}" for p, r in ratios)]
    return [
        "The installs ran in turn, run by run: in how many rounds the first peer of each "
        "pair was faster than the second.",
        "",
        *_markdown(header, rows),
    ]


def _markdown(header: list[str], rows: list[list[str]]) -> list[str]:
    """A markdown table, padded so that it reads in a terminal too."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    return [line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, rows)]


def write_json(path: Any, meta: dict[str, Any], results: Results) -> None:
    data = {
        "meta": meta,
        "metrics": {
            m.key: {
                "group": m.group,
                "label": m.label,
                "unit": m.unit,
                "higher_is_better": m.higher_is_better,
            }
            for m in METRICS
        },
        "results": results.as_json(),
    }
    path.write_text(json.dumps(data, indent=1) + "\n")
