"""Test results as tox writes them (``--result-json``) and devpi stores them: reading one
into a summary per environment, picking the newest of each, and printing it.

The shape is tox's (4 and 3): ``{"host", "platform", "testenvs": {NAME: {"python":
{"version"}, "setup": [COMMAND...], "test": [COMMAND...], "result": {"success"}}}}`` with
``COMMAND = {"command": [...], "retcode", "output"}``. ``idx list -t`` reads results that
``devpi test`` stored, and ``devpi list -t`` reads those of ``idx test``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

PASSED = "passed"
FAILED = "failed"
SETUP_FAILED = "setup failed"
NOT_RUN = "no tests run"


class InvalidToxResult(ValueError):
    """The JSON is not a tox result (a key is missing or of the wrong type)."""


@dataclass(frozen=True)
class CommandResult:
    command: str
    retcode: int | None
    output: str

    @property
    def failed(self) -> bool:
        return self.retcode not in (None, 0)


@dataclass(frozen=True)
class EnvResult:
    """One tox environment of one result."""

    env: str
    python: str
    host: str
    platform: str
    status: str
    setup: tuple[CommandResult, ...] = ()
    test: tuple[CommandResult, ...] = ()
    #: When the result was stored, "YYYY-MM-DD HH:MM:SS UTC" (from the server's log).
    when: str = ""
    #: The result's URL on the server.
    url: str = ""

    @property
    def passed(self) -> bool:
        return self.status == PASSED

    @property
    def failed(self) -> bool:
        return self.status in (FAILED, SETUP_FAILED)

    @property
    def key(self) -> tuple[str, str, str]:
        """Results for the same key replace older ones (devpi's rule)."""
        return (self.host, self.platform, self.env)

    def failures(self) -> list[CommandResult]:
        """The commands to show for a failure: those of the failed phase up to its first
        failed command (devpi's ``list -f``)."""
        commands = self.setup if self.status == SETUP_FAILED else self.test
        shown: list[CommandResult] = []
        for command in commands:
            shown.append(command)
            if command.failed:
                break
        return shown if self.failed else []

    def line(self) -> str:
        """One line for a person: env, python, status, host, platform, when."""
        return "  ".join(
            part
            for part in (
                f"{self.env:<12}",
                f"{self.python or '?':<8}",
                f"{self.status:<12}",
                self.host,
                self.platform,
                self.when,
            )
            if part
        ).rstrip()

    def to_json(self, failures: bool = False) -> dict[str, Any]:
        data: dict[str, Any] = {
            "env": self.env,
            "python": self.python,
            "status": self.status,
            "passed": self.passed,
            "host": self.host,
            "platform": self.platform,
            "when": self.when,
            "url": self.url,
        }
        if failures:
            data["failures"] = [
                {"command": c.command, "retcode": c.retcode, "output": c.output} for c in self.failures()
            ]
        return data


def summarize(data: Any, when: str = "", url: str = "") -> list[EnvResult]:
    """The environments of one tox result, sorted by name; raises :class:`InvalidToxResult`."""
    if not isinstance(data, dict) or not isinstance(data.get("testenvs", {}), dict):
        raise InvalidToxResult("not a tox result: expected an object with 'testenvs'")
    host, platform = str(data.get("host") or ""), str(data.get("platform") or "")
    envs = []
    for name, env in sorted(data.get("testenvs", {}).items()):
        if not isinstance(env, dict):
            raise InvalidToxResult(f"not a tox result: testenvs.{name} is not an object")
        setup, test = _commands(env.get("setup")), _commands(env.get("test"))
        success = (env.get("result") or {}).get("success") if isinstance(env.get("result"), dict) else None
        if any(c.failed for c in setup):
            status = SETUP_FAILED
        elif any(c.failed for c in test) or success is False:
            status = FAILED
        elif not test:
            status = NOT_RUN
        else:
            status = PASSED
        if name.startswith(".") and status in (PASSED, NOT_RUN):
            continue  # tox's own packaging environments, shown only when they break
        envs.append(EnvResult(name, _python(env), host, platform, status, setup, test, when, url))
    return envs


def newest_per_env(results: Iterable[list[EnvResult]]) -> list[EnvResult]:
    """Of results in the order they were stored, the newest of each (host, platform, env)."""
    seen: set[tuple[str, str, str]] = set()
    newest: list[EnvResult] = []
    for envs in reversed(list(results)):
        for env in envs:
            if env.key not in seen:
                seen.add(env.key)
                newest.append(env)
    return newest


def when_from_log(link: dict[str, Any]) -> str:
    """The upload time of a ``toxresult`` link, from devpi's log (``[Y, M, D, h, m, s]``)."""
    for entry in reversed(link.get("log") or []):
        when = entry.get("when") if isinstance(entry, dict) else None
        if isinstance(when, list) and len(when) >= 6 and all(isinstance(n, int) for n in when[:6]):
            y, mo, d, h, mi, s = when[:6]
            return f"{y:04d}-{mo:02d}-{d:02d} {h:02d}:{mi:02d}:{s:02d} UTC"
        if isinstance(when, str) and when:
            return when
    return ""


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret replaced by ``****`` (so none reaches a stored result)."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "****")
    return text


def _python(env: dict[str, Any]) -> str:
    python = env.get("python")
    if isinstance(python, dict) and isinstance(python.get("version"), str):
        return python["version"].split(None, 1)[0] if python["version"].strip() else ""
    return ""


def _commands(items: Any) -> tuple[CommandResult, ...]:
    if items is None:
        return ()
    if not isinstance(items, list):
        raise InvalidToxResult("not a tox result: a command list is not a list")
    commands = []
    for item in items:
        if not isinstance(item, dict):
            raise InvalidToxResult("not a tox result: a command is not an object")
        argv = item.get("command") or []
        output = _text(item.get("output")) + _text(item.get("err"))
        commands.append(
            CommandResult(
                " ".join(str(a) for a in argv) if isinstance(argv, list) else str(argv),
                _retcode(item.get("retcode")),
                output,
            )
        )
    return tuple(commands)


def _text(value: Any) -> str:
    """tox writes output as a string; some versions as a list of lines."""
    if not value:
        return ""
    return "\n".join(str(line) for line in value) if isinstance(value, list) else str(value)


def _retcode(value: Any) -> int | None:
    """tox 4 writes an int, tox 3 a string; anything unreadable counts as a failure."""
    if value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return -1
