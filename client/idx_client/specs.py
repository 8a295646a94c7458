"""Parsing what users type: release specs (``name``, ``name==1.0``, ``name>=1``) and
``key=value`` arguments (``key+=value`` and ``key-=value`` where lists are changed)."""

from __future__ import annotations

from dataclasses import dataclass

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from idx_client.errors import UsageError


@dataclass(frozen=True)
class ReleaseSpec:
    """A project and the versions of it meant (all of them when the specifier is empty)."""

    project: str
    specifier: SpecifierSet

    @property
    def normalized(self) -> str:
        return canonicalize_name(self.project)

    @property
    def exact_version(self) -> str | None:
        """The version of ``name==version`` (no wildcard), else None."""
        specs = list(self.specifier)
        if len(specs) == 1 and specs[0].operator in ("==", "===") and "*" not in specs[0].version:
            return specs[0].version
        return None

    def matches(self, version: str) -> bool:
        if not str(self.specifier):
            return True
        exact = self.exact_version
        if exact is not None and exact == version:
            return True
        try:
            return self.specifier.contains(Version(version), prereleases=True)
        except InvalidVersion:
            return False


def parse_release_spec(text: str) -> ReleaseSpec:
    """``name``, ``name==1.0``, ``name>=1,<2`` (PEP 508 without extras or markers)."""
    try:
        requirement = Requirement(text.strip())
    except InvalidRequirement:
        raise UsageError(f"not a project or release: {text!r} (expected NAME or NAME==VERSION)") from None
    if requirement.extras or requirement.marker or requirement.url:
        raise UsageError(f"not a project or release: {text!r} (expected NAME or NAME==VERSION)")
    return ReleaseSpec(requirement.name, requirement.specifier)


def parse_exact_release(text: str) -> tuple[str, str]:
    """``(name, version)`` from ``name==version``."""
    spec = parse_release_spec(text)
    version = spec.exact_version
    if version is None:
        raise UsageError(f"expected a release as NAME==VERSION, got {text!r}")
    return spec.project, version


@dataclass(frozen=True)
class KeyValue:
    key: str
    #: "=", "+=" (add to a list) or "-=" (remove from a list; "key-=" resets the key).
    op: str
    value: str

    def __str__(self) -> str:
        return f"{self.key}{self.op}{self.value}"


def parse_key_values(items: list[str], allow_list_ops: bool = False) -> list[KeyValue]:
    """``key=value`` arguments; ``key+=value``/``key-=value`` too if ``allow_list_ops``."""
    parsed = []
    for item in items:
        key, sep, value = item.partition("=")
        op = "="
        if allow_list_ops and key.endswith(("+", "-")):
            key, op = key[:-1], key[-1] + "="
        key = key.strip()
        if not sep or not key or key.endswith(("+", "-")):
            expected = "key=value, key+=value or key-=value" if allow_list_ops else "key=value"
            raise UsageError(f"expected {expected}, got {item!r}")
        parsed.append(KeyValue(key, op, value))
    return parsed


def key_value_dict(items: list[KeyValue]) -> dict[str, str]:
    return {item.key: item.value for item in items}
