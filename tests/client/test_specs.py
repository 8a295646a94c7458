import pytest
from idx_client.errors import UsageError
from idx_client.specs import (
    KeyValue,
    key_value_dict,
    parse_exact_release,
    parse_key_values,
    parse_release_spec,
)


def test_project_only():
    spec = parse_release_spec("Hello_World")
    assert spec.project == "Hello_World"
    assert spec.normalized == "hello-world"
    assert spec.exact_version is None
    assert spec.matches("1.0")
    assert spec.matches("not-a-version")


def test_exact_release():
    assert parse_exact_release("hello==1.0") == ("hello", "1.0")
    assert parse_exact_release(" hello == 2.0rc1 ") == ("hello", "2.0rc1")
    assert parse_release_spec("hello==1.0").matches("1.0.0")


@pytest.mark.parametrize("text", ["hello", "hello>=1.0", "hello==1.*", "hello==1,==2"])
def test_exact_release_refuses_ranges(text):
    with pytest.raises(UsageError, match="expected a release as NAME==VERSION"):
        parse_exact_release(text)


def test_ranges():
    spec = parse_release_spec("hello>=1.0,<2")
    assert [v for v in ["0.9", "1.0", "1.5rc1", "2.0", "junk"] if spec.matches(v)] == ["1.0", "1.5rc1"]


@pytest.mark.parametrize("text", ["", "hello[extra]==1.0", "hello; python_version<'3'", "==1.0", "a b"])
def test_not_a_spec(text):
    with pytest.raises(UsageError, match="not a project or release"):
        parse_release_spec(text)


def test_key_values():
    items = parse_key_values(["bases=root/pypi", "volatile=False", "title=a=b", "empty="])
    assert key_value_dict(items) == {"bases": "root/pypi", "volatile": "False", "title": "a=b", "empty": ""}


def test_list_operations():
    items = parse_key_values(["bases+=a/b", "acl_upload-=bob", "acl_upload-=", "x=1"], allow_list_ops=True)
    assert items == [
        KeyValue("bases", "+=", "a/b"),
        KeyValue("acl_upload", "-=", "bob"),
        KeyValue("acl_upload", "-=", ""),
        KeyValue("x", "=", "1"),
    ]
    assert [str(i) for i in items] == ["bases+=a/b", "acl_upload-=bob", "acl_upload-=", "x=1"]


@pytest.mark.parametrize("text", ["novalue", "=x", "+=x"])
def test_bad_key_values(text):
    with pytest.raises(UsageError, match="expected key=value"):
        parse_key_values([text], allow_list_ops=True)


def test_list_operations_only_where_allowed():
    """``idx index -c dev bases+=x`` is a mistake, said as such."""
    with pytest.raises(UsageError, match=r"expected key=value, got 'bases\+=x'"):
        parse_key_values(["bases+=x"])
