"""The clients whose time is measured: pip, uv, twine and wrk, as subprocesses.

pip and uv run with no configuration of this machine (``upstream.measurement_env``)
and without their own caches, so every request really goes to the index under test.
"""

from __future__ import annotations

import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from upstream import REQUIREMENTS, measurement_env

BIN = Path(sys.executable).parent
#: Where installers write: memory when the machine has it, so that a slow disk (this
#: kind of VM spends seconds of system time creating uv's files) does not drown the
#: index's share of the time.
SCRATCH = Path("/dev/shm") if os.access("/dev/shm", os.W_OK) else None


def client_env() -> dict[str, str]:
    env = measurement_env()
    if SCRATCH is not None:
        env["TMPDIR"] = str(SCRATCH)
    return env


def tool(name: str) -> str:
    found = shutil.which(name, path=str(BIN)) or shutil.which(name)
    if found is None:
        raise SystemExit(f"{name} is not installed (see docs/benchmarks.md)")
    return found


@dataclass(frozen=True)
class Timed:
    """A client run: its wall time, why it failed (``None`` when it worked), and the
    CPU (user + system) the client and its children used."""

    seconds: float
    error: str | None = None
    cpu_seconds: float = 0.0


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _run(cmd: list[str], env: dict[str, str], timeout: float, cwd: Path | None = None) -> Timed:
    """``cmd`` to its end. Its CPU is the growth of this process's reaped children's
    CPU over the call: the harness reaps no other child meanwhile (its servers are
    reaped when stopped, between clients)."""
    cpu_before = _children_cpu()
    started = time.perf_counter()
    try:
        result = subprocess.run(
            cmd, check=False, env=env, capture_output=True, text=True, timeout=timeout, cwd=cwd
        )
    except subprocess.TimeoutExpired:
        return Timed(time.perf_counter() - started, f"{Path(cmd[0]).name} timed out after {timeout:.0f} s")
    seconds = time.perf_counter() - started
    cpu = _children_cpu() - cpu_before
    if result.returncode != 0:
        tail = (result.stderr or result.stdout).strip().splitlines()[-3:]
        error = f"{Path(cmd[0]).name} exit {result.returncode}: " + " | ".join(tail)[-300:]
        return Timed(seconds, error, cpu)
    return Timed(seconds, cpu_seconds=cpu)


def pip_download(
    index_url: str,
    expected_files: int,
    timeout: float = 300,
    retries: int | None = None,
    python: str = sys.executable,
) -> Timed:
    """``pip download`` of the requirement set into an empty directory, with the pip of
    ``python`` (the run's: the latest release, in a venv of its own)."""
    with tempfile.TemporaryDirectory(prefix="bench-pip-", dir=SCRATCH) as tmp:
        cmd = [
            python, "-m", "pip", "download", "--no-cache-dir", "--only-binary=:all:",
            "--progress-bar", "off", "-q", "--index-url", index_url, "-d", tmp, "-r", str(REQUIREMENTS),
        ]  # fmt: skip
        if retries is not None:
            cmd += ["--retries", str(retries), "--timeout", "10"]
        timed = _run(cmd, client_env(), timeout)
        got = len(os.listdir(tmp))
        if timed.error is None and got != expected_files:
            return Timed(timed.seconds, f"pip downloaded {got} files, expected {expected_files}")
        return timed


def uv_install(index_url: str, timeout: float = 300, retries: int | None = None) -> Timed:
    """``uv pip install`` of the requirement set into a new venv, uv's cache off."""
    uv = tool("uv")
    env = client_env()
    if retries is not None:
        env["UV_HTTP_RETRIES"] = str(retries)
    with tempfile.TemporaryDirectory(prefix="bench-uv-", dir=SCRATCH) as tmp:
        venv = Path(tmp) / "venv"
        made = _run([uv, "venv", "--no-config", "-q", "--python", sys.executable, str(venv)], env, 60)
        if made.error:
            return made
        cmd = [
            uv, "pip", "install", "--no-config", "--no-cache", "-q", "--link-mode", "copy",
            "--only-binary", ":all:", "--python", str(venv / "bin" / "python"),
            "--index-url", index_url, "-r", str(REQUIREMENTS),
        ]  # fmt: skip
        return _run(cmd, env, timeout)


def twine_env() -> dict[str, str]:
    """twine with no settings of this machine and no keyring to ask."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TWINE_")}
    env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.null.Keyring"
    return env


def twine_upload(url: str, user: str, password: str, files: list[Path], timeout: float = 900) -> Timed:
    env = twine_env()
    cmd = [
        tool("twine"), "upload", "--non-interactive", "--disable-progress-bar",
        "--repository-url", url, "-u", user, "-p", password, *map(str, files),
    ]  # fmt: skip
    return _run(cmd, env, timeout)


@dataclass(frozen=True)
class WrkResult:
    requests_per_s: float
    p99_ms: float
    mib_per_s: float
    requests: int
    bad_status: int
    socket_errors: str


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}
_SIZES = {"B": 1 / (1 << 20), "KB": 1 / 1024, "MB": 1.0, "GB": 1024.0, "TB": 1024.0**2}


def wrk(url: str, headers: dict[str, str], connections: int, seconds: int) -> WrkResult:
    """One wrk run; wrk's sizes are binary (its ``MB`` is a MiB)."""
    threads = min(2, connections)
    cmd = [tool("wrk"), f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "30s"]
    for name, value in headers.items():
        cmd += ["-H", f"{name}: {value}"]
    result = subprocess.run([*cmd, url], check=False, capture_output=True, text=True, timeout=seconds + 60)
    if result.returncode != 0 or "Requests/sec" not in result.stdout:
        raise RuntimeError(f"wrk failed: {(result.stderr or result.stdout)[-500:]}")
    return parse_wrk(result.stdout)


def parse_wrk(out: str) -> WrkResult:
    rps = float(_find(r"Requests/sec:\s+([\d.]+)", out))
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s|m)\b", out)
    transfer = re.search(r"Transfer/sec:\s+([\d.]+)(B|KB|MB|GB|TB)", out)
    requests = int(_find(r"(\d+) requests in", out))
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors:([^\n]+)", out)
    return WrkResult(
        requests_per_s=rps,
        p99_ms=float(p99.group(1)) * _UNITS[p99.group(2)] if p99 else float("nan"),
        mib_per_s=float(transfer.group(1)) * _SIZES[transfer.group(2)] if transfer else float("nan"),
        requests=requests,
        bad_status=int(bad.group(1)) if bad else 0,
        socket_errors=errors.group(1).strip() if errors else "",
    )


def _find(pattern: str, text: str) -> str:
    match = re.search(pattern, text)
    if match is None:
        raise RuntimeError(f"wrk output lacks {pattern!r}:\n{text[-500:]}")
    return match.group(1)


def versions(with_wrk: bool = True, pip_python: str = sys.executable) -> dict[str, str]:
    """Versions of the clients, for the report (wrk's only when ``with_wrk``; pip's of
    ``pip_python``)."""

    def first_line(cmd: list[str]) -> str:
        try:
            result = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"unavailable ({exc})"
        return (result.stdout or result.stderr).strip().splitlines()[0]

    found = {
        "python": "CPython " + sys.version.split()[0],
        "pip": first_line([pip_python, "-m", "pip", "--version"]).split(" from ")[0],
        "uv": first_line([tool("uv"), "--version"]).split(" (")[0],
        "twine": " ".join(first_line([tool("twine"), "--version"]).split()[:3:2]),
    }
    if with_wrk:
        found["wrk"] = " ".join(first_line([tool("wrk"), "-v"]).split()[:2])
    return found
