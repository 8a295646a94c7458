import hashlib
from urllib.parse import urljoin


def test_mirror_page_and_file(mapp, upstream):
    upstream.add("requests-lite", "2.0", sdist=True, requires_python=">=3.8")
    r = mapp.simple_json("root/pypi", "requests-lite")
    files = r.json["files"]
    assert [f["filename"] for f in files] == [
        "requests_lite-2.0-py3-none-any.whl",
        "requests_lite-2.0.tar.gz",
    ]
    assert files[0]["upload-time"] == "2024-01-01T00:00:00.000000Z"
    url = urljoin("/root/pypi/+simple/requests-lite/", files[0]["url"])
    body = mapp.app.get(url).body
    assert hashlib.sha256(body).hexdigest() == files[0]["hashes"]["sha256"]
    assert upstream.file_requests(files[0]["filename"]) == 1
    mapp.app.get(url)
    assert upstream.file_requests(files[0]["filename"]) == 1
