"""The hooks idx-client calls, for plugins to implement (project name ``idx_client``).

Implement them in a module registered under the ``idx_client`` entry-point group::

    [project.entry-points.idx_client]
    mine = "my_package.idx_plugin"

    # my_package/idx_plugin.py
    from idx_client import hookimpl

    @hookimpl
    def idx_client_get_password(url, username):
        return keyring.get_password(url, username)

Hooks are always called with keyword arguments; an implementation may accept fewer
arguments than the spec names. ``IDX_DISABLE_PLUGINS`` turns plugins off, and
``IDX_TRACE_PLUGINS=1`` prints every hook call to stderr.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from idx_client.commands import Command
    from idx_client.context import Context

hookspec = pluggy.HookspecMarker("idx_client")


@hookspec
def idx_client_commands() -> list[Command]:  # type: ignore[empty-body]
    """Called once while the ``idx`` command line is built.

    Return a list of :class:`idx_client.commands.Command`: each becomes a sub-command
    (``idx NAME ...``) with its own arguments and handler. idx's own commands come
    through this hook too.
    """


@hookspec(firstresult=True)
def idx_client_get_password(url: str, username: str) -> str | None:
    """Called when ``idx login`` needs a password that ``--password`` did not give.

    ``url`` is the server's root URL. Return the password, or None to let the next
    implementation answer (the last one asks on the terminal). The first non-None
    answer is used.
    """


@hookspec(firstresult=True)
def idx_client_format_test_results(
    context: Context, link: dict[str, Any], results: list[dict[str, Any]], failures: bool
) -> list[str] | None:
    """Called by ``idx list SPEC -t`` (and ``-f``) for each release file listed.

    ``link`` is the file's ``+links`` entry (``rel == "releasefile"``) from the
    server's JSON and ``results`` are the ``toxresult`` links attached to it, oldest
    first; ``failures`` is true for ``-f`` (show the failed commands' output). Return
    the lines to print under the file (the first non-None answer is used; the
    built-in one fetches the results and prints a line per tox env: name, python,
    passed or failed, host, platform, when).
    """
