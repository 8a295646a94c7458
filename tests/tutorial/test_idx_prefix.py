# The tests of the tutorial in docs/plugins.md, which shows the code between the markers.
# --8<-- [start:tests]
import pytest
from idx_prefix import PrefixPolicy


@pytest.fixture
def idx_plugins():
    return (PrefixPolicy(),)


@pytest.fixture
def idx_settings_overrides():
    return {"prefix_required": "acme-"}


def test_only_prefixed_projects_are_accepted(mapp):
    mapp.create_and_login_user("alice", "secret")
    mapp.create_index("dev")
    mapp.upload("alice/dev", name="acme-tools", version="1.0")
    refused = mapp.upload("alice/dev", name="requests", version="99.0", status=400)
    assert "must start with 'acme-'" in refused.text
    status = mapp.get_json("/+status").json["result"]
    assert ["prefix_refused_uploads", "counter", 1] in status["metrics"]


# --8<-- [end:tests]
