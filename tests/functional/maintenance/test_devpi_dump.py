"""Reading devpi-export dumps: what maps onto what, and damaged or odd dumps.

(The round trip from the real devpi-server is in tests/e2e/test_devpi_import.py; these
dumps are written by hand in devpi's format, to reach the corners.)
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import pytest
import webtest
from idx_server.app import build_core, index_types, initialize, make_app
from idx_server.maintenance import MaintenanceError, open_storage
from idx_server.maintenance.devpi_import import read_devpi_dump
from idx_server.maintenance.plan import apply_plan
from idx_server.settings import Settings
from idx_server.testing import UNREACHABLE_UPSTREAM, Project, make_sdist, make_wheel

WHEEL = make_wheel(Project("hello", "1.0", requires_python=">=3.9"))
SDIST = make_sdist(Project("hello", "1.0"))
ARGON2 = "$argon2id$v=19$m=65536,t=3,p=4$NyYEIKT0fo/xnvN+L+Ucow$T6qT2gmjhms2B8gKo/421vQ/EVz5xLA8vNZ83SfRzew"


def release_file(index: str, content: bytes, filename: str, **extra: Any) -> tuple[dict[str, Any], bytes]:
    desc = {
        "type": "releasefile",
        "projectname": "hello",
        "version": "1.0",
        "relpath": f"{index}/hello/1.0/{filename}",
        "entrymapping": {
            "last_modified": "Tue, 01 Dec 2026 04:55:50 GMT",
            "hashes": {"sha256": hashlib.sha256(content).hexdigest()},
        },
        "log": [{"what": "upload", "who": "alice", "when": [2026, 12, 1, 4, 55, 50], "dst": index}],
        **extra,
    }
    return desc, content


def stage(files: list[tuple[dict[str, Any], bytes]], **config: Any) -> dict[str, Any]:
    return {
        "indexconfig": {"type": "stage", "bases": [], "volatile": True, "acl_upload": ["alice"], **config},
        "projects": {"hello": {"1.0": {"name": "hello", "version": "1.0", "summary": "hi", "+elinks": []}}},
        "files": [desc for desc, _ in files],
    }


def write_dump(root: Path, indexes: dict[str, Any], files: dict[str, bytes], **top: Any) -> Path:
    data = {
        "dumpversion": "2",
        "users": {"root": {"pwhash": ARGON2}, "alice": {"pwhash": ARGON2, "email": "a@example.org"}},
        "indexes": indexes,
        **top,
    }
    root.mkdir(parents=True, exist_ok=True)
    (root / "dataindex.json").write_text(json.dumps(data))
    for relpath, content in files.items():
        (root / relpath).parent.mkdir(parents=True, exist_ok=True)
        (root / relpath).write_bytes(content)
    return root


def simple_dump(tmp_path: Path, **config: Any) -> Path:
    files = [
        release_file("alice/dev", WHEEL.content, WHEEL.filename),
        release_file("alice/dev", SDIST.content, SDIST.filename),
    ]
    return write_dump(
        tmp_path / "dump", {"alice/dev": stage(files, **config)}, {d["relpath"]: c for d, c in files}
    )


def read(dump: Path, skip: tuple[str, ...] = ()):
    from idx_server.plugins import get_plugin_manager

    return read_devpi_dump(dump, index_types(get_plugin_manager(load_entrypoints=False)), skip)


def test_files_releases_and_users(tmp_path):
    plan = read(simple_dump(tmp_path))
    assert [u.name for u in plan.users] == ["alice", "root"]
    assert plan.users[0].pwhash == ARGON2
    (index,) = plan.indexes
    assert index.full_name == "alice/dev"
    assert index.config["acl_upload"] == ["alice"]
    (release,) = index.releases
    assert release.metadata == {"name": "hello", "version": "1.0", "summary": "hi"}
    wheel = next(p.file for p in index.files if p.file.filename == WHEEL.filename)
    assert wheel.sha256 == WHEEL.sha256
    assert wheel.upload_time == "2026-12-01T04:55:50.000000Z"
    assert wheel.uploader == "alice"
    assert wheel.log[0]["when"] == "2026-12-01T04:55:50.000000Z"
    assert wheel.requires_python == ""  # the dump's metadata says nothing about it
    assert plan.blobs[wheel.core_metadata_sha256].make() == WHEEL.metadata, "PEP 658 metadata extracted"
    assert index.projects == {"hello": "hello"}


def test_a_file_that_does_not_match_its_hash_is_refused(tmp_path):
    dump = simple_dump(tmp_path)
    (dump / "alice/dev/hello/1.0" / SDIST.filename).write_bytes(b"not the sdist")
    with pytest.raises(
        MaintenanceError, match=f"alice/dev/hello/1.0/{SDIST.filename} is damaged: its sha256"
    ):
        read(dump)


def test_a_missing_file_is_refused(tmp_path):
    dump = simple_dump(tmp_path)
    (dump / "alice/dev/hello/1.0" / WHEEL.filename).unlink()
    with pytest.raises(MaintenanceError, match="is missing from the dump"):
        read(dump)


def test_a_path_outside_the_dump_is_refused(tmp_path):
    desc, _ = release_file("alice/dev", WHEEL.content, WHEEL.filename)
    desc["relpath"] = "../../etc/passwd"
    dump = write_dump(tmp_path / "dump", {"alice/dev": stage([(desc, b"")])}, {})
    with pytest.raises(MaintenanceError, match="outside the dump"):
        read(dump)


def test_old_password_hashes_are_dropped_with_a_note(tmp_path):
    dump = simple_dump(tmp_path)
    data = json.loads((dump / "dataindex.json").read_text())
    data["users"]["alice"] = {"pwhash": "0" * 64, "pwsalt": "abc"}
    (dump / "dataindex.json").write_text(json.dumps(data))
    plan = read(dump)
    assert next(u for u in plan.users if u.name == "alice").pwhash == ""
    assert any("alice cannot log in until root sets a new password" in note for note in plan.notes)


def test_settings_map_onto_idx(tmp_path):
    dump = simple_dump(
        tmp_path,
        pypi_whitelist=["hello"],
        bases=["root/pypi", "gone/index"],
        uploadtrigger_jenkins="http://ci/",
    )
    plan = read(dump)
    config = plan.indexes[0].config
    assert config["mirror_whitelist"] == ["hello"], "devpi 2.x's pypi_whitelist"
    assert config["bases"] == ["root/pypi"], "root/pypi is made on the first start"
    (note,) = plan.notes
    assert "base gone/index (not in the dump)" in note
    assert "uploadtrigger_jenkins='http://ci/'" in note


def test_unknown_index_types_are_refused_or_left_out(tmp_path):
    dump = simple_dump(tmp_path, type="constrained")
    with pytest.raises(MaintenanceError, match="--skip-index-type constrained"):
        read(dump)
    plan = read(dump, skip=("constrained",))
    assert plan.indexes == []
    assert plan.notes == ["index alice/dev (type constrained) left out, as asked"]


def test_unsupported_dumpversion(tmp_path):
    dump = write_dump(tmp_path / "dump", {}, {}, dumpversion="3")
    with pytest.raises(MaintenanceError, match="dumpversion '3'"):
        read(dump)


def test_docs_and_releases_without_files_are_left_out(tmp_path):
    files = [release_file("alice/dev", WHEEL.content, WHEEL.filename)]
    doc = {
        "type": "doczip",
        "projectname": "hello",
        "version": "1.0",
        "relpath": "alice/dev/hello-1.0.doc.zip",
    }
    index = stage(files)
    index["files"].append(doc)
    index["projects"]["hello"]["0.1"] = {"name": "hello", "version": "0.1"}
    dump = write_dump(tmp_path / "dump", {"alice/dev": index}, {files[0][0]["relpath"]: WHEEL.content})
    plan = read(dump)
    assert [r.version for r in plan.indexes[0].releases] == ["1.0"]
    assert "1 documentation zips left out" in plan.notes[0]
    assert "1 releases without files left out" in plan.notes[1]


def test_test_results_and_devpi_6_5_hash_quirk(tmp_path):
    files = [release_file("alice/dev", WHEEL.content, WHEEL.filename)]
    result = json.dumps({"testenvs": {}}).encode()
    tox = {
        "type": "toxresult",
        "projectname": "hello",
        "version": "1.0",
        "for_entrypath": f"alice/dev/+f/abc/def/{WHEEL.filename}",
        "relpath": f"alice/dev/hello/sha256={WHEEL.sha256}/{WHEEL.filename}.toxresult-0",
        # devpi-server 6.5 to 6.8 recorded the wheel's hash here, not the result's
        "entrymapping": {
            "hashes": {"sha256": WHEEL.sha256},
            "last_modified": "Tue, 01 Dec 2026 05:00:00 GMT",
        },
        "log": [{"what": "upload", "who": None, "when": [2026, 12, 1, 5, 0, 0]}],
    }
    index = stage(files)
    index["files"].append(tox)
    dump = write_dump(
        tmp_path / "dump",
        {"alice/dev": index},
        {files[0][0]["relpath"]: WHEEL.content, tox["relpath"]: result},
    )
    (planned,) = read(dump).indexes[0].files
    (stored,) = planned.toxresults
    assert stored.sha256 == hashlib.sha256(result).hexdigest()
    assert stored.created == "2026-12-01T05:00:00.000000Z"


def test_a_test_result_of_a_file_not_in_the_dump_is_refused(tmp_path):
    index = stage([])
    tox = {
        "type": "toxresult",
        "projectname": "hello",
        "version": "1.0",
        "relpath": "alice/dev/x.toxresult-0",
        "for_entrypath": "alice/dev/+f/abc/def/gone.whl",
    }
    index["files"].append(tox)
    dump = write_dump(tmp_path / "dump", {"alice/dev": index}, {tox["relpath"]: b"{}"})
    with pytest.raises(MaintenanceError, match=r"a test result of gone\.whl"):
        read(dump)


def test_dumpversion_1(tmp_path):
    desc, content = release_file("alice/dev", SDIST.content, SDIST.filename)
    del desc["version"]
    desc["entrymapping"] = {
        "md5": hashlib.md5(content).hexdigest(),
        "last_modified": "Tue, 01 Dec 2026 04:55:50 GMT",
    }
    dump = write_dump(
        tmp_path / "dump", {"alice/dev": stage([(desc, content)])}, {desc["relpath"]: content}, dumpversion=1
    )
    (planned,) = read(dump).indexes[0].files
    assert planned.file.version == "1.0"
    assert planned.file.hashes["md5"] == hashlib.md5(content).hexdigest()


def test_mirrored_files_are_imported_as_cached_and_served_while_upstream_is_down(tmp_path, idx_pm):
    desc, content = release_file("root/mirror", WHEEL.content, WHEEL.filename)
    desc["entrymapping"]["url"] = f"http://127.0.0.1:9/files/{WHEEL.filename}"
    mirror = {
        "indexconfig": {"type": "mirror", "mirror_url": UNREACHABLE_UPSTREAM, "volatile": True},
        "projects": {"hello": {"1.0": {"name": "Hello", "version": "1.0"}}},
        "files": [desc],
    }
    dump = write_dump(tmp_path / "dump", {"root/mirror": mirror}, {desc["relpath"]: content})
    settings = Settings(serverdir=tmp_path / "server", mirror_url=UNREACHABLE_UPSTREAM, upstream_retries=0)
    with open_storage(settings, idx_pm) as opened:
        apply_plan(opened, read_devpi_dump(dump, index_types(idx_pm)))
    core = build_core(settings, idx_pm)
    try:
        initialize(core)
        app = webtest.TestApp(make_app(core))
        page = app.get(
            "/root/mirror/+simple/hello/", headers={"Accept": "application/vnd.pypi.simple.v1+json"}
        )
        (entry,) = page.json["files"]
        assert entry["hashes"] == {"sha256": WHEEL.sha256}
        body = app.get(urljoin("/root/mirror/+simple/hello/", entry["url"]).split("#")[0]).body
        assert body == WHEEL.content
    finally:
        core.close()
