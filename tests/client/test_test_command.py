"""``idx test`` against a fake server, with a fake ``tox`` that records how it was run."""

from __future__ import annotations

import io
import json
import sys
import tarfile
from pathlib import Path

import pytest
from fakes.idx_transport import SERVER
from idx_server.testing import Dist, Project, make_sdist, make_wheel

FAKE_TOX = """\
#!{python}
import json, os, sys
args = sys.argv[1:]
netrc = os.environ.get("NETRC")
record = {{
    "argv": args,
    "cwd": os.getcwd(),
    "env": {{k: os.environ.get(k) for k in
            ("PIP_INDEX_URL", "UV_INDEX_URL", "UV_DEFAULT_INDEX", "NETRC", "PIP_EXTRA_INDEX_URL")}},
    "netrc": open(netrc).read() if netrc else None,
    "config": open(args[args.index("-c") + 1]).read(),
}}
with open(os.environ["FAKE_TOX_LOG"], "a") as log:
    log.write(json.dumps(record) + "\\n")
status = int(os.environ.get("FAKE_TOX_STATUS", "0"))
if not os.environ.get("FAKE_TOX_NO_RESULT"):
    result = {{
        "reportversion": "1", "host": "box", "platform": "linux",
        "testenvs": {{"py": {{
            "python": {{"version": "3.12.1 (main)"}},
            "setup": [{{"command": ["pip", "install", "pytest"], "retcode": 0, "output": ""}}],
            "test": [{{"command": ["pytest"], "retcode": status, "output": "login tok-alice in the output"}}],
            "result": {{"success": status == 0}},
        }}}},
    }}
    with open(args[args.index("--result-json") + 1], "w") as out:
        json.dump(result, out)
sys.exit(status)
"""

TOX_INI = "[tox]\nenv_list = py\n"
FILES = SERVER + "alice/dev/+f/abc/def/"


