"""Core metadata (METADATA / PKG-INFO) as an upload is checked against it."""

from __future__ import annotations

import pytest
from idx_server.model.errors import InvalidUpload
from idx_server.model.metadata import parse_core_metadata


def metadata(version: str = "2.1", *extra: str, name: str = "hello", release: str = "1.0") -> bytes:
    lines = [f"Metadata-Version: {version}", f"Name: {name}", f"Version: {release}", *extra]
    return ("\n".join(lines) + "\n\nThe description.\n").encode()


@pytest.mark.parametrize("version", ["1.0", "1.1", "1.2", "2.1", "2.2", "2.3", "2.4", "2.5"])
def test_known_metadata_versions_are_accepted(version):
    parsed = parse_core_metadata(metadata(version, "Summary: hi"), "hello-1.0.dist-info/METADATA")
    assert parsed.name == "hello"
    assert parsed.version == "1.0"
    assert parsed.fields["metadata_version"] == version
    assert parsed.fields["summary"] == "hi"
    assert parsed.warnings == ()


@pytest.mark.parametrize("version", ["2.6", "2.9", "3.0"])
def test_newer_metadata_versions_are_accepted_leniently(version):
    data = metadata(version, "Requires-Python: >=3.9", "Requires-Dist: attrs>=22", "Some-Future-Field: x")
    parsed = parse_core_metadata(data, "PKG-INFO")
    assert parsed.requires_python == ">=3.9"
    assert parsed.fields["requires_dist"] == ["attrs>=22"]


@pytest.mark.parametrize("version", ["2.1", "3.0"])
def test_invalid_requires_python_is_refused(version):
    with pytest.raises(InvalidUpload, match=">=three"):
        parse_core_metadata(metadata(version, "Requires-Python: >=three"), "PKG-INFO")


@pytest.mark.parametrize("version", ["2.1", "3.0"])
def test_invalid_requires_dist_is_refused(version):
    with pytest.raises(InvalidUpload, match="attrs >>>= 1"):
        parse_core_metadata(metadata(version, "Requires-Dist: attrs >>>= 1"), "PKG-INFO")


@pytest.mark.parametrize("version", ["2.1", "3.0"])
def test_invalid_version_is_refused(version):
    with pytest.raises(InvalidUpload, match=r"(?i)version"):
        parse_core_metadata(metadata(version, release="one-point-oh"), "PKG-INFO")


@pytest.mark.parametrize("field", ["Name", "Version", "Metadata-Version"])
def test_missing_essential_fields_are_refused_and_named(field):
    lines = [line for line in metadata("2.1").decode().splitlines() if not line.startswith(field + ":")]
    with pytest.raises(InvalidUpload, match=field):
        parse_core_metadata("\n".join(lines).encode(), "hello-1.0.dist-info/METADATA")


def test_message_names_the_source_file():
    with pytest.raises(InvalidUpload, match=r"hello-1\.0\.dist-info/METADATA"):
        parse_core_metadata(metadata("2.1", "Requires-Python: >=three"), "hello-1.0.dist-info/METADATA")


def test_non_utf8_is_refused():
    with pytest.raises(InvalidUpload, match="UTF-8"):
        parse_core_metadata(metadata("2.1", "Author: J\xfcrgen").decode().encode("latin-1"), "PKG-INFO")


def test_non_essential_problems_become_warnings():
    data = metadata("2.1", "Description-Content-Type: text/bogus", "Summary: fine")
    parsed = parse_core_metadata(data, "PKG-INFO")
    assert parsed.name == "hello"
    assert len(parsed.warnings) == 1
    assert "PKG-INFO" in parsed.warnings[0]
    assert "text/bogus" in parsed.warnings[0]


def test_fields_have_devpi_shape():
    data = metadata(
        "2.1",
        "Summary: hi",
        "Requires-Dist: attrs",
        "Requires-Dist: click; extra == 'cli'",
        "Provides-Extra: cli",
        "Classifier: Programming Language :: Python :: 3",
        "Project-URL: Source, https://example.org/src",
        "Keywords: a,b",
    )
    fields = parse_core_metadata(data, "PKG-INFO").fields
    assert fields["requires_dist"] == ["attrs", "click; extra == 'cli'"]
    assert fields["provides_extras"] == ["cli"]
    assert fields["classifiers"] == ["Programming Language :: Python :: 3"]
    assert fields["project_urls"] == ["Source, https://example.org/src"]
    assert fields["keywords"] == "a,b"
    assert fields["author"] == ""  # every devpi key is present
    assert fields["platform"] == []
    assert fields["description"].strip() == "The description."
