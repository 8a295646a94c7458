"""Hostile input: whatever a client sends, the server answers below 500, writes nothing
outside its serverdir, leaves nothing behind when it refuses, and keeps serving.

Property-based (hypothesis, derandomized so CI sees the same examples each run) over
upload forms, filenames, metadata, archive members, JSON bodies, names in URLs and
request headers; plus the bombs, which are too large to generate and are built once.
Every request goes through :meth:`Sandbox.send`, which checks the invariants.
"""

from __future__ import annotations

import json
import os
import re
import tarfile
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urljoin, urlsplit

import pytest
from fakes import hostile_dists as hd
from fakes.hostile_dists import Member
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context
from idx_server.model.names import is_valid_project_name
from idx_server.testing import ROOT_PASSWORD, Dist, Mapp, Project, basic_auth, make_wheel, twine_fields

HOSTILE = settings(
    max_examples=30,
    # Generous: the machine is shared; a hang is caught by the test's timeout mark.
    deadline=timedelta(seconds=5),
    derandomize=True,
    database=None,
    print_blob=False,
    suppress_health_check=[
        # One server per test, shared by its examples: Sandbox.send checks each one.
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
pytestmark = pytest.mark.timeout(180)

ROOT = basic_auth("root", ROOT_PASSWORD)
JSON_ACCEPT = {"Accept": "application/json"}
SIMPLE_JSON = "application/vnd.pypi.simple.v1+json"

#: What may exist under the serverdir: the database, blobs named by their sha256, the
#: empty temp dir, rendered project lists.
SERVERDIR_PATHS = re.compile(
    r"idx\.sqlite(-wal|-shm|-journal)?"
    r"|\+files|\+files/\.tmp|\+files/[0-9a-f]{2}|\+files/[0-9a-f]{2}/[0-9a-f]{2}"
    r"|\+files/(?P<a>[0-9a-f]{2})/(?P<b>[0-9a-f]{2})/(?P=a)(?P=b)[0-9a-f]{60}"
    r"|\+cache|\+cache/lists|\+cache/lists/[0-9a-f]{24}\.(json|html)(\.gz)?"
)


@dataclass
class Sandbox:
    """The server under attack, and the places it must not write to."""

    mapp: Mapp
    core: Any
    tmp_path: Path
    serverdir: Path
    #: The working directory and TMPDIR while a request runs: it must stay empty.
    outside: Path

    @contextmanager
    def watched(self) -> Iterator[None]:
        cwd, tempdir, env = os.getcwd(), tempfile.tempdir, os.environ.get("TMPDIR")
        os.chdir(self.outside)
        tempfile.tempdir = os.environ["TMPDIR"] = str(self.outside)
        try:
            yield
        finally:
            os.chdir(cwd)
            tempfile.tempdir = tempdir
            if env is None:
                del os.environ["TMPDIR"]
            else:
                os.environ["TMPDIR"] = env

    def state(self) -> tuple[Any, ...]:
        """Everything a refused request must leave as it was."""
        store = self.core.store
        users = sorted((u.name, repr(u)) for u in store.list_users())
        indexes = sorted(
            (ix.full_name, json.dumps(dict(ix.config), sort_keys=True)) for ix in store.list_indexes()
        )
        tokens = sorted(t.id for name, _ in users for t in store.list_tokens(name))
        return store.serial(), store.counts(), self.blobs(), users, indexes, tokens

    def blobs(self) -> frozenset[str]:
        files = self.serverdir / "+files"
        return frozenset(p.name for p in files.rglob("*") if p.is_file() and ".tmp" not in p.parts)

    def send(
        self,
        method: str,
        path: str,
        body: bytes = b"",
        headers: Mapping[str, str] | None = None,
        content_type: str | None = None,
        upstream: bool = False,
    ) -> Any:
        """One request, checked: below 500 (or, with ``upstream``, the 502 to 504 of a dead
        upstream), nothing written outside, nothing left if refused."""
        before = self.state()
        all_headers = dict(headers or {})
        if content_type is not None:
            all_headers["Content-Type"] = content_type
        started = time.monotonic()
        with self.watched():
            response = self.mapp.app.request(
                path, method=method, body=body, headers=all_headers, expect_errors=True
            )
        elapsed = time.monotonic() - started
        if currently_in_test_context():  # --hypothesis-show-statistics shows what was answered
            event(f"{method} {response.status_int}")
        described = f"{method} {path[:200]!r} -> {response.status} {response.body[:300]!r}"
        assert response.status_int < 500 or (upstream and response.status_int in (502, 503, 504)), described
        assert elapsed < 30, f"took {elapsed:.1f}s: {described}"
        self.check_nothing_outside(described)
        if response.status_int >= 400:
            assert self.state() == before, f"a refused request changed the server's state: {described}"
        return response

    def check_nothing_outside(self, described: str = "") -> None:
        assert list(self.outside.iterdir()) == [], f"written outside the serverdir: {described}"
        assert {p.name for p in self.tmp_path.iterdir()} <= {"server", "outside"}, described
        unexpected = [
            str(p.relative_to(self.serverdir))
            for p in self.serverdir.rglob("*")
            if not SERVERDIR_PATHS.fullmatch(p.relative_to(self.serverdir).as_posix())
        ]
        assert unexpected == [], f"unexpected files in the serverdir: {unexpected} after {described}"
        assert list((self.serverdir / "+files" / ".tmp").iterdir()) == [], f"temp file left: {described}"

    def upload(self, form: bytes, boundary: str = "hostile-boundary", **headers: str) -> Any:
        return self.send(
            "POST",
            "/alice/dev/",
            form,
            {**self.mapp.headers, **headers},
            content_type=f"multipart/form-data; boundary={boundary}",
        )

    def assert_still_serving(self) -> None:
        """A normal client still gets normal answers."""
        version = f"9.{time.monotonic_ns()}"
        self.mapp.upload("alice/dev", name="normal", version=version)
        page = self.mapp.simple_json("alice/dev", "normal")
        assert any(version in f["filename"] for f in page.json["files"])
        self.mapp.app.get("/+api", status=200)
        self.check_nothing_outside("the final normal requests")


@pytest.fixture
def sandbox(alice: Mapp, idx_core: Any, idx_settings: Any, tmp_path: Path) -> Iterator[Sandbox]:
    """alice (logged in) and her volatile alice/dev, root, and a watched outside dir."""
    outside = tmp_path / "outside"
    outside.mkdir()
    box = Sandbox(alice, idx_core, tmp_path, idx_settings.serverdir, outside)
    yield box
    box.assert_still_serving()


# -- multipart forms -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Part:
    name: bytes
    data: bytes
    filename: bytes | None = None
    content_type: bytes | None = None


def form_body(parts: Sequence[Part], boundary: bytes, close: bool = True) -> bytes:
    lines: list[bytes] = []
    for part in parts:
        disposition = b'form-data; name="' + part.name + b'"'
        if part.filename is not None:
            disposition += b'; filename="' + part.filename + b'"'
        lines += [b"--" + boundary, b"Content-Disposition: " + disposition]
        if part.content_type is not None:
            lines.append(b"Content-Type: " + part.content_type)
        lines += [b"", part.data]
    if close:
        lines += [b"--" + boundary + b"--", b""]
    return b"\r\n".join(lines)


def upload_form(content: bytes, filename: bytes = hd.WHEEL_NAME.encode(), **fields: bytes) -> bytes:
    """A form as twine sends it for ``content`` (fields for hello 1.0, digests of ``content``),
    with ``filename`` in the file part and ``fields`` replacing twine's."""
    values = {k: v.encode() for k, v in twine_fields(Dist(hd.WHEEL_NAME, content)).items()}
    if filename.endswith(b".tar.gz"):
        values.update(filetype=b"sdist", pyversion=b"source")
    values.update(fields)
    parts = [Part(k.encode(), v) for k, v in values.items()]
    parts.append(Part(b"content", content, filename, b"application/octet-stream"))
    return form_body(parts, b"hostile-boundary")


FIELD_NAMES = [
    ":action",
    "protocol_version",
    "name",
    "version",
    "filetype",
    "pyversion",
    "metadata_version",
    "summary",
    "description",
    "requires_python",
    "requires_dist",
    "classifiers",
    "sha256_digest",
    "md5_digest",
    "blake2_256_digest",
    "attestations",
    "content",
    "gpg_signature",
]
HOSTILE_STRINGS = [
    "",
    " ",
    "..",
    "../../../../etc/passwd",
    "/etc/passwd",
    "C:\\Windows\\win.ini",
    "\x00",
    "\r\n\r\n",
    '"',
    "%00",
    "%2e%2e%2f",
    "\u202e",
    "\ud7ff\ue000",
    "<script>alert(1)</script>",
    "{}",
    "[]",
    "null",
    "é" * 300,
]
hostile_text = st.one_of(st.sampled_from(HOSTILE_STRINGS), st.text(max_size=300))
hostile_bytes = st.one_of(
    hostile_text.map(lambda s: s.encode("utf-8", "surrogatepass")),
    st.binary(max_size=300),
    st.sampled_from([b"\xff\xfe", b"\xc3", b"\xed\xa0\x80", b"caf\xe9"]),
)

VALID_WHEEL = hd.wheel()


@st.composite
def mangled_forms(draw: st.DrawFn) -> tuple[bytes, str]:
    """An upload form as twine sends it, then damaged."""
    fields = {k.encode(): v.encode() for k, v in twine_fields(Dist(hd.WHEEL_NAME, VALID_WHEEL)).items()}
    for name in draw(st.lists(st.sampled_from(sorted(fields)), max_size=3, unique=True)):
        if draw(st.booleans()):
            del fields[name]
        else:
            fields[name] = draw(hostile_bytes)
    extra = draw(
        st.lists(
            st.tuples(
                st.one_of(st.sampled_from(FIELD_NAMES).map(str.encode), hostile_bytes),
                hostile_bytes,
                st.none() | hostile_bytes,
            ),
            max_size=4,
        )
    )
    parts = [Part(k, v) for k, v in fields.items()]
    parts += [Part(name, value, filename) for name, value, filename in extra]
    content = draw(
        st.sampled_from([VALID_WHEEL, VALID_WHEEL[:100], VALID_WHEEL[:-22], b"", b"PK\x03\x04"])
        | st.binary(max_size=500)
    )
    filename = draw(st.just(hd.WHEEL_NAME.encode()) | hostile_bytes)
    if draw(st.integers(0, 4)):  # mostly with a file
        parts.append(Part(b"content", content, filename, draw(st.none() | hostile_bytes)))
    parts = draw(st.permutations(parts))
    boundary = draw(st.sampled_from(["hostile-boundary", "x", "a" * 70, "--", "é"]))
    body = form_body(parts, boundary.encode("utf-8"), close=draw(st.booleans()))
    if not draw(st.integers(0, 3)):  # sometimes cut short
        body = body[: draw(st.integers(0, len(body)))]
    content_type = draw(
        st.sampled_from(
            [
                f"multipart/form-data; boundary={boundary}",
                f'multipart/form-data; boundary="{boundary}"',
                "multipart/form-data",
                "multipart/form-data; boundary=",
                f"multipart/mixed; boundary={boundary}",
                f"multipart/form-data; boundary={boundary}; charset=ebcdic",
            ]
        )
    )
    return body, content_type


@HOSTILE
@given(form=mangled_forms())
def test_a_damaged_upload_form_is_answered_cleanly(sandbox: Sandbox, form: tuple[bytes, str]) -> None:
    body, content_type = form
    response = sandbox.send("POST", "/alice/dev/", body, sandbox.mapp.headers, content_type=content_type)
    if response.status_int == 200:
        # Only the undamaged wheel can be accepted, and then it is stored unchanged.
        stored = {f.sha256 for f in sandbox.core.store.iter_files(index_id(sandbox, "alice/dev"))}
        assert stored == {Dist(hd.WHEEL_NAME, VALID_WHEEL).sha256}


def file_path(sandbox: Sandbox, index: str = "alice/dev", filename: str = hd.WHEEL_NAME) -> str:
    """The path of ``filename`` as the simple page links it (the page is fetched through
    :meth:`Sandbox.send`, so it is checked too)."""
    page_url = f"http://localhost/{index}/+simple/hello/"
    page = sandbox.send("GET", urlsplit(page_url).path, headers={"Accept": SIMPLE_JSON})
    (url,) = [str(f["url"]) for f in page.json["files"] if f["filename"] == filename]
    return urlsplit(urljoin(page_url, url)).path


def index_id(sandbox: Sandbox, name: str) -> int:
    user, _, index = name.partition("/")
    found = sandbox.core.store.get_index(user, index)
    assert found is not None
    return int(found.id)


# -- filenames -----------------------------------------------------------------------------------
PATHLIKE_PREFIXES = ["", "../", "../../", "/", "/tmp/", "./", "\\", "..\\", "C:\\", "%2e%2e/", "a/", "\x00"]
PATHLIKE_SUFFIXES = ["", "/..", "/", "\x00", "\x00.txt", "\n", " ", ".", "/../../x.whl", ";.sh"]
filenames = st.one_of(
    st.builds(
        lambda prefix, suffix: (prefix + hd.WHEEL_NAME + suffix).encode("utf-8"),
        st.sampled_from(PATHLIKE_PREFIXES),
        st.sampled_from(PATHLIKE_SUFFIXES),
    ),
    hostile_bytes,
    st.text(max_size=300).map(lambda s: s.encode("utf-8", "surrogatepass")),
)


@HOSTILE
@given(filename=filenames)
@example(filename=b"../" * 20 + b"tmp/hello-1.0-py3-none-any.whl")
@example(filename=b"hello-1.0-py3-none-any.whl\x00.txt")
@example(filename=b".hello-1.0-py3-none-any.whl")
@example(filename=b"hello-1.0-py3-none-any.whl\xff")
def test_a_filename_never_leads_outside(sandbox: Sandbox, filename: bytes) -> None:
    response = sandbox.upload(upload_form(VALID_WHEEL, filename))
    if response.status_int == 200:
        # Accepted: stored under a plain name, and served back byte for byte.
        stored = [f.filename for f in sandbox.core.store.iter_files(index_id(sandbox, "alice/dev"))]
        for name in stored:
            assert not {"/", "\\"} & set(name), name
            assert not name.startswith("."), name
            assert not any(ord(c) < 32 for c in name), name
        page = sandbox.send("GET", "/alice/dev/+simple/hello/", headers={"Accept": SIMPLE_JSON})
        for entry in page.json["files"]:
            got = sandbox.send("GET", file_path(sandbox, filename=entry["filename"]))
            assert got.status_int == 200
            assert got.body == VALID_WHEEL


# -- metadata ------------------------------------------------------------------------------------
METADATA_KEYS = [
    "Metadata-Version",
    "Name",
    "Version",
    "Summary",
    "Requires-Python",
    "Requires-Dist",
    "Provides-Extra",
    "Classifier",
    "Description-Content-Type",
    "Project-URL",
    "License",
    "License-Expression",
    "License-File",
    "Keywords",
    "Author-email",
    "Dynamic",
    "Home-page",
]


@st.composite
def hostile_metadata(draw: st.DrawFn) -> bytes:
    def mostly(valid: list[bytes]) -> bytes:  # hostile one time in four, so some get stored
        return draw(st.sampled_from(valid) if draw(st.integers(0, 3)) else hostile_bytes)

    headers: list[tuple[bytes, bytes]] = [
        (b"Metadata-Version", mostly([b"2.1", b"2.4", b"1.0", b"9.9", b""])),
        (b"Name", mostly([b"hello", b"Hello", b"h\xe9llo"])),
        (b"Version", mostly([b"1.0", b"1.0.0", b"01.0"])),
    ]
    headers += draw(
        st.lists(
            st.tuples(st.sampled_from(METADATA_KEYS).map(str.encode) | hostile_bytes, hostile_bytes),
            max_size=8,
        )
    )
    headers = draw(st.permutations(headers)) if draw(st.booleans()) else headers
    body = draw(hostile_bytes)
    return b"".join(k + b": " + v + b"\n" for k, v in headers) + b"\n" + body


@HOSTILE
@given(metadata=hostile_metadata())
@example(metadata=hd.METADATA.replace(b"Summary: hostile", b"Summary: \xff\xfe\xfd"))
@example(metadata=hd.METADATA + b"Requires-Dist: \x00; extra == '\xff'\n")
@example(metadata=b"\xef\xbb\xbf" + hd.METADATA)
@example(metadata=hd.METADATA.replace(b"Version: 1.0", b"Version: 1.0\nVersion: 2.0"))
def test_any_metadata_is_refused_or_served_as_sent(sandbox: Sandbox, metadata: bytes) -> None:
    content = hd.wheel(metadata=metadata)
    response = sandbox.upload(upload_form(content))
    if response.status_int != 200:
        return
    # Accepted: every page that shows it renders, and PEP 658 serves the bytes unchanged.
    for path, accept in [
        ("/alice/dev/+simple/hello/", SIMPLE_JSON),
        ("/alice/dev/+simple/hello/", "text/html"),
        ("/alice/dev/hello", "application/json"),
        ("/alice/dev/hello/1.0", "application/json"),
        ("/alice/dev/", "text/html"),
    ]:
        sandbox.send("GET", path, headers={"Accept": accept})
    served = sandbox.send("GET", file_path(sandbox) + ".metadata")
    assert served.status_int == 200
    assert served.body == metadata


# -- archive members -----------------------------------------------------------------------------
PATH_SEGMENTS = ["..", ".", "", "hello", "a", "~", "C:", "\\..", "..\\..", "\u2025", "\xff"]
member_names = st.one_of(
    st.lists(st.sampled_from(PATH_SEGMENTS), min_size=1, max_size=5).map("/".join),
    st.sampled_from(["/etc/passwd", "//server/share", "C:/x", "\\x", "hello/../../x", "../" * 40 + "x"]),
    st.text(max_size=80).filter(bool),
)
link_targets = st.one_of(
    st.sampled_from(["/etc/passwd", "..", "../..", "../../../../tmp/x", "hello", "./", "C:\\x", ""]),
    member_names,
)


@st.composite
def members(draw: st.DrawFn, tar: bool) -> list[Member]:
    kinds = ["file", "symlink"] + (["hardlink", "fifo", "chardev", "dir"] if tar else [])
    found = []
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(kinds))
        prefix = hd.SDIST_ROOT + "/" if tar and draw(st.booleans()) else ""
        name = prefix + draw(member_names)
        if kind == "file":
            found.append(Member(name, draw(st.binary(max_size=64))))
        elif kind == "symlink":
            found.append(Member(name, draw(link_targets).encode("utf-8", "surrogateescape"), link=True))
        else:
            tar_type = {
                "hardlink": tarfile.LNKTYPE,
                "fifo": tarfile.FIFOTYPE,
                "chardev": tarfile.CHRTYPE,
                "dir": tarfile.DIRTYPE,
            }[kind]
            target = draw(link_targets) if kind == "hardlink" else ""
            found.append(Member(name, target.encode("utf-8", "surrogateescape"), tar_type=tar_type))
    return hd.unique(found)


ACCEPTS = st.sampled_from(["*/*", "application/json", "text/plain", "text/html", ""])


@HOSTILE
@given(found=members(tar=False), accept=ACCEPTS)
@example(found=[Member("../../evil.py", b"x")], accept="text/plain")
@example(found=[Member("/etc/cron.d/evil", b"x")], accept="*/*")
@example(found=[Member("hello/link", b"/etc/passwd", link=True)], accept="*/*")
@example(found=[Member("hello/..\\..\\evil", b"x")], accept="*/*")
def test_wheel_members_never_reach_outside(sandbox: Sandbox, found: list[Member], accept: str) -> None:
    response = sandbox.upload(upload_form(hd.wheel(found)), Accept=accept)
    names_escape = any(hd.is_absolute(m.name) or hd.climbs_out(m.name) for m in found)
    if names_escape:
        assert response.status_int == 400, f"a wheel with {found} was accepted"


@HOSTILE
@given(found=members(tar=True), accept=ACCEPTS)
@example(found=[Member("hello-1.0/link", b"../../etc/passwd", link=True)], accept="*/*")
@example(found=[Member("hello-1.0/hard", b"../etc/passwd", tar_type=tarfile.LNKTYPE)], accept="*/*")
@example(found=[Member("hello-1.0/hard", b"hello-1.0/../../x", tar_type=tarfile.LNKTYPE)], accept="*/*")
@example(found=[Member("hello-1.0/\udcff", b"x")], accept="text/plain")
@example(found=[Member("/hello-1.0/\udcff", b"x")], accept="text/plain")
@example(found=[Member("hello-1.0/dev", b"", tar_type=tarfile.CHRTYPE)], accept="*/*")
def test_sdist_members_never_reach_outside(sandbox: Sandbox, found: list[Member], accept: str) -> None:
    content = hd.sdist(found)
    response = sandbox.upload(upload_form(content, hd.SDIST_NAME.encode()), Accept=accept)
    if any(hd.escapes(m) for m in found):
        assert response.status_int == 400, f"an sdist with {found} was accepted"


BOMBS = {
    "zip_member_of_320_MiB": lambda: upload_form(hd.zip_bomb()),
    "zip_directory_lying_about_4_GiB": lambda: upload_form(hd.zip_lying_about_size()),
    "tar_member_of_320_MiB": lambda: upload_form(hd.tar_bomb(), hd.SDIST_NAME.encode()),
    "metadata_of_17_MiB": lambda: upload_form(hd.wheel(metadata=hd.huge_metadata(17 * hd.MIB))),
    "pkg_info_of_17_MiB": lambda: upload_form(
        hd.sdist(pkg_info=hd.huge_metadata(17 * hd.MIB)), hd.SDIST_NAME.encode()
    ),
}


@pytest.mark.parametrize("bomb", list(BOMBS), ids=list(BOMBS))
def test_a_bomb_is_refused_quickly(sandbox: Sandbox, bomb: str) -> None:
    form = BOMBS[bomb]()
    started = time.monotonic()
    response = sandbox.upload(form)
    assert time.monotonic() - started < 10, "the server unpacked the bomb instead of refusing it"
    assert response.status_int == 400, response.text


def test_a_large_but_honest_metadata_is_handled(sandbox: Sandbox) -> None:
    """15 MiB of METADATA (a long description) is within the limit: stored, or refused
    below 500; either way answered in time and served unchanged if stored."""
    metadata = hd.huge_metadata(15 * hd.MIB)
    started = time.monotonic()
    response = sandbox.upload(upload_form(hd.wheel(metadata=metadata)))
    assert time.monotonic() - started < 20
    if response.status_int == 200:
        sandbox.send("GET", "/alice/dev/hello/1.0", headers=JSON_ACCEPT)


# -- JSON bodies ---------------------------------------------------------------------------------
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | hostile_text,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(hostile_text, children, max_size=4),
    max_leaves=12,
)
INDEX_KEYS = [
    "type",
    "bases",
    "volatile",
    "acl_upload",
    "acl_read",
    "acl_toxresult_upload",
    "mirror_url",
    "mirror_whitelist",
    "mirror_whitelist_inheritance",
    "title",
    "description",
    "custom_data",
    "projects",
    "mirror_cache_expiry",
    "mirror_offline",
]
USER_KEYS = ["password", "email", "title", "description", "custom_data", "username", "indexes", "pwhash"]
OTHER_KEYS = ["user", "password", "name", "version", "targetindex", "scope", "index", "expires", "reason"]


