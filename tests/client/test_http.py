"""The urllib3 transport against a real local HTTP server, and error messages."""

import http.server
import json
import threading

import pytest
from idx_client.errors import ClientError, ConnectionFailed
from idx_client.http import HttpClient, Response, ServerError


class Handler(http.server.BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):
        length = int(self.headers["Content-Length"])
        body = self.rfile.read(length)
        Handler.received.append((dict(self.headers), body))
        self.send_response(409, "File already exists: x")
        self.send_header("Content-Type", "application/json")
        data = json.dumps({"type": "error", "status": 409, "message": "File already exists: x"}).encode()
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def local_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_streamed_body_has_a_length_not_chunks(local_server):
    Handler.received.clear()
    client = HttpClient()
    response = client.request(
        "POST", local_server, headers={"Content-Length": "6"}, body=iter([b"abc", b"def"])
    )
    headers, body = Handler.received[0]
    assert body == b"abcdef"
    assert "Transfer-Encoding" not in headers
    assert headers["User-Agent"].startswith("idx-client/")
    assert response.status == 409
    assert response.message == "File already exists: x"
    error = ServerError(response, "a hint")
    assert str(error) == f"File already exists: x (HTTP 409 from POST {local_server}); a hint"
    client.close()


def test_connection_refused():
    with pytest.raises(ConnectionFailed, match=r"could not connect to http://127.0.0.1:9/x: .*refused"):
        HttpClient().request("GET", "http://127.0.0.1:9/x")


def response(body, content_type="application/json", status=400, reason="Bad"):
    return Response("GET", "http://h/", status, reason, body, {"content-type": content_type})


def test_messages():
    assert response(b'{"message": "from json"}').message == "from json"
    assert response(b"plain text\nsecond line", "text/plain").message == "plain text second line"
    assert response(b"<html>oops</html>", "text/html").message == "Bad"
    assert response(b"", reason="").message == "HTTP 400"
    with pytest.raises(ClientError, match="expected JSON from the server, got text/html"):
        response(b"<html>", "text/html").json()
