"""``idx list``: an index's projects, or one project's versions and files (with the index
each file comes from)."""

from __future__ import annotations

import argparse
from typing import Any
from urllib.parse import urlsplit

from packaging.version import InvalidVersion, Version

from idx_client import hookimpl
from idx_client.commands import Command, add_index_option, add_json_flag
from idx_client.context import Context
from idx_client.errors import ClientError
from idx_client.specs import parse_release_spec
from idx_client.toxresults import EnvResult, InvalidToxResult, newest_per_env, summarize, when_from_log

#: Versions shown without --all.
NEWEST = 3

DESCRIPTION = """\
List the projects on the current index, or a project's releases and their files.

  idx list                  projects on the index
  idx list --all            ... and on its (non-mirror) bases
  idx list hello            the newest releases of hello, each file with its index
  idx list 'hello>=1.0' --all
  idx list hello -t         with test results: per file and tox env, the newest result
  idx list hello -f         ... and the output of failed commands
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "spec", nargs="?", metavar="SPEC", help="a project, optionally with versions (hello==1.0)"
    )
    parser.add_argument(
        "--all",
        action="store_true",
        help=f"every version, not just the newest {NEWEST}; without SPEC, the bases' projects too",
    )
    parser.add_argument(
        "-t",
        "--toxresults",
        action="store_true",
        help="show each file's test results: per tox env, python, passed or failed, host, platform, when",
    )
    parser.add_argument(
        "-f",
        "--failures",
        action="store_true",
        help="show test results (as -t) and the output of the commands that failed",
    )
    add_index_option(parser)
    add_json_flag(parser)


def run(ctx: Context, args: argparse.Namespace) -> int:
    index = ctx.index_name(args.index)
    if not args.spec:
        return list_projects(ctx, index, args.all)
    spec = parse_release_spec(args.spec)
    versions = ctx.get_json(ctx.url(f"{index}/{spec.normalized}")).result or {}
    releases = [release_row(version, data) for version, data in versions.items() if spec.matches(version)]
    releases.sort(key=lambda row: _version_key(row["version"]), reverse=True)
    hidden = 0
    if not args.all and not str(spec.specifier) and len(releases) > NEWEST:
        hidden = len(releases) - NEWEST
        releases = releases[:NEWEST]
    show_results = args.toxresults or args.failures
    if ctx.out.json_mode:
        ctx.out.json([_public(ctx, release, show_results, args.failures) for release in releases])
        return 0
    for release in releases:
        yanked = f"  (yanked{': ' + release['yanked'] if isinstance(release['yanked'], str) else ''})"
        ctx.out.line(f"{release['name']} {release['version']}{yanked if release['yanked'] else ''}")
        for entry in release["files"]:
            ctx.out.line(f"  {entry['filename']:<50} {entry['index']}")
            if show_results:
                lines = ctx.hook.idx_client_format_test_results(
                    context=ctx, link=entry["link"], results=entry["test_results"], failures=args.failures
                )
                for line in lines or []:
                    ctx.out.line(f"    {line}")
    if not releases:
        ctx.out.line(f"no release of {spec.project} matches {args.spec}")
    if hidden:
        ctx.out.line(f"{hidden} older version{'s' if hidden > 1 else ''} not shown; use --all to see them")
    return 0


def release_row(version: str, data: dict[str, Any]) -> dict[str, Any]:
    files = []
    for entry in [data, *data.get("+shadowing", [])]:
        links = entry.get("+links") or []
        for link in links:
            if link.get("rel") != "releasefile":
                continue
            href = link.get("href", "")
            files.append(
                {
                    "filename": href.rsplit("/", 1)[-1],
                    "url": href,
                    "index": origin_index(href),
                    "sha256": (link.get("hashes") or {}).get("sha256"),
                    "size": link.get("size"),
                    "yanked": link.get("yanked") or False,
                    "test_results": [
                        t for t in links if t.get("rel") == "toxresult" and t.get("for_href") == href
                    ],
                    "link": link,
                }
            )
    yanked = [f["yanked"] for f in files]
    return {
        "name": data.get("name", ""),
        "version": version,
        "yanked": yanked[0] if yanked and all(yanked) else False,
        "files": files,
    }


def _public(ctx: Context, release: dict[str, Any], show_results: bool, failures: bool) -> dict[str, Any]:
    """A release row for ``--json``: test results as URLs (with ``-t``, also ``test_envs``:
    the newest result of each tox env), without the raw link."""
    files = []
    for f in release["files"]:
        row = {
            **{k: v for k, v in f.items() if k != "link"},
            "test_results": [t.get("href") for t in f["test_results"]],
        }
        if show_results:
            envs, _broken = fetch_test_envs(ctx, f["test_results"])
            row["test_envs"] = [env.to_json(failures) for env in envs]
        files.append(row)
    return {**release, "files": files}


def fetch_test_envs(ctx: Context, links: list[dict[str, Any]]) -> tuple[list[EnvResult], list[str]]:
    """The newest result of each (host, platform, tox env) of a file's ``toxresult`` links,
    and the URLs of results that could not be read."""
    results, broken = [], []
    for link in links:
        url = str(link.get("href") or "")
        try:
            data = ctx.request("GET", url).json()
            results.append(summarize(data, when=when_from_log(link), url=url))
        except (ClientError, InvalidToxResult):
            broken.append(url)
    return newest_per_env(results), broken


def origin_index(href: str) -> str:
    """``user/index`` of a file URL (``.../user/index/+f/...``)."""
    path = urlsplit(href).path
    before = path.split("/+f/", 1)[0] if "/+f/" in path else path.rsplit("/", 1)[0]
    return "/".join(before.strip("/").split("/")[-2:])


def _version_key(version: str) -> tuple[int, Any]:
    try:
        return (1, Version(version))
    except InvalidVersion:
        return (0, version)


def list_projects(ctx: Context, index: str, with_bases: bool) -> int:
    order = [index]
    listing: dict[str, list[str] | None] = {}
    while order:
        name = order.pop(0)
        if name in listing:
            continue
        config = ctx.get_json(ctx.url(name + "/")).result or {}
        is_mirror = config.get("type") == "mirror"
        listing[name] = None if is_mirror else sorted(config.get("projects") or [], key=str.lower)
        if with_bases:
            order += [base for base in config.get("bases") or [] if base not in listing]
    if ctx.out.json_mode:
        ctx.out.json(listing if with_bases else listing[index])
        return 0
    for name, projects in listing.items():
        if with_bases:
            ctx.out.line(
                f"{name}:" if projects is not None else f"{name}: a mirror (its projects are not listed)"
            )
        for project in projects or []:
            ctx.out.line(f"  {project}" if with_bases else project)
    return 0


@hookimpl(trylast=True)
def idx_client_format_test_results(
    context: Context, link: dict[str, Any], results: list[dict[str, Any]], failures: bool = False
) -> list[str]:
    """The built-in answer: a line per tox env (its newest result), and with ``failures``
    the failed commands and their output."""
    if not results:
        return ["no test results"]
    envs, broken = fetch_test_envs(context, results)
    lines = [f"unreadable test result, skipped: {url}" for url in broken]
    for env in envs:
        lines.append(env.line())
        if failures:
            lines += failure_lines(env)
    return lines


def failure_lines(env: EnvResult) -> list[str]:
    """devpi's ``list -f``: the failed phase's commands up to the failed one, with its output."""
    lines = []
    for command in env.failures():
        lines.append(f"  {'FAIL' if command.failed else 'OK'}: {command.command}")
        if command.failed:
            lines += [f"    {text}" for text in command.output.rstrip().splitlines()]
    return lines


@hookimpl
def idx_client_commands() -> list[Command]:
    return [
        Command(
            "list",
            "list projects, or a project's releases and files",
            add_arguments,
            run,
            DESCRIPTION,
            order=60,
        )
    ]
