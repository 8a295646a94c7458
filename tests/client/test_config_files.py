import configparser
import tomllib
from pathlib import Path

import pytest
from idx_client.config_files import (
    backup_path,
    pip_config_text,
    pypirc_text,
    set_ini_values,
    uv_config_text,
    write_config,
)
from idx_client.errors import ClientError

SIMPLE = "http://idx.example:3141/alice/dev/+simple/"
UPLOAD = "http://idx.example:3141/alice/dev/"
P = Path("cfg")


def ini(text):
    parser = configparser.RawConfigParser()
    parser.read_string(text)
    return parser


def test_pip_new_file():
    assert pip_config_text("", SIMPLE, None, P) == f"[global]\nindex-url = {SIMPLE}\n"


def test_pip_replaces_index_url_and_keeps_the_rest():
    old = (
        "# my settings\n[global]\ntimeout = 60\nindex_url = http://old/simple/\n    continued\n"
        "extra-index-url = http://extra/\n\n[install]\nuser = false\n"
    )
    new = pip_config_text(old, SIMPLE, "idx.example", P)
    assert new.startswith("# my settings\n[global]\ntimeout = 60\n")
    parsed = ini(new)
    assert parsed.get("global", "index-url") == SIMPLE
    assert not parsed.has_option("global", "index_url")
    assert parsed.get("global", "extra-index-url") == "http://extra/"
    assert parsed.get("global", "trusted-host") == "idx.example"
    assert parsed.get("install", "user") == "false"
    assert "continued" not in new
    assert pip_config_text(new, SIMPLE, "idx.example", P) == new  # idempotent


def test_pip_adds_a_global_section():
    new = pip_config_text("[install]\nuser = false\n", SIMPLE, None, P)
    assert new == f"[install]\nuser = false\n\n[global]\nindex-url = {SIMPLE}\n"


def test_pip_refuses_a_broken_file():
    with pytest.raises(ClientError, match="not a valid INI file"):
        pip_config_text("index-url = no section\n", SIMPLE, None, P)


def test_uv_new_file():
    data = tomllib.loads(uv_config_text("", SIMPLE, UPLOAD, P))
    assert data == {"index": [{"name": "idx", "url": SIMPLE, "publish-url": UPLOAD, "default": True}]}


def test_uv_replaces_old_settings():
    old = (
        '# uv settings\nindex-url = "http://old/simple/"\nnative-tls = true\n\n'
        '[[index]]\nname = "corp"\nurl = "http://corp/simple/"\ndefault = true\n\n'
        '[[index]]\nname = "idx"\nurl = "http://previous/"\n\n[pip]\ncompile-bytecode = true\n'
    )
    new = uv_config_text(old, SIMPLE, None, P)
    data = tomllib.loads(new)
    assert "index-url" not in data
    assert data["native-tls"] is True
    assert data["pip"] == {"compile-bytecode": True}
    assert data["index"] == [
        {"name": "corp", "url": "http://corp/simple/"},
        {"name": "idx", "url": SIMPLE, "default": True},
    ]
    assert "# uv settings" in new
    assert uv_config_text(new, SIMPLE, None, P) == new


def test_uv_refuses_broken_toml():
    with pytest.raises(ClientError, match="not valid TOML"):
        uv_config_text("[[index]\n", SIMPLE, None, P)


def test_pypirc_new_file():
    parsed = ini(pypirc_text("", UPLOAD, "alice", P))
    assert parsed.get("distutils", "index-servers").split() == ["pypi", "testpypi", "idx"]
    assert parsed.get("idx", "repository") == UPLOAD
    assert parsed.get("idx", "username") == "alice"


def test_pypirc_keeps_other_repositories():
    old = (
        "[distutils]\nindex-servers =\n    pypi\n    corp\n\n[pypi]\nusername = __token__\n\n"
        "[corp]\nrepository = http://corp/\n\n[idx]\nrepository = http://old/\npassword = kept\n"
    )
    new = pypirc_text(old, UPLOAD, None, P)
    parsed = ini(new)
    assert parsed.get("distutils", "index-servers").split() == ["pypi", "corp", "idx"]
    assert parsed.get("pypi", "username") == "__token__"
    assert parsed.get("corp", "repository") == "http://corp/"
    assert parsed.get("idx", "repository") == UPLOAD
    assert parsed.get("idx", "password") == "kept"
    assert pypirc_text(new, UPLOAD, None, P) == new


def test_set_ini_values_multiline():
    text = set_ini_values("[a]\nx = 1\n", "a", {"servers": "\n    one\n    two"})
    assert text == "[a]\nx = 1\nservers =\n    one\n    two\n"


def test_write_config_backs_up_a_changed_file(tmp_path):
    path = tmp_path / "sub" / "pip.conf"
    first = write_config("pip", path, "one\n", "s")
    assert first.changed
    assert first.backup is None
    assert path.read_text() == "one\n"
    same = write_config("pip", path, "one\n", "s")
    assert not same.changed
    assert same.backup is None
    second = write_config("pip", path, "two\n", "s", now=0)
    assert second.changed
    assert second.backup is not None
    assert second.backup.read_text() == "one\n"
    assert second.backup.name.startswith("pip.conf.bak-")
    assert path.read_text() == "two\n"
    third = write_config("pip", path, "three\n", "s", now=0)
    assert third.backup != second.backup  # same second: a numbered name, nothing overwritten
    assert backup_path(path, now=0).name.endswith("-3")
