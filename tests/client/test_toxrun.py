"""Finding tox and the tox config, and the environment and netrc ``idx test`` gives tox."""

import stat
import sys
from pathlib import Path

import pytest
from idx_client import toxrun
from idx_client.errors import ClientError
from idx_client.toxrun import (
    ToxMissing,
    ToxRun,
    find_tox,
    find_tox_config,
    installer_env,
    sdist_root,
    write_netrc,
)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("files", "found"),
    [
        ({"tox.ini": "[tox]\n", "pyproject.toml": "[tool.tox]\n"}, "tox.ini"),
        ({"setup.cfg": "[tox:tox]\nenv_list = py\n", "pyproject.toml": "[tool.tox]\n"}, "setup.cfg"),
        (
            {"setup.cfg": "[metadata]\nname = x\n", "pyproject.toml": "[tool.tox]\nenv_list = ['py']\n"},
            "pyproject.toml",
        ),
        ({"pyproject.toml": "[tool.tox]\nlegacy_tox_ini = '''\n[tox]\n'''\n"}, "pyproject.toml"),
        ({"pyproject.toml": "[project]\nname = 'x'\n", "tox.toml": "env_list = ['py']\n"}, "tox.toml"),
    ],
)
def test_config_discovery(tmp_path, files, found):
    for name, text in files.items():
        write(tmp_path / name, text)
    assert find_tox_config(tmp_path) == tmp_path / found


def test_no_config(tmp_path):
    write(tmp_path / "pyproject.toml", "not [valid toml")
    write(tmp_path / "setup.cfg", "[metadata]\n")
    with pytest.raises(ClientError, match="no tox config in the sdist"):
        find_tox_config(tmp_path)


def test_given_config(tmp_path):
    sdist, here = tmp_path / "sdist", tmp_path / "here"
    write(sdist / "ci" / "tox.ini", "[tox]\n")
    write(here / "my.ini", "[tox]\n")
    assert find_tox_config(sdist, "my.ini", cwd=here) == here / "my.ini"
    assert find_tox_config(sdist, "ci/tox.ini", cwd=here) == sdist / "ci" / "tox.ini"
    with pytest.raises(ClientError, match=r"'nope\.ini': no such file"):
        find_tox_config(sdist, "nope.ini", cwd=here)


def test_sdist_root(tmp_path):
    (tmp_path / "a" / "hello-1.0").mkdir(parents=True)
    assert sdist_root(tmp_path / "a") == tmp_path / "a" / "hello-1.0"
    write(tmp_path / "b" / "tox.ini", "")
    (tmp_path / "b" / "src").mkdir()
    assert sdist_root(tmp_path / "b") == tmp_path / "b"


def test_find_tox(tmp_path, monkeypatch):
    tox = write(tmp_path / "bin" / "tox", "#!/bin/sh\n")
    tox.chmod(0o755)
    assert find_tox({"PATH": str(tmp_path / "bin")}) == [str(tox)]
    monkeypatch.setattr(toxrun.importlib.util, "find_spec", lambda name: object())
    assert find_tox({"PATH": str(tmp_path / "empty")}) == [sys.executable, "-m", "tox"]
    monkeypatch.setattr(toxrun.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ToxMissing, match="tox is not installed"):
        find_tox({"PATH": str(tmp_path / "empty")})


def test_installer_env():
    base = {
        "HOME": "/home/a",
        "PIP_EXTRA_INDEX_URL": "https://elsewhere/simple",
        "PIP_NO_INDEX": "1",
        "UV_INDEX": "https://elsewhere/simple",
        "PIP_TIMEOUT": "5",
    }
    env = installer_env(base, "http://idx:3141/alice/dev/+simple/", Path("/tmp/x/netrc"))
    assert (
        env["PIP_INDEX_URL"]
        == env["UV_INDEX_URL"]
        == env["UV_DEFAULT_INDEX"]
        == "http://idx:3141/alice/dev/+simple/"
    )
    assert env["PIP_EXTRA_INDEX_URL"] == env["PIP_FIND_LINKS"] == ""
    assert "PIP_NO_INDEX" not in env
    assert "UV_INDEX" not in env
    assert (env["HOME"], env["PIP_TIMEOUT"], env["NETRC"]) == ("/home/a", "5", "/tmp/x/netrc")
    assert "NETRC" not in installer_env({}, "http://idx/+simple/", None)


def test_netrc(tmp_path):
    path = write_netrc(tmp_path, "http://idx.example:3141/", "alice", "tok-123")
    assert path.read_text() == "machine idx.example\nlogin alice\npassword tok-123\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with pytest.raises(ClientError, match="netrc"):
        write_netrc(tmp_path / "x", "http://idx.example/", "alice", "has space")


def test_tox_argv(tmp_path):
    run = ToxRun(
        ("tox",),
        tmp_path / "hello-1.0.tar.gz",
        tmp_path / "sdist" / "tox.ini",
        tmp_path / "result.json",
        tmp_path / "work",
        envs="py311,lint",
        tox_args="--parallel 2 -- -k 'not slow'",
    )
    assert run.argv() == [
        "tox",
        "--installpkg",
        str(tmp_path / "hello-1.0.tar.gz"),
        "--recreate",
        "--result-json",
        str(tmp_path / "result.json"),
        "--workdir",
        str(tmp_path / "work"),
        "-c",
        str(tmp_path / "sdist" / "tox.ini"),
        "-e",
        "py311,lint",
        "--parallel",
        "2",
        "--",
        "-k",
        "not slow",
    ]
    broken = ToxRun(("tox",), tmp_path, tmp_path / "tox.ini", tmp_path, tmp_path, tox_args="'unclosed")
    with pytest.raises(ClientError, match="--tox-args"):
        broken.argv()
