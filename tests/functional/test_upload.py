"""``POST /{user}/{index}/``: uploads as twine sends them, the refusals, and that a refused
upload leaves nothing behind."""

from __future__ import annotations

import hashlib
import io
import zipfile
from typing import Any

import pytest
from idx_server.testing import Dist, Project, make_sdist, make_wheel

WHEEL = "hello-1.0-py3-none-any.whl"


def wheel(version: str = "1.0", code: str = "VALUE = 42\n", **project: Any) -> Dist:
    return make_wheel(Project("hello", version, code=code, **project))


def without_member(dist: Dist, basename: str) -> Dist:
    """``dist`` (a wheel) with every member called ``basename`` left out."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(dist.content)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            if info.filename.rsplit("/", 1)[-1] != basename:
                dst.writestr(info, src.read(info))
    return Dist(dist.filename, out.getvalue())


def file_row(core, index: str, filename: str):
    user, _, name = index.partition("/")
    found = core.store.get_index(user, name)
    return core.store.get_file(found.id, filename)


# -- accepted ------------------------------------------------------------------------------------
def test_upload_a_wheel(alice, idx_core, disk):
    dist = wheel(requires_python=">=3.9")
    r = alice.upload("alice/dev", dist)
    assert r.status_int == 200
    assert WHEEL in r.text
    row = file_row(idx_core, "alice/dev", WHEEL)
    assert row.sha256 == dist.sha256
    assert row.size == len(dist.content)
    assert row.uploader == "alice"
    assert row.requires_python == ">=3.9"
    assert disk.holds(dist.content)
    assert disk.holds(dist.metadata), "the core metadata is kept, for PEP 658"
    assert disk.temp_files() == []
    assert [f["filename"] for f in alice.simple_json("alice/dev", "hello").json["files"]] == [WHEEL]


def test_upload_an_sdist(alice, idx_core):
    dist = make_sdist(Project("hello", "1.0"))
    alice.upload("alice/dev", dist)
    assert file_row(idx_core, "alice/dev", "hello-1.0.tar.gz").sha256 == dist.sha256


def test_upload_a_legacy_zip_sdist(alice, raw_upload):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("hello-1.0/PKG-INFO", "Metadata-Version: 1.0\nName: hello\nVersion: 1.0\n")
        archive.writestr("hello-1.0/setup.py", "")
    raw_upload("alice/dev", "hello-1.0.zip", buffer.getvalue(), 200, name="hello", version="1.0")
    assert alice.simple_json("alice/dev", "hello").json["files"][0]["filename"] == "hello-1.0.zip"


def test_upload_with_a_non_normalized_project_name(alice):
    alice.upload("alice/dev", make_wheel(Project("Hello.World", "1.0")), fields={"name": "Hello.World"})
    files = alice.simple_json("alice/dev", "hello-world").json["files"]
    assert [f["filename"] for f in files] == ["hello_world-1.0-py3-none-any.whl"]


def test_identical_re_upload_is_200_and_changes_nothing(alice, idx_core, disk):
    dist = wheel()
    alice.upload("alice/dev", dist)
    serial = idx_core.store.serial()
    r = alice.upload("alice/dev", dist)
    assert r.status_int == 200
    assert "identical" in r.text
    assert idx_core.store.serial() == serial
    assert disk.temp_files() == []


def test_identical_re_upload_to_a_non_volatile_index_is_200(alice):
    alice.create_index("prod", volatile=False)
    alice.upload("alice/prod", wheel())
    alice.upload("alice/prod", wheel(), status=200)


def test_other_bytes_under_the_same_name_replace_the_file_on_a_volatile_index(alice, disk, follow):
    old, new = wheel(code="VALUE = 1\n"), wheel(code="VALUE = 2\n")
    assert old.filename == new.filename
    assert old.content != new.content
    alice.upload("alice/dev", old)
    alice.upload("alice/dev", new)
    files = alice.simple_json("alice/dev", "hello").json["files"]
    assert [f["hashes"]["sha256"] for f in files] == [new.sha256]
    assert follow("/alice/dev/+simple/hello/", files[0]["url"]).body == new.content
    assert follow("/alice/dev/+simple/hello/", files[0]["url"] + ".metadata").body == new.metadata
    assert not disk.holds(old.content), "the replaced file's bytes are dropped"


def test_other_bytes_under_the_same_name_are_409_on_a_non_volatile_index(alice, idx_core, disk):
    alice.create_index("prod", volatile=False)
    old, new = wheel(code="VALUE = 1\n"), wheel(code="VALUE = 2\n")
    alice.upload("alice/prod", old)
    r = alice.upload("alice/prod", new, status=409)
    assert "File already exists" in r.status  # twine's --skip-existing looks for this
    assert "File already exists" in r.text
    assert file_row(idx_core, "alice/prod", WHEEL).sha256 == old.sha256
    assert not disk.holds(new.content)
    assert disk.temp_files() == []


def test_the_same_bytes_on_two_indexes_are_stored_once(alice, disk):
    alice.create_index("other")
    dist = wheel()
    alice.upload("alice/dev", dist)
    alice.upload("alice/other", dist)
    assert len([sha for sha in disk.blobs() if sha == dist.sha256]) == 1
    assert len(disk.blobs()) == 2  # the wheel and its METADATA


def test_digests_may_be_sent_urlsafe_base64_encoded(alice):
    import base64

    dist = wheel()
    encoded = base64.urlsafe_b64encode(hashlib.sha256(dist.content).digest()).decode().rstrip("=")
    alice.upload("alice/dev", dist, fields={"sha256_digest": encoded}, status=200)


def test_attestations_are_kept(alice, idx_core):
    attestations = '[{"version": 1, "verification_material": {}, "envelope": {}}]'
    alice.upload("alice/dev", wheel(), fields={"attestations": attestations})
    assert file_row(idx_core, "alice/dev", WHEEL).attestations == attestations


def test_anyone_authenticated_may_upload_when_the_acl_says_so(alice):
    alice.modify_index("alice/dev", ["acl_upload=:AUTHENTICATED:"])
    alice.create_and_login_user("bob")
    alice.upload("alice/dev", wheel(), status=200)


def test_anonymous_uploads_when_the_acl_says_so(alice, idx_core):
    alice.modify_index("alice/dev", ["acl_upload=:ANONYMOUS:"])
    alice.logout()
    alice.upload("alice/dev", wheel(), status=200)
    assert file_row(idx_core, "alice/dev", WHEEL) is not None


def test_upload_with_basic_auth_as_twine_sends_it(alice):
    alice.use_basic_auth("alice", "secret")
    alice.upload("alice/dev", wheel(), status=200)


# -- refused: each with its status, a message saying what to fix, and nothing left behind ---------
def refuse_wrong_sha256(mapp, raw_upload):
    return mapp.upload("alice/dev", wheel(), fields={"sha256_digest": "0" * 64}, status=400), "sha256 digest"


def refuse_wrong_blake2(mapp, raw_upload):
    return mapp.upload(
        "alice/dev", wheel(), fields={"blake2_256_digest": "ab" * 32}, status=400
    ), "blake2_256"


def refuse_wrong_md5(mapp, raw_upload):
    return mapp.upload("alice/dev", wheel(), fields={"md5_digest": "0" * 32}, status=400), "md5"


def refuse_version_mismatch(mapp, raw_upload):
    return mapp.upload("alice/dev", wheel(), fields={"version": "2.0"}, status=400), "version"


def refuse_project_mismatch(mapp, raw_upload):
    return mapp.upload("alice/dev", wheel(), fields={"name": "goodbye"}, status=400), "project"


def refuse_bad_extension(mapp, raw_upload):
    return raw_upload("alice/dev", "hello-1.0.exe", b"MZ...", 400, name="hello", version="1.0"), ".whl"


def refuse_path_in_filename(mapp, raw_upload):
    dist = wheel()
    return raw_upload(
        "alice/dev", "../" + dist.filename, dist.content, 400, name="hello", version="1.0"
    ), "path"


def refuse_wheel_without_metadata(mapp, raw_upload):
    return mapp.upload("alice/dev", without_member(wheel(), "METADATA"), status=400), "METADATA is missing"


def refuse_wheel_without_record(mapp, raw_upload):
    return mapp.upload("alice/dev", without_member(wheel(), "RECORD"), status=400), "RECORD is missing"


def refuse_sdist_without_pkg_info(mapp, raw_upload):
    import tarfile

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        info = tarfile.TarInfo("hello-1.0/setup.py")
        archive.addfile(info, io.BytesIO(b""))
    return raw_upload("alice/dev", "hello-1.0.tar.gz", buffer.getvalue(), 400), "PKG-INFO"


def refuse_metadata_for_another_version(mapp, raw_upload):
    dist = make_wheel(Project("hello", "2.0"))
    renamed = Dist(WHEEL, dist.content)  # 2.0's wheel under 1.0's name
    return mapp.upload("alice/dev", renamed, status=400), "dist-info"


def refuse_invalid_requires_python(mapp, raw_upload):
    return mapp.upload("alice/dev", wheel(requires_python=">=three"), status=400), ">=three"


def refuse_not_a_zip(mapp, raw_upload):
    return mapp.upload("alice/dev", Dist(WHEEL, b"not a zip at all"), status=400), "not a valid zip"


def refuse_empty_file(mapp, raw_upload):
    return mapp.upload("alice/dev", Dist(WHEEL, b""), status=400), "empty"


def refuse_no_content(mapp, raw_upload):
    r = mapp.app.post(
        "/alice/dev/",
        params={":action": "file_upload", "name": "hello", "version": "1.0"},
        upload_files=[("other", "x.txt", b"x")],
        headers=mapp.headers,
        status=400,
    )
    return r, "content"


def refuse_doc_upload(mapp, raw_upload):
    return mapp.upload("alice/dev", wheel(), fields={":action": "doc_upload"}, status=400), "doc_upload"


def refuse_mirror_upload(mapp, raw_upload):
    mapp.login_root()
    return mapp.upload("root/pypi", wheel(), status=405), "mirror"


def refuse_anonymous(mapp, raw_upload):
    mapp.logout()
    r = mapp.upload("alice/dev", wheel(), status=401)
    assert r.headers["WWW-Authenticate"].startswith("Basic")
    return r, "authentication required"


def refuse_wrong_password(mapp, raw_upload):
    mapp.use_basic_auth("alice", "wrong")
    r = mapp.upload("alice/dev", wheel(), status=401)
    assert r.headers["WWW-Authenticate"].startswith("Basic")
    return r, "invalid"


def refuse_other_user(mapp, raw_upload):
    mapp.create_and_login_user("bob")
    return mapp.upload("alice/dev", wheel(), status=403), "bob"


REFUSALS = [value for name, value in globals().items() if name.startswith("refuse_")]


@pytest.mark.parametrize("refuse", REFUSALS, ids=[f.__name__.removeprefix("refuse_") for f in REFUSALS])
def test_a_refused_upload_says_why_and_leaves_nothing_behind(alice, raw_upload, idx_core, disk, refuse):
    response, reason = refuse(alice, raw_upload)
    assert reason in response.text, "the body says what to fix"
    assert reason in response.status, "so does the status line (twine shows it)"
    assert disk.blobs() == set()
    assert disk.temp_files() == []
    assert file_row(idx_core, "alice/dev", WHEEL) is None
    counts = idx_core.store.counts()
    assert (counts["files"], counts["releases"], counts["projects"]) == (0, 0, 0)
    alice.logout()
    alice.app.get("/alice/dev/+simple/hello/", status=404)
    assert alice.get_json("/alice/dev").json["result"]["projects"] == []


def test_a_refused_replacement_keeps_the_original(alice, idx_core, disk):
    good = wheel()
    alice.upload("alice/dev", good)
    before = disk.blobs()
    alice.upload("alice/dev", wheel(code="VALUE = 2\n"), fields={"sha256_digest": "0" * 64}, status=400)
    assert disk.blobs() == before
    assert disk.temp_files() == []
    assert file_row(idx_core, "alice/dev", WHEEL).sha256 == good.sha256


def test_a_post_that_is_not_a_multipart_upload_is_400_and_says_so(alice):
    r = alice.app.post("/alice/dev/", {":action": "file_upload", "name": "hello", "version": "1.0"},
                       headers=alice.headers, status=400)  # fmt: skip
    assert "multipart/form-data" in r.text


def test_upload_to_a_missing_index_is_404(alice):
    alice.upload("alice/nope", wheel(), status=404)


class TestSizeLimit:
    @pytest.fixture
    def idx_settings_overrides(self) -> dict[str, Any]:
        return {"max_upload_size": 4096}

    def test_a_file_over_the_limit_is_413_and_leaves_nothing(self, alice, disk):
        big = wheel(code="# " + "x" * 20_000 + "\n" + "".join(f"V{i} = {i * 7919}\n" for i in range(3000)))
        assert len(big.content) > 4096
        r = alice.upload("alice/dev", big, status=413)
        assert "too large" in r.status
        assert disk.blobs() == set()
        assert disk.temp_files() == []

    def test_a_file_under_the_limit_is_fine(self, alice):
        alice.upload("alice/dev", wheel(), status=200)
