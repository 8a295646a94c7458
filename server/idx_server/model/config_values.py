"""Typed configuration values: parsing from JSON or from ``key=value`` strings.

Used for index configuration keys and server settings alike.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from idx_server.model.errors import InvalidInput

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}

_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$", re.IGNORECASE)
_DURATION_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}

_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b)?\s*$", re.IGNORECASE)
_SIZE_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


def parse_bool(value: Any, name: str = "value") -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise InvalidInput(f"{name}: expected true or false, got {value!r}")


def parse_int(value: Any, name: str = "value", minimum: int | None = 0) -> int:
    if isinstance(value, bool):
        raise InvalidInput(f"{name}: expected a whole number, got {value!r}")
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise InvalidInput(f"{name}: expected a whole number, got {value!r}") from None
    if minimum is not None and number < minimum:
        raise InvalidInput(f"{name}: must be at least {minimum}, got {number}")
    return number


def parse_duration(value: Any, name: str = "value") -> int:
    """Seconds from ``3600``, ``"90m"``, ``"7d"``, ``"2w"``; 0 means off."""
    if isinstance(value, bool):
        raise InvalidInput(f"{name}: expected a duration such as 3600, 90m or 7d, got {value!r}")
    if isinstance(value, int | float):
        if value < 0:
            raise InvalidInput(f"{name}: a duration cannot be negative")
        return int(value)
    match = _DURATION_RE.match(str(value))
    if not match:
        raise InvalidInput(f"{name}: expected a duration such as 3600, 90m or 7d, got {value!r}")
    return int(float(match.group(1)) * _DURATION_UNITS[match.group(2).lower()])


def parse_size(value: Any, name: str = "value") -> int:
    """Bytes from ``1048576``, ``"500M"``, ``"2GiB"``, ``"10g"``; 0 means unlimited."""
    if isinstance(value, bool):
        raise InvalidInput(f"{name}: expected a size such as 500M or 10G, got {value!r}")
    if isinstance(value, int):
        if value < 0:
            raise InvalidInput(f"{name}: a size cannot be negative")
        return value
    match = _SIZE_RE.match(str(value))
    if not match:
        raise InvalidInput(f"{name}: expected a size such as 500M or 10G, got {value!r}")
    return int(float(match.group(1)) * _SIZE_UNITS[match.group(2).lower()])


def parse_str_list(value: Any, name: str = "value") -> list[str]:
    """A list of strings from a JSON list or a comma-separated string."""
    if isinstance(value, str):
        items = [item.strip() for item in value.split(",")]
    elif isinstance(value, list | tuple):
        if not all(isinstance(item, str) for item in value):
            raise InvalidInput(f"{name}: expected a list of strings, got {value!r}")
        items = [item.strip() for item in value]
    else:
        raise InvalidInput(f"{name}: expected a list of strings, got {value!r}")
    result: list[str] = []
    for item in items:
        if item and item not in result:
            result.append(item)
    return result


def parse_network_list(value: Any, name: str = "value") -> list[str]:
    """IP addresses or networks (``127.0.0.1``, ``10.0.0.0/8``, ``::1``), checked, as given."""
    networks = parse_str_list(value, name)
    for network in networks:
        try:
            ipaddress.ip_network(network, strict=False)
        except ValueError:
            raise InvalidInput(
                f"{name}: {network!r} is not an IP address or network such as 127.0.0.1 or 10.0.0.0/8"
            ) from None
    return networks


def parse_str(value: Any, name: str = "value") -> str:
    if not isinstance(value, str):
        raise InvalidInput(f"{name}: expected a string, got {value!r}")
    return value


def parse_any(value: Any, name: str = "value") -> Any:
    return value


def choice(*options: str) -> Callable[[Any, str], str]:
    def parse(value: Any, name: str = "value") -> str:
        text = parse_str(value, name).strip()
        if text not in options:
            raise InvalidInput(f"{name}: expected one of {', '.join(options)}, got {value!r}")
        return text

    return parse


@dataclass(frozen=True)
class ValueKind:
    """How one kind of value is parsed and, for list kinds, whether += and -= apply."""

    name: str
    parse: Callable[[Any, str], Any]
    is_list: bool = False


BOOL = ValueKind("bool", parse_bool)
INT = ValueKind("int", parse_int)
DURATION = ValueKind("duration", parse_duration)
SIZE = ValueKind("size", parse_size)
STR = ValueKind("str", parse_str)
STR_LIST = ValueKind("list", parse_str_list, is_list=True)
NETWORK_LIST = ValueKind("list", parse_network_list, is_list=True)
JSON = ValueKind("json", parse_any)
