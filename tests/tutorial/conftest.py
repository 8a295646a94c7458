"""The tutorial's plugin module is imported by its own name, as in docs/plugins.md."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
