"""A bounded soak test of idx-server on loopback: many installers and uploaders at once.

    python benchmarks/soak.py                        # 5 minutes, 16 installers, 4 uploaders
    python benchmarks/soak.py --duration 60 --installers 4 --uploaders 1

It starts the benchmark's local upstream (with added latency) and an idx-server whose
root/pypi mirrors it, makes a user index with root/pypi as its base, and for
``--duration`` seconds runs installer workers (pip download, pip install --target and
uv pip install of a rotating slice of benchmarks/requirements.txt, through the user
index, every client's cache off) and uploader workers (twine uploads of new wheels to
that index, the same file again now and then, pushes, yanks). Then it reports client
errors, the server's 5xx answers and "database is locked" lines, request latency from
the server's request log, requests per minute, and the server's memory over time with
a flatness verdict; it runs ``idx-server check --checksums`` on what is left. The
report is printed and written to ``OUTPUT/soak.md`` and ``soak.json``, with the logs
beside them. Exit status 0 when every check passed. See docs/soak.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import clients
import peers
import soak_report
import upstream
from procs import Service, static_upstream
from run import machine
from soak_report import Sample, jsonable, latency_summary, parse_server_log
from soak_workers import Recorder, Soak, canary, checker, installer, raw_uploader, sampler, uploader

#: The warm page the canary asks for (in the requirement set, so installers warm it too).
CANARY_PROJECT = "six"
INDEX, PUSH_TARGET = "soak", "soak-pushed"


def log(message: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {message}", file=sys.stderr, flush=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add = parser.add_argument
    add("--duration", type=float, default=300, help="seconds during which runs start (default: %(default)s)")
    add("--installers", type=int, default=16, help="concurrent pip/uv workers (default: %(default)s)")
    add("--uploaders", type=int, default=4, help="concurrent twine workers (default: %(default)s)")
    add("--subset", type=int, default=10, help="requirements per install (default: %(default)s)")
    add("--latency", default="30ms", help="added per upstream request (default: %(default)s)")
    add(
        "--warmup",
        type=float,
        default=60,
        help="seconds left out of the memory verdict at least; the first third of the run "
        "always is (default: %(default)s)",
    )
    add("--max-growth", type=float, default=5.0, help="allowed RSS growth in %% (default: %(default)s)")
    add(
        "--sample-every",
        type=float,
        default=2.0,
        help="seconds between memory samples (default: %(default)s)",
    )
    add(
        "--keep-versions",
        type=int,
        default=0,
        help="versions each uploader keeps, deleting the oldest past it: the data stops "
        "growing (default: %(default)s, keep all)",
    )
    add("--client-timeout", type=float, default=300, help="seconds per client run (default: %(default)s)")
    add(
        "--raw-uploaders",
        type=int,
        default=0,
        help="workers uploading over plain HTTP (default: %(default)s)",
    )
    add(
        "--check-every", type=float, default=60, help="seconds between concurrent idx-server checks (0: none)"
    )
    add(
        "--server-option",
        action="append",
        default=[],
        help="passed to idx-server, e.g. --server-option=--threads=8",
    )
    add(
        "--server-env",
        action="append",
        default=[],
        help="NAME=VALUE for idx-server, e.g. IDX_DISABLE_PLUGINS=idx-web",
    )
    add("--cache", type=Path, default=upstream.DEFAULT_CACHE, help="default: %(default)s")
    add("--output", type=Path, help="report and logs (default: <cache>/soak/<timestamp>)")
    add("--keep-data", action="store_true", help="keep the server directory (default: only the logs)")
    args = parser.parse_args(argv)
    if any("=" not in item for item in args.server_env):
        parser.error("--server-env takes NAME=VALUE")
    if (
        args.duration <= 0
        or min(args.installers, args.uploaders, args.raw_uploaders, args.keep_versions) < 0
        or args.subset < 1
    ):
        parser.error(
            "--duration and --subset must be positive, worker counts and --keep-versions not negative"
        )
    return args


def start_servers(
    args: argparse.Namespace, tree: upstream.Upstream, run_dir: Path
) -> tuple[Service, peers.Idx, float]:
    """The upstream and idx-server, with the user index; the seconds idx took to start."""
    upstream_service, upstream_url = static_upstream(tree.root, args.latency, run_dir)
    upstream_service.start(f"{upstream_url}{CANARY_PROJECT}/")
    ctx = peers.Context(cache=args.cache, run_dir=run_dir, tree=tree.root, upstream_url=upstream_url)
    idx = peers.Idx(ctx)
    idx.extra_args = [*idx.extra_args, *args.server_option]
    idx.extra_env = dict(item.split("=", 1) for item in args.server_env)
    try:
        seconds = idx.start(fresh=True)
        idx.create_stage(INDEX, ["root/pypi"])
        idx.create_stage(PUSH_TARGET, [])
    except BaseException:
        idx.stop()
        upstream_service.stop()
        raise
    return upstream_service, idx, seconds


def run_load(args: argparse.Namespace, soak: Soak, idx: peers.Idx) -> list[Sample]:
    """The workers until the deadline (and their last runs), with the sampler and canary."""
    service = idx.services[0]
    samples: list[Sample] = []
    stop = threading.Event()
    helpers = [
        threading.Thread(
            target=sampler,
            args=(service, soak.recorder, samples, stop, args.sample_every, f"{idx.base_url}/+metrics"),
        ),
        threading.Thread(target=canary, args=(soak, CANARY_PROJECT, stop)),
    ]
    workers = [
        threading.Thread(target=installer, args=(soak, n), daemon=True) for n in range(args.installers)
    ]
    workers += [threading.Thread(target=uploader, args=(soak, n), daemon=True) for n in range(args.uploaders)]
    workers += [
        threading.Thread(target=raw_uploader, args=(soak, n), daemon=True) for n in range(args.raw_uploaders)
    ]
    if args.check_every > 0:
        cmd = [idx.server_bin(), "check", "--serverdir", str(idx.data_dir()), "--json"]
        workers.append(
            threading.Thread(
                target=checker, args=(soak, cmd, peers.service_env(), args.check_every), daemon=True
            )
        )
    for thread in [*helpers, *workers]:
        thread.start()
    # Bounded: a run started just before the deadline ends within its timeout.
    give_up = soak.deadline + args.client_timeout + 120
    for thread in workers:
        thread.join(max(0.0, give_up - time.monotonic()))
    stuck = [t.name for t in workers if t.is_alive()]
    if stuck:
        log(f"workers still running at the time limit, left behind: {', '.join(stuck)}")
    stop.set()
    for thread in helpers:
        thread.join(120)
    return samples


def store_check(idx: peers.Idx) -> dict[str, Any]:
    cmd = [
        idx.server_bin(),
        "check",
        "--serverdir",
        str(idx.data_dir()),
        "--checksums",
        "--grace",
        "0",
        "--json",
    ]
    result = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=600)
    try:
        report = json.loads(result.stdout)
    except json.JSONDecodeError:
        return {"ok": False, "summary": f"exit {result.returncode}: {result.stderr[-300:]}", "problems": []}
    problems = report.get("problems", [])
    counts = report.get("counts", {})
    summary = f"{len(problems)} problems ({counts.get('files', 0)} files, {counts.get('blobs', 0)} blobs)"
    return {"ok": bool(report.get("ok")), "summary": summary, "problems": problems[:20], "counts": counts}


def client_summary(recorder: Recorder) -> dict[str, dict[str, Any]]:
    kinds: dict[str, list[Any]] = {}
    for run in recorder.runs:
        kinds.setdefault(run.kind, []).append(run)
    table = {}
    for kind, runs in kinds.items():
        seconds = latency_summary(r.seconds for r in runs)
        table[kind] = {"runs": len(runs), "failed": sum(1 for r in runs if not r.ok), **seconds}
    return table


def collect(
    args: argparse.Namespace, recorder: Recorder, samples: list[Sample], server_log: Path, epoch: float
) -> dict[str, Any]:
    with server_log.open(errors="replace") as lines:
        parsed = parse_server_log(lines, epoch)
    requests = [r for r in parsed.requests if r.at >= 0]  # not the set-up before the clock started
    errors_5xx = soak_report.server_errors(requests)
    canary_after = [s for at, s, status in recorder.canary if at >= args.warmup and status == 200]
    canary_failed = [c for c in recorder.canary if c[2] != 200]
    failed = [r for r in recorder.runs if not r.ok]
    end = samples[-1].at if samples else 0.0
    cpu = samples[-1].cpu_s - samples[0].cpu_s if len(samples) > 1 else 0.0
    return {
        "clients": client_summary(recorder),
        "client_errors": len(failed) + len(canary_failed),
        "failures": [jsonable(r) for r in failed[:100]],
        "canary": {
            "project": CANARY_PROJECT,
            "requests": len(recorder.canary),
            "failed": len(canary_failed),
            "after_warmup_ms": {
                k: v * 1000 if k != "count" else v for k, v in latency_summary(canary_after).items()
            },
        },
        "server": {
            "requests": len(requests),
            "statuses": soak_report.status_counts(requests),
            "5xx": len(errors_5xx),
            "5xx_examples": [f"{r.method} {r.path} {r.status}" for r in errors_5xx[:20]],
            "locked_count": parsed.locked_count,
            "locked_examples": parsed.locked,
            "error_count": parsed.error_count,
            "error_examples": parsed.errors,
            "tracebacks": parsed.tracebacks,
            "warnings": dict(parsed.warnings),
            "warning_examples": parsed.warning_examples,
            "latency_ms": soak_report.latency_table(requests),
            "latency_after_warmup_ms": latency_summary(r.ms for r in requests if r.at >= args.warmup),
            "cpu_cores_used": cpu / (samples[-1].at - samples[0].at) if len(samples) > 1 else None,
            "alive_at_end": None,  # filled in by main
        },
        "per_minute": soak_report.per_minute(requests, samples),
        "memory": soak_report.flatness(samples, args.warmup, args.max_growth),
        "memory_anon": soak_report.flatness(samples, args.warmup, args.max_growth, "rss_anon_mib"),
        "memory_malloc_used": soak_report.flatness(samples, args.warmup, args.max_growth, "malloc_used_mib"),
        "memory_malloc_free": soak_report.flatness(samples, args.warmup, args.max_growth, "malloc_free_mib"),
        "events": soak_report.backlog(samples, args.warmup),
        "samples": samples,
        "load_average_mean": statistics.fmean(s.load1 for s in samples) if samples else None,
        "sampled_seconds": end,
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    for name in ("uv", "twine"):
        clients.tool(name)
    started_at = time.strftime("%Y-%m-%d %H:%M:%S")
    load_start = "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
    tree = upstream.build(args.cache, log=log)
    out = args.output or args.cache / "soak" / time.strftime("%Y%m%d-%H%M%S")
    run_dir = out / "run"
    run_dir.mkdir(parents=True, exist_ok=True)

    log("starting the upstream and idx-server")
    upstream_service, idx, start_seconds = start_servers(args, tree, run_dir)
    service = idx.services[0]
    epoch, started = time.time(), time.monotonic()
    recorder = Recorder(out, started)
    soak = Soak(
        base_url=idx.base_url, index=f"{peers.USER}/{INDEX}", push_target=f"{peers.USER}/{PUSH_TARGET}",
        user=peers.USER, password=peers.PASSWORD, requirements=tuple(upstream.pinned_requirements()),
        subset=args.subset, client_timeout=args.client_timeout, deadline=started + args.duration,
        recorder=recorder, keep_versions=args.keep_versions,
    )  # fmt: skip
    log(f"soak: {args.installers} installers, {args.uploaders} uploaders, {args.duration:.0f} s")
    try:
        samples = run_load(args, soak, idx)
        alive = service.running
    finally:
        idx.stop()
        upstream_service.stop()
    log(f"load done after {time.monotonic() - started:.0f} s; checking the store")
    result = collect(args, recorder, samples, idx.dir / "server.log", epoch)
    result["server"]["alive_at_end"] = alive
    result["store_check"] = store_check(idx)
    if not args.keep_data:
        shutil.rmtree(idx.data_dir(), ignore_errors=True)
    result["meta"] = {
        "started": started_at,
        "wall_seconds": round(time.monotonic() - started, 1),
        "command": shlex.join(
            ["python", "benchmarks/soak.py", *(argv if argv is not None else sys.argv[1:])]
        ),
        "settings": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "machine": machine(),
        "load_start": load_start,
        "load_end": "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg()),
        "idx": idx.version(),
        "commit": git_commit(),
        "idx_start_seconds": round(start_seconds, 2),
        "clients": clients.versions(with_wrk=False),
        "upstream_requests": _count_lines(run_dir / "upstream-access.log"),
        "output": str(out),
    }
    data = jsonable(result)
    checks = soak_report.verdict(data)
    data["verdict"] = jsonable(checks)
    data["passed"] = all(c.passed for c in checks)
    (out / "soak.json").write_text(json.dumps(data, indent=1))
    text = soak_report.markdown(data)
    (out / "soak.md").write_text(text)
    print(text)
    log(f"report: {out / 'soak.md'}, {out / 'soak.json'}; logs: {run_dir}")
    return 0 if data["passed"] else 1


def git_commit() -> str:
    """The checkout's commit, and which tracked files differ from it (the code measured)."""
    repo = Path(__file__).resolve().parent.parent

    def git(*args: str) -> str:
        try:
            result = subprocess.run(
                ["git", "-C", str(repo), *args], check=False, capture_output=True, text=True, timeout=30
            )
        except (OSError, subprocess.TimeoutExpired):
            return ""
        return result.stdout.strip() if result.returncode == 0 else ""

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    changed = git("diff", "--name-only", "HEAD").split()
    return commit + (f" plus changes to {', '.join(changed)}" if changed else "")


def _count_lines(path: Path) -> int:
    try:
        with path.open("rb") as handle:
            return sum(1 for _ in handle)
    except OSError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
