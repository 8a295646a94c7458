"""How much faster a tox matrix rebuilds through idx than straight from the upstream.

A small project (sdist + universal wheel) whose tox.ini has 3 envs, each installing a
dozen real projects (pytest, requests, pydantic, rich, ... 26 wheels with their
dependencies). The upstream is a static PEP 503/691 tree of the real wheels of
``requirements.txt`` (``upstream.download_wheels``: downloaded once from the package
registry) served by ``static_server.py`` with added latency, standing in for PyPI.

1. ``idx test`` once, through a fresh idx-server mirroring that upstream: fills the cache.
2. Then, alternating, for ``--rounds`` rounds: the same tox run (``--installpkg wheel
   --recreate``, every env rebuilt) with ``PIP_INDEX_URL`` at the upstream ("direct") and
   at idx ("idx, warm"); pip's own cache is off for both, so every file is fetched.
3. One more ``idx test`` (warm), for the command's own overhead.

Reported: the median seconds of each, the ratio direct / idx-warm, and how many files the
upstream served during the warm idx runs (0 is the point: nothing comes from upstream).

    python benchmarks/tox_matrix.py                  # 2 rounds, 30 ms upstream latency
    python benchmarks/tox_matrix.py --rounds 1 --latency 100ms --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import static_server
import upstream
from idx_client.toxrun import installer_env
from idx_server.testing import ROOT_PASSWORD, start_server
from idx_server.testing.dists import Project, make_sdist, make_wheel
from packaging.utils import canonicalize_name

PROJECT = "bench-tox-matrix"
#: The dozen projects each env installs (all in requirements.txt, with their dependencies).
DEPS = [
    "pytest", "requests", "attrs", "click", "jinja2", "pyyaml", "python-dateutil",
    "packaging", "rich", "typing-extensions", "pydantic", "tqdm",
]  # fmt: skip
ENVS = ("unit", "integration", "cli")
TOX_INI = """\
[tox]
env_list = {envs}

[testenv]
deps =
{deps}
commands =
    pytest -q tests
    python -c "import bench_tox_matrix, requests, pydantic, rich, yaml, jinja2, dateutil, click, tqdm"
"""
TEST = """\
import bench_tox_matrix


def test_value():
    assert bench_tox_matrix.VALUE == 42
"""
PYPROJECT = f"""\
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "{PROJECT}"
version = "1.0"
description = "the tox matrix benchmark's project"
"""
RUN_TIMEOUT = 900


def log(message: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {message}", file=sys.stderr, flush=True)


# -- the upstream ----------------------------------------------------------------------------------
def build_tree(cache: Path) -> Path:
    """A PEP 503/691 tree of the downloaded wheels of requirements.txt in ``cache``."""
    wheels = cache / "downloads" / "wheels"
    upstream.download_wheels(wheels, upstream.REQUIREMENTS, log)
    tree = cache / "tox-matrix" / "upstream"
    shutil.rmtree(tree, ignore_errors=True)
    files_dir, simple_dir = tree / "files", tree / "simple"
    files_dir.mkdir(parents=True)
    by_project: dict[str, list[upstream.FileEntry]] = {}
    for path in sorted(wheels.glob("*.whl")):
        name = str(canonicalize_name(upstream.project_of(path.name)))
        by_project.setdefault(name, []).append(upstream.add_file(files_dir, path))
    for name, entries in by_project.items():
        (simple_dir / name).mkdir(parents=True)
        (simple_dir / name / "index.html").write_text(upstream.project_html(name, entries))
        (simple_dir / name / "index.json").write_text(upstream.project_json(name, entries))
    upstream.write_root_listing(simple_dir, sorted(by_project))
    return tree


class CountingHandler(static_server.SimpleIndexHandler):
    """The static server's handler, counting the requests per path prefix."""

    counts: Counter[str]
    lock = threading.Lock()

    def send_head(self):  # type: ignore[no-untyped-def]
        with self.lock:
            path = self.path.split("?")[0]
            kind = (
                "metadata"
                if path.endswith(".metadata")
                else "files"
                if path.startswith("/files/")
                else "pages"
            )
            self.counts[kind] += 1
        return super().send_head()


def serve(tree: Path, latency: float) -> tuple[static_server.Server, Counter[str]]:
    counts: Counter[str] = Counter()
    handler = type("Handler", (CountingHandler,), {"counts": counts})
    server = static_server.Server(("127.0.0.1", 0), partial(handler, directory=str(tree), latency=latency))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, counts


# -- the project -----------------------------------------------------------------------------------
def write_release(directory: Path) -> tuple[Path, Path, Path]:
    """(sdist, wheel, the unpacked project with its tox.ini) of the benchmark's project."""
    project = Project(PROJECT, "1.0")
    deps = "\n".join(f"    {dep}" for dep in DEPS)
    extra = {
        "pyproject.toml": PYPROJECT,
        "tox.ini": TOX_INI.format(envs=", ".join(ENVS), deps=deps),
        "tests/test_value.py": TEST,
    }
    dist = directory / "dist"
    dist.mkdir(parents=True)
    sdist = make_sdist(project, extra=extra).write(dist)
    wheel = make_wheel(project).write(dist)
    source = directory / "source"
    for path, text in {**extra, "bench_tox_matrix/__init__.py": project.code}.items():
        (source / path).parent.mkdir(parents=True, exist_ok=True)
        (source / path).write_text(text)
    return sdist, wheel, source


