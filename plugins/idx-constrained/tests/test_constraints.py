"""The constraint parser and matcher (no server)."""

from __future__ import annotations

import pytest
from idx_constrained.constraints import ConstraintError, compile_constraints, normalize_line, normalize_lines


@pytest.mark.parametrize(
    ("line", "normalized"),
    [
        ("requests", "requests"),
        ("Foo_Bar == 1.0", "foo-bar==1.0"),
        ("urllib3>=2,<3", "urllib3<3,>=2"),
        ("  pkg~=1.4  # pinned by security", "pkg~=1.4"),
        ("*", "*"),
        ("# only a comment", None),
        ("", None),
    ],
)
def test_lines_are_normalized(line, normalized):
    assert normalize_line(line) == normalized


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("requests[socks]==2.0", "extras"),
        ("pkg @ https://example.com/pkg.whl", "URLs"),
        ("pkg==1.0; python_version < '3.12'", "markers"),
        ("==1.0", "not a constraint"),
    ],
)
def test_what_pip_or_the_server_cannot_take_is_refused(line, message):
    with pytest.raises(ConstraintError, match=message):
        normalize_line(line)


def test_duplicates_are_dropped():
    assert normalize_lines(["a==1", "A==1", "b"]) == ["a==1", "b"]


def test_lines_for_one_project_all_apply():
    constraints = compile_constraints(("pkg>=1", "pkg<2"))
    assert [v for v in ("0.9", "1.0", "1.5", "2.0") if constraints.allows("pkg", v)] == ["1.0", "1.5"]


def test_unnamed_projects_pass_unless_star():
    assert compile_constraints(("pkg==1",)).allows("other", "9")
    star = compile_constraints(("pkg==1", "*"))
    assert not star.allows("other", "9")
    assert not star.allows_project("other")
    assert star.allows_project("pkg")


def test_prereleases_pass_when_the_specifier_does_and_bad_versions_never():
    constraints = compile_constraints(("pkg>=1",))
    assert constraints.allows("pkg", "2.0b1")
    assert not constraints.allows("pkg", "not-a-version")
