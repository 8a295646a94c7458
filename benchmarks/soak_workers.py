"""The soak test's load: installer and uploader workers, a canary, and a sampler.

Each worker is a thread that runs real clients (pip, uv, twine) as subprocesses, or
single HTTP requests, until the soak's deadline; it starts nothing after it. Every run
is recorded; a failed one has its whole output saved under ``errors/``.
"""

from __future__ import annotations

import contextlib
import functools
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import clients
import fixtures
import probe
from idx_server.testing import upload_body
from idx_server.testing.dists import Project, make_wheel
from procs import Service
from soak_report import Sample


@dataclass(frozen=True)
class ClientRun:
    worker: str
    kind: str
    at: float  # seconds since the soak started, when the run started
    seconds: float
    ok: bool
    detail: str = ""  # why it failed, in a line
    log: str = ""  # the saved output of a failed run, relative to the output dir


class Recorder:
    """Where the workers put their runs (thread-safe), and failed runs' output."""

    def __init__(self, out: Path, started: float) -> None:
        self.out = out
        self.started = started
        self.runs: list[ClientRun] = []
        self.canary: list[tuple[float, float, int]] = []  # (at, seconds, status)
        self._lock = threading.Lock()

    def now(self) -> float:
        return time.monotonic() - self.started

    def add(self, run: ClientRun) -> None:
        with self._lock:
            self.runs.append(run)

    def save_failure(self, worker: str, kind: str, text: str) -> str:
        with self._lock:
            number = sum(1 for r in self.runs if not r.ok) + 1
        name = f"errors/{number:03d}-{worker}-{kind.replace(' ', '-')}.log"
        path = self.out / name
        path.parent.mkdir(parents=True, exist_ok=True)
        # Two failures may race for a number: never overwrite.
        while path.exists():
            path = path.with_name(path.stem + "+.log")
            name = f"errors/{path.name}"
        path.write_text(text)
        return name


@dataclass(frozen=True)
class Soak:
    """What every worker needs to know."""

    base_url: str
    index: str  # user/name of the index installers and uploaders use
    push_target: str
    user: str
    password: str
    requirements: tuple[str, ...]
    subset: int
    client_timeout: float
    deadline: float  # time.monotonic() after which no run starts
    recorder: Recorder
    #: Versions each uploader keeps (the oldest is deleted past it); 0: all. With a bound,
    #: the data stops growing once reached, and so do the pages the server renders.
    keep_versions: int = 0

    @property
    def simple_url(self) -> str:
        return f"{self.base_url}/{self.index}/+simple/"

    def running(self) -> bool:
        return time.monotonic() < self.deadline


def run_client(soak: Soak, worker: str, kind: str, cmd: list[str], env: dict[str, str]) -> ClientRun:
    """Run one client command to its end (or its timeout); record it and return it."""
    rec = soak.recorder
    at = rec.now()
    started = time.perf_counter()
    try:
        result = subprocess.run(
            cmd, check=False, env=env, capture_output=True, text=True, timeout=soak.client_timeout
        )
        code: int | str = result.returncode
        stdout, stderr = result.stdout, result.stderr
    except subprocess.TimeoutExpired as exc:
        code = f"timeout after {soak.client_timeout:.0f} s"
        stdout, stderr = _text(exc.stdout), _text(exc.stderr)
    seconds = time.perf_counter() - started
    if code == 0:
        run = ClientRun(worker, kind, at, seconds, True)
    else:
        tail = (stderr or stdout).strip().splitlines()[-2:]
        text = (
            f"$ {' '.join(cmd)}\nexit: {code}\nseconds: {seconds:.1f}\n\n"
            f"--- stdout\n{stdout}\n--- stderr\n{stderr}"
        )
        log = rec.save_failure(worker, kind, text)
        run = ClientRun(worker, kind, at, seconds, False, f"exit {code}: {' | '.join(tail)[-300:]}", log)
    rec.add(run)
    return run


def _text(data: bytes | str | None) -> str:
    if data is None:
        return ""
    return data if isinstance(data, str) else data.decode(errors="replace")


def record_check(soak: Soak, worker: str, kind: str, at: float, seconds: float, problem: str | None) -> bool:
    """A check made over HTTP (push, yank, listing): ``problem`` is None when it held.
    Returns whether it held."""
    rec = soak.recorder
    if problem is None:
        rec.add(ClientRun(worker, kind, at, seconds, True))
        return True
    log = rec.save_failure(worker, kind, problem)
    rec.add(ClientRun(worker, kind, at, seconds, False, problem.splitlines()[0][:300], log))
    return False


