"""idx_server.testing.upload_body: twine's upload request, for plain HTTP clients."""

from __future__ import annotations

from idx_server.testing import Project, make_wheel, twine_fields, upload_body


def test_the_upload_form_is_multipart() -> None:
    dist = make_wheel(Project("x", "1.0"))
    content_type, body = upload_body(dist)
    boundary = content_type.split("boundary=")[1]
    assert content_type.startswith("multipart/form-data; ")
    assert body.startswith(f"--{boundary}\r\n".encode())
    assert body.endswith(f"\r\n--{boundary}--\r\n".encode())
    assert b'name="content"; filename="x-1.0-py3-none-any.whl"' in body
    assert dist.content in body
    for name, value in twine_fields(dist).items():
        assert f'name="{name}"\r\n\r\n{value}\r\n'.encode() in body