def keyed_objects(keys: list[str]) -> st.SearchStrategy[Any]:
    values = json_values | st.sampled_from(
        [
            "alice/dev",
            "root/pypi",
            "alice/missing",
            "../..",
            ":ANONYMOUS:",
            "http://127.0.0.1:9/",
            "file:///etc/passwd",
        ]
    )
    return st.dictionaries(st.sampled_from(keys), values, max_size=5)


#: Bodies no generator would think of, by name (so a failure's report stays short).
RAW_BODIES = {
    "open brace": b"{",
    "trailing comma": b'{"a": 1,}',
    "utf-16": "{}".encode("utf-16"),
    "lone surrogate": b'"\xed\xa0\x80"',
    "bom": b"\xef\xbb\xbf{}",
    "nan": b"NaN",
    "huge exponent": b"1e999999",
    "long number": b"-" + b"9" * 5000,
    "100000 brackets": b"[" * 100_000,
    "50000 objects": b'{"a":' * 50_000,
    "990 deep": b'{"custom_data": ' + b"[" * 990 + b"]" * 990 + b"}",
}
json_bodies = st.one_of(
    keyed_objects(INDEX_KEYS + USER_KEYS + OTHER_KEYS).map(json.dumps),
    json_values.map(json.dumps),
    st.binary(max_size=200),
    st.sampled_from(sorted(RAW_BODIES)),
)


