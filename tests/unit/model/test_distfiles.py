"""Distribution filenames: what PyPI accepts, and nothing that could escape a directory."""

from __future__ import annotations

import pytest
from idx_server.model.distfiles import parse_dist_filename, release_filename_matches
from idx_server.model.errors import InvalidUpload
from packaging.version import Version


@pytest.mark.parametrize(
    ("filename", "project", "version", "kind"),
    [
        ("hello-1.0-py3-none-any.whl", "hello", "1.0", "wheel"),
        (
            "Hello_World-2.0.post1-1-cp312-cp312-manylinux_2_17_x86_64.whl",
            "hello-world",
            "2.0.post1",
            "wheel",
        ),
        ("hello_world-1.0rc1-py2.py3-none-any.whl", "hello-world", "1.0rc1", "wheel"),
        ("hello-1.0.tar.gz", "hello", "1.0", "sdist"),
        ("hello_world-1.0.dev3.tar.gz", "hello-world", "1.0.dev3", "sdist"),
        ("hello-1.0.zip", "hello", "1.0", "sdist"),
    ],
)
def test_valid_filenames(filename, project, version, kind):
    parsed = parse_dist_filename(filename)
    assert parsed.project == project
    assert parsed.version == Version(version)
    assert parsed.kind == kind
    assert parsed.is_wheel is (kind == "wheel")


@pytest.mark.parametrize(
    "filename",
    [
        "hello-1.0.exe",
        "hello-1.0.tar.bz2",
        "hello-1.0.egg",
        "hello-1.0.msi",
        "hello-1.0.tgz",
        "hello-1.0",
        "hello.txt",
    ],
)
def test_other_extensions_are_refused_with_the_allowed_ones_named(filename):
    with pytest.raises(InvalidUpload, match=r"\.whl.*\.tar\.gz"):
        parse_dist_filename(filename)


@pytest.mark.parametrize(
    "filename",
    [
        "hello-1.0-py3-none.whl",  # too few tags
        "hello-1.0-py3-none-any-extra-x.whl",
        "hello world-1.0-py3-none-any.whl",
        "hello-notaversion-py3-none-any.whl",
        "hello.tar.gz",  # no version
        "hello-1.0_x.tar.gz",
    ],
)
def test_malformed_dist_filenames_are_refused(filename):
    with pytest.raises(InvalidUpload, match="Invalid"):
        parse_dist_filename(filename)


@pytest.mark.parametrize(
    "filename",
    [
        "../hello-1.0.tar.gz",
        "sub/hello-1.0.tar.gz",
        "/hello-1.0.tar.gz",
        "..\\hello-1.0.tar.gz",
        "C:\\hello-1.0.tar.gz",
        ".hello-1.0.tar.gz",
        "..",
    ],
)
def test_paths_are_refused(filename):
    with pytest.raises(InvalidUpload, match="path"):
        parse_dist_filename(filename)


@pytest.mark.parametrize(
    "filename",
    [
        "hello-1.0\n.tar.gz",
        "hello-1.0.tar.gz\r",
        "hello\x00-1.0.tar.gz",
        "hello\x1b[31m-1.0.tar.gz",
        "hello\u202e-1.0.tar.gz",  # right-to-left override
        "hello-1.0-py3-none-any.whl\t",
    ],
)
def test_control_characters_are_refused(filename):
    with pytest.raises(InvalidUpload, match="control characters"):
        parse_dist_filename(filename)


def test_empty_and_overlong_names_are_refused():
    with pytest.raises(InvalidUpload):
        parse_dist_filename("")
    with pytest.raises(InvalidUpload, match="255"):
        parse_dist_filename("a" * 250 + "-1.0.tar.gz")


def test_filename_matching_the_release():
    dist = parse_dist_filename("Hello_World-1.0-py3-none-any.whl")
    release_filename_matches(dist, "hello-world", Version("1.0"))
    release_filename_matches(dist, "hello-world", Version("1.0.0"))  # equal versions


def test_filename_for_another_project_is_refused():
    dist = parse_dist_filename("hello-1.0-py3-none-any.whl")
    with pytest.raises(InvalidUpload, match="project"):
        release_filename_matches(dist, "goodbye", Version("1.0"))


def test_filename_for_another_version_is_refused():
    dist = parse_dist_filename("hello-1.0.tar.gz")
    with pytest.raises(InvalidUpload, match="version"):
        release_filename_matches(dist, "hello", Version("1.1"))
