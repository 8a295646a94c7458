"""``idx test SPEC``: run tox against a release on the index, every install served by idx,
and store tox's result with the tested file (devpi's ``devpi test``)."""

from __future__ import annotations

import argparse
import hashlib
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

from idx_client import hookimpl
from idx_client.archives import unpack_archive
from idx_client.commands import Command, add_index_option
from idx_client.context import Context
from idx_client.errors import ClientError
from idx_client.http import ServerError
from idx_client.progress import human_size
from idx_client.releases import Release, ReleaseFile, choose_release, describe_missing, files_to_test
from idx_client.specs import parse_release_spec
from idx_client.toxresults import InvalidToxResult, redact, summarize
from idx_client.toxrun import ToxRun, find_tox, find_tox_config, installer_env, sdist_root, write_netrc

#: Refuse to download a file bigger than this for a test run.
MAX_DOWNLOAD = 1024 * 1024 * 1024

DESCRIPTION = """\
Test a release on the index with tox, as devpi test does: download its sdist (checking
the sha256), unpack it to a temporary directory, and run tox with the sdist's tox config
and --installpkg, once for the sdist and once for each universal wheel. Every install in
the tox environments comes from the index (PIP_INDEX_URL, UV_INDEX_URL and
UV_DEFAULT_INDEX are set to its simple URL). Each tox result is stored with the file it
tested (see 'idx list -t'). Exit status 0 only when every run passed.

  idx test hello                  the newest release of hello
  idx test 'hello==1.0' -e py312
  idx test hello --select 'cp312.*manylinux'
  idx test hello --tox-args '-- -k smoke'
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("spec", metavar="SPEC", help="a project, optionally with versions (hello==1.0)")
    parser.add_argument("-e", dest="envs", metavar="ENVS", help="the tox environments to run (tox -e)")
    parser.add_argument(
        "--tox-args", default="", metavar="ARGS", help="more arguments for tox, as one shell-quoted string"
    )
    parser.add_argument(
        "-c",
        dest="toxini",
        metavar="TOXINI",
        help="the tox config to use (a path here, or in the sdist) instead of the sdist's own",
    )
    parser.add_argument(
        "--no-upload", dest="upload", action="store_false", help="do not store the results on the server"
    )
    parser.add_argument(
        "--select",
        metavar="REGEX",
        help="test the sdists and wheels (any, not just universal) whose file name matches REGEX",
    )
    add_index_option(parser)


@dataclass
class Outcome:
    """What became of testing one file."""

    file: ReleaseFile
    passed: bool
    stored: bool = True


def run(ctx: Context, args: argparse.Namespace) -> int:
    index = ctx.index_name(args.index)
    spec = parse_release_spec(args.spec)
    try:
        versions = ctx.get_json(ctx.url(f"{index}/{spec.normalized}")).result or {}
    except ServerError as exc:
        if exc.status != 404:
            raise
        raise ClientError(f"no release of {args.spec} on {index}: {exc.response.message}") from None
    release = choose_release(versions, spec)
    if release is None:
        raise describe_missing(args.spec, index, versions)
    sdists, tested = files_to_test(release, args.select)
    if not tested:
        which = f"matching --select {args.select!r}" if args.select else "(an sdist or a universal wheel)"
        raise ClientError(f"{release.name} {release.version} on {index} has no file to test {which}")
    if not sdists and not args.toxini:
        raise ClientError(
            f"{release.name} {release.version} has no sdist, so no tox config: give one with -c"
        )
    tox = find_tox(ctx.env)
    login = ctx.login
    if login is not None and login.expired() and args.upload:
        # Found out now, not after the tox runs, when the results could not be stored.
        raise ClientError(
            f"the login of {login.user!r} expired: run 'idx login {login.user}' (or --no-upload)"
        )
    ctx.out.line(f"testing {release.name} {release.version} from {index}")
    with tempfile.TemporaryDirectory(prefix="idx-test-") as tmp:
        outcomes = run_release_tests(ctx, args, index, release, sdists, tested, tox, Path(tmp))
    failed = [o.file.filename for o in outcomes if not o.passed]
    not_stored = [o.file.filename for o in outcomes if not o.stored]
    if failed:
        ctx.out.line(f"failed: {', '.join(failed)}")
    else:
        ctx.out.line(f"passed: {', '.join(o.file.filename for o in outcomes)}")
    if not_stored:
        ctx.out.error(f"the results of {', '.join(not_stored)} could not be stored (see above)")
    return 1 if failed or not_stored else 0


def run_release_tests(
    ctx: Context,
    args: argparse.Namespace,
    index: str,
    release: Release,
    sdists: list[ReleaseFile],
    tested: list[ReleaseFile],
    tox: list[str],
    tmp: Path,
) -> list[Outcome]:
    login = ctx.login if ctx.login and not ctx.login.expired() else None
    netrc = write_netrc(tmp, ctx.require_server(), login.user, login.token) if login else None
    env = installer_env(ctx.env, ctx.url(f"{index}/+simple/"), netrc)
    secrets = [login.token] if login else []
    downloads = tmp / "downloads"
    downloads.mkdir()
    config_root = Path.cwd()
    if sdists:
        sdist_path = download(ctx, sdists[0], downloads)
        config_root = sdist_root(unpack_archive(sdist_path, tmp / "sdist"))
    config = find_tox_config(config_root, args.toxini)
    ctx.out.line(f"tox config: {config.name}" + (f" (from {sdists[0].filename})" if sdists else ""))
    outcomes = []
    for number, file in enumerate(tested):
        package = downloads / file.filename
        if not package.exists():
            package = download(ctx, file, downloads)
        result_json = tmp / f"result-{number}.json"
        toxrun = ToxRun(tuple(tox), package, config, result_json, tmp / "tox", args.envs, args.tox_args)
        ctx.out.line(f"== tox for {file.filename}")
        status = toxrun.run(env)
        outcomes.append(report(ctx, file, status, result_json, args.upload, secrets))
    return outcomes


def download(ctx: Context, file: ReleaseFile, directory: Path) -> Path:
    """Fetch ``file`` into ``directory``, checking its size and sha256."""
    if not file.sha256:
        raise ClientError(
            f"the index gives no sha256 for {file.filename}: refusing to test an unchecked file"
        )
    if file.size is not None and file.size > MAX_DOWNLOAD:
        raise ClientError(f"{file.filename} is {human_size(file.size)}: too big to test")
    name = Path(file.filename).name
    if name != file.filename or name in ("", ".", ".."):
        raise ClientError(f"not a file name: {file.filename!r}")
    response = ctx.request("GET", file.url, headers={"Accept": "*/*"})
    digest = hashlib.sha256(response.body).hexdigest()
    if digest != file.sha256:
        raise ClientError(
            f"{file.filename}: the download's sha256 is {digest}, the index says {file.sha256}; "
            "not testing it"
        )
    path = directory / name
    path.write_bytes(response.body)
    ctx.out.line(f"downloaded {file.filename} ({human_size(len(response.body))}, sha256 checked)")
    return path


def report(
    ctx: Context, file: ReleaseFile, status: int, result_json: Path, upload: bool, secrets: list[str]
) -> Outcome:
    """Print the summary of one tox run and store its result; returns the outcome."""
    if not result_json.exists():
        ctx.out.error(f"tox exited with {status} and wrote no result for {file.filename}")
        return Outcome(file, passed=False, stored=not upload)
    text = redact(result_json.read_text(encoding="utf-8", errors="replace"), secrets)
    try:
        envs = summarize(json.loads(text))
    except (ValueError, InvalidToxResult) as exc:
        ctx.out.error(f"tox's result for {file.filename} is unreadable: {exc}")
        return Outcome(file, passed=False, stored=not upload)
    for env in envs:
        ctx.out.line(f"  {env.line()}")
    passed = status == 0 and not any(env.failed for env in envs)
    stored = store_result(ctx, file, text) if upload else True
    return Outcome(file, passed, stored)


def store_result(ctx: Context, file: ReleaseFile, text: str) -> bool:
    """POST the result to the file's URL (devpi's protocol); False when the server refused."""
    try:
        response = ctx.request(
            "POST", file.url, body=text.encode("utf-8"), headers={"Content-Type": "application/json"}
        )
    except ServerError as exc:
        if exc.status == 405:  # a mirror's file: results attach to files of private indexes
            ctx.out.warn(f"result not stored: {exc}")
            return True
        ctx.out.error(f"cannot store the result of {file.filename}: {exc}")
        return False
    path = response.result if response.is_json else None
    ctx.out.line(f"stored the result at {ctx.url(path)}" if isinstance(path, str) else "stored the result")
    return True


@hookimpl
def idx_client_commands() -> list[Command]:
    return [
        Command(
            "test",
            "run tox against a release on the index and store the result",
            add_arguments,
            run,
            DESCRIPTION,
            order=55,
        )
    ]
