"""Benchmark idx against its peers, one after the other, on the same data, on loopback
(the installs every peer in turn, run by run; the rest one peer after the other).

    python benchmarks/run.py              # the full run (about half an hour)
    python benchmarks/run.py --quick      # fewer, shorter runs (a few minutes)
    python benchmarks/run.py --only idx,devpi --only pages,files

``--only`` takes peer names (idx, idx+nginx, devpi, proxpi, direct, static, nginx)
and measurement groups (install, pages, files, uploads, big, root, lifecycle, down,
tox), comma-separated or repeated. The table is printed and written, with the JSON of
every sample, to ``<cache>/results/<timestamp>/``. See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import clients
import peers
import report
import scenarios
import static_server
import upstream
from procs import Service, ServiceFailed, static_upstream


def log(message: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {message}", file=sys.stderr, flush=True)


def parse_only(values: list[str]) -> tuple[list[str], list[str]]:
    names = [part.strip() for value in values for part in value.split(",") if part.strip()]
    unknown = [n for n in names if n not in peers.PEER_ORDER and n not in report.GROUPS]
    if unknown:
        raise SystemExit(
            f"--only: unknown {', '.join(unknown)}; peers: {', '.join(peers.PEER_ORDER)}; "
            f"groups: {', '.join(report.GROUPS)}"
        )
    chosen_peers = [p for p in peers.PEER_ORDER if p in names] or list(peers.PEER_ORDER)
    groups = [g for g in report.GROUPS if g in names] or list(report.GROUPS)
    return chosen_peers, groups


def prepare_pip(cache: Path, reinstall: bool) -> str:
    """The Python of the pip whose installs are measured: the latest pip, in a venv of its
    own like the peers, not whatever the dev venv's Python bundled (pip 23.2 with CPython
    3.11)."""
    log("preparing pip")
    pip = peers.VenvTool(cache, "pip", ["pip"])
    try:
        pip.ensure(reinstall)
    except (ServiceFailed, OSError, subprocess.SubprocessError) as exc:
        raise SystemExit(f"the pip to measure could not be installed into {pip.path}: {exc}") from None
    return str(pip.bin("python"))


def machine() -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem_kib = int(Path("/proc/meminfo").read_text().split()[1])
    except (OSError, ValueError, IndexError):
        mem_kib = 0
    os_name = platform.platform()
    with_release = Path("/etc/os-release")
    if with_release.exists():
        fields = dict(line.split("=", 1) for line in with_release.read_text().splitlines() if "=" in line)
        os_name = fields.get("PRETTY_NAME", os_name).strip('"') + f" (kernel {platform.release()})"
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gib": round(mem_kib / 1024**2, 1), "os": os_name}


def make_peers(names: list[str], ctx: peers.Context, upstream_service: Service) -> list[peers.Peer]:
    made: list[peers.Peer] = []
    for name in names:
        if name == "idx":
            made.append(peers.Idx(ctx))
        elif name == "idx+nginx":
            made.append(peers.IdxBehindNginx(ctx))
        elif name == "devpi":
            made.append(peers.Devpi(ctx))
        elif name == "devpi+meta":
            made.append(peers.DevpiWithMetadata(ctx))
        elif name == "proxpi":
            made.append(peers.Proxpi(ctx))
        elif name == "direct":
            made.append(peers.Direct(ctx, upstream_service))
        elif name == "static":
            made.append(peers.Static(ctx))
        elif name == "nginx":
            made.append(peers.Nginx(ctx))
    return made


def markdown(meta: dict[str, Any], table: str) -> str:
    lines = [
        f"Run of {meta['started']} ({meta['duration_s'] / 60:.1f} min), `{meta['command']}`",
        "",
        f"- machine: {meta['machine']['cpu']}, {meta['machine']['cores']} cores, "
        f"{meta['machine']['memory_gib']} GiB, {meta['machine']['os']}",
        f"- load average at start / end: {meta['load_start']} / {meta['load_end']}",
        f"- upstream: {meta['upstream']['files']} files, {meta['upstream']['root_names']:,} names, "
        f"{meta['upstream']['latency']} added per request",
        "- peers: " + "; ".join(f"{name}: {v}" for name, v in meta["peers"].items()),
        "- clients: " + ", ".join(f"{v}" for v in meta["clients"].values()),
        "",
        table,
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer and shorter runs (a few minutes)")
    parser.add_argument("--only", action="append", default=[], help="peers and/or groups, comma-separated")
    parser.add_argument("--latency", default="30ms", help="added per upstream request (default: %(default)s)")
    parser.add_argument("--cache", type=Path, default=upstream.DEFAULT_CACHE, help="default: %(default)s")
    parser.add_argument("--output", type=Path, help="results dir (default: <cache>/results/<timestamp>)")
    parser.add_argument(
        "--reinstall-peers", action="store_true", help="reinstall devpi-server, proxpi and the measured pip"
    )
    parser.add_argument(
        "--keep-data", action="store_true", help="keep the peers' data dirs (default: only their logs)"
    )
    parser.add_argument(
        "--time-limit",
        type=float,
        help="minutes after which no further measurement starts (default: 15 with --quick, else 60)",
    )
    args = parser.parse_args(argv)
    peer_names, groups = parse_only(args.only)
    for name in ("wrk", "uv", "twine"):
        clients.tool(name)  # fail now, not after half an hour
    pip_python = prepare_pip(args.cache, args.reinstall_peers) if "install" in groups else sys.executable
    plan = dataclasses.replace(scenarios.QUICK if args.quick else scenarios.FULL, groups=frozenset(groups))

    started_at = time.strftime("%Y-%m-%d %H:%M:%S")
    started = time.monotonic()
    load_start = "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
    tree = upstream.build(args.cache, log=log)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out = args.output or args.cache / "results" / stamp
    work = args.cache / "work" / stamp
    out.mkdir(parents=True, exist_ok=True)
    work.mkdir(parents=True, exist_ok=True)

    upstream_service, upstream_url = static_upstream(tree.root, args.latency, work)
    ready_url = f"{upstream_url}six/"
    ctx = peers.Context(cache=args.cache, run_dir=work, tree=tree.root, upstream_url=upstream_url)
    chosen = make_peers(peer_names, ctx, upstream_service)
    results = report.Results()
    versions: dict[str, str] = {}
    for peer in chosen:
        try:
            log(f"preparing {peer.name}")
            peer.prepare(reinstall=args.reinstall_peers)
            versions[peer.name] = peer.version()
        except (ServiceFailed, OSError, subprocess.SubprocessError) as exc:
            versions[peer.name] = f"unavailable: {exc}"
    limit = args.time_limit or (15 if args.quick else 60)
    bench = scenarios.Bench(
        plan, results, tree, upstream_service, ready_url, work, log, work / "upstream-access.log",
        deadline=started + limit * 60, time_limit_minutes=limit,
        latency_s=static_server.parse_duration(args.latency), pip_python=pip_python,
    )  # fmt: skip
    upstream_service.start(ready_url)
    try:
        available = [peer for peer in chosen if not versions[peer.name].startswith("unavailable")]
        if "install" in plan.groups:
            log("=== installs: every peer in turn, run by run")
            scenarios.interleaved_installs(available, bench)
        for peer in chosen:
            if versions[peer.name].startswith("unavailable"):
                for metric in report.METRICS:
                    if metric.group in plan.groups:
                        results.fail(peer.name, metric.key, versions[peer.name])
                continue
            log(f"=== {peer.name}: {peer.description}")
            peer_started = time.monotonic()
            scenarios.measure_peer(peer, bench)
            log(f"=== {peer.name} done in {time.monotonic() - peer_started:.0f} s")
            data = peer.data_dir()
            if data is not None and not args.keep_data:
                shutil.rmtree(data, ignore_errors=True)
    finally:
        for peer in chosen:  # (the installs leave peers running, warm, for their turn)
            peer.stop()
        upstream_service.stop()

    labels = {"uploads": str(plan.uploads), "singles": str(plan.singles)}
    table = report.table(results, [p.name for p in chosen], labels)
    meta = {
        "started": started_at,
        "duration_s": round(time.monotonic() - started, 1),
        "command": shlex.join(["python", "benchmarks/run.py", *(argv if argv is not None else sys.argv[1:])]),
        "machine": machine(),
        "load_start": load_start,
        "load_end": "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg()),
        "peers": {p.name: versions[p.name] for p in chosen},
        "peer_setups": {p.name: p.description for p in chosen},
        "clients": clients.versions(pip_python=pip_python),
        "plan": scenarios.describe(plan),
        "upstream": {
            "latency": args.latency,
            "files": sum(len(v) for v in tree.manifest["projects"].values()),
            "root_names": tree.manifest["root_names"],
            "requirements": tree.requirements,
        },
    }
    report.write_json(out / "results.json", meta, results)
    text = markdown(meta, table)
    (out / "results.md").write_text(text)
    print(text)
    log(f"results: {out / 'results.md'} and {out / 'results.json'}; logs: {work}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