# -- installers --------------------------------------------------------------------------------
INSTALL_KINDS = ("pip download", "uv pip install", "pip install", "uv pip install")


def requirement_window(requirements: tuple[str, ...], worker: int, iteration: int, size: int) -> list[str]:
    """A rotating slice of the pinned set: each worker starts elsewhere, each run moves on."""
    count = len(requirements)
    start = (worker * 7 + iteration * size) % count
    return [requirements[(start + k) % count] for k in range(min(size, count))]


def install_command(kind: str, soak: Soak, requirements: Path, target: Path) -> list[str]:
    index = ["--index-url", soak.simple_url, "-r", str(requirements)]
    if kind == "pip download":
        return [
            sys.executable, "-m", "pip", "download", "--no-cache-dir", "--only-binary=:all:",
            "--progress-bar", "off", "-q", "-d", str(target), *index,
        ]  # fmt: skip
    if kind == "pip install":
        return [
            sys.executable, "-m", "pip", "install", "--no-cache-dir", "--only-binary=:all:",
            "--progress-bar", "off", "-q", "--no-compile", "--target", str(target), *index,
        ]  # fmt: skip
    return [
        clients.tool("uv"), "pip", "install", "--no-config", "--no-cache", "-q", "--link-mode", "copy",
        "--only-binary", ":all:", "--python", sys.executable, "--target", str(target), *index,
    ]  # fmt: skip


def installer(soak: Soak, number: int) -> None:
    worker = f"installer-{number:02d}"
    env = clients.client_env()
    iteration = 0
    while soak.running():
        kind = INSTALL_KINDS[(number + iteration) % len(INSTALL_KINDS)]
        wanted = requirement_window(soak.requirements, number, iteration, soak.subset)
        with tempfile.TemporaryDirectory(prefix="soak-", dir=clients.SCRATCH) as tmp:
            requirements = Path(tmp) / "requirements.txt"
            requirements.write_text("\n".join(wanted) + "\n")
            target = Path(tmp) / "target"
            run = run_client(soak, worker, kind, install_command(kind, soak, requirements, target), env)
            if run.ok and kind == "pip download":
                got = len(os.listdir(target)) if target.exists() else 0
                if got < len(wanted):
                    problem = f"pip download wrote {got} files for {len(wanted)} requirements: {wanted}"
                    record_check(soak, worker, "pip download result", run.at, 0.0, problem)
        iteration += 1


# -- uploaders ---------------------------------------------------------------------------------
def twine_command(soak: Soak, path: Path) -> list[str]:
    return [
        clients.tool("twine"), "upload", "--non-interactive", "--disable-progress-bar",
        "--repository-url", f"{soak.base_url}/{soak.index}/", "-u", soak.user, "-p", soak.password,
        str(path),
    ]  # fmt: skip


def uploader(soak: Soak, number: int) -> None:
    """Fresh wheels of its own project, one twine call each; now and then the same file
    again (idx answers 200: identical), a push to another index, a yank and unyank."""
    worker = f"uploader-{number}"
    project = f"soak-upload-{number}"
    env = clients.twine_env()
    auth = probe.basic_auth(soak.user, soak.password)
    uploaded: list[tuple[str, Path]] = []
    pushed: set[str] = set()
    with tempfile.TemporaryDirectory(prefix="soak-up-", dir=clients.SCRATCH) as tmp:
        n = 0
        while soak.running():
            n += 1
            version = f"1.{n}"
            wheel = fixtures.one_wheel(Path(tmp), project, version)
            run = run_client(soak, worker, "twine upload", twine_command(soak, wheel), env)
            if not run.ok:
                continue
            uploaded.append((version, wheel))
            check_listed(soak, worker, project, wheel.name)
            if n % 4 == 0 and len(uploaded) > 1:
                run_client(
                    soak, worker, "twine re-upload (identical)", twine_command(soak, uploaded[-2][1]), env
                )
            if n % 5 == 0 and push(soak, worker, project, uploaded[-1][0], auth):
                pushed.add(uploaded[-1][0])
            if n % 5 == 2 and len(uploaded) > 1:
                yank_and_unyank(soak, worker, project, uploaded[-2][0], auth)
            if soak.keep_versions and len(uploaded) > soak.keep_versions:
                oldest, _wheel = uploaded.pop(0)
                delete_version(soak, worker, project, oldest, auth, oldest in pushed)
                pushed.discard(oldest)


