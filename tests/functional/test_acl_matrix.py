"""The access-control matrix: every route and method, asked by each kind of principal,
on each kind of index, with the status each must get.

The tables below are the specification, written from devpi's semantics and idx's
documentation (docs/api.md, docs/configuration.md), not from the code under test:

- only root creates users (anyone may, with ``allow_registration``); a user modifies
  and deletes themself, root anyone (but never root, and nobody whose stage is
  non-volatile);
- the owner and root create, modify and delete indexes; ``acl_upload`` members upload,
  delete and yank; anyone attaches test results (``acl_toxresult_upload`` defaults to
  ``:ANONYMOUS:``); reads are open unless ``acl_read`` says otherwise, and then the
  owner, ``acl_upload`` members and root still read;
- deleting from a non-volatile index is a 403; the owner and root may add ``?force``;
  deleting a non-volatile index itself takes root's ``?force`` (the owner makes it
  volatile first);
- without credentials where credentials would help: 401 with ``WWW-Authenticate``;
  with credentials that lack the permission: 403; a missing user, index or project: 404
  (but a read-protected index answers 401/403 before it says what it lacks).

Each row runs against a fresh server; after a request that changed something the next
principal gets a fresh one again, so every cell sees the same world.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import pluggy
import pytest
import webtest
from idx_server.app import Core, build_core, initialize, make_app
from idx_server.settings import Settings
from idx_server.testing import Project, basic_auth, make_wheel, twine_fields

# devpi-client pushes with the non-standard method PUSH, which webtest's lint doubts.
pytestmark = pytest.mark.filterwarnings("ignore:Unknown REQUEST_METHOD. 'PUSH':webtest.lint.WSGIWarning")

PRINCIPALS = ("anon", "other", "member", "owner", "root")
#: Who each principal is: (user, password); anon sends no credentials.
ACCOUNTS = {
    "other": ("eve", "eve-pw"),
    "member": ("bob", "bob-pw"),
    "owner": ("alice", "alice-pw"),
    "root": ("root", "root"),
}
#: alice's indexes: every one lists bob in acl_upload and holds hello 1.0 with a test result.
INDEXES: dict[str, dict[str, Any]] = {
    "vol": {"volatile": True},
    "stable": {"volatile": False},
    "private": {"volatile": True, "acl_read": ["alice"]},
}

# Columns: the route (routes.py's name; a request variant in parentheses), the method, the
# path ({ix}: the index; {file}, {tox}: its hello 1.0 wheel and that file's test result;
# {token}: an API token of alice's), the index kind (or -), then the status for
# anon, other, member, owner, root.
SPEC = """
api              GET     /+api                          -        200 200 200 200 200
login            POST    /+login                        -        401 200 200 200 200
logout           POST    /+logout                       -        200 200 200 200 200
status           GET     /+status                       -        200 200 200 200 200
metrics          GET     /+metrics                      -        200 200 200 200 200
root             GET     /                              -        200 200 200 200 200
tokens           GET     /+tokens                       -        401 200 200 200 200
tokens           GET     /+tokens?user=alice            -        401 403 403 200 200
tokens           POST    /+tokens                       -        401 201 201 201 201
token            DELETE  /+tokens/{token}?user=alice    -        401 403 403 200 200

user_api         GET     /alice/+api                    -        200 200 200 200 200
user             GET     /alice                         -        200 200 200 200 200
user             GET     /nobody                        -        404 404 404 404 404
user             PUT     /newuser                       -        401 403 403 403 201
user             PUT     /alice                         -        401 403 403 403 409
user             PATCH   /alice                         -        401 403 403 200 200
user             PATCH   /nobody                        -        404 404 404 404 404
user             DELETE  /nobody                        -        404 404 404 404 404
user             DELETE  /bob                           -        401 403 200 403 200
user             DELETE  /alice                         -        401 403 403 403 403
user             DELETE  /root                          -        401 403 403 403 403

