"""``idx-server check``: each kind of damage is found, and repaired where it can be."""

from __future__ import annotations

import json
import os
import sqlite3
import time
from urllib.parse import urljoin

import pytest
import webtest
from idx_server.maintenance import check as check_command
from idx_server.maintenance.check import check_store, repair
from idx_server.testing import Mapp, Project, make_sdist, make_wheel

WHEEL = make_wheel(Project("hello", "1.0"))
SDIST = make_sdist(Project("hello", "1.0"))
TOX_JSON = {"reportversion": "1", "toxversion": "4.0", "platform": "linux", "testenvs": {}}


@pytest.fixture
def server(alice, upstream, idx_core):
    """alice/dev with a wheel (with a test result) and an sdist; one file cached from root/pypi."""
    alice.upload("alice/dev", WHEEL)
    alice.upload("alice/dev", SDIST)
    alice.app.post(file_path(alice, WHEEL.filename), json.dumps(TOX_JSON))
    upstream.add("mirrored", "2.0")
    entry = alice.simple_json("root/pypi", "mirrored").json["files"][0]
    alice.app.get(urljoin("/root/pypi/+simple/mirrored/", entry["url"]))
    return alice


def file_path(mapp, filename, index="alice/dev"):
    entry = next(f for f in mapp.simple_json(index, "hello").json["files"] if f["filename"] == filename)
    return urljoin(f"/{index}/+simple/hello/", entry["url"]).split("#")[0]


def run_check(idx_core, **options):
    return check_store(idx_core.store, idx_core.blobs, grace=options.pop("grace", 0), **options)


def kinds(report):
    return sorted(p.kind for p in report.remaining)


def the_file(idx_core, index, filename):
    user, name = index.split("/")
    found = idx_core.store.get_file(idx_core.store.get_index(user, name).id, filename)
    assert found is not None
    return found


def sql(idx_core, statement, *params):
    """Damage the database behind the store's back (as a crash or a bad hand edit would)."""
    with sqlite3.connect(idx_core.settings.serverdir / "idx.sqlite") as conn:
        conn.execute(statement, params)


def test_a_healthy_store_has_no_problems(server, idx_core):
    report = run_check(idx_core, checksums=True)
    assert report.ok, [p.message for p in report.problems]
    assert report.counts["files"] == 3  # two private, one mirrored
    assert report.counts["toxresults"] == 1
    assert report.counts["blobs_hashed"] == report.counts["blobs"] == 5  # 3 files, 1 metadata, 1 result


def test_a_lost_private_file_is_data_loss_that_repair_cannot_fix(server, idx_core):
    idx_core.blobs.delete(WHEEL.sha256)
    report = run_check(idx_core)
    assert kinds(report) == ["missing-file"]
    problem = report.remaining[0]
    assert problem.data_loss
    assert "DATA LOSS" in problem.message
    assert WHEEL.filename in problem.message
    repair(report)
    assert kinds(report) == ["missing-file"]
    assert the_file(idx_core, "alice/dev", WHEEL.filename).cached


def test_a_lost_mirror_file_is_marked_not_cached_and_fetched_again(server, idx_core, upstream):
    mirrored = the_file(idx_core, "root/pypi", "mirrored-2.0-py3-none-any.whl")
    idx_core.blobs.delete(mirrored.sha256)
    report = run_check(idx_core)
    assert kinds(report) == ["missing-mirror-file"]
    assert not report.remaining[0].data_loss
    repair(report)
    assert report.ok
    assert not the_file(idx_core, "root/pypi", mirrored.filename).cached
    assert run_check(idx_core).ok
    entry = server.simple_json("root/pypi", "mirrored").json["files"][0]
    before = upstream.file_requests(mirrored.filename)
    body = server.app.get(urljoin("/root/pypi/+simple/mirrored/", entry["url"])).body
    assert upstream.file_requests(mirrored.filename) == before + 1
    assert idx_core.blobs.exists(mirrored.sha256)
    assert len(body) == mirrored.size


def test_lost_core_metadata_is_extracted_again(server, idx_core):
    wheel = the_file(idx_core, "alice/dev", WHEEL.filename)
    idx_core.blobs.delete(wheel.core_metadata_sha256)
    report = run_check(idx_core)
    assert kinds(report) == ["missing-core-metadata"]
    repair(report)
    assert report.ok
    assert idx_core.blobs.exists(wheel.core_metadata_sha256)
    assert server.app.get(file_path(server, WHEEL.filename) + ".metadata").body == WHEEL.metadata


def test_a_lost_test_result_is_data_loss(server, idx_core):
    (result,) = idx_core.store.toxresults_for([the_file(idx_core, "alice/dev", WHEEL.filename).id])
    idx_core.blobs.delete(result.sha256)
    report = run_check(idx_core)
    assert kinds(report) == ["missing-toxresult"]
    assert report.remaining[0].data_loss


