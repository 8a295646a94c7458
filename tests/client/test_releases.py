"""Which release a spec means to ``idx test``, and which of its files are tested."""

import pytest
from idx_client.errors import UsageError
from idx_client.releases import ReleaseFile, choose_release, files_to_test, release_files
from idx_client.specs import parse_release_spec

BASE = "http://idx.example/alice/dev/+f/abc/def/"


def link(filename, yanked=False, index="alice/dev", sha="0" * 64):
    return {
        "rel": "releasefile",
        "href": f"http://idx.example/{index}/+f/abc/def/{filename}#sha256={sha}",
        "hashes": {"sha256": sha},
        "size": 10,
        "yanked": yanked,
    }


def release(version, *filenames, yanked=False, **extra):
    return {"name": "Hello", "version": version, "+links": [link(f, yanked) for f in filenames], **extra}


VERSIONS = {
    "2.0rc1": release("2.0rc1", "hello-2.0rc1.tar.gz"),
    "1.2": release("1.2", "hello-1.2.tar.gz", yanked="broken"),
    "1.1": release("1.1", "hello-1.1.tar.gz", "hello-1.1-py3-none-any.whl"),
    "1.0": release("1.0", "hello-1.0.tar.gz"),
    "0.9": {"name": "Hello", "version": "0.9", "+links": []},
}


def chosen(spec, versions=VERSIONS):
    found = choose_release(versions, parse_release_spec(spec))
    return found.version if found else None


@pytest.mark.parametrize(
    ("spec", "version"),
    [
        ("hello", "1.1"),  # not the pre-release, not the yanked 1.2
        ("hello<1.1", "1.0"),
        ("hello==1.2", "1.2"),  # pinned: yanked is fine
        ("hello==2.0rc1", "2.0rc1"),
        ("hello>=2.0rc1", "2.0rc1"),  # the spec names a pre-release
        ("hello==0.9", None),  # no files
        ("hello>3", None),
        ("hello==1.*", "1.1"),
    ],
)
def test_choose_release(spec, version):
    assert chosen(spec) == version


def test_only_prereleases():
    versions = {
        "1.0b1": release("1.0b1", "hello-1.0b1.tar.gz"),
        "1.0a1": release("1.0a1", "hello-1.0a1.tar.gz"),
    }
    assert chosen("hello", versions) == "1.0b1"


def test_release_files_over_the_bases():
    data = release(
        "1.0",
        "hello-1.0-py3-none-any.whl",
        **{
            "+shadowing": [
                {
                    "+links": [
                        link("hello-1.0.tar.gz", index="root/base"),
                        link("hello-1.0-py3-none-any.whl", index="root/base"),
                    ]
                }
            ]
        },
    )
    data["+links"].append({"rel": "toxresult", "href": "x", "for_href": "y"})
    files = release_files(data)
    assert [(f.filename, f.url.split("/")[4]) for f in files] == [
        ("hello-1.0-py3-none-any.whl", "dev"),
        ("hello-1.0.tar.gz", "base"),
    ]
    assert all("#" not in f.url for f in files)
    assert files[0].sha256 == "0" * 64


def test_hash_spec_when_there_are_no_hashes():
    entry = {"rel": "releasefile", "href": BASE + "h-1.0.tar.gz", "hash_spec": "sha256=" + "a" * 64}
    assert release_files({"+links": [entry]})[0].sha256 == "a" * 64


def files(*names):
    from idx_client.releases import Release

    return Release("hello", "1.0", tuple(ReleaseFile(n, BASE + n, "0" * 64) for n in names))


NAMES = (
    "hello-1.0-cp312-cp312-manylinux_2_17_x86_64.whl",
    "hello-1.0-py3-none-any.whl",
    "hello-1.0.zip",
    "hello-1.0.tar.gz",
    "hello-1.0-py2.py3-none-any.whl",
    "hello-1.0-py311-none-any.whl",
)


def test_files_to_test_by_default():
    sdists, tested = files_to_test(files(*NAMES), None)
    assert [f.filename for f in sdists] == ["hello-1.0.tar.gz", "hello-1.0.zip"]
    assert [f.filename for f in tested] == [
        "hello-1.0.tar.gz",
        "hello-1.0.zip",
        "hello-1.0-py3-none-any.whl",
        "hello-1.0-py2.py3-none-any.whl",
    ]


def test_files_to_test_selected():
    _, tested = files_to_test(files(*NAMES), "cp312|tar")
    assert [f.filename for f in tested] == [
        "hello-1.0.tar.gz",
        "hello-1.0-cp312-cp312-manylinux_2_17_x86_64.whl",
    ]
    with pytest.raises(UsageError, match="not a regular expression"):
        files_to_test(files(*NAMES), "(")


def test_quoted_file_names():
    entry = {"rel": "releasefile", "href": BASE + "h-1.0%2Blocal-py3-none-any.whl", "hashes": {"sha256": "a"}}
    (found,) = release_files({"+links": [entry]})
    assert found.filename == "h-1.0+local-py3-none-any.whl"
    assert found.is_universal_wheel