index            PUT     /alice/newindex                -        401 403 403 201 201
index            PUT     /alice/vol                     -        401 403 403 409 409
index            GET     /alice/nope                    -        404 404 404 404 404
index            PATCH   /alice/nope                    -        404 404 404 404 404
index            DELETE  /alice/nope                    -        404 404 404 404 404
index            PUT     /nobody/newindex               -        401 403 403 403 404
index_api        GET     /alice/nope/+api               -        404 404 404 404 404
simple_list      GET     /alice/nope/+simple/           -        404 404 404 404 404

index            GET     /alice/{ix}                    vol      200 200 200 200 200
index            GET     /alice/{ix}                    stable   200 200 200 200 200
index            GET     /alice/{ix}                    private  401 403 200 200 200
index_api        GET     /alice/{ix}/+api               vol      200 200 200 200 200
index_api        GET     /alice/{ix}/+api               stable   200 200 200 200 200
index_api        GET     /alice/{ix}/+api               private  401 403 200 200 200
index            PATCH   /alice/{ix}                    vol      401 403 403 200 200
index            PATCH   /alice/{ix}                    stable   401 403 403 200 200
index            PATCH   /alice/{ix}                    private  401 403 403 200 200
index            DELETE  /alice/{ix}                    vol      401 403 403 200 200
index            DELETE  /alice/{ix}                    stable   401 403 403 403 403
index            DELETE  /alice/{ix}?force              stable   401 403 403 403 200
index            DELETE  /alice/{ix}                    private  401 403 403 200 200
index(upload)    POST    /alice/{ix}/                   vol      401 403 200 200 200
index(upload)    POST    /alice/{ix}/                   stable   401 403 200 200 200
index(upload)    POST    /alice/{ix}/                   private  401 403 200 200 200
index(push)      POST    /alice/{ix}/                   vol      401 403 200 200 200
index(push)      POST    /alice/{ix}/                   stable   401 403 200 200 200
index(push)      POST    /alice/{ix}/                   private  401 403 200 200 200
index(push)      PUSH    /alice/{ix}/                   vol      401 403 200 200 200
index(push)      PUSH    /alice/{ix}/                   stable   401 403 200 200 200
index(push)      PUSH    /alice/{ix}/                   private  401 403 200 200 200

simple_list      GET     /alice/{ix}/+simple/           vol      200 200 200 200 200
simple_list      GET     /alice/{ix}/+simple/           stable   200 200 200 200 200
simple_list      GET     /alice/{ix}/+simple/           private  401 403 200 200 200
simple_project   GET     /alice/{ix}/+simple/hello/     vol      200 200 200 200 200
simple_project   GET     /alice/{ix}/+simple/hello/     stable   200 200 200 200 200
simple_project   GET     /alice/{ix}/+simple/hello/     private  401 403 200 200 200
simple_project   GET     /alice/{ix}/+simple/nope/      vol      404 404 404 404 404
simple_project   GET     /alice/{ix}/+simple/nope/      private  401 403 404 404 404
simple_refresh   POST    /alice/{ix}/+simple/hello/refresh vol   200 200 200 200 200
simple_refresh   POST    /alice/{ix}/+simple/hello/refresh stable 200 200 200 200 200
simple_refresh   POST    /alice/{ix}/+simple/hello/refresh private 401 403 200 200 200

file             GET     {file}                         vol      200 200 200 200 200
file             GET     {file}                         stable   200 200 200 200 200
file             GET     {file}                         private  401 403 200 200 200
file_metadata    GET     {file}.metadata                vol      200 200 200 200 200
file_metadata    GET     {file}.metadata                stable   200 200 200 200 200
file_metadata    GET     {file}.metadata                private  401 403 200 200 200
toxresult        GET     {tox}                          vol      200 200 200 200 200
toxresult        GET     {tox}                          stable   200 200 200 200 200
toxresult        GET     {tox}                          private  401 403 200 200 200
file(toxresult)  POST    {file}                         vol      200 200 200 200 200
file(toxresult)  POST    {file}                         stable   200 200 200 200 200
file(toxresult)  POST    {file}                         private  401 403 200 200 200
file             DELETE  {file}                         vol      401 403 200 200 200
file             DELETE  {file}                         stable   401 403 403 403 403
file             DELETE  {file}?force                   stable   401 403 403 200 200
file             DELETE  {file}                         private  401 403 200 200 200