def test_orphan_blobs_are_removed_but_young_ones_left_alone(server, idx_core):
    old = idx_core.blobs.put_bytes(b"left behind by a crash")
    young = idx_core.blobs.put_bytes(b"an upload about to commit")
    path = idx_core.blobs.local_path(old)
    os.utime(path, (time.time() - 3600, time.time() - 3600))
    report = run_check(idx_core, grace=600)
    assert kinds(report) == ["orphan-blob"]
    assert report.remaining[0].subject == old
    assert f"blob {young}" in report.in_flight
    repair(report)
    assert report.ok
    assert not idx_core.blobs.exists(old)
    assert idx_core.blobs.exists(young)


def test_an_orphan_that_got_referenced_meanwhile_is_kept(server, idx_core):
    wheel = make_wheel(Project("late", "1.0"))
    sha = idx_core.blobs.put_bytes(wheel.content)
    report = run_check(idx_core)
    assert kinds(report) == ["orphan-blob"]
    server.upload("alice/dev", wheel)  # the same bytes: the upload commits a row using the blob
    repair(report)
    assert idx_core.blobs.exists(sha)
    assert run_check(idx_core).ok


def test_leftover_temp_files_are_removed(server, idx_core):
    tmp = idx_core.settings.serverdir / "+files" / ".tmp"
    (tmp / "blob-crashed").write_bytes(b"half a wheel")
    os.utime(tmp / "blob-crashed", (time.time() - 3600, time.time() - 3600))
    (tmp / "blob-streaming").write_bytes(b"an upload in progress")
    report = run_check(idx_core, grace=600)
    assert kinds(report) == ["temp-file"]
    assert report.in_flight == ["temp file blob-streaming"]
    repair(report)
    assert sorted(p.name for p in tmp.iterdir()) == ["blob-streaming"]


def test_damaged_private_bytes_are_found_with_checksums(server, idx_core):
    path = idx_core.blobs.local_path(SDIST.sha256)
    damaged = bytearray(path.read_bytes())
    damaged[10] ^= 0xFF
    path.write_bytes(bytes(damaged))
    assert run_check(idx_core).ok, "same size: only hashing finds it"
    report = run_check(idx_core, checksums=True)
    assert kinds(report) == ["corrupt-blob"]
    assert report.remaining[0].data_loss
    repair(report)
    assert not report.ok
    assert path.exists(), "repair never deletes the only copy of a private file"


def test_a_truncated_file_is_found_without_checksums(server, idx_core):
    path = idx_core.blobs.local_path(SDIST.sha256)
    path.write_bytes(path.read_bytes()[:100])
    report = run_check(idx_core)
    assert kinds(report) == ["corrupt-blob"]
    assert "100 bytes" in report.remaining[0].message


def test_a_damaged_mirror_file_is_dropped_and_fetched_again(server, idx_core):
    mirrored = the_file(idx_core, "root/pypi", "mirrored-2.0-py3-none-any.whl")
    path = idx_core.blobs.local_path(mirrored.sha256)
    path.write_bytes(b"x" * mirrored.size)
    report = run_check(idx_core, checksums=True)
    assert kinds(report) == ["corrupt-blob"]
    repair(report)
    assert report.ok
    assert not path.exists()
    assert not the_file(idx_core, "root/pypi", mirrored.filename).cached
    assert run_check(idx_core, checksums=True).ok


def test_an_empty_release_and_project_are_deleted(server, idx_core):
    sql(idx_core, "DELETE FROM toxresults")
    sql(idx_core, "DELETE FROM files WHERE project = 'hello'")
    report = run_check(idx_core)
    assert kinds(report) == ["empty-release", "orphan-blob", "orphan-blob", "orphan-blob", "orphan-blob"]
    repair(report)
    assert report.ok
    index = idx_core.store.get_index("alice", "dev")
    assert idx_core.store.project_names(index.id) == []
    assert run_check(idx_core).ok


def test_files_without_a_release_get_one(server, idx_core):
    sql(idx_core, "DELETE FROM releases WHERE project = 'hello'")
    report = run_check(idx_core)
    assert kinds(report) == ["file-without-release"]
    repair(report)
    assert report.ok
    assert server.get_json("/alice/dev/hello/1.0").json["result"]["version"] == "1.0"
    assert run_check(idx_core).ok


def test_a_release_without_its_project_row_gets_one(server, idx_core):
    sql(idx_core, "DELETE FROM projects WHERE name = 'hello'")
    report = run_check(idx_core)
    assert kinds(report) == ["release-without-project"]
    repair(report)
    assert report.ok
    assert server.simple_json("alice/dev", "hello").json["name"] == "hello"


