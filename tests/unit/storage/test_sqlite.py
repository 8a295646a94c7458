"""The SQLite metadata store: transactions are all-or-nothing and each commits one serial."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from idx_server.model.indexes import MIRROR, STAGE, new_config
from idx_server.model.users import User
from idx_server.storage import sqlite as sqlite_module
from idx_server.storage.sqlite import SQLiteStore


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    store = SQLiteStore(tmp_path / "idx.sqlite")
    yield store
    store.close()


def user(name: str) -> User:
    return User(name=name, pwhash="x", created="2026-01-01T00:00:00Z", modified="2026-01-01T00:00:00Z")


class Boom(Exception):
    pass


def test_a_fresh_store_is_at_serial_zero_in_wal_mode(store):
    assert store.serial() == 0
    assert store._conn().execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_transaction_commits_all_its_writes_as_one_serial(store):
    with store.write() as tx:
        assert tx.serial == 1
        store.add_user(user("alice"))
        store.add_user(user("bob"))
        store.add_index("alice", "dev", new_config(STAGE, "alice", {}), "now")
    assert store.serial() == 1
    assert [u.name for u in store.list_users()] == ["alice", "bob"]
    assert store.get_index("alice", "dev") is not None


def test_serials_increase_by_one_per_transaction(store):
    for expected, name in enumerate(["a", "b", "c"], start=1):
        with store.write() as tx:
            store.add_user(user(name))
        assert tx.serial == expected
        assert store.serial() == expected


def test_a_nested_write_is_part_of_the_outer_transaction(store):
    with store.write() as outer:
        store.add_user(user("alice"))
        with store.write() as inner:
            store.add_user(user("bob"))
        assert inner is outer
    assert store.serial() == 1


def fail_while_writing(store: SQLiteStore, *names: str, nested: bool = False) -> None:
    """Add users ``names`` in one transaction (the last in a nested write), then fail."""
    with store.write():
        for name in names[:-1]:
            store.add_user(user(name))
        with store.write() if nested else contextlib.nullcontext():
            store.add_user(user(names[-1]))
            raise Boom


def test_a_failed_transaction_leaves_nothing(store):
    committed, rolled_back = [], []

    def work() -> None:
        with store.write() as tx:
            tx.after_commit(lambda: committed.append(1))
            tx.after_rollback(lambda: rolled_back.append(1))
            store.add_user(user("alice"))
            store.add_index("alice", "dev", new_config(STAGE, "alice", {}), "now")
            raise Boom

    with pytest.raises(Boom):
        work()
    assert store.get_user("alice") is None
    assert store.get_index("alice", "dev") is None
    assert store.serial() == 0
    assert store.get_meta("serial") == "0"
    assert committed == []
    assert rolled_back == [1]


def test_a_failure_inside_a_nested_write_rolls_back_the_outer_one_too(store):
    with pytest.raises(Boom):
        fail_while_writing(store, "alice", "bob", nested=True)
    assert store.list_users() == []
    assert store.serial() == 0


def test_after_a_rollback_the_next_transaction_works(store):
    with pytest.raises(Boom):
        fail_while_writing(store, "alice")
    with store.write() as tx:
        store.add_user(user("alice"))
    assert tx.serial == 1
    assert store.get_user("alice") is not None


def test_commit_callbacks_run_after_the_commit(store):
    seen = []
    with store.write() as tx:
        store.add_user(user("alice"))
        tx.after_commit(lambda: seen.append(store.serial()))
        assert seen == []
    assert seen == [1]


def test_writing_outside_a_transaction_is_refused(store):
    with pytest.raises(RuntimeError, match="transaction"):
        store.add_user(user("alice"))
    assert store.list_users() == []


def test_other_threads_do_not_see_an_uncommitted_transaction(store):
    seen_during: list[object] = []
    with store.write():
        store.add_user(user("alice"))
        reader = threading.Thread(target=lambda: seen_during.append(store.get_user("alice")))
        reader.start()
        reader.join(10)
    assert seen_during == [None]
    seen_after: list[object] = []
    reader = threading.Thread(target=lambda: seen_after.append(store.get_user("alice")))
    reader.start()
    reader.join(10)
    assert seen_after[0] is not None


def test_data_and_serial_survive_reopening(tmp_path):
    store = SQLiteStore(tmp_path / "idx.sqlite")
    with store.write():
        store.add_user(user("alice"))
    with store.write():
        store.set_meta("k", "v")
    store.close()
    reopened = SQLiteStore(tmp_path / "idx.sqlite")
    try:
        assert reopened.serial() == 2
        assert reopened.get_user("alice") is not None
        assert reopened.get_meta("k") == "v"
    finally:
        reopened.close()


def test_sqlite_memory_is_bounded_for_all_connections_together(store):
    from idx_server.storage.sqlite import SOFT_HEAP_LIMIT_BYTES

    limits = set()

    def read_limit() -> None:
        limits.add(store._conn().execute("PRAGMA soft_heap_limit").fetchone()[0])

    for _ in range(3):  # one after the other: each has ended when the next connects
        thread = threading.Thread(target=read_limit)
        thread.start()
        thread.join()
    assert limits == {SOFT_HEAP_LIMIT_BYTES}
    # The opening thread's connection, and the last reader's: each new connection closes
    # those of threads that have ended.
    assert ("idx_sqlite_connections", "gauge", 2) in store.memory_metrics()


def test_the_upstream_list_can_be_read_without_its_names(store):
    from idx_server.storage import MirrorNames

    with store.write():
        store.add_user(user("root"))
        index = store.add_index("root", "pypi", new_config(MIRROR, "root", {}), "now")
        store.put_mirror_names(MirrorNames.build(index.id, [("a-b", "A_B"), ("c", "c")], '"e1"', 5.0))
    info = store.get_mirror_names(index.id, with_names=False)
    assert info is not None
    assert (info.count, info.etag, info.checked_at, info.blob) == (2, '"e1"', 5.0, b"")
    full = store.get_mirror_names(index.id)
    assert full is not None
    assert list(full.lines()) == ["a-b\tA_B", "c"]


def test_connections_of_ended_threads_are_reused_then_closed(store, monkeypatch):
    def use() -> None:
        assert store.get_user("nobody") is None
        used.append(store._conn())

    used: list[sqlite3.Connection] = []
    for _ in range(5):  # like one thread per mirror download, one after the other
        thread = threading.Thread(target=use)
        thread.start()
        thread.join()
    assert len({id(conn) for conn in used}) == 1  # the first thread's, handed on
    counts = {name: value for name, _, value in store.memory_metrics()}
    assert counts["idx_sqlite_connections"] == 2  # the opening thread's and that one

    monkeypatch.setattr(sqlite_module, "SPARE_CONNECTIONS", 1)
    barrier = threading.Barrier(3)
    used.clear()

    def use_together() -> None:
        use()
        barrier.wait(10)  # three threads alive at once: three connections

    threads = [threading.Thread(target=use_together) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    thread = threading.Thread(target=use)
    thread.start()
    thread.join()
    # Of the three ended threads' connections one is kept (and taken), the others closed.
    assert used[-1] in used[:3]
    closed = [conn for conn in used[:3] if conn is not used[-1]]
    for conn in closed:
        with pytest.raises(sqlite3.ProgrammingError):
            conn.execute("SELECT 1")


def test_a_spare_connection_gets_the_synchronous_level_of_each_write(store):
    """A connection handed on may have been left at NORMAL by a cache write: a durable
    write on it must set FULL again."""

    def cache_write() -> None:
        with store.write(durable=False):
            store.add_user(user("cached"))

    thread = threading.Thread(target=cache_write)
    thread.start()
    thread.join()
    levels = []

    def durable_write() -> None:
        with store.write():
            levels.append(store._conn().execute("PRAGMA synchronous").fetchone()[0])
            store.add_user(user("durable"))

    thread = threading.Thread(target=durable_write)
    thread.start()
    thread.join()
    assert levels == [2]  # FULL


def test_threads_take_the_connections_opened_ahead(store, monkeypatch):
    store.open_connections(3)
    opened = []
    connect = sqlite3.connect
    monkeypatch.setattr(sqlite3, "connect", lambda *a, **k: opened.append(1) or connect(*a, **k))
    counts = {name: value for name, _, value in store.memory_metrics()}
    assert counts["idx_sqlite_connections"] == 4  # the opening thread's and three spare
    used = []
    together = threading.Barrier(4)

    def use() -> None:
        assert store.get_user("nobody") is None
        used.append(store._conn())
        together.wait(10)  # all four alive at once

    threads = [threading.Thread(target=use) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(opened) == 1  # only the fourth thread opened one
    assert len({id(conn) for conn in used}) == 4
    store.close()
    for conn in used:
        with pytest.raises(sqlite3.ProgrammingError):
            conn.execute("SELECT 1")


def test_spare_connections_are_closed_with_the_store(tmp_path):
    store = SQLiteStore(tmp_path / "idx.sqlite")
    store.open_connections(2)
    spare = list(store._spare)
    store.close()
    for conn in spare:
        with pytest.raises(sqlite3.ProgrammingError):
            conn.execute("SELECT 1")


@pytest.mark.parametrize(
    "facts",
    [
        {},  # the common row: no extra hashes, no log, no upstream metadata
        {
            "hashes": {"md5": "0" * 32},
            "log": ({"what": "upload", "who": "alice"},),
            "upstream_core_metadata": {"sha256": "c" * 64},
            "yanked": True,
            "yanked_reason": "broken",
            "cached": False,
            "attestations": "[]",
        },
    ],
)
def test_files_read_back_equal_the_files_stored(store, facts):
    """Rows become DistFiles without the dataclass's __init__ (fast): every field must
    still be there, equal to what was stored, and the object a DistFile as any other."""
    import dataclasses

    from idx_server.model.distfiles import DistFile

    with store.write():
        store.add_user(user("alice"))
        index = store.add_index("alice", "dev", new_config(STAGE, "alice", {}), "now")
        stored = store.put_file(
            DistFile(
                index_id=index.id,
                project="pkg",
                version="1.0",
                filename="pkg-1.0-py3-none-any.whl",
                path_key="a" * 64,
                sha256="a" * 64,
                size=10,
                upload_time="2026-01-01T00:00:00Z",
                uploader="alice",
                requires_python=">=3.9",
                core_metadata_sha256="b" * 64,
                url="https://example.com/pkg-1.0-py3-none-any.whl",
                **facts,
            )
        )
    [read] = store.project_files([index.id], "pkg")
    assert type(read) is DistFile
    assert set(vars(read)) == {f.name for f in dataclasses.fields(DistFile)}
    assert read == stored
    assert read == dataclasses.replace(read)  # the same through the dataclass's __init__
    with pytest.raises(dataclasses.FrozenInstanceError):
        read.size = 11  # type: ignore[misc]


def test_closing_waits_for_a_write_running_on_another_thread(tmp_path):
    """A stopping server closes the store while a background thread (a mirror page being
    revalidated) may be inside a write: that write ends first, committed, and the writes
    after the close are refused with a 503 instead of running on closed connections."""
    from idx_server.model.errors import StorageUnavailable

    store = SQLiteStore(tmp_path / "idx.sqlite")
    inside, go_on, closed = threading.Event(), threading.Event(), threading.Event()
    outcome: list[object] = []

    def background_write() -> None:
        try:
            with store.write():
                inside.set()
                go_on.wait(10)
                store.add_user(user("late"))
            outcome.append("committed")
        except Exception as exc:
            outcome.append(exc)

    writer = threading.Thread(target=background_write)
    writer.start()
    assert inside.wait(10)
    closer = threading.Thread(target=lambda: (store.close(), closed.set()))
    closer.start()
    assert not closed.wait(0.3)  # the close waits for the running write
    go_on.set()
    writer.join(10)
    assert closed.wait(10)
    closer.join(10)
    assert outcome == ["committed"]
    with pytest.raises(StorageUnavailable, match="stopping"), store.write():
        pass
    reopened = SQLiteStore(tmp_path / "idx.sqlite")
    try:
        assert reopened.get_user("late") is not None
    finally:
        reopened.close()
