"""Argument parsing, exit statuses and the global options."""

import json

import pytest
from fakes.idx_transport import SERVER
from idx_client.cli import build_parser, collect_commands, main
from idx_client.plugins import get_plugin_manager

COMMANDS = [
    "use",
    "login",
    "logout",
    "user",
    "token",
    "index",
    "upload",
    "test",
    "list",
    "remove",
    "push",
    "yank",
    "unyank",
    "getjson",
]


@pytest.fixture
def parser():
    return build_parser(collect_commands(get_plugin_manager(load_entrypoints=False)))


def test_every_command_is_there(parser):
    names = [c.name for c in collect_commands(get_plugin_manager(load_entrypoints=False))]
    assert names == COMMANDS


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["use"], {"target": None, "set_cfg": False, "venv": None, "list": False}),
        (["use", "http://h/alice/dev", "--set-cfg"], {"target": "http://h/alice/dev", "set_cfg": True}),
        (["login", "alice", "--password", "pw"], {"user": "alice", "password": "pw"}),
        (
            ["user", "-c", "bob", "password=x", "email=b@x"],
            {"create": True, "name": "bob", "keyvalues": ["password=x", "email=b@x"]},
        ),
        (["user", "--delete", "bob", "-y"], {"delete": True, "name": "bob", "yes": True}),
        (
            ["index", "dev", "bases+=a/b", "acl_upload-=bob"],
            {"name": "dev", "keyvalues": ["bases+=a/b", "acl_upload-=bob"]},
        ),
        (["index", "-l"], {"list": True, "name": None}),
        (["upload", "--skip-existing", "--dry-run", "dist"], {"skip_existing": True, "dry_run": True}),
        (
            ["list", "hello", "--all", "-t", "--index", "a/b"],
            {"spec": "hello", "all": True, "toxresults": True, "index": "a/b"},
        ),
        (["remove", "-y", "hello==1.0"], {"spec": "hello==1.0", "yes": True, "force": False}),
        (["push", "hello==1.0", "alice/release"], {"spec": "hello==1.0", "target": "alice/release"}),
        (["yank", "hello==1.0", "--reason", "bad"], {"spec": "hello==1.0", "reason": "bad"}),
        (["unyank", "hello==1.0"], {"spec": "hello==1.0"}),
        (["getjson", "/alice/dev"], {"path": "/alice/dev"}),
    ],
)
def test_parsing(parser, argv, expected):
    args = vars(parser.parse_args(argv))
    assert {key: args[key] for key in expected} == expected
    assert args["_command"].name == argv[0]


def test_logoff_is_logout(parser):
    assert parser.parse_args(["logoff"])._command.name == "logout"


def test_clientdir_before_or_after_the_command(parser):
    assert parser.parse_args(["--clientdir", "/a", "list"]).clientdir == "/a"
    assert parser.parse_args(["list", "--clientdir", "/b"]).clientdir == "/b"
    assert parser.parse_args(["list"]).clientdir is None


@pytest.mark.parametrize(
    "argv",
    [["frobnicate"], ["push", "hello==1.0"], ["user", "-c", "-m", "x"], ["list", "--bogus"], ["login"]],
)
def test_usage_errors_exit_2(cli, argv):
    result = cli(*argv, status=2)
    assert "usage: idx" in result.err


def test_no_command_prints_help_and_exits_2(cli):
    assert "commands:" in cli(status=2).err


def test_version(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.startswith("idx-client ")


def test_client_usage_errors_exit_2(cli):
    cli.use()
    assert "expected a release as NAME==VERSION" in cli("push", "hello", "alice/release", status=2).err
    assert "TARGET must be USER/INDEX" in cli("push", "hello==1.0", "release", status=2).err
    assert "--venv only goes with --set-cfg" in cli("use", "--venv", "x", status=2).err


def test_expected_errors_are_one_line(cli):
    result = cli("list", status=1)
    assert result.err == "error: no server in use: run 'idx use URL' first\n"
    cli.use(index="")
    assert cli("list", status=1).err == "error: no index in use: run 'idx use USER/INDEX' first\n"


def test_clientdir_env_and_option(cli, transport, tmp_path):
    transport.add("GET", SERVER + "+api", {"login": SERVER + "+login"})
    other = tmp_path / "other"
    cli("--clientdir", str(other), "use", SERVER)
    assert json.loads((other / "current.json").read_text())["server"] == SERVER
    assert not (tmp_path / "clientdir" / "current.json").exists()
