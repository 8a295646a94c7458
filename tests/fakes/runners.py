"""The real command-line clients (``idx``, ``devpi``) run as subprocesses for e2e tests,
in the environment given (usually ``client_env``), checking the exit status."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

IDX = Path(sys.executable).with_name("idx")


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


class Idx:
    """Runs the real ``idx`` command in a clean environment and checks its exit status
    (``status=None``: any)."""

    def __init__(self, env: dict[str, str], cwd: Path, timeout: float = 300) -> None:
        self.env = env
        self.cwd = cwd
        self.timeout = timeout

    def __call__(self, *args: str, status: int | None = 0, cwd: Path | None = None) -> Run:
        command = [str(IDX)] if IDX.exists() else [sys.executable, "-m", "idx_client"]
        process = subprocess.run(
            [*command, *args],
            env=self.env,
            cwd=cwd or self.cwd,
            capture_output=True,
            text=True,
            timeout=self.timeout,
            stdin=subprocess.DEVNULL,
        )
        result = Run(process.returncode, process.stdout, process.stderr)
        assert "Traceback" not in process.stderr, process.stderr
        if status is not None:
            assert process.returncode == status, (
                f"idx {' '.join(args)} -> {process.returncode}\n{process.stdout}\n{process.stderr}"
            )
        return result


class Devpi:
    """Runs a ``devpi`` script with its own client dir; returns stdout + stderr."""

    def __init__(self, script: Path, env: dict[str, str], clientdir: Path, timeout: float = 120) -> None:
        self.script = script
        self.env = env
        self.clientdir = clientdir
        self.timeout = timeout

    def __call__(self, *args: str, status: int | None = 0) -> str:
        process = subprocess.run(
            [str(self.script), "--clientdir", str(self.clientdir), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=self.timeout,
            stdin=subprocess.DEVNULL,
        )
        output = process.stdout + process.stderr
        assert "Traceback" not in output, output
        if status is not None:
            assert process.returncode == status, f"devpi {' '.join(args)} -> {process.returncode}\n{output}"
        return output