def body_bytes(body: str | bytes) -> bytes:
    if isinstance(body, bytes):
        return body
    return RAW_BODIES.get(body) or body.encode("utf-8", "surrogatepass")


#: (method, path, who): the JSON endpoints, each aimed at something no other test needs.
JSON_ENDPOINTS = [
    ("PUT", "/alice/scratch", "alice"),
    ("PATCH", "/alice/target", "alice"),
    ("PATCH", "/alice/target", "root"),
    ("PUT", "/mallory2", "root"),
    ("PATCH", "/mallory", "root"),
    ("POST", "/+login", "anonymous"),
    ("POST", "/+tokens", "mallory"),
    ("POST", "/alice/target/", "alice"),  # push
    ("POST", "/alice/target/hello/1.0/+yank", "alice"),
    ("POST", "{file}", "alice"),  # a test result
]


@pytest.fixture
def json_targets(sandbox: Sandbox) -> Sandbox:
    mapp = sandbox.mapp
    mapp.create_index("target")
    mapp.upload("alice/target", name="hello", version="1.0")
    mapp.app.put_json("/mallory", {"password": "mallory-pw"}, headers=ROOT, status=201)
    return sandbox


def credentials(who: str, sandbox: Sandbox) -> dict[str, str]:
    return {
        "alice": sandbox.mapp.headers,
        "root": ROOT,
        "mallory": basic_auth("mallory", "mallory-pw"),
        "anonymous": {},
    }[who]


