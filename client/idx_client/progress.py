"""A progress bar for uploads of large files, drawn on a terminal's stderr only."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from typing import TextIO

#: Files smaller than this upload without a bar.
MIN_SIZE = 1024 * 1024
WIDTH = 30


def human_size(size: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} GB"  # pragma: no cover


class ProgressBar:
    def __init__(self, label: str, total: int, stream: TextIO, interval: float = 0.1) -> None:
        self.label = label
        self.total = max(total, 1)
        self.stream = stream
        self.interval = interval
        self.done = 0
        self.started = time.monotonic()
        self._drawn = 0.0

    def update(self, count: int) -> None:
        self.done += count
        now = time.monotonic()
        if now - self._drawn >= self.interval or self.done >= self.total:
            self._drawn = now
            self.draw(now)

    def draw(self, now: float) -> None:
        fraction = min(self.done / self.total, 1.0)
        filled = int(WIDTH * fraction)
        rate = self.done / max(now - self.started, 1e-6)
        bar = "#" * filled + "-" * (WIDTH - filled)
        self.stream.write(
            f"\r{self.label} [{bar}] {fraction:4.0%} "
            f"{human_size(self.done)}/{human_size(self.total)} {human_size(rate)}/s "
        )
        self.stream.flush()

    def finish(self) -> None:
        self.stream.write("\r\033[K")
        self.stream.flush()


def tracked(chunks: Iterable[bytes], bar: ProgressBar | None) -> Iterator[bytes]:
    """``chunks``, reporting each to ``bar`` as it is handed on (so as it is sent)."""
    try:
        for chunk in chunks:
            yield chunk
            if bar is not None:
                bar.update(len(chunk))
    finally:
        if bar is not None:
            bar.finish()


def wants_bar(stream: TextIO, size: int) -> bool:
    try:
        return size >= MIN_SIZE and stream.isatty()
    except (AttributeError, ValueError):
        return False
