"""Commands against a fake server: what they send and what they print."""

import hashlib
import json
import stat

import pytest
from fakes.idx_transport import SERVER
from idx_server.testing import Project, make_sdist, make_wheel

API = {
    "login": SERVER + "+login",
    "authstatus": ["noauth", "", []],
    "features": ["server-keyvalue-parsing"],
}
INDEX_API = {
    **API,
    "index": SERVER + "alice/dev/",
    "simpleindex": SERVER + "alice/dev/+simple/",
    "pypisubmit": SERVER + "alice/dev/",
}


# -- use ---------------------------------------------------------------------------------------
def test_use_server_then_index(cli, transport):
    transport.add("GET", SERVER + "+api", API)
    out = cli("use", SERVER.rstrip("/")).out
    assert f"server:     {SERVER}" in out
    assert "index:      none" in out
    transport.add("GET", SERVER + "alice/dev/+api", INDEX_API)
    out = cli("use", "alice/dev").out
    assert "index:      alice/dev" in out
    assert f"simple URL: {SERVER}alice/dev/+simple/" in out
    assert f"upload URL: {SERVER}alice/dev/" in out
    state = cli.store.load_state()
    assert (state.server, state.index, state.features) == (SERVER, "alice/dev", ("server-keyvalue-parsing",))


def test_use_index_url_and_json(cli, transport):
    transport.add("GET", SERVER + "alice/dev/+api", INDEX_API)
    data = json.loads(cli("use", SERVER + "alice/dev", "--json").out)
    assert data["index"] == "alice/dev"
    assert data["user"] is None
    assert data["upload_url"] == SERVER + "alice/dev/"


def test_use_unknown_index(cli, transport):
    cli.use()
    transport.add("GET", SERVER + "alice/nope/+api", status=404, message="index alice/nope does not exist")
    err = cli("use", "alice/nope", status=1).err
    assert err == f"error: index alice/nope does not exist (HTTP 404 from GET {SERVER}alice/nope/+api)\n"
    assert cli.store.load_state().index == "alice/dev"


def test_use_refuses_a_user_url(cli, transport):
    transport.add("GET", SERVER + "alice/+api", API)
    assert "is not an index" in cli("use", SERVER + "alice", status=1).err


def test_use_not_idx(cli, transport):
    transport.add("GET", SERVER + "+api", body=b"<html>", content_type="text/html")
    assert "expected JSON from the server" in cli("use", SERVER, status=1).err


def test_use_shows_an_invalid_login(cli, transport):
    cli.use()
    transport.add("GET", SERVER + "+api", {**API, "authstatus": ["invalidcredentials", "", []]})
    assert "login of alice is no longer valid: run 'idx login alice'" in cli("use").out


def test_set_cfg(cli, transport, client_home):
    cli.use()
    transport.add("GET", SERVER + "+api", {**API, "authstatus": ["ok", "alice", []]})
    pip_conf = client_home / ".config" / "pip" / "pip.conf"
    pip_conf.parent.mkdir(parents=True)
    pip_conf.write_text("[global]\ntimeout = 10\n")
    out = cli("use", "--set-cfg").out
    assert (
        f"pip: wrote index-url = {SERVER}alice/dev/+simple/, trusted-host = idx.example to {pip_conf}" in out
    )
    assert "old file kept as" in out
    assert "timeout = 10" in pip_conf.read_text()
    assert len(list(pip_conf.parent.glob("pip.conf.bak-*"))) == 1
    assert (client_home / ".config" / "uv" / "uv.toml").read_text().endswith("default = true\n")
    assert "username = alice" in (client_home / ".pypirc").read_text()
    again = cli("use", "--set-cfg").out
    assert "already has index-url" in again
    assert len(list(pip_conf.parent.glob("pip.conf.bak-*"))) == 1


def test_set_cfg_venv(cli, transport, tmp_path, client_home):
    cli.use(user=None)
    venv = tmp_path / "venv"
    venv.mkdir()
    out = cli("use", "--set-cfg", "--venv", str(venv)).out
    assert f"to {venv / 'pip.conf'}" in out
    assert f"to {venv / 'uv.toml'}" in out
    assert (venv / "pip.conf").exists()
    assert (venv / "uv.toml").exists()
    assert not (client_home / ".pypirc").exists()
    assert "no such directory" in cli("use", "--set-cfg", "--venv", str(tmp_path / "nope"), status=2).err