@HOSTILE
@given(
    endpoint=st.sampled_from(JSON_ENDPOINTS),
    body=json_bodies,
    content_type=st.sampled_from(["application/json", "application/json; charset=latin-1", "text/plain"]),
)
def test_any_json_body_is_answered_below_500(
    json_targets: Sandbox, endpoint: tuple[str, str, str], body: str | bytes, content_type: str
) -> None:
    sandbox = json_targets
    method, path, who = endpoint
    if path == "{file}":
        path = file_path(sandbox, "alice/target", "hello-1.0-py3-none-any.whl")
    response = sandbox.send(
        method, path, body_bytes(body), credentials(who, sandbox), content_type=content_type
    )
    if method == "PUT" and response.status_int == 201:
        sandbox.send("DELETE", path + "?force", headers=ROOT)


@HOSTILE
@given(depth=st.sampled_from([900, 990, 1000, 5000, 200_000]), key=st.sampled_from(["custom_data", "reason"]))
def test_deeply_nested_json_is_refused_or_stored(json_targets: Sandbox, depth: int, key: str) -> None:
    body = (f'{{"{key}": ' + "[" * depth + "]" * depth + "}").encode()
    sandbox = json_targets
    sandbox.send("PATCH", "/alice/target", body, sandbox.mapp.headers, content_type="application/json")
    sandbox.send("PATCH", "/mallory", body, ROOT, content_type="application/json")
    sandbox.send("POST", "/alice/target/hello/1.0/+yank", body, sandbox.mapp.headers, "application/json")
    sandbox.send("GET", "/alice/target", headers=JSON_ACCEPT)
    sandbox.send("GET", "/mallory", headers=JSON_ACCEPT)


