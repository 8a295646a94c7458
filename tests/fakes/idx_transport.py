"""A fake idx server for the client's unit tests: canned responses, recorded requests."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from idx_client.http import Response

SERVER = "http://idx.example:3141/"


@dataclass
class Sent:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class FakeTransport:
    """Answers requests from ``routes`` ((method, url) -> response); 404 otherwise."""

    routes: dict[tuple[str, str], list[Response]] = field(default_factory=dict)
    sent: list[Sent] = field(default_factory=list)

    def add(
        self,
        method: str,
        url: str,
        result: Any = None,
        *,
        status: int = 200,
        message: str = "",
        kind: str = "x",
        body: bytes | None = None,
        content_type: str = "application/json",
    ) -> None:
        if body is None:
            data: dict[str, Any] = {"type": kind, "result": result}
            if status >= 400:
                data = {"type": "error", "status": status, "message": message}
            elif message:
                data["message"] = message
            body = json.dumps(data).encode()
        response = Response(method, url, status, message or "OK", body, {"content-type": content_type})
        self.routes.setdefault((method, url), []).append(response)

    def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        body: bytes | Iterable[bytes] | None = None,
        timeout: Any = None,
    ) -> Response:
        data = body if isinstance(body, bytes) or body is None else b"".join(body)
        self.sent.append(Sent(method, url, dict(headers or {}), data or b""))
        answers = self.routes.get((method, url))
        if not answers:
            message = f"no route for {method} {url}"
            return Response(
                method,
                url,
                404,
                message,
                json.dumps({"message": message}).encode(),
                {"content-type": "application/json"},
            )
        return answers.pop(0) if len(answers) > 1 else answers[0]

    def last(self, method: str | None = None) -> Sent:
        return [s for s in self.sent if method is None or s.method == method][-1]
