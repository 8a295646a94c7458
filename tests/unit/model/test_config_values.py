"""Typed configuration values (index keys and server settings alike)."""

from __future__ import annotations

import pytest
from idx_server.model import config_values as cv
from idx_server.model.errors import InvalidInput


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, True),
        (False, False),
        (1, True),
        (0, False),
        ("true", True),
        ("True", True),
        ("yes", True),
        ("on", True),
        ("1", True),
        (" TRUE ", True),
        ("false", False),
        ("False", False),
        ("no", False),
        ("off", False),
        ("0", False),
        ("", False),
    ],
)
def test_bool(value, expected):
    assert cv.parse_bool(value, "volatile") is expected


@pytest.mark.parametrize("value", ["maybe", 2, -1, None, [], "tru"])
def test_bool_refuses(value):
    with pytest.raises(InvalidInput, match="volatile"):
        cv.parse_bool(value, "volatile")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("a,b", ["a", "b"]),
        (" a , b ,", ["a", "b"]),
        ("a,a,b", ["a", "b"]),
        ("", []),
        (["a", " b "], ["a", "b"]),
        (("a", "a"), ["a"]),
        ([], []),
    ],
)
def test_str_list(value, expected):
    assert cv.parse_str_list(value, "acl_upload") == expected


@pytest.mark.parametrize("value", [1, None, {"a": 1}, ["a", 2]])
def test_str_list_refuses(value):
    with pytest.raises(InvalidInput, match="acl_upload"):
        cv.parse_str_list(value, "acl_upload")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, 0),
        (3600, 3600),
        ("3600", 3600),
        ("30s", 30),
        ("90m", 5400),
        ("2h", 7200),
        ("7d", 604800),
        ("2w", 1209600),
        ("1.5h", 5400),
        (" 10 m ", 600),
        ("7D", 604800),
    ],
)
def test_duration(value, expected):
    assert cv.parse_duration(value, "mirror_cache_expiry") == expected


@pytest.mark.parametrize("value", [-1, "-5", "5y", "soon", "", True, "1h30m"])
def test_duration_refuses(value):
    with pytest.raises(InvalidInput, match="mirror_cache_expiry"):
        cv.parse_duration(value, "mirror_cache_expiry")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, 0),
        (1048576, 1048576),
        ("1048576", 1048576),
        ("1K", 1024),
        ("500M", 500 * 1024**2),
        ("10g", 10 * 1024**3),
        ("2GiB", 2 * 1024**3),
        ("2GB", 2 * 1024**3),
        ("1T", 1024**4),
        ("1.5K", 1536),
        (" 3 M ", 3 * 1024**2),
    ],
)
def test_size(value, expected):
    assert cv.parse_size(value, "mirror_max_size") == expected


@pytest.mark.parametrize("value", [-1, "-1", "10X", "big", "", True, "1 0M"])
def test_size_refuses(value):
    with pytest.raises(InvalidInput, match="mirror_max_size"):
        cv.parse_size(value, "mirror_max_size")


def test_int():
    assert cv.parse_int("12", "threads") == 12
    for bad in ("twelve", True, -1, None):
        with pytest.raises(InvalidInput, match="threads"):
            cv.parse_int(bad, "threads")


def test_choice():
    parse = cv.choice("intersection", "union")
    assert parse(" union ", "mirror_whitelist_inheritance") == "union"
    with pytest.raises(InvalidInput, match="one of intersection, union"):
        parse("both", "mirror_whitelist_inheritance")
