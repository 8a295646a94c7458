"""Constraints in pip's syntax (``name``, ``name==1.2``, ``name>=1,<2``), plus ``*``:
what a ``constrained`` index lets through of its bases. Pure: no idx-server imports."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

#: The line that blocks every project no other line names.
BLOCK_OTHERS = "*"


class ConstraintError(ValueError):
    """A line that is not a constraint; the message says which and why."""


def normalize_line(line: str) -> str | None:
    """One constraint in canonical form (``name`` + specifier), None for a blank or
    comment line; raises :class:`ConstraintError` for anything pip would not take as a
    constraint, or that the server cannot evaluate."""
    text = line.split("#", 1)[0].strip()
    if not text:
        return None
    if text == BLOCK_OTHERS:
        return BLOCK_OTHERS
    try:
        requirement = Requirement(text)
    except InvalidRequirement as exc:
        raise ConstraintError(f"{text!r} is not a constraint: {exc}") from None
    if requirement.extras:
        raise ConstraintError(f"{text!r}: constraints cannot have extras (pip refuses them too)")
    if requirement.url:
        raise ConstraintError(f"{text!r}: constraints cannot be URLs")
    if requirement.marker is not None:
        raise ConstraintError(
            f"{text!r}: environment markers cannot be evaluated by the server; "
            "give the union of what each environment needs"
        )
    return f"{canonicalize_name(requirement.name)}{requirement.specifier}"


def normalize_lines(lines: Iterable[str]) -> list[str]:
    result: list[str] = []
    for line in lines:
        normalized = normalize_line(line)
        if normalized is not None and normalized not in result:
            result.append(normalized)
    return result


@dataclass(frozen=True)
class Constraints:
    """Per project, the versions allowed; projects not named are allowed unless ``*``."""

    specifiers: Mapping[str, SpecifierSet]
    block_others: bool = False

    def allows_project(self, project: str) -> bool:
        return project in self.specifiers or not self.block_others

    def allows(self, project: str, version: str) -> bool:
        """Whether ``project`` (normalized) at ``version`` passes. Pre-releases pass when
        the specifier does: whether to install them stays the installer's choice."""
        specifier = self.specifiers.get(project)
        if specifier is None:
            return not self.block_others
        try:
            parsed = Version(version)
        except InvalidVersion:
            return False  # unknown version: cannot be shown to satisfy the constraint
        return specifier.contains(parsed, prereleases=True)


@lru_cache(maxsize=256)
def compile_constraints(lines: tuple[str, ...]) -> Constraints:
    """Constraints from normalized lines; lines for one project all apply (as in pip)."""
    specifiers: dict[str, SpecifierSet] = {}
    block_others = False
    for line in lines:
        if line == BLOCK_OTHERS:
            block_others = True
            continue
        requirement = Requirement(line)
        name = canonicalize_name(requirement.name)
        specifiers[name] = specifiers.get(name, SpecifierSet()) & requirement.specifier
    return Constraints(specifiers, block_others)
