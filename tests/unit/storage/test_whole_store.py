"""What the storage offers for reading a whole store (check, export): every row, and the
blob store's times and temp files."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from idx_server.model.distfiles import DistFile
from idx_server.model.indexes import MIRROR, STAGE, new_config
from idx_server.model.users import Release, User
from idx_server.storage import MirrorPage, Token, ToxResult
from idx_server.storage.blobs import FileBlobStore
from idx_server.storage.sqlite import SQLiteStore


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    store = SQLiteStore(tmp_path / "idx.sqlite")
    yield store
    store.close()


def dist_file(index_id: int, filename: str, version: str = "1.0", url: str = "") -> DistFile:
    sha = f"{hash(filename) & 0xFFFF:064x}"
    return DistFile(index_id, "pkg", version, filename, sha, sha, 10, "2026-01-01T00:00:00Z", url=url)


def test_every_row_can_be_read(store):
    with store.write() as tx:
        store.add_user(User("alice", pwhash="x"))
        dev = store.add_index("alice", "dev", new_config(STAGE, "alice", {}), "now")
        mirror = store.add_index("alice", "mirror", new_config(MIRROR, "alice", {}), "now")
        store.put_release(Release(dev.id, "pkg", "2.0", {"name": "pkg"}, "now", tx.serial))
        store.put_release(Release(dev.id, "pkg", "1.0", {"name": "pkg"}, "now", tx.serial))
        first = store.put_file(dist_file(dev.id, "pkg-1.0.tar.gz"))
        store.put_file(dist_file(dev.id, "pkg-2.0.tar.gz", "2.0"))
        result = store.add_toxresult(ToxResult(0, dev.id, first.id, first.filename, "ab" * 32, "now"))
        store.put_mirror_page(MirrorPage(mirror.id, "other", 200), [dist_file(mirror.id, "other-1.0.tar.gz")])
        store.add_token(Token(0, "alice", "api", "now", 0.0, description="CI"), "hash-of-secret")
    assert [f.filename for f in store.iter_files(dev.id)] == ["pkg-1.0.tar.gz", "pkg-2.0.tar.gz"]
    assert len(list(store.iter_files())) == 3
    assert [r.version for r in store.iter_releases(dev.id)] == ["1.0", "2.0"]
    assert list(store.iter_toxresults()) == [result]
    assert [(t.description, h) for t, h in store.iter_tokens()] == [("CI", "hash-of-secret")]
    assert store.mirror_page_projects(mirror.id) == ["other"]
    assert store.index_ids_in_use() == {dev.id, mirror.id}
    with store.write():
        store.delete_toxresult(result.id)
    assert list(store.iter_toxresults()) == []


def test_blob_times_and_temp_files(tmp_path):
    blobs = FileBlobStore(tmp_path / "+files")
    sha = blobs.put_bytes(b"content")
    past = time.time() - 3600
    os.utime(blobs.path(sha), (past, past))
    assert blobs.modified(sha) == pytest.approx(past)
    blobs.put_bytes(b"content")  # stored again: the blob is fresh, so check leaves it alone
    assert blobs.modified(sha) > past + 3000
    writer = blobs.writer()
    writer.write(b"half")
    (temp,) = blobs.temp_files()
    assert temp.name == writer.temp_path.name
    blobs.remove_temp(temp.name)
    assert blobs.temp_files() == []
    with pytest.raises(ValueError, match="not a temp file name"):
        blobs.remove_temp("../escape")
    writer.discard()