# -- login -------------------------------------------------------------------------------------
def test_login_and_logout(cli, transport, tmp_path):
    cli.use(user=None)
    transport.add("POST", SERVER + "+login", {"password": "tok", "expiration": 36000})
    out = cli("login", "alice", "--password", "pw").out
    assert out == f"logged in as alice at {SERVER}, valid for 10.0 hours\n"
    assert transport.last("POST").json() == {"user": "alice", "password": "pw"}
    auth = tmp_path / "clientdir" / "auth.json"
    assert stat.S_IMODE(auth.stat().st_mode) == 0o600
    transport.add("GET", SERVER + "alice/dev/", {"projects": []})
    cli("list")
    assert transport.last().headers["X-Devpi-Auth"] == "YWxpY2U6dG9r"  # base64("alice:tok")
    transport.add("POST", SERVER + "+logout", message="logged out")
    assert cli("logout").out == f"logged out alice from {SERVER}\n"
    assert transport.last("POST").headers["X-Devpi-Auth"] == "YWxpY2U6dG9r"
    assert cli.store.load_login(SERVER) is None
    assert "not logged in" in cli("logout").out


def test_login_wrong_password(cli, transport):
    cli.use(user=None)
    transport.add("POST", SERVER + "+login", status=401, message="invalid user name or password")
    err = cli("login", "alice", "--password", "bad", status=1).err
    assert err == f"error: login of alice at {SERVER} failed: invalid user name or password\n"


def test_login_without_password_or_terminal(cli):
    cli.use(user=None)
    assert "no password for alice: pass --password" in cli("login", "alice", status=1).err


def test_auth_is_only_sent_to_the_server(cli, transport):
    cli.use()
    transport.add("GET", "http://elsewhere/x", {"a": 1})
    cli("getjson", "http://elsewhere/x")
    assert "X-Devpi-Auth" not in transport.last().headers


def test_expired_login_hint(cli, transport):
    cli.use()
    transport.add("GET", SERVER + "alice/dev/", status=401, message="invalid user name, password or token")
    assert "run 'idx login alice'" in cli("list", status=1).err


# -- user and index ----------------------------------------------------------------------------
def test_user_commands(cli, transport):
    cli.use()
    transport.add("PUT", SERVER + "bob", {"username": "bob"}, status=201)
    assert "user bob created" in cli("user", "-c", "bob", "password=x", "email=b@x").out
    assert transport.last().json() == {"password": "x", "email": "b@x"}
    transport.add("PATCH", SERVER + "bob", {"username": "bob"})
    assert cli("user", "-m", "bob", "password=new").out == "user bob modified: password=********\n"
    assert transport.last().json() == {"password": "new"}
    transport.add("GET", SERVER, {"alice": {}, "bob": {}})
    assert cli("user", "-l").out.split() == ["alice", "bob"]
    transport.add("DELETE", SERVER + "bob", message="user bob deleted")
    assert "delete user bob" in cli("user", "--delete", "bob", status=1).err  # no terminal, no -y
    assert cli("user", "--delete", "bob", "-y").out == "user bob deleted\n"
    assert "give user carl's password" in cli("user", "-c", "carl", status=2).err


def test_index_commands(cli, transport):
    cli.use()
    config = {"type": "stage", "bases": ["root/pypi"], "volatile": True, "acl_upload": ["alice"]}
    transport.add("PUT", SERVER + "alice/dev2", config, status=201)
    out = cli("index", "-c", "dev2", "bases=root/pypi").out
    assert out.splitlines()[:3] == ["index alice/dev2 created:", "  type=stage", "  bases=root/pypi"]
    assert transport.last().json() == {"bases": "root/pypi"}
    transport.add("PATCH", SERVER + "alice/dev2", config)
    cli("index", "dev2", "bases+=alice/x", "acl_upload-=bob", "volatile=False")
    assert transport.last().json() == ["bases+=alice/x", "acl_upload-=bob", "volatile=False"]
    transport.add("PATCH", SERVER + "alice/dev", config)
    cli("index", "title=hello")  # key=value alone: the current index
    assert transport.last().url == SERVER + "alice/dev"
    transport.add("GET", SERVER + "alice/dev?no_projects", {**config, "projects": ["x"]})
    shown = json.loads(cli("index", "--json").out)
    assert shown["index"] == "alice/dev"
    assert "projects" not in shown
    transport.add("GET", SERVER + "alice", {"username": "alice", "indexes": {"dev": {}, "dev2": {}}})
    assert cli("index", "-l").out.split() == ["alice/dev", "alice/dev2"]
    assert "give the NAME of the index to create" in cli("index", "-c", status=2).err


