"""HTTP requests and responses as route handlers see them (no server here).

`Request` is what a process's `route()` handler receives; it returns a `Response` (or `OK`,
`BadRequest`, `TemporaryRedirect`, ... or a future of one). The server itself is
`libprocess.http_server` (aiohttp), imported only when a runtime starts one, so OS processes
that serve no HTTP (executors) do not pay for importing aiohttp.
"""


from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

__all__ = [
    "OK",
    "Accepted",
    "BadRequest",
    "NotFound",
    "Request",
    "Response",
    "ServiceUnavailable",
    "TemporaryRedirect",
]


class Request:
    """An HTTP request as a route handler sees it (the body is already read)."""

    __slots__ = ("body", "headers", "method", "path", "query", "remote")

    def __init__(self, method: str, path: str, query: Mapping[str, str] | None = None,
                 headers: Mapping[str, str] | None = None, body: bytes = b"",
                 remote: str = "") -> None:
        self.method = method
        self.path = path
        self.query = dict(query or {})
        self.headers = dict(headers or {})
        self.body = body
        self.remote = remote

    def json(self) -> Any:
        return json.loads(self.body or b"null")


class Response:
    """A route's answer. `body` may be bytes, text, or a JSON-able object."""

    __slots__ = ("body", "content_type", "headers", "status")

    def __init__(self, status: int = 200, body: Any = b"",
                 content_type: str | None = None,
                 headers: Mapping[str, str] | None = None) -> None:
        self.status = status
        self.headers = dict(headers or {})
        if isinstance(body, bytes | bytearray):
            self.body = bytes(body)
            self.content_type = content_type or "application/octet-stream"
        elif isinstance(body, str):
            self.body = body.encode()
            self.content_type = content_type or "text/plain; charset=utf-8"
        else:
            self.body = json.dumps(body).encode()
            self.content_type = content_type or "application/json"


def OK(body: Any = b"", content_type: str | None = None) -> Response:
    return Response(200, body, content_type)


def Accepted() -> Response:
    return Response(202)


def BadRequest(message: str) -> Response:
    return Response(400, message.rstrip("\n") + "\n")


def NotFound(message: str = "") -> Response:
    return Response(404, message)


def TemporaryRedirect(location: str) -> Response:
    return Response(307, b"", headers={"Location": location})


def ServiceUnavailable(message: str = "") -> Response:
    return Response(503, message)