@pytest.fixture
def fake_tox(cli, tmp_path):
    """A ``tox`` on the cli's PATH; returns a function reading what each run recorded."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "tox"
    script.write_text(FAKE_TOX.format(python=sys.executable))
    script.chmod(0o755)
    log = tmp_path / "tox-log.jsonl"
    cli.env.update(PATH=str(bin_dir), FAKE_TOX_LOG=str(log))

    def runs() -> list[dict]:
        return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []

    return runs


def publish(transport, *dists: Dist, project="hello", version="1.0", sha=None):
    links = []
    for dist in dists:
        url = FILES + dist.filename
        links.append({"rel": "releasefile", "href": url, "hashes": {"sha256": sha or dist.sha256}, "size": 1})
        transport.add("GET", url, body=dist.content, content_type="application/octet-stream")
        transport.add("POST", url, f"alice/dev/+f/abc/def/{dist.filename}.toxresult-7", kind="toxresultpath")
    transport.add(
        "GET",
        SERVER + f"alice/dev/{project}",
        {version: {"name": project, "version": version, "+links": links}},
    )


def release(version="1.0", tox_ini=TOX_INI):
    project = Project("hello", version)
    return make_sdist(project, extra={"tox.ini": tox_ini}), make_wheel(project)


def test_sdist_and_universal_wheel(cli, transport, fake_tox):
    cli.use()
    sdist, wheel = release()
    publish(transport, sdist, wheel)
    out = cli("test", "hello").out
    runs = fake_tox()
    assert len(runs) == 2
    for run, dist in zip(runs, (sdist, wheel), strict=True):
        argv = run["argv"]
        assert Path(argv[argv.index("--installpkg") + 1]).name == dist.filename
        assert "--recreate" in argv
        assert run["config"] == TOX_INI  # the sdist's, for the wheel too
        assert Path(run["cwd"]).name == "hello-1.0"
        assert run["env"]["PIP_INDEX_URL"] == SERVER + "alice/dev/+simple/"
        assert run["env"]["UV_INDEX_URL"] == run["env"]["UV_DEFAULT_INDEX"] == run["env"]["PIP_INDEX_URL"]
        assert run["env"]["PIP_EXTRA_INDEX_URL"] == ""
        assert run["netrc"] == "machine idx.example\nlogin alice\npassword tok-alice\n"
        assert "tok-alice" not in " ".join(argv)
    posts = [s for s in transport.sent if s.method == "POST"]
    assert [p.url for p in posts] == [FILES + sdist.filename, FILES + wheel.filename]
    for post in posts:
        assert post.headers["Content-Type"] == "application/json"
        assert "tok-alice" not in post.body.decode()
        assert post.json()["testenvs"]["py"]["test"][0]["output"] == "login **** in the output"
    assert "tox config: tox.ini (from hello-1.0.tar.gz)" in out
    assert "py            3.12.1    passed        box  linux" in out
    assert f"stored the result at {FILES}{sdist.filename}.toxresult-7" in out
    assert out.strip().endswith(f"passed: {sdist.filename}, {wheel.filename}")
    # The temporary directory (with the netrc) is gone.
    assert not Path(runs[0]["env"]["NETRC"]).exists()


def test_failing_tox_exits_1_and_still_stores(cli, transport, fake_tox):
    cli.use()
    publish(transport, *release())
    cli.env["FAKE_TOX_STATUS"] = "1"
    result = cli("test", "hello", "-e", "py", "--tox-args", "-- -x", status=1)
    assert "failed: hello-1.0.tar.gz, hello-1.0-py3-none-any.whl" in result.out
    assert len([s for s in transport.sent if s.method == "POST"]) == 2
    argv = fake_tox()[0]["argv"]
    assert argv[-4:] == ["-e", "py", "--", "-x"]


def test_no_result_written(cli, transport, fake_tox):
    cli.use()
    publish(transport, *release())
    cli.env.update(FAKE_TOX_STATUS="2", FAKE_TOX_NO_RESULT="1")
    result = cli("test", "hello", "--select", "tar", status=1)
    assert "tox exited with 2 and wrote no result for hello-1.0.tar.gz" in result.err
    assert not [s for s in transport.sent if s.method == "POST"]


def test_no_upload_and_select(cli, transport, fake_tox):
    cli.use(user=None)
    sdist, wheel = release()
    platform_wheel = make_wheel(Project("hello", "1.0"), tag="cp312-cp312-manylinux_2_17_x86_64")
    publish(transport, sdist, wheel, platform_wheel)
    cli("test", "hello", "--no-upload", "--select", "manylinux")
    (run,) = fake_tox()
    argv = run["argv"]
    assert Path(argv[argv.index("--installpkg") + 1]).name == platform_wheel.filename
    assert run["netrc"] is None  # not logged in
    assert not [s for s in transport.sent if s.method == "POST"]


def test_hash_mismatch_is_refused(cli, transport, fake_tox):
    cli.use()
    publish(transport, *release(), sha="f" * 64)
    err = cli("test", "hello", status=1).err
    assert "the download's sha256 is" in err
    assert fake_tox() == []


def test_hostile_sdist_is_refused(cli, transport, fake_tox):
    cli.use()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo("../../evil.txt")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    publish(transport, Dist("hello-1.0.tar.gz", buffer.getvalue()))
    assert "refusing to unpack hello-1.0.tar.gz" in cli("test", "hello", status=1).err
    assert fake_tox() == []


def test_wheel_only_needs_a_config(cli, transport, fake_tox, tmp_path, monkeypatch):
    cli.use()
    _, wheel = release()
    publish(transport, wheel)
    assert "has no sdist, so no tox config: give one with -c" in cli("test", "hello", status=1).err
    (tmp_path / "mine.ini").write_text("[tox]\n# mine\n")
    monkeypatch.chdir(tmp_path)
    cli("test", "hello", "-c", "mine.ini")
    assert fake_tox()[0]["config"] == "[tox]\n# mine\n"


def test_no_sdist_config(cli, transport, fake_tox):
    cli.use()
    sdist = make_sdist(Project("hello", "1.0"))
    publish(transport, sdist)
    assert "no tox config in the sdist (hello-1.0)" in cli("test", "hello", status=1).err


def test_store_refused(cli, transport, fake_tox):
    cli.use()
    sdist, _ = release()
    publish(transport, sdist)
    transport.routes[("POST", FILES + sdist.filename)] = []
    transport.add("POST", FILES + sdist.filename, status=403, message="no permission to upload test results")
    result = cli("test", "hello", status=1)
    assert "cannot store the result of hello-1.0.tar.gz: no permission" in result.err
    assert "passed: hello-1.0.tar.gz" in result.out


def test_mirror_file_is_tested_without_storing(cli, transport, fake_tox):
    cli.use()
    sdist, _ = release()
    publish(transport, sdist)
    transport.routes[("POST", FILES + sdist.filename)] = []
    transport.add(
        "POST", FILES + sdist.filename, status=405, message="hello-1.0.tar.gz is on the mirror root/pypi"
    )
    assert "result not stored" in cli("test", "hello").err


def test_tox_missing(cli, transport, tmp_path, monkeypatch):
    cli.use()
    publish(transport, *release())
    cli.env["PATH"] = str(tmp_path / "nothing")
    monkeypatch.setattr("importlib.util.find_spec", lambda name: None)
    assert "tox is not installed" in cli("test", "hello", status=1).err


def test_unknown_project_or_version(cli, transport, fake_tox):
    cli.use()
    transport.add("GET", SERVER + "alice/dev/nope", status=404, message="project 'nope' is not on index")
    assert (
        "no release of nope on alice/dev: project 'nope' is not on index" in cli("test", "nope", status=1).err
    )
    publish(transport, *release())
    err = cli("test", "hello>1", status=1).err
    assert "no release matching hello>1 with files on alice/dev or its bases (versions there: 1.0)" in err


def test_expired_login_is_found_out_first(cli, transport, fake_tox):
    cli.use()
    publish(transport, *release())
    from idx_client.context import Login

    cli.store.save_login(Login(SERVER, "alice", "tok-alice", expires=1.0))
    assert "the login of 'alice' expired: run 'idx login alice'" in cli("test", "hello", status=1).err
    assert fake_tox() == []
    cli("test", "hello", "--no-upload")