def test_a_project_without_releases_is_deleted(server, idx_core):
    index = idx_core.store.get_index("alice", "dev")
    with idx_core.store.write() as tx:
        idx_core.store.touch_project(index.id, "ghost", "Ghost", tx.serial)
    report = run_check(idx_core)
    assert kinds(report) == ["project-without-releases"]
    repair(report)
    assert report.ok
    assert "ghost" not in dict(idx_core.store.project_names(index.id))


def test_rows_of_a_deleted_index_are_removed(server, idx_core):
    sql(idx_core, "DELETE FROM indexes WHERE user = 'alice' AND name = 'dev'")
    report = run_check(idx_core)
    assert kinds(report) == ["rows-without-index"]
    repair(report)
    assert report.ok
    assert run_check(idx_core).ok, "the blobs only that index used are gone too"
    assert not idx_core.blobs.exists(SDIST.sha256)


def test_a_test_result_of_a_deleted_file_is_removed(server, idx_core):
    wheel = the_file(idx_core, "alice/dev", WHEEL.filename)
    sql(idx_core, "DELETE FROM files WHERE id = ?", wheel.id)
    report = run_check(idx_core)
    assert "toxresult-without-file" in kinds(report)
    repair(report)
    assert report.ok
    assert list(idx_core.store.iter_toxresults()) == []


def test_unknown_bases_and_owners_are_reported(server, idx_core):
    config = dict(idx_core.store.get_index("alice", "dev").config)
    config["bases"] = ["nobody/gone"]
    sql(idx_core, "UPDATE indexes SET config = ? WHERE user = 'alice'", json.dumps(config))
    sql(idx_core, "DELETE FROM users WHERE name = 'alice'")
    report = run_check(idx_core)
    assert kinds(report) == ["index-without-owner", "unknown-base"]
    repair(report)
    assert len(report.remaining) == 2, "these need a person"


# -- the command ----------------------------------------------------------------------------------
def test_command_exit_status_text_and_json(server, idx_core, capsys):
    serverdir = str(idx_core.settings.serverdir)
    assert check_command.main(["--serverdir", serverdir, "--checksums"]) == 0
    assert "OK: no problems found" in capsys.readouterr().out

    mirrored = the_file(idx_core, "root/pypi", "mirrored-2.0-py3-none-any.whl")
    idx_core.blobs.delete(mirrored.sha256)
    idx_core.blobs.delete(SDIST.sha256)
    orphan = idx_core.blobs.put_bytes(b"orphan")
    assert check_command.main(["--serverdir", serverdir, "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert not report["ok"]
    assert {p["kind"] for p in report["problems"]} == {"missing-file", "missing-mirror-file"}
    assert report["in_flight"] == [f"blob {orphan}"], "younger than the default grace period"

    assert check_command.main(["--serverdir", serverdir, "--repair", "--grace", "0"]) == 1
    out = capsys.readouterr().out
    assert "REPAIRED [missing-mirror-file]" in out
    assert "REPAIRED [orphan-blob]" in out
    assert "PROBLEM  [missing-file]" in out
    assert "DATA LOSS" in out
    assert not idx_core.blobs.exists(orphan)


def test_command_refuses_a_directory_without_data(tmp_path, capsys):
    from idx_server.cli import main as idx_server

    assert idx_server(["check", "--serverdir", str(tmp_path / "nothing")]) == 2
    assert "holds no idx server data" in capsys.readouterr().err


def test_check_and_repair_next_to_uploads_and_deletes(alice, idx_core):
    """Run next to a busy server, check reports nothing that is not there and repair
    removes nothing in use."""
    import threading

    app = webtest.TestApp(alice.app.app)
    writer = Mapp(app, idx_core)
    writer.headers = dict(alice.headers)
    done = threading.Event()
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for n in range(12):
                writer.upload("alice/dev", make_wheel(Project(f"busy{n}", "1.0")))
                writer.upload("alice/dev", make_sdist(Project(f"busy{n}", "1.0")))
                if n % 3 == 0:
                    writer.delete_release("alice/dev", f"busy{n}", "1.0")
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
        finally:
            done.set()

    thread = threading.Thread(target=work)
    thread.start()
    reports = []
    while not done.is_set():
        report = check_store(idx_core.store, idx_core.blobs)
        repair(report)
        reports.append(report)
    thread.join()
    assert not errors, errors
    assert len(reports) > 1, "check ran while the server worked"
    assert all(r.ok for r in reports), [p.message for r in reports for p in r.problems]
    final = run_check(idx_core, checksums=True)
    assert final.ok, [p.message for p in final.problems]
    assert final.counts["files"] == 16  # 12 projects x 2 files, 4 releases deleted
