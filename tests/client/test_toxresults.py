"""Reading tox results (tox 4's and tox 3's, as devpi stores them) into a line per env."""

import pytest
from idx_client.toxresults import (
    EnvResult,
    InvalidToxResult,
    newest_per_env,
    redact,
    summarize,
    when_from_log,
)


def command(argv, retcode, output="", err=""):
    return {"command": argv, "retcode": retcode, "output": output, "err": err}


def tox4(**envs):
    return {"reportversion": "1", "toxversion": "4.20", "host": "ci-1", "platform": "linux", "testenvs": envs}


PY312 = {
    "python": {"version": "3.12.4 (main, Jun 1 2024) [GCC 12]", "version_info": [3, 12, 4, "final", 0]},
    "setup": [command(["python", "-m", "pip", "install", "pytest"], 0)],
    "test": [command(["pytest", "-q"], 0, "1 passed")],
    "result": {"success": True, "exit_code": 0},
}
FAILING = {
    **PY312,
    "test": [
        command(["ruff", "check"], 0),
        command(["pytest", "-q"], 1, "E   assert 41 == 42\n1 failed", "warning on stderr"),
        command(["never", "run"], 0),
    ],
    "result": {"success": False, "exit_code": 1},
}


def test_tox4_result():
    (env,) = summarize(tox4(py312=PY312), when="2026-01-01 10:00:00 UTC", url="http://x/r-1")
    assert (env.env, env.python, env.status, env.host, env.platform) == (
        "py312",
        "3.12.4",
        "passed",
        "ci-1",
        "linux",
    )
    assert env.passed
    assert env.line().split() == [
        "py312",
        "3.12.4",
        "passed",
        "ci-1",
        "linux",
        "2026-01-01",
        "10:00:00",
        "UTC",
    ]
    assert env.failures() == []
    assert env.to_json() == {
        "env": "py312",
        "python": "3.12.4",
        "status": "passed",
        "passed": True,
        "host": "ci-1",
        "platform": "linux",
        "when": "2026-01-01 10:00:00 UTC",
        "url": "http://x/r-1",
    }


def test_failures_show_the_failed_phase_up_to_the_failed_command():
    (env,) = summarize(tox4(lint=FAILING))
    assert env.status == "failed"
    assert not env.passed
    shown = env.failures()
    assert [(c.command, c.failed) for c in shown] == [("ruff check", False), ("pytest -q", True)]
    assert shown[-1].output == "E   assert 41 == 42\n1 failedwarning on stderr"
    data = env.to_json(failures=True)
    assert data["failures"][-1] == {"command": "pytest -q", "retcode": 1, "output": shown[-1].output}


def test_setup_failure_and_no_tests():
    broken = {"setup": [command(["pip", "install", "nope"], 1, "No matching distribution")], "test": []}
    empty = {"setup": [command(["pip", "install", "x"], 0)]}
    envs = summarize(tox4(b=broken, e=empty))
    assert [(e.env, e.status, e.python) for e in envs] == [
        ("b", "setup failed", ""),
        ("e", "no tests run", ""),
    ]
    assert [c.command for c in envs[0].failures()] == ["pip install nope"]
    assert envs[1].failures() == []


def test_success_false_without_a_failed_command_is_a_failure():
    env = {**PY312, "result": {"success": False, "exit_code": -2}}
    assert summarize(tox4(py=env))[0].status == "failed"


def test_packaging_envs_only_when_broken():
    ok = {"setup": [command(["pip", "freeze"], 0)]}
    broken = {"setup": [command(["build"], 1)]}
    assert [e.env for e in summarize(tox4(py=PY312, **{".pkg": ok}))] == ["py"]
    assert [e.env for e in summarize(tox4(py=PY312, **{".pkg": broken}))] == [".pkg", "py"]


def test_tox3_result():
    """tox 3 (as old ``devpi test`` runs stored it): retcodes as strings, no "result"."""
    data = {
        "host": "old",
        "platform": "linux2",
        "testenvs": {
            "py27": {
                "python": {"version": "2.7.18 (default)"},
                "setup": [{"command": ["virtualenv"], "retcode": "0", "output": "ok"}],
                "test": [{"command": ["py.test"], "retcode": "1", "output": ["line 1", "line 2"]}],
            }
        },
    }
    (env,) = summarize(data)
    assert (env.python, env.status) == ("2.7.18", "failed")
    assert env.failures()[0].output == "line 1\nline 2"


@pytest.mark.parametrize(
    "data",
    [
        [],
        {"testenvs": []},
        {"testenvs": {"py": []}},
        {"testenvs": {"py": {"test": {}}}},
        {"testenvs": {"py": {"test": [1]}}},
    ],
)
def test_not_a_tox_result(data):
    with pytest.raises(InvalidToxResult):
        summarize(data)


def test_newest_per_env():
    first = summarize(tox4(py=FAILING, lint=PY312), url="r1")
    second = summarize(tox4(py=PY312), url="r2")
    other_host = summarize({**tox4(py=FAILING), "host": "ci-2"}, url="r3")
    newest = newest_per_env([first, second, other_host])
    assert [(e.env, e.host, e.url, e.status) for e in newest] == [
        ("py", "ci-2", "r3", "failed"),
        ("py", "ci-1", "r2", "passed"),
        ("lint", "ci-1", "r1", "passed"),
    ]


def test_when_from_log():
    assert (
        when_from_log({"log": [{"what": "upload", "when": [2026, 1, 2, 3, 4, 5]}]})
        == "2026-01-02 03:04:05 UTC"
    )
    assert when_from_log({"log": [{"when": "2026-01-02T03:04:05Z"}]}) == "2026-01-02T03:04:05Z"
    assert when_from_log({}) == ""
    assert when_from_log({"log": [{"when": [1, 2]}]}) == ""


def test_redact():
    assert (
        redact('{"url": "http://alice:tok-123@host/"}', ["tok-123", ""])
        == '{"url": "http://alice:****@host/"}'
    )


def test_line_without_python_or_time():
    env = EnvResult("py", "", "h", "linux", "failed")
    assert env.line().split() == ["py", "?", "failed", "h", "linux"]