# -- upload ------------------------------------------------------------------------------------
def _parse_multipart(sent):
    import email.parser

    message = email.parser.BytesParser().parsebytes(
        f"Content-Type: {sent.headers['Content-Type']}\r\n\r\n".encode() + sent.body
    )
    fields, files = {}, {}
    for part in message.get_payload():
        name = part.get_param("name", header="content-disposition")
        filename = part.get_param("filename", header="content-disposition")
        if filename:
            files[name] = (filename, part.get_payload(decode=True))
        else:
            fields[name] = part.get_payload()
    return fields, files


def test_upload_sends_what_twine_sends(cli, transport, tmp_path):
    cli.use()
    wheel = make_wheel(Project("hello-world", "1.0")).write(tmp_path)
    transport.add(
        "POST", SERVER + "alice/dev/", body=f"{wheel.name} uploaded\n".encode(), content_type="text/plain"
    )
    out = cli("upload", str(wheel)).out
    assert out == f"uploaded {wheel.name} ({wheel.stat().st_size} B) to alice/dev\n"
    sent = transport.last("POST")
    assert int(sent.headers["Content-Length"]) == len(sent.body)
    fields, files = _parse_multipart(sent)
    content = wheel.read_bytes()
    assert fields == {
        ":action": "file_upload",
        "protocol_version": "1",
        "name": "hello-world",
        "version": "1.0",
        "filetype": "bdist_wheel",
        "pyversion": "py3",
        "metadata_version": "2.1",
        "sha256_digest": hashlib.sha256(content).hexdigest(),
        "blake2_256_digest": hashlib.blake2b(content, digest_size=32).hexdigest(),
    }
    assert files == {"content": (wheel.name, content)}


def test_upload_skip_existing_and_dry_run(cli, transport, tmp_path):
    cli.use()
    dist = tmp_path / "dist"
    dist.mkdir()
    wheel = make_wheel(Project("hello", "1.0")).write(dist)
    sdist = make_sdist(Project("hello", "1.0")).write(dist)
    page = {
        "files": [
            {
                "filename": wheel.name,
                "url": "../../+f/abc/def/" + wheel.name,
                "hashes": {"sha256": hashlib.sha256(wheel.read_bytes()).hexdigest()},
            },
            # Same name and hash, but inherited from a base: not on alice/dev itself.
            {
                "filename": sdist.name,
                "url": "../../../../root/other/+f/abc/def/" + sdist.name,
                "hashes": {"sha256": hashlib.sha256(sdist.read_bytes()).hexdigest()},
            },
        ]
    }
    transport.add("GET", SERVER + "alice/dev/+simple/hello/", body=json.dumps(page).encode())
    out = cli("upload", "--skip-existing", "--dry-run", str(dist)).out.splitlines()
    assert out == [
        f"skipped {wheel.name}: already on alice/dev with the same sha256",
        f"would upload {sdist.name} ({sdist.stat().st_size} B) to {SERVER}alice/dev/",
    ]
    assert [s.method for s in transport.sent] == ["GET"]
    assert transport.last().headers["Accept"] == "application/vnd.pypi.simple.v1+json"


def test_upload_conflict(cli, transport, tmp_path):
    cli.use()
    wheel = make_wheel(Project("hello", "1.0")).write(tmp_path)
    transport.add("POST", SERVER + "alice/dev/", status=409, message="File already exists: ...")
    err = cli("upload", str(wheel), status=1).err
    assert err == (
        f"error: {wheel.name}: upload to alice/dev failed: File already exists: ... "
        f"(HTTP 409 from POST {SERVER}alice/dev/)\n"
    )


def test_upload_refuses_non_distributions(cli, tmp_path):
    cli.use()
    (tmp_path / "notes.txt").write_text("x")
    assert "not a wheel or sdist" in cli("upload", str(tmp_path / "notes.txt"), status=1).err
    assert "no such file or directory" in cli("upload", str(tmp_path / "nope.whl"), status=1).err
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "no distribution files" in cli("upload", str(empty), status=1).err


def test_upload_to_a_mirror(cli):
    cli.use(index="root/pypi")
    state = cli.store.load_state()
    from dataclasses import replace

    cli.store.save_state(replace(state, pypisubmit=""))
    assert "does not take uploads" in cli("upload", "x.whl", status=1).err