project          GET     /alice/{ix}/hello              vol      200 200 200 200 200
project          GET     /alice/{ix}/hello              stable   200 200 200 200 200
project          GET     /alice/{ix}/hello              private  401 403 200 200 200
project          DELETE  /alice/{ix}/hello              vol      401 403 200 200 200
project          DELETE  /alice/{ix}/hello              stable   401 403 403 403 403
project          DELETE  /alice/{ix}/hello?force        stable   401 403 403 200 200
project          DELETE  /alice/{ix}/hello              private  401 403 200 200 200
project          DELETE  /alice/{ix}/nope               vol      401 403 404 404 404
project          DELETE  /alice/{ix}/nope               private  401 403 404 404 404
release          GET     /alice/{ix}/hello/1.0          vol      200 200 200 200 200
release          GET     /alice/{ix}/hello/1.0          stable   200 200 200 200 200
release          GET     /alice/{ix}/hello/1.0          private  401 403 200 200 200
release          DELETE  /alice/{ix}/hello/1.0          vol      401 403 200 200 200
release          DELETE  /alice/{ix}/hello/1.0          stable   401 403 403 403 403
release          DELETE  /alice/{ix}/hello/1.0?force    stable   401 403 403 200 200
release          DELETE  /alice/{ix}/hello/1.0          private  401 403 200 200 200
yank             POST    /alice/{ix}/hello/1.0/+yank    vol      401 403 200 200 200
yank             POST    /alice/{ix}/hello/1.0/+yank    stable   401 403 200 200 200
yank             POST    /alice/{ix}/hello/1.0/+yank    private  401 403 200 200 200
unyank           POST    /alice/{ix}/hello/1.0/+unyank  vol      401 403 200 200 200
unyank           POST    /alice/{ix}/hello/1.0/+unyank  stable   401 403 200 200 200
unyank           POST    /alice/{ix}/hello/1.0/+unyank  private  401 403 200 200 200
"""

#: With ``allow_registration``, anyone creates an account.
SPEC_REGISTRATION = """
user             PUT     /newuser                       -        201 201 201 201 201
user             PUT     /alice                         -        409 409 409 409 409
"""


@dataclass(frozen=True)
class Row:
    route: str
    method: str
    path: str
    index: str
    expected: dict[str, int]
    registration: bool = False

    @property
    def id(self) -> str:
        where = "" if self.index == "-" else f"@{self.index}"
        return f"{self.method} {self.path.replace('{ix}', self.index)} {self.route}{where}"


def parse(spec: str, registration: bool = False) -> list[Row]:
    rows = []
    for line in spec.strip().splitlines():
        if not line.strip():
            continue
        route, method, path, index, *statuses = line.split()
        assert len(statuses) == len(PRINCIPALS), line
        rows.append(
            Row(
                route,
                method,
                path,
                index,
                dict(zip(PRINCIPALS, map(int, statuses), strict=True)),
                registration,
            )
        )
    return rows


ROWS = parse(SPEC) + parse(SPEC_REGISTRATION, registration=True)


# -- the world every row starts from -------------------------------------------------------------
@dataclass
class World:
    app: Any
    core: Core
    paths: Paths


def _api(app: Any, method: str, path: str, who: str, body: Any = None, status: int = 200) -> Any:
    headers = {**basic_auth(*ACCOUNTS[who]), "Accept": "application/json", "Content-Type": "application/json"}
    return app.request(path, method=method, json=body, headers=headers, status=status)


@dataclass(frozen=True)
class Paths:
    """Where the template's things are (the same in each copy)."""

    files: dict[str, str]
    toxresults: dict[str, str]
    token: int


