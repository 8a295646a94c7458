"""What the client prints: human lines, JSON for scripts, errors, and questions."""

from __future__ import annotations

import json
import sys
from typing import Any, TextIO

from idx_client.errors import Aborted


class Output:
    """Human lines go to stdout, or to stderr in ``--json`` mode so stdout stays pure JSON."""

    def __init__(
        self,
        json_mode: bool = False,
        stdout: TextIO | None = None,
        stderr: TextIO | None = None,
        stdin: TextIO | None = None,
    ) -> None:
        self.json_mode = json_mode
        self.stdout = stdout or sys.stdout
        self.stderr = stderr or sys.stderr
        self.stdin = stdin or sys.stdin

    def line(self, text: str = "") -> None:
        """A line of human output."""
        print(text, file=self.stderr if self.json_mode else self.stdout, flush=True)

    def warn(self, text: str) -> None:
        print(f"warning: {text}", file=self.stderr, flush=True)

    def error(self, text: str) -> None:
        print(f"error: {text}", file=self.stderr, flush=True)

    def json(self, data: Any) -> None:
        print(json.dumps(data, indent=2), file=self.stdout, flush=True)

    def result(self, data: Any, lines: list[str]) -> None:
        """``data`` as JSON in ``--json`` mode, else ``lines``."""
        if self.json_mode:
            self.json(data)
        else:
            for text in lines:
                self.line(text)

    @property
    def interactive(self) -> bool:
        return _isatty(self.stdin) and _isatty(self.stderr)

    def confirm(self, question: str, assume_yes: bool = False) -> None:
        """Ask ``question``; raise :class:`Aborted` unless the answer is yes."""
        if assume_yes:
            return
        if not self.interactive:
            raise Aborted(f"{question} -- no terminal to ask; pass -y to go ahead without asking")
        print(f"{question} [y/N] ", end="", file=self.stderr, flush=True)
        answer = self.stdin.readline().strip().lower()
        if answer not in ("y", "yes"):
            raise Aborted("nothing done")


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