# -- names in URLs -------------------------------------------------------------------------------
#: The rule for user and index names (devpi's, plus '@'), written out here on purpose.
VALID_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.@-]{0,63}")
url_names = st.one_of(
    st.sampled_from(
        ["a\n", "a\r", "a\x00", "..", ".", "-a", "+api", "a b", "é", "a" * 65, "root\n", "a%2fb"]
    ),
    st.text(min_size=1, max_size=70),
    st.binary(min_size=1, max_size=20).map(lambda b: b.decode("latin-1")),
)


def segment(name: str) -> str:
    """``name`` as one URL path segment; bytes that are not UTF-8 stay raw (``%FF``)."""
    if all(ord(c) < 256 for c in name) and not _is_utf8(name):
        return "".join(f"%{b:02X}" for b in name.encode("latin-1"))
    return quote(name.encode("utf-8", "surrogatepass"), safe="")


def _is_utf8(name: str) -> bool:
    try:
        name.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return False
    return True


@HOSTILE
@given(name=url_names)
@example(name="\xff")
@example(name="bob\n")
@example(name="bob\r\n")
def test_user_and_index_names_are_validated(sandbox: Sandbox, name: str) -> None:
    part = segment(name)
    response = sandbox.send(
        "PUT", f"/{part}", json.dumps({"password": "pw"}).encode(), ROOT, "application/json"
    )
    if response.status_int == 201:
        assert VALID_NAME.fullmatch(response.json["result"]["username"]), f"user {name!r} created"
        sandbox.send("DELETE", f"/{part}", headers=ROOT)
    response = sandbox.send("PUT", f"/alice/{part}", b"{}", sandbox.mapp.headers, "application/json")
    if response.status_int == 201:
        assert VALID_NAME.fullmatch(unquote(part, errors="surrogateescape")), f"index {name!r} created"
        sandbox.send("DELETE", f"/alice/{part}", headers=sandbox.mapp.headers)
    for path in (f"/{part}", f"/{part}/+api", f"/alice/{part}", f"/alice/{part}/+simple/", f"/{part}/dev/"):
        sandbox.send("GET", path, headers=JSON_ACCEPT)