def raw_uploader(soak: Soak, number: int) -> None:
    """Uploads over plain HTTP from this process, as fast as the server takes them: no
    client start-up between writes, so the database's writer is kept busy."""
    worker = f"raw-uploader-{number}"
    url = f"{soak.base_url}/{soak.index}/"
    auth = probe.basic_auth(soak.user, soak.password)
    token = secrets.token_hex(4)
    n = 0
    while soak.running():
        n += 1
        dist = make_wheel(Project(f"soak-raw-{number}", f"1.{n}", code=f"TOKEN = '{token}-{n}'\n"))
        content_type, body = upload_body(dist)
        headers = {"Content-Type": content_type, "Accept": "text/plain", **auth}
        times = 2 if n % 10 == 0 else 1  # now and then the identical file again
        post = functools.partial(_post, url, headers, body, times, dist.filename)
        record_check(soak, worker, "HTTP upload", *_timed(soak, post))


def _post(url: str, headers: dict[str, str], body: bytes, times: int, filename: str) -> str | None:
    for _ in range(times):
        reply = probe.request("POST", url, headers=headers, body=body, timeout=60)
        if reply.status != 200:
            return f"POST {url} ({filename}): {reply.status}\n{reply.body[:2000]!r}"
    return None


def _timed(soak: Soak, action: Callable[[], str | None]) -> tuple[float, float, str | None]:
    at = soak.recorder.now()
    started = time.perf_counter()
    try:
        problem = action()
    except OSError as exc:
        problem = f"{type(exc).__name__}: {exc}"
    return at, time.perf_counter() - started, problem


def check_listed(soak: Soak, worker: str, project: str, filename: str) -> None:
    """Right after twine's 200 the file must be on the index's page."""
    url = f"{soak.simple_url}{project}/"

    def action() -> str | None:
        reply = probe.get(url, accept=probe.JSON, timeout=60)
        if reply.status != 200:
            return f"GET {url}: {reply.status}\n{reply.body[:2000].decode(errors='replace')}"
        if filename not in probe.file_links(url, reply):
            return f"GET {url}: {filename} is not listed after its upload was answered 200"
        return None

    record_check(soak, worker, "listed after upload", *_timed(soak, action))


def push(soak: Soak, worker: str, project: str, version: str, auth: dict[str, str]) -> bool:
    """Push a release to the push target; True when it was answered 200."""
    url = f"{soak.base_url}/{soak.index}/"
    body = {"name": project, "version": version, "targetindex": soak.push_target}

    def action() -> str | None:
        reply = probe.send_json("POST", url, body, auth, timeout=60)
        return None if reply.status == 200 else f"push {body}: {reply.status}\n{reply.body[:2000]!r}"

    return record_check(soak, worker, "push", *_timed(soak, action))


def yank_and_unyank(soak: Soak, worker: str, project: str, version: str, auth: dict[str, str]) -> None:
    def action() -> str | None:
        for verb in ("+yank", "+unyank"):
            url = f"{soak.base_url}/{soak.index}/{project}/{version}/{verb}"
            reply = probe.request("POST", url, headers={"Accept": "application/json", **auth}, timeout=60)
            if reply.status != 200:
                return f"POST {url}: {reply.status}\n{reply.body[:2000]!r}"
        return None

    record_check(soak, worker, "yank and unyank", *_timed(soak, action))


def delete_version(
    soak: Soak, worker: str, project: str, version: str, auth: dict[str, str], pushed: bool
) -> None:
    """Remove a release from the upload index, and from the push target: there it must
    be found if it was pushed (a push answered 200), and not found otherwise."""

    def action() -> str | None:
        for index, expected in ((soak.index, 200), (soak.push_target, 200 if pushed else 404)):
            url = f"{soak.base_url}/{index}/{project}/{version}"
            reply = probe.request("DELETE", url, headers={"Accept": "application/json", **auth}, timeout=60)
            if reply.status != expected:
                return f"DELETE {url}: {reply.status}, expected {expected}\n{reply.body[:2000]!r}"
        return None

    record_check(soak, worker, "delete oldest version", *_timed(soak, action))


