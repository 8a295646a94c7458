"""Building the project in a directory (PEP 517, with ``python -m build``): sdist, then
the wheel from that sdist, as ``build`` does by default."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from idx_client.errors import ClientError
from idx_client.output import Output

#: Lines of build output shown when a build fails.
TAIL_LINES = 25


def is_project_dir(path: Path) -> bool:
    return (path / "pyproject.toml").is_file() or (path / "setup.py").is_file()


def build_dists(project_dir: Path, outdir: Path, out: Output, isolation: bool = True) -> list[Path]:
    """Build sdist and wheel of ``project_dir`` into ``outdir``; return the files made."""
    if not is_project_dir(project_dir):
        raise ClientError(
            f"nothing to upload: no paths given and {project_dir} has no pyproject.toml or setup.py"
        )
    command = [sys.executable, "-m", "build", "--outdir", str(outdir), str(project_dir)]
    if not isolation:
        command.insert(3, "--no-isolation")
    out.line(f"building sdist and wheel of {project_dir} ...")
    try:
        process = subprocess.run(command, capture_output=True, text=True, check=False)
    except OSError as exc:
        raise ClientError(f"cannot run {sys.executable} -m build: {exc}") from None
    if process.returncode != 0:
        output = (process.stdout + process.stderr).rstrip().splitlines()
        for line in output[-TAIL_LINES:]:
            print(line, file=out.stderr)
        raise ClientError(f"building {project_dir} failed (python -m build exited {process.returncode})")
    built = sorted(
        p for p in outdir.iterdir() if p.is_file() and p.name.endswith((".whl", ".tar.gz", ".zip"))
    )
    if not built:
        raise ClientError(f"building {project_dir} made no distribution files")
    return built