# -- list, remove, push, yank ------------------------------------------------------------------
def _link(index, filename, yanked=False):
    return {
        "rel": "releasefile",
        "href": f"{SERVER}{index}/+f/abc/def/{filename}",
        "hashes": {"sha256": "0" * 64},
        "size": 10,
        "yanked": yanked,
    }


TOXRESULT_URL = f"{SERVER}alice/dev/+f/abc/def/hello-1.0.tar.gz.toxresult-1"
TOXRESULT = {
    "host": "ci",
    "platform": "linux",
    "testenvs": {
        "py312": {
            "python": {"version": "3.12.1 (main)"},
            "test": [{"command": ["pytest"], "retcode": 1, "output": "E assert 1 == 2"}],
        },
        "lint": {"test": [{"command": ["ruff", "check"], "retcode": 0, "output": ""}]},
    },
}

VERSIONS = {
    "2.0": {
        "name": "hello",
        "version": "2.0",
        "+links": [_link("alice/dev", "hello-2.0.tar.gz", "bad build")],
    },
    "1.0": {
        "name": "hello",
        "version": "1.0",
        "+links": [
            _link("alice/dev", "hello-1.0.tar.gz"),
            {
                "rel": "toxresult",
                "href": TOXRESULT_URL,
                "for_href": f"{SERVER}alice/dev/+f/abc/def/hello-1.0.tar.gz",
                "log": [{"what": "upload", "who": "alice", "when": [2026, 1, 2, 3, 4, 5]}],
            },
        ],
        "+shadowing": [
            {"name": "hello", "version": "1.0", "+links": [_link("root/base", "hello-1.0.tar.gz")]}
        ],
    },
    "0.9": {"name": "hello", "version": "0.9", "+links": [_link("root/base", "hello-0.9.tar.gz")]},
    "0.8": {"name": "hello", "version": "0.8", "+links": [_link("root/base", "hello-0.8.tar.gz")]},
}


def test_list_project(cli, transport):
    cli.use()
    transport.add("GET", SERVER + "alice/dev/hello", VERSIONS)
    transport.add("GET", TOXRESULT_URL, TOXRESULT, body=json.dumps(TOXRESULT).encode())
    out = cli("list", "Hello", "-t").out.splitlines()
    assert out[0] == "hello 2.0  (yanked: bad build)"
    assert out[1].split() == ["hello-2.0.tar.gz", "alice/dev"]
    assert out[2].split() == ["no", "test", "results"]
    assert [line.split() for line in out[3:8]] == [
        ["hello", "1.0"],
        ["hello-1.0.tar.gz", "alice/dev"],
        ["lint", "?", "passed", "ci", "linux", "2026-01-02", "03:04:05", "UTC"],
        ["py312", "3.12.1", "failed", "ci", "linux", "2026-01-02", "03:04:05", "UTC"],
        ["hello-1.0.tar.gz", "root/base"],
    ]
    assert out[-1] == "1 older version not shown; use --all to see them"
    assert "hello 0.8" in cli("list", "hello", "--all").out
    data = json.loads(cli("list", "hello==1.0", "--json").out)
    assert [f["index"] for f in data[0]["files"]] == ["alice/dev", "root/base"]
    assert data[0]["files"][0]["test_results"] == [TOXRESULT_URL]
    assert "test_envs" not in data[0]["files"][0]


def test_list_failures(cli, transport):
    cli.use()
    transport.add("GET", SERVER + "alice/dev/hello", VERSIONS)
    transport.add("GET", TOXRESULT_URL, body=json.dumps(TOXRESULT).encode())
    out = cli("list", "hello==1.0", "-f").out.splitlines()
    assert out[3].split()[:3] == ["py312", "3.12.1", "failed"]
    assert out[4:6] == ["      FAIL: pytest", "        E assert 1 == 2"]
    assert out[6].split() == ["hello-1.0.tar.gz", "root/base"]
    data = json.loads(cli("list", "hello==1.0", "-f", "--json").out)
    envs = data[0]["files"][0]["test_envs"]
    assert [(e["env"], e["status"], e["passed"], e["url"]) for e in envs] == [
        ("lint", "passed", True, TOXRESULT_URL),
        ("py312", "failed", False, TOXRESULT_URL),
    ]
    assert envs[1]["failures"] == [{"command": "pytest", "retcode": 1, "output": "E assert 1 == 2"}]
    assert data[0]["files"][1]["test_envs"] == []


def test_list_unreadable_result(cli, transport):
    cli.use()
    transport.add("GET", SERVER + "alice/dev/hello", VERSIONS)
    transport.add("GET", TOXRESULT_URL, body=b'{"testenvs": []}')
    out = cli("list", "hello==1.0", "-t").out
    assert f"unreadable test result, skipped: {TOXRESULT_URL}" in out


