"""Content-addressed blobs: complete and verified, or absent; each content stored once."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from idx_server.storage.blobs import FileBlobStore


@pytest.fixture
def blobs(tmp_path: Path) -> FileBlobStore:
    return FileBlobStore(tmp_path / "+files")


def stored(blobs: FileBlobStore) -> list[Path]:
    return sorted(p for p in blobs.root.rglob("*") if p.is_file())


def test_a_blob_lives_under_its_sha256(blobs):
    sha = blobs.put_bytes(b"hello")
    assert sha == hashlib.sha256(b"hello").hexdigest()
    assert blobs.path(sha) == blobs.root / sha[:2] / sha[2:4] / sha
    assert blobs.path(sha).read_bytes() == b"hello"
    assert blobs.exists(sha)
    assert blobs.size(sha) == 5


def test_the_same_bytes_are_stored_once(blobs):
    assert blobs.put_bytes(b"same") == blobs.put_bytes(b"same")
    assert len(stored(blobs)) == 1
    assert list(blobs.tmp_dir.iterdir()) == []


def test_a_writer_hashes_as_it_goes(blobs):
    writer = blobs.writer()
    writer.write(b"he")
    writer.write(b"llo")
    digests = writer.hexdigests()
    assert digests["sha256"] == hashlib.sha256(b"hello").hexdigest()
    assert digests["md5"] == hashlib.md5(b"hello").hexdigest()
    assert digests["blake2_256"] == hashlib.blake2b(b"hello", digest_size=32).hexdigest()
    assert writer.size == 5
    assert writer.commit() == digests["sha256"]
    assert list(blobs.tmp_dir.iterdir()) == []


def test_a_discarded_writer_leaves_nothing(blobs):
    writer = blobs.writer()
    writer.write(b"partial upload")
    assert writer.temp_path is not None
    assert writer.temp_path.exists()
    writer.discard()
    assert stored(blobs) == []


def test_delete(blobs):
    sha = blobs.put_bytes(b"x")
    blobs.delete(sha)
    assert not blobs.exists(sha)
    blobs.delete(sha)  # deleting twice is harmless


@pytest.mark.parametrize("bad", ["", "../../etc/passwd", "A" * 64, "0" * 63])
def test_only_sha256_hex_digests_name_blobs(blobs, bad):
    with pytest.raises(ValueError, match="sha256"):
        blobs.path(bad)
