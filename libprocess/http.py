"""HTTP requests and responses as route handlers see them (no server here).

`Request` is what a process's `route()` handler receives; it returns a `Response` (or `OK`,
`BadRequest`, `TemporaryRedirect`, ... or a future of one). The server itself is
`libprocess.http_server` (aiohttp), imported only when a runtime starts one, so OS processes
that serve no HTTP (executors) do not pay for importing aiohttp.

A `Response` whose body is a `Pipe` is streamed (libprocess's `Response::PIPE`): the server
sends it chunked, each `write` as it comes, until the writer `close`s it or the client goes
away. The writer may be any thread; the server's loop thread is the only reader. Like
libprocess's `Pipe::Writer::readerClosed`, `pipe.reader_closed` tells the writer that the
stream is over (the client disconnected, or everything was sent after `close`); from then on
`write` answers False.
"""


from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

from libprocess.future import Future, Promise

__all__ = [
    "OK",
    "Accepted",
    "BadRequest",
    "NotFound",
    "Pipe",
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

    def header(self, name: str) -> str | None:
        """The value of header `name` (case-insensitive, as HTTP header names are)."""
        wanted = name.lower()
        for key, value in self.headers.items():
            if key.lower() == wanted:
                return value
        return None


class Pipe:
    """A streamed response body: written by any thread, read by the HTTP server.

    `write(data)` queues bytes (sent as one chunk) and answers False once the stream is
    over; `close()` ends the stream after what was written; `reader_closed` is a future,
    ready when the reader side is done: the client went away, or the whole body was sent
    after `close()`. Its callbacks run on the thread that saw it (the server's loop thread,
    or the writer's), so an actor hands them to itself with `defer`.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._chunks: deque[bytes] = deque()
        self._writer_closed = False
        self._reader_done = False
        self._reader_closed: Promise[None] = Promise()
        # Set by the server when it starts reading: wakes its (asyncio) reader up.
        self._wakeup: Callable[[], None] | None = None

    @property
    def reader_closed(self) -> Future[None]:
        return self._reader_closed.future

    def write(self, data: bytes) -> bool:
        """Queues `data` to be sent; False (and nothing queued) if the stream is over."""
        with self._lock:
            if self._writer_closed or self._reader_done:
                return False
            if not data:
                # An empty chunk would end a chunked body: there is nothing to send.
                return True
            self._chunks.append(bytes(data))
            wakeup = self._wakeup
        if wakeup is not None:
            wakeup()
        return True

    def close(self) -> bool:
        """Ends the stream once what was written is sent; False if it was already over."""
        with self._lock:
            if self._writer_closed or self._reader_done:
                return False
            self._writer_closed = True
            wakeup = self._wakeup
        if wakeup is not None:
            wakeup()
        return True

    def is_closed(self) -> bool:
        """Whether the stream is over for the writer (closed by either side)."""
        with self._lock:
            return self._writer_closed or self._reader_done

    # The reader's side (the HTTP server).

    def attach(self, wakeup: Callable[[], None]) -> None:
        """Called by the reader: `wakeup()` runs (on the writer's thread) after each write
        and at `close()`."""
        with self._lock:
            self._wakeup = wakeup

    def take(self) -> tuple[list[bytes], bool]:
        """The chunks written since the last call, and whether the writer closed the
        stream (so nothing follows them)."""
        with self._lock:
            chunks = list(self._chunks)
            self._chunks.clear()
            return chunks, self._writer_closed

    def close_reader(self) -> None:
        """The reader is done (client gone, or all sent): writes fail from now on and
        `reader_closed` becomes ready. Idempotent."""
        with self._lock:
            if self._reader_done:
                return
            self._reader_done = True
            self._chunks.clear()
            self._wakeup = None
        self._reader_closed.set(None)


class Response:
    """A route's answer. `body` may be bytes, text, a JSON-able object, or a `Pipe` (then
    `pipe` holds it, `body` is empty, and the server streams it)."""

    __slots__ = ("body", "content_type", "headers", "pipe", "status")

    def __init__(self, status: int = 200, body: Any = b"",
                 content_type: str | None = None,
                 headers: Mapping[str, str] | None = None) -> None:
        self.status = status
        self.headers = dict(headers or {})
        self.pipe: Pipe | None = None
        if isinstance(body, Pipe):
            self.pipe = body
            self.body = b""
            self.content_type = content_type or "application/octet-stream"
        elif isinstance(body, bytes | bytearray):
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