def populate(app: Any) -> Paths:
    """Users, alice's indexes, a release on each with a test result, a token for alice."""
    for who in ("other", "member", "owner"):
        user, password = ACCOUNTS[who]
        _api(app, "PUT", f"/{user}", "root", {"password": password}, 201)
    for name, config in [*INDEXES.items(), ("target", {})]:
        _api(app, "PUT", f"/alice/{name}", "owner", {**config, "acl_upload": ["alice", "bob"]}, 201)
    dist = make_wheel(Project("hello", "1.0"))
    files, toxresults = {}, {}
    for name in INDEXES:
        app.post(
            f"/alice/{name}/",
            params=list(twine_fields(dist).items()),
            upload_files=[("content", dist.filename, dist.content)],
            headers=basic_auth(*ACCOUNTS["owner"]),
        )
        files[name] = file_path(app, name)
        stored = _api(app, "POST", files[name], "root", {"testenvs": {}})
        toxresults[name] = "/" + stored.json["result"]
    token = _api(app, "POST", "/+tokens", "owner", {"description": "for the matrix"}, 201)
    return Paths(files, toxresults, token.json["result"]["id"])


def file_path(app: Any, index: str) -> str:
    """The wheel's path, as the simple page links it (read as root)."""
    page = app.get(
        f"/alice/{index}/+simple/hello/",
        headers={**basic_auth(*ACCOUNTS["root"]), "Accept": "application/vnd.pypi.simple.v1+json"},
    )
    (url,) = [str(f["url"]) for f in page.json["files"]]
    return urlsplit(urljoin(f"http://localhost/alice/{index}/+simple/hello/", url)).path


class Worlds:
    """Fresh servers, each a copy of one populated template (copying is much faster
    than populating)."""

    def __init__(self, base: Path, settings: Settings, pm: pluggy.PluginManager) -> None:
        self.base = base
        self.settings = settings
        self.pm = pm
        self.count = 0
        self.cores: list[Core] = []
        self.templates: dict[bool, tuple[Path, Paths]] = {}

    def template(self, registration: bool) -> tuple[Path, Paths]:
        if registration not in self.templates:
            path = self.base / f"template-{registration}"
            core = build_core(
                replace(self.settings, serverdir=path, allow_registration=registration), self.pm
            )
            initialize(core)
            paths = populate(webtest.TestApp(make_app(core)))
            core.close()
            self.templates[registration] = (path, paths)
        return self.templates[registration]

    def new(self, registration: bool) -> World:
        self.count += 1
        path = self.base / f"world-{self.count}"
        template, paths = self.template(registration)
        shutil.copytree(template, path)
        core = build_core(replace(self.settings, serverdir=path, allow_registration=registration), self.pm)
        initialize(core)
        self.cores.append(core)
        return World(webtest.TestApp(make_app(core)), core, paths)

    def close(self) -> None:
        for core in self.cores:
            core.close()


@pytest.fixture(scope="module")
def worlds(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worlds]:
    from idx_server import passwords
    from idx_server.plugins import get_plugin_manager
    from idx_server.testing import ROOT_PASSWORD, UNREACHABLE_UPSTREAM

    # Cheap argon2, as in conftest's autouse fixture (which is function-scoped).
    saved = passwords._context
    passwords._context = saved.copy(argon2__rounds=1, argon2__memory_cost=64, argon2__parallelism=1)
    base = tmp_path_factory.mktemp("acl")
    settings = Settings(
        serverdir=base / "unused",
        root_password=ROOT_PASSWORD,
        mirror_url=UNREACHABLE_UPSTREAM,
        upstream_connect_timeout=2,
        upstream_read_timeout=5,
        upstream_retries=0,
    )
    made = Worlds(base, settings, get_plugin_manager(load_entrypoints=False))
    try:
        yield made
    finally:
        made.close()
        passwords._context = saved


