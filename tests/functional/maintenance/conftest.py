"""Fixtures for the maintenance commands: a server with a fake upstream for root/pypi."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fakes.upstream import FakeUpstream


@pytest.fixture
def upstream() -> Iterator[FakeUpstream]:
    fake = FakeUpstream().start()
    yield fake
    fake.stop()


@pytest.fixture
def idx_settings_overrides(upstream: FakeUpstream) -> dict:
    return {"mirror_url": upstream.url}