# -- running ---------------------------------------------------------------------------------------
def base_env(home: Path) -> dict[str, str]:
    env = upstream.measurement_env()
    env.update(
        HOME=str(home),
        XDG_CACHE_HOME=str(home / ".cache"),
        XDG_CONFIG_HOME=str(home / ".config"),
        IDX_CLIENTDIR=str(home / "idx"),
        # Every file fetched on every run: pip's own cache would hide the index.
        PIP_NO_CACHE_DIR="1",
        VIRTUALENV_NO_PERIODIC_UPDATE="1",
        PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
    )
    return env


def timed(argv: list[str], env: dict[str, str], cwd: Path, what: str) -> float:
    started = time.monotonic()
    process = subprocess.run(
        argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=RUN_TIMEOUT, check=False
    )
    seconds = time.monotonic() - started
    if process.returncode != 0:
        raise SystemExit(
            f"{what} failed ({process.returncode}):\n{process.stdout[-4000:]}\n{process.stderr[-2000:]}"
        )
    return seconds


def idx_command(env: dict[str, str], cwd: Path) -> Callable[..., float]:
    script = Path(sys.executable).with_name("idx")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "idx_client"]
    return lambda *args: timed([*command, *args], env, cwd, "idx " + " ".join(args))


def tox_run(wheel: Path, source: Path, index_url: str, env: dict[str, str], work: Path) -> float:
    """The matrix, every env recreated, installs from ``index_url``: what idx test runs."""
    argv = [
        sys.executable, "-m", "tox", "--installpkg", str(wheel), "--recreate",
        "--workdir", str(work), "-c", str(source / "tox.ini"),
    ]  # fmt: skip
    return timed(argv, installer_env(env, index_url, None), source, f"tox with {index_url}")


def measure(cache: Path, latency: float, rounds: int) -> dict[str, Any]:
    tree = build_tree(cache)
    upstream_server, counts = serve(tree, latency)
    upstream_url = f"http://127.0.0.1:{upstream_server.server_port}/simple/"
    with tempfile.TemporaryDirectory(prefix="idx-tox-matrix-") as tmp_name:
        tmp = Path(tmp_name)
        env = base_env(tmp / "home")
        sdist, wheel, source = write_release(tmp / "project")
        server = start_server(tmp / "srv", "--mirror-url", upstream_url)
        try:
            idx = idx_command(env, tmp)
            idx("use", server.url)
            idx("login", "root", "--password", ROOT_PASSWORD)
            idx("user", "-c", "bench", "password=bench")
            idx("login", "bench", "--password", "bench")
            idx("index", "-c", "dev", "bases=root/pypi")
            idx("use", "bench/dev")
            idx("upload", str(sdist), str(wheel))
            index_url = f"{server.url.rstrip('/')}/bench/dev/+simple/"
            log("idx test, cold: the first run fills idx's cache")
            cold = idx("test", PROJECT, "--select", r"\.whl$")
            direct, warm = [], []
            files_from_upstream_when_warm = 0
            for number in range(rounds):
                log(f"round {number + 1}/{rounds}: tox straight from the upstream, then through idx")
                before = dict(counts)
                direct.append(tox_run(wheel, source, upstream_url, env, tmp / "tox-direct"))
                per_run = {
                    kind: counts[kind] - before.get(kind, 0) for kind in ("pages", "metadata", "files")
                }
                before = counts["files"] + counts["metadata"]
                warm.append(tox_run(wheel, source, index_url, env, tmp / "tox-idx"))
                files_from_upstream_when_warm += counts["files"] + counts["metadata"] - before
            before = counts["files"] + counts["metadata"]
            log("idx test, warm")
            warm_idx_test = idx("test", PROJECT, "--select", r"\.whl$")
            files_from_upstream_when_warm += counts["files"] + counts["metadata"] - before
        finally:
            server.stop()
            upstream_server.shutdown()
    return {
        "envs": len(ENVS),
        "deps": DEPS,
        "upstream_requests_per_direct_run": per_run,
        "upstream_latency_ms": latency * 1000,
        "rounds": rounds,
        "idx_test_cold_s": cold,
        "idx_test_warm_s": warm_idx_test,
        "tox_direct_s": direct,
        "tox_idx_warm_s": warm,
        "ratio_direct_over_idx_warm": statistics.median(direct) / statistics.median(warm),
        "files_from_upstream_when_warm": files_from_upstream_when_warm,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache", type=Path, default=upstream.DEFAULT_CACHE, help="(default: %(default)s)")
    parser.add_argument("--latency", default="30ms", help="added to every upstream request (default: 30ms)")
    parser.add_argument("--rounds", type=int, default=2, help="timed rounds of direct + idx (default: 2)")
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    args = parser.parse_args(argv)
    result = measure(args.cache, static_server.parse_duration(args.latency), max(1, args.rounds))
    direct, warm = statistics.median(result["tox_direct_s"]), statistics.median(result["tox_idx_warm_s"])
    per_run = result["upstream_requests_per_direct_run"]
    print(
        f"tox matrix: {result['envs']} envs x {len(DEPS)} deps; a direct run asks the upstream for "
        f"{per_run['pages']} pages, {per_run['metadata']} metadata files and {per_run['files']} wheels; "
        f"upstream latency {args.latency}"
    )
    print(f"  idx test, cold cache (fills it)      {result['idx_test_cold_s']:7.1f} s")
    print(f"  tox straight from the upstream       {direct:7.1f} s  (median of {result['rounds']})")
    print(f"  tox through idx, warm cache          {warm:7.1f} s  (median of {result['rounds']})")
    print(f"  idx test, warm cache                 {result['idx_test_warm_s']:7.1f} s")
    print(f"  ratio direct / idx warm              {result['ratio_direct_over_idx_warm']:7.2f}x")
    print(f"  files from upstream while warm       {result['files_from_upstream_when_warm']:7d}")
    print("(pip's own cache off in every run, so each run fetches every file from its index)")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