@HOSTILE
@given(name=url_names)
@example(name="\xff")
@example(name="hello\n")
def test_project_names_in_urls_and_forms(sandbox: Sandbox, name: str) -> None:
    part = segment(name)
    for path, accept in [
        (f"/alice/dev/+simple/{part}/", SIMPLE_JSON),
        (f"/alice/dev/+simple/{part}/", "text/html"),
        (f"/alice/dev/{part}", "application/json"),
        (f"/alice/dev/{part}/", "text/html"),
        (f"/alice/dev/{part}/1.0", "application/json"),
    ]:
        sandbox.send("GET", path, headers={"Accept": accept})
    # The mirror's upstream is dead (503), but a bad name must not even be asked for.
    sandbox.send("GET", f"/root/pypi/+simple/{part}/", headers={"Accept": SIMPLE_JSON}, upstream=True)
    sandbox.send("POST", f"/alice/dev/+simple/{part}/refresh", headers=sandbox.mapp.headers)
    sandbox.send("DELETE", f"/alice/dev/{part}", headers=sandbox.mapp.headers)
    sandbox.send("POST", f"/alice/dev/{part}/1.0/+yank", headers=sandbox.mapp.headers)
    response = sandbox.upload(upload_form(VALID_WHEEL, name=name.encode("utf-8", "surrogatepass")))
    if response.status_int == 200:
        assert is_valid_project_name(name), f"an upload named {name!r} was accepted"