# -- asking ----------------------------------------------------------------------------------------
def request(world: World, row: Row, principal: str) -> Any:
    paths = world.paths
    path = (
        row.path.replace("{file}", paths.files.get(row.index, ""))
        .replace("{tox}", paths.toxresults.get(row.index, ""))
        .replace("{token}", str(paths.token))
        .replace("{ix}", row.index)
    )
    headers = basic_auth(*ACCOUNTS[principal]) if principal != "anon" else {}
    accept = "application/vnd.pypi.simple.v1+json" if "+simple/" in path else "application/json"
    headers["Accept"] = accept
    kwargs: dict[str, Any] = {"method": row.method, "headers": headers, "expect_errors": True}
    variant = f"{row.route} {row.method}"
    if variant == "index(upload) POST":
        dist = make_wheel(Project("hello", "2.0"))
        kwargs.update(
            params=list(twine_fields(dist).items()), upload_files=[("content", dist.filename, dist.content)]
        )
        return world.app.post(path, **{k: v for k, v in kwargs.items() if k != "method"})
    if row.route == "index(push)":
        kwargs["json"] = {"name": "hello", "version": "1.0", "targetindex": "alice/target"}
    elif variant == "login POST":
        user, password = ACCOUNTS[principal] if principal != "anon" else ("alice", "wrong")
        kwargs["json"] = {"user": user, "password": password}
    elif variant == "file(toxresult) POST":
        kwargs["json"] = {"testenvs": {"py": {}}}
    elif row.method == "PUT" and row.route == "user":
        kwargs["json"] = {"password": "new-pw"}
    elif row.method == "PATCH" and row.route == "user":
        kwargs["json"] = {"email": "changed@example.org"}
    elif row.method == "PUT" and row.route == "index":
        kwargs["json"] = {}
    elif row.method == "PATCH" and row.route == "index":
        kwargs["json"] = {"title": "changed"}
    elif row.method == "POST" and row.route in ("tokens", "yank"):
        kwargs["json"] = {}
    if "json" in kwargs:
        headers["Content-Type"] = "application/json"
    return world.app.request(path, **kwargs)


def table(rows: list[tuple[str, dict[str, int], dict[str, int]]]) -> str:
    lines = [f"{'':40} " + " ".join(f"{p:>6}" for p in PRINCIPALS)]
    for name, expected, got in rows:
        lines.append(f"{name[:40]:40} " + " ".join(f"{expected[p]:>6}" for p in PRINCIPALS) + "  expected")
        marks = " ".join(f"{got[p]:>5}{'!' if got[p] != expected[p] else ' '}" for p in PRINCIPALS)
        lines.append(f"{'':40} {marks} got")
    return "\n".join(lines)


@pytest.mark.parametrize("row", ROWS, ids=[row.id for row in ROWS])
def test_acl(worlds: Worlds, row: Row) -> None:
    world = worlds.new(row.registration)
    got: dict[str, int] = {}
    challenges = []
    for principal in PRINCIPALS:
        response = request(world, row, principal)
        got[principal] = response.status_int
        if response.status_int == 401 and not response.headers.get("WWW-Authenticate", "").startswith(
            "Basic"
        ):
            challenges.append(principal)
        if row.method != "GET" and response.status_int < 400:
            world = worlds.new(row.registration)  # the next principal sees the world unchanged
    assert got == row.expected, "\n" + table([(row.id, row.expected, got)])
    assert challenges == [], f"401 without a Basic challenge for {challenges}"


def test_every_route_and_method_is_in_the_table(worlds: Worlds) -> None:
    """A new route, or a method added to one, needs its rows here."""
    app = worlds.new(registration=False).app.app
    router = getattr(app, "app", app)  # behind the fast path
    served = set()
    for item in router.registry.introspector.get_category("views"):
        view = item["introspectable"]
        methods = view["request_methods"]
        for method in (methods,) if isinstance(methods, str) else methods or ("any method",):
            if view["route_name"]:
                served.add((view["route_name"], method))
    covered = {(re.sub(r"\(.*\)", "", row.route), row.method) for row in ROWS}
    assert sorted(served - covered) == [], "routes and methods without a row in the ACL matrix"