def checker(soak: Soak, cmd: list[str], env: dict[str, str], every: float) -> None:
    """``idx-server check`` from a second process now and then while the load runs: it must
    find nothing wrong, and nobody must see "database is locked" because of it."""
    while time.monotonic() + every < soak.deadline:
        time.sleep(every)
        run_client(soak, "checker", "idx-server check (concurrent)", cmd, env)


# -- the canary and the sampler ----------------------------------------------------------------
def canary(soak: Soak, project: str, stop: threading.Event, every: float = 1.0) -> None:
    """A warm page over a new connection every second: latency as a client sees it, waiting
    for a server thread included (the request log starts its clock later)."""
    url = f"{soak.simple_url}{project}/"
    while not stop.wait(every):
        at = soak.recorder.now()
        started = time.perf_counter()
        try:
            reply = probe.get(url, accept=probe.PIP_ACCEPT, timeout=60)
        except OSError as exc:
            soak.recorder.canary.append((at, time.perf_counter() - started, 0))
            soak.recorder.save_failure("canary", "GET", f"GET {url}: {type(exc).__name__}: {exc}")
            continue
        soak.recorder.canary.append((at, reply.seconds, reply.status))
        if reply.status != 200:
            soak.recorder.save_failure("canary", "GET", f"GET {url}: {reply.status}\n{reply.body[:2000]!r}")


#: Gauges read from the server's ``/+metrics`` with each sample (absent on older servers).
GAUGES = (
    "idx_events_pending",
    "idx_page_cache_bytes",
    "idx_sqlite_memory_bytes",
    "idx_python_allocated_blocks",
    "idx_malloc_in_use_bytes",
    "idx_malloc_free_bytes",
)


def server_gauges(metrics_url: str) -> dict[str, float]:
    try:
        reply = probe.get(metrics_url, accept="text/plain", timeout=10)
    except OSError:
        return {}
    if reply.status != 200:
        return {}
    found = {}
    for line in reply.body.decode(errors="replace").splitlines():
        name, _, value = line.partition(" ")
        if name in GAUGES:
            with contextlib.suppress(ValueError):
                found[name] = float(value)
    return found


def look(service: Service, at: float, metrics_url: str = "") -> Sample | None:
    """The server process's memory, threads, descriptors and CPU time now (and, with
    ``metrics_url``, its event backlog and page cache size)."""
    pids = service.pids()
    if not pids:
        return None
    memory = service.memory()
    pid = pids[0]
    threads = fds = 0
    cpu = 0.0
    fields: dict[str, str] = {}
    with contextlib.suppress(OSError, ValueError, IndexError):
        status = Path(f"/proc/{pid}/status").read_text()
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        threads = int(fields["Threads"])
        fds = len(os.listdir(f"/proc/{pid}/fd"))
        stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        cpu = (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")
    gauges = server_gauges(metrics_url) if metrics_url else {}
    pending = gauges.get("idx_events_pending")
    page_cache = gauges.get("idx_page_cache_bytes")
    return Sample(
        at, memory.rss_mib, memory.peak_mib, threads, fds, cpu, os.getloadavg()[0],
        None if pending is None else int(pending),
        None if page_cache is None else page_cache / (1 << 20),
        _mib(fields.get("RssAnon")), _mib(fields.get("RssFile")),
        _scaled(gauges.get("idx_sqlite_memory_bytes"), 1 << 20),
        _scaled(gauges.get("idx_python_allocated_blocks"), 1000),
        _scaled(gauges.get("idx_malloc_in_use_bytes"), 1 << 20),
        _scaled(gauges.get("idx_malloc_free_bytes"), 1 << 20),
    )  # fmt: skip


def _scaled(value: float | None, unit: float) -> float | None:
    return None if value is None else value / unit


def _mib(field: str | None) -> float | None:
    """``"  1234 kB"`` from /proc/PID/status in MiB."""
    try:
        return int(field.split()[0]) / 1024 if field else None
    except (ValueError, IndexError):
        return None


def sampler(
    service: Service,
    recorder: Recorder,
    samples: list[Sample],
    stop: threading.Event,
    every: float,
    metrics_url: str = "",
) -> None:
    while True:
        sample = look(service, recorder.now(), metrics_url)
        if sample is not None:
            samples.append(sample)
        if stop.wait(every):
            return