# -- request headers -----------------------------------------------------------------------------
header_values = st.one_of(
    st.sampled_from(
        [
            "",
            "*/*",
            "text/html;q=0",
            "application/json;q=abc",
            "application/vnd.pypi.simple.v1+json;q=1.5",
            "application/vnd.pypi.simple.latest+json, */*;q=0.1",
            "text/*;;;",
            ",,,,",
            "*/*;q=0.0001, " * 200,
            "a/b;c=" + '"' * 50,
            "\xff\xfe",
        ]
    ),
    st.text(st.characters(min_codepoint=32, max_codepoint=255), max_size=200),
)
PAGES = [
    "/",
    "/+api",
    "/+status",
    "/alice",
    "/alice/dev",
    "/alice/dev/",
    "/alice/dev/+simple/",
    "/alice/dev/+simple/hello/",
    "/alice/dev/hello",
    "/alice/dev/hello/",
    "/alice/dev/hello/1.0",
    "/alice/dev/+simple/missing/",
    "/alice/missing/+simple/",
    "{file}",
    "{file}.metadata",
]


@pytest.fixture
def with_a_release(sandbox: Sandbox) -> Sandbox:
    sandbox.mapp.upload("alice/dev", make_wheel(Project("hello", "1.0")))
    return sandbox


