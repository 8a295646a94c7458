"""Entry point of the ``idx`` command."""

from __future__ import annotations

import argparse
import sys

from idx_client import __version__


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="idx", description="Client for the idx package index.")
    parser.add_argument("--version", action="version", version=f"idx-client {__version__}")
    parser.parse_args(argv)
    parser.print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main())
