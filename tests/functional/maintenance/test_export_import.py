"""``idx-server export`` and ``idx-server import``: a round trip restores everything, and a
damaged export or an occupied server directory is refused with nothing left behind."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from urllib.parse import urljoin

import pytest
import webtest
from idx_server.app import build_core, initialize, make_app
from idx_server.maintenance import export as export_command
from idx_server.maintenance import importer as import_command
from idx_server.maintenance.check import check_store
from idx_server.maintenance.export import export_store
from idx_server.services.auth import AuthService
from idx_server.settings import Settings
from idx_server.storage.sqlite import SQLiteStore
from idx_server.testing import UNREACHABLE_UPSTREAM, Mapp, Project, basic_auth, make_sdist, make_wheel

PASSWORDS = {"root": "root", "alice": "alice-pw", "bob": "bob-pw"}
TOX_JSON = {"reportversion": "1", "toxversion": "4.0", "platform": "linux", "testenvs": {}}
INDEXES = ["alice/dev", "alice/prod", "alice/upstream", "root/pypi"]


@pytest.fixture
def source(mapp, upstream, idx_core):
    """A server with something of everything: users, stage and mirror indexes with settings,
    releases (one yanked), pushed files, test results, an API token, a cached mirror file."""
    mapp.login_root()
    mapp.create_user("alice", PASSWORDS["alice"], email="alice@example.org", title="Alice")
    mapp.create_user("bob", PASSWORDS["bob"])
    mapp.login("alice", PASSWORDS["alice"])
    mapp.create_index("dev", title="Development", acl_toxresult_upload=["alice"])
    mapp.create_index(
        "prod", bases=["alice/dev"], volatile=False, acl_upload=["alice", "bob"], mirror_whitelist=["hello"]
    )
    mapp.create_index(
        "upstream",
        type="mirror",
        mirror_url=upstream.url,
        mirror_cache_expiry=60,
        mirror_max_size="1G",
        mirror_min_age="7d",
        description="a second mirror",
    )
    mapp.upload("alice/dev", make_wheel(Project("hello", "1.0", requires_python=">=3.8")))
    mapp.upload("alice/dev", make_sdist(Project("hello", "1.0")))
    mapp.upload("alice/dev", make_wheel(Project("hello", "0.9")))
    mapp.yank("alice/dev", "hello", "0.9", reason="broken")
    wheel_url = file_urls(mapp, "alice/dev", "hello")["hello-1.0-py3-none-any.whl"]
    mapp.app.post(wheel_url, json.dumps(TOX_JSON), headers=mapp.headers)
    mapp.push("alice/dev", "hello", "1.0", "alice/prod")
    upstream.add("mirrored", "2.0")
    mapp.app.get(file_urls(mapp, "root/pypi", "mirrored")["mirrored-2.0-py3-none-any.whl"])
    token = idx_core.service(AuthService).issue("bob", kind="api", expires_in=0, description="CI")
    idx_core.service(AuthService).issue("alice", kind="login", expires_in=3600)
    return {"mapp": mapp, "token": token}


def file_urls(mapp, index, project):
    page = f"/{index}/+simple/{project}/"
    files = mapp.simple_json(index, project).json["files"]
    return {f["filename"]: urljoin(page, f["url"]).split("#")[0] for f in files}


@pytest.fixture
def restored(tmp_path, idx_pm):
    """Builds an in-process server on an imported server directory."""
    cores = []

    def open_server(serverdir: Path) -> Mapp:
        settings = Settings(serverdir=serverdir, mirror_url=UNREACHABLE_UPSTREAM, upstream_retries=0)
        core = build_core(settings, idx_pm)
        initialize(core)
        cores.append(core)
        return Mapp(webtest.TestApp(make_app(core)), core)

    yield open_server
    for core in cores:
        core.close()


def export_and_import(idx_core, tmp_path, *extra):
    target = tmp_path / "export"
    summary = export_store(
        idx_core.store, idx_core.blobs, target, include_mirrored_files="--mirrored" in extra
    )
    new = tmp_path / "new-server"
    assert import_command.main(["--serverdir", str(new), str(target)]) == 0
    return summary, new


def test_round_trip_restores_everything(source, idx_core, tmp_path, restored):
    old = source["mapp"]
    summary, new_dir = export_and_import(idx_core, tmp_path)
    assert summary.counts["users"] == 3
    assert summary.counts["tokens"] == 1, "API tokens are exported, login tokens are not"
    new = restored(new_dir)

    for user, password in PASSWORDS.items():
        new.login(user, password)
        assert new.get_json(f"/{user}").json == old.get_json(f"/{user}").json
    new.logout()
    old.logout()
    for index in INDEXES:
        old_config, new_config = old.get_index(index), new.get_index(index)
        if old_config["type"] == "mirror":  # what a mirror has cached stays behind
            del old_config["projects"], new_config["projects"]
        assert new_config == old_config, index

    for index in ("alice/dev", "alice/prod"):
        old_files, new_files = file_urls(old, index, "hello"), file_urls(new, index, "hello")
        assert new_files.keys() == old_files.keys()
        for filename, url in new_files.items():
            new_sha = hashlib.sha256(new.app.get(url).body).hexdigest()
            assert new_sha == hashlib.sha256(old.app.get(old_files[filename]).body).hexdigest()
        assert new.simple_json(index, "hello").json == old.simple_json(index, "hello").json
        assert release_json(new, index) == release_json(old, index)

    links = new.get_json("/alice/prod/hello/1.0").json["result"]["+links"]
    (tox,) = [link for link in links if link["rel"] == "toxresult"]
    assert new.app.get(urljoin("http://localhost/", tox["href"])).json == TOX_JSON
    yanked = new.simple_json("alice/dev", "hello").json["files"]
    assert {f["filename"]: f["yanked"] for f in yanked}["hello-0.9-py3-none-any.whl"] == "broken"

    new.app.post(  # bob's API token still works (he may upload to alice/prod)
        "/alice/prod/",
        params={":action": "file_upload", "name": "extra", "version": "1.0"},
        upload_files=[("content", "extra-1.0.tar.gz", make_sdist(Project("extra", "1.0")).content)],
        headers=basic_auth("__token__", source["token"]),
    )
    assert check_store(new.core.store, new.core.blobs, checksums=True, grace=0).ok


def release_json(mapp, index):
    data = mapp.get_json(f"/{index}/hello").json["result"]
    for version in data.values():
        for link in version["+links"]:
            link.pop("href", None)
            link.pop("for_href", None)
    return data


def test_mirrored_files_come_along_when_asked(source, idx_core, upstream, tmp_path, restored):
    _, new_dir = export_and_import(idx_core, tmp_path, "--mirrored")
    upstream.stop()
    new = restored(new_dir)
    url = file_urls(new, "root/pypi", "mirrored")["mirrored-2.0-py3-none-any.whl"]
    body = new.app.get(url).body
    assert hashlib.sha256(body).hexdigest() == upstream.file("mirrored-2.0-py3-none-any.whl").dist.sha256


def test_without_mirrored_files_only_mirror_settings_come_along(source, idx_core, tmp_path):
    summary, _ = export_and_import(idx_core, tmp_path)
    exported = json.loads((tmp_path / "export" / "idx-export.json").read_text())
    pypi = next(ix for ix in exported["indexes"] if ix["name"] == "root/pypi")
    assert (pypi["files"], pypi["config"]["type"]) == ([], "mirror")
    assert (exported["format"], exported["version"]) == ("idx-export", 1)
    assert summary.counts["files"] == 5  # hello 1.0 (2) and 0.9 on dev, 1.0 (2) pushed to prod


# -- refusals ---------------------------------------------------------------------------------
@pytest.fixture
def exported(source, idx_core, tmp_path):
    target = tmp_path / "export"
    export_store(idx_core.store, idx_core.blobs, target)
    return target


def refused(capsys, source_dir, serverdir):
    assert import_command.main(["--serverdir", str(serverdir), str(source_dir)]) == 2
    return capsys.readouterr().err


def test_a_damaged_file_is_refused_and_nothing_is_left(exported, tmp_path, capsys):
    blob = next((exported / "blobs").rglob("*"))
    while blob.is_dir():
        blob = next(blob.iterdir())
    content = bytearray(blob.read_bytes())
    content[-1] ^= 0xFF
    blob.write_bytes(bytes(content))
    new = tmp_path / "new-server"
    error = refused(capsys, exported, new)
    assert f"blobs/{blob.name[:2]}/{blob.name} is damaged" in error
    assert "nothing was imported" in error
    assert not new.exists()


def test_a_missing_file_is_refused(exported, tmp_path, capsys):
    blob = next(p for p in (exported / "blobs").rglob("*") if p.is_file())
    blob.unlink()
    error = refused(capsys, exported, tmp_path / "new-server")
    assert "1 files are missing" in error
    assert not (tmp_path / "new-server").exists()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda data: {**data, "version": 99}, "has export format version 99"),
        (lambda data: {**data, "format": "something"}, "is not an idx export"),
        (lambda data: {**data, "users": [{"email": "x"}]}, "users[0]: the key 'name' is missing"),
        (lambda data: {**data, "users": []}, "belongs to user 'alice', who is not in it"),
    ],
)
def test_a_broken_index_file_is_refused(exported, tmp_path, capsys, change, message):
    index_file = exported / "idx-export.json"
    index_file.write_text(json.dumps(change(json.loads(index_file.read_text()))))
    assert message in refused(capsys, exported, tmp_path / "new-server")
    assert not (tmp_path / "new-server").exists()


def test_an_interrupted_export_is_refused(exported, tmp_path, capsys):
    (exported / "idx-export.json").unlink()
    assert "export was interrupted" in refused(capsys, exported, tmp_path / "new-server")


def test_a_serverdir_with_data_is_refused(exported, idx_core, capsys):
    users = [u.name for u in idx_core.store.list_users()]
    error = refused(capsys, exported, idx_core.settings.serverdir)
    assert "already holds data" in error
    assert "users alice, bob" in error
    assert [u.name for u in idx_core.store.list_users()] == users


def test_a_serverdir_a_server_only_initialized_is_accepted(exported, tmp_path, restored):
    fresh = tmp_path / "fresh"
    restored(fresh).core.close()  # root and root/pypi, nothing else
    assert import_command.main(["--serverdir", str(fresh), str(exported)]) == 0
    restored(fresh).login("alice", PASSWORDS["alice"])


def test_a_failure_while_writing_rolls_everything_back(exported, tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise OSError("the disk is on fire")

    monkeypatch.setattr(SQLiteStore, "add_toxresult", broken)
    new = tmp_path / "new-server"
    new.mkdir()
    with pytest.raises(OSError, match="on fire"):
        import_command.main(["--serverdir", str(new), str(exported)])
    assert list(new.iterdir()) == [], "the empty directory it was given is empty again"


def test_export_command(source, idx_core, tmp_path, capsys):
    target = tmp_path / "cli-export"
    assert export_command.main(["--serverdir", str(idx_core.settings.serverdir), str(target)]) == 0
    assert "exported 3 users, 1 tokens, 4 indexes" in capsys.readouterr().out
    assert export_command.main(["--serverdir", str(idx_core.settings.serverdir), str(target)]) == 2
    assert "is not empty" in capsys.readouterr().err


def test_export_stops_at_a_damaged_blob_and_leaves_nothing(source, idx_core, tmp_path):
    from idx_server.maintenance import MaintenanceError

    dev = idx_core.store.get_index("alice", "dev")
    sha = idx_core.store.get_file(dev.id, "hello-1.0.tar.gz").sha256
    path = idx_core.blobs.local_path(sha)
    path.write_bytes(b"\0" * path.stat().st_size)
    with pytest.raises(MaintenanceError, match=f"blob {sha} is damaged"):
        export_store(idx_core.store, idx_core.blobs, tmp_path / "export")
    assert not (tmp_path / "export").exists()