@HOSTILE
@given(
    page=st.sampled_from(PAGES),
    accept=header_values,
    fmt=st.none()
    | st.text(max_size=40)
    | st.sampled_from(["text/html", "application/vnd.pypi.simple.v1+json"]),
    extra=st.dictionaries(
        st.sampled_from(
            [
                "Authorization",
                "X-Devpi-Auth",
                "X-Outside-Url",
                "If-None-Match",
                "Range",
                "Accept-Encoding",
                "User-Agent",
            ]
        ),
        header_values,
        max_size=3,
    ),
)
@example(page="/alice/dev", accept="text/html", fmt=None, extra={"X-Outside-Url": "http://x\xff/"})
@example(page="/alice/dev/hello", accept="text/html", fmt=None, extra={"X-Outside-Url": "javascript:"})
@example(page="{file}", accept="*/*", fmt=None, extra={"Range": "bytes=-0,99999999999999999999-"})
@example(page="/alice/dev/+simple/?format=%FF", accept="*/*", fmt=None, extra={})
@example(page="/+api", accept="*/*", fmt=None, extra={"Authorization": "Basic \xff\xfe"})
@example(page="/+api", accept="*/*", fmt=None, extra={"Authorization": "Basic " + "QQ==" * 3000})
def test_any_request_headers_are_answered_below_500(
    with_a_release: Sandbox, page: str, accept: str, fmt: str | None, extra: dict[str, str]
) -> None:
    sandbox = with_a_release
    if "{file}" in page:
        page = page.replace("{file}", file_path(sandbox))
    if fmt is not None:
        page += "?format=" + quote(fmt.encode("utf-8", "surrogatepass"), safe="")
    response = sandbox.send("GET", page, headers={"Accept": accept, **extra})
    if response.status_int == 200:
        assert response.content_type, f"{page} with Accept {accept!r}: no Content-Type"