def test_list_projects(cli, transport):
    cli.use()
    transport.add(
        "GET", SERVER + "alice/dev/", {"type": "stage", "projects": ["b", "A"], "bases": ["root/base"]}
    )
    transport.add("GET", SERVER + "root/base/", {"type": "stage", "projects": ["c"], "bases": ["root/pypi"]})
    transport.add("GET", SERVER + "root/pypi/", {"type": "mirror", "projects": []})
    assert cli("list").out == "A\nb\n"
    assert cli("list", "--all").out.splitlines() == [
        "alice/dev:",
        "  A",
        "  b",
        "root/base:",
        "  c",
        "root/pypi: a mirror (its projects are not listed)",
    ]


def test_remove_release(cli, transport):
    cli.use()
    transport.add("GET", SERVER + "alice/dev/hello?ignore_bases", VERSIONS)
    transport.add("DELETE", SERVER + "alice/dev/hello/1.0", message="hello 1.0 deleted from alice/dev")
    assert "pass -y" in cli("remove", "hello==1.0", status=1).err
    out = cli("remove", "hello==1.0", "-y").out.splitlines()
    assert out == ["on alice/dev:", "  hello 1.0: hello-1.0.tar.gz", "hello 1.0 deleted from alice/dev"]
    assert [s.method for s in transport.sent].count("DELETE") == 1
    assert "nothing on alice/dev matches hello==0.9" in cli("remove", "-y", "hello==0.9", status=1).err


def test_remove_project_force(cli, transport):
    cli.use()
    transport.add("GET", SERVER + "alice/dev/hello?ignore_bases", VERSIONS)
    transport.add("DELETE", SERVER + "alice/dev/hello?force", message="project hello deleted from alice/dev")
    assert "project hello deleted" in cli("remove", "hello", "-y", "--force").out


def test_push(cli, transport):
    cli.use()
    log = [
        [200, "register", "hello", "1.0", "->", "alice/release"],
        [200, "store_releasefile", "alice/release/+f/x"],
    ]
    transport.add("POST", SERVER + "alice/dev/", log, kind="actionlog")
    out = cli("push", "hello==1.0", "alice/release").out.splitlines()
    assert out == [
        "  200 register hello 1.0 -> alice/release",
        "  200 store_releasefile alice/release/+f/x",
        "pushed hello==1.0 from alice/dev to alice/release",
    ]
    sent = transport.last("POST")
    assert sent.json() == {"name": "hello", "version": "1.0", "targetindex": "alice/release"}
    assert sent.headers["Content-Type"] == "application/json"


def test_push_conflict_and_failed_step(cli, transport):
    cli.use()
    transport.add(
        "POST", SERVER + "alice/dev/", status=409, message="hello-1.0.tar.gz exists with other content"
    )
    err = cli("push", "hello==1.0", "alice/release", status=1).err
    assert err.startswith(
        "error: push of hello==1.0 from alice/dev to alice/release failed: hello-1.0.tar.gz"
    )
    transport.routes.clear()
    transport.add(
        "POST", SERVER + "alice/dev/", [[200, "register"], [500, "store_releasefile", "x"]], kind="actionlog"
    )
    assert "1 step(s) failed" in cli("push", "hello==1.0", "alice/release", status=1).err


def test_yank_unyank(cli, transport):
    cli.use()
    transport.add(
        "POST", SERVER + "alice/dev/hello/1.0/+yank", message="hello 1.0 yanked on alice/dev (1 files)"
    )
    assert cli("yank", "hello==1.0", "--reason", "broken").out == "hello 1.0 yanked on alice/dev (1 files)\n"
    assert transport.last().json() == {"reason": "broken"}
    transport.add("POST", SERVER + "alice/other/hello/1.0/+unyank", message="unyanked")
    assert cli("unyank", "hello==1.0", "--index", "alice/other").out == "unyanked\n"


@pytest.mark.parametrize(
    ("path", "url"),
    [
        ("/", SERVER),
        ("/alice/dev", SERVER + "alice/dev"),
        ("hello", SERVER + "alice/dev/hello"),
        ("http://other/x", "http://other/x"),
    ],
)
def test_getjson(cli, transport, path, url):
    cli.use()
    transport.add("GET", url, {"k": "v"})
    assert json.loads(cli("getjson", path).out) == {"type": "x", "result": {"k": "v"}}
