"""The plugin registered in process."""

from __future__ import annotations

import idx_constrained.plugin
import pytest


@pytest.fixture
def idx_plugins() -> tuple[object, ...]:
    return (idx_constrained.plugin,)
