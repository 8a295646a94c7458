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
