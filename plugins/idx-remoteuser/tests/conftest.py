"""The plugin registered in process, trusting 10.0.0.1 (requests set REMOTE_ADDR)."""

from __future__ import annotations

from typing import Any

import idx_remoteuser.plugin
import pytest


@pytest.fixture
def idx_plugins() -> tuple[object, ...]:
    return (idx_remoteuser.plugin,)


@pytest.fixture
def idx_settings_overrides() -> dict[str, Any]:
    return {"remoteuser_trusted_proxies": "10.0.0.1", "remoteuser_groups_header": "X-Remote-Groups"}
