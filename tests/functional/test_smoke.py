from idx_server.testing import Project, make_sdist


def test_upload_and_simple(mapp):
    mapp.create_and_login_user("alice")
    mapp.create_index("dev", bases=["root/pypi"])
    mapp.upload("alice/dev", name="hello", version="1.0")
    mapp.upload("alice/dev", make_sdist(Project("hello", "1.0")))
    r = mapp.simple_json("alice/dev", "hello")
    assert [f["filename"] for f in r.json["files"]] == ["hello-1.0-py3-none-any.whl", "hello-1.0.tar.gz"]
