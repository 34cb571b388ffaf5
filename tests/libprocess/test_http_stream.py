"""Streamed HTTP responses (a route answering with a `Pipe`, libprocess's `Response::PIPE`):
the pipe alone, then read by a real HTTP client on a raw socket that decodes the chunked body
itself, so each chunk is seen as the server sends it."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

import libprocess
from libprocess import Pipe, Process, Promise, Request, Response
from libprocess.http_server import SHUTDOWN_TIMEOUT, HttpServer
from libprocess.testing import await_condition

TIMEOUT = 5.0


class Streamer(Process):
    """`/stream` answers a new pipe (kept in `pipes`) holding `first`; `/later` answers
    one only when `answer()` is dispatched."""

    def __init__(self) -> None:
        super().__init__("streamer")
        self.pipes: list[Pipe] = []
        self.pending: Promise[Response] | None = None

    def initialize(self) -> None:
        self.route("/stream", self.stream)
        self.route("/later", self.later)

    def stream(self, request: Request) -> Response:
        pipe = Pipe()
        pipe.write(b"first")
        self.pipes.append(pipe)
        return Response(200, pipe, "text/plain", headers={"X-Stream": "yes"})

    def later(self, request: Request) -> Any:
        self.pending = Promise()
        return self.pending.future

    def answer(self) -> Pipe:
        pipe = Pipe()
        self.pipes.append(pipe)
        assert self.pending is not None
        self.pending.set(Response(200, pipe))
        return pipe


class ChunkedClient:
    """A raw-socket HTTP/1.1 client reading a chunked body one chunk at a time."""

    def __init__(self, path: str, port: int | None = None) -> None:
        ip, http_port = libprocess.http_address()
        self.sock = socket.create_connection((ip, port or http_port), timeout=TIMEOUT)
        self.sock.sendall(f"POST {path} HTTP/1.1\r\nHost: {ip}\r\nContent-Length: 0\r\n\r\n"
                          .encode())
        self.buffer = b""
        self.status = int(self._line().split()[1])
        self.headers: dict[str, str] = {}
        while line := self._line():
            name, _, value = line.decode().partition(":")
            self.headers[name.strip().lower()] = value.strip()

    def _fill(self) -> None:
        data = self.sock.recv(65536)
        if not data:
            raise EOFError("connection closed")
        self.buffer += data

    def _line(self) -> bytes:
        while b"\r\n" not in self.buffer:
            self._fill()
        line, self.buffer = self.buffer.split(b"\r\n", 1)
        return line

    def chunk(self) -> bytes:
        """The next chunk's data (b"" for the last chunk)."""
        size = int(self._line(), 16)
        while len(self.buffer) < size + 2:
            self._fill()
        data, self.buffer = self.buffer[:size], self.buffer[size + 2:]
        return data

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def streamer() -> Iterator[Streamer]:
    process = Streamer()
    libprocess.spawn(process)
    yield process


def _pipe(streamer: Streamer, n: int) -> Pipe:
    await_condition(lambda: len(libprocess.dispatch(streamer, lambda: streamer.pipes)
                                .get(TIMEOUT)) > n, TIMEOUT, message="the route to answer")
    return streamer.pipes[n]


def test_pipe_alone() -> None:
    """This test ensures that a pipe keeps what is written until the reader takes it, that
    an empty write sends nothing, and that once closed by either side it refuses writes
    (and a second close) and its `reader_closed` is ready only when the reader is done."""
    pipe = Pipe()
    assert pipe.write(b"a") and pipe.write(b"") and pipe.write(bytearray(b"b"))
    assert pipe.take() == ([b"a", b"b"], False)
    assert pipe.close() and not pipe.close()
    assert not pipe.write(b"late")
    assert pipe.take() == ([], True)
    assert not pipe.reader_closed.is_ready()
    pipe.close_reader()
    pipe.close_reader()
    assert pipe.reader_closed.is_ready()

    gone = Pipe()
    gone.write(b"unsent")
    gone.close_reader()
    assert not gone.write(b"x") and not gone.close() and gone.is_closed()
    assert gone.take() == ([], False)


def test_chunks_arrive_as_they_are_written(streamer: Streamer) -> None:
    """This test ensures that a streamed response is chunked and sent write by write, each
    write (from any thread) reaching the client before the next one is made, and that
    `close()` ends the body, after which the writer learns the reader is done."""
    client = ChunkedClient("/streamer/stream")
    assert client.status == 200
    assert client.headers["transfer-encoding"] == "chunked"
    assert client.headers["content-type"] == "text/plain"
    assert client.headers["x-stream"] == "yes"
    assert client.chunk() == b"first"
    pipe = _pipe(streamer, 0)

    # 1. From the test's thread, then from another thread, then from the process's.
    assert pipe.write(b"second")
    assert client.chunk() == b"second"
    writer = threading.Thread(target=pipe.write, args=(b"third",))
    writer.start()
    writer.join()
    assert client.chunk() == b"third"
    assert libprocess.dispatch(streamer, pipe.write, b"fourth").get(TIMEOUT)
    assert client.chunk() == b"fourth"

    # 2. The writer ends the stream: the last chunk, then the reader is done.
    pipe.write(b"last")
    assert pipe.close()
    assert client.chunk() == b"last"
    assert client.chunk() == b""
    pipe.reader_closed.get(TIMEOUT)
    assert not pipe.write(b"after the end")
    client.close()


def test_client_going_away_closes_the_reader(streamer: Streamer) -> None:
    """This test ensures that the writer learns that the client went away (`reader_closed`
    becomes ready without any write), and that writes then answer False."""
    client = ChunkedClient("/streamer/stream")
    assert client.chunk() == b"first"
    pipe = _pipe(streamer, 0)
    seen: list[str] = []
    pipe.reader_closed.on_ready(lambda _: seen.append(threading.current_thread().name))

    client.close()

    pipe.reader_closed.get(TIMEOUT)
    assert seen == ["libprocess-http"]
    assert not pipe.write(b"nobody reads this")
    assert pipe.is_closed()


def test_stream_answered_after_the_client_left_is_closed(streamer: Streamer) -> None:
    """This test ensures that a stream a route answers after its client went away is over
    at once for its writer (nobody will ever read it)."""
    client = ChunkedClient.__new__(ChunkedClient)
    ip, port = libprocess.http_address()
    client.sock = socket.create_connection((ip, port), timeout=TIMEOUT)
    client.sock.sendall(f"POST /streamer/later HTTP/1.1\r\nHost: {ip}\r\n"
                        "Content-Length: 0\r\n\r\n".encode())
    await_condition(lambda: libprocess.dispatch(streamer, lambda: streamer.pending)
                    .get(TIMEOUT), TIMEOUT, message="the request to reach the route")
    client.close()

    pipe = libprocess.dispatch(streamer, streamer.answer).get(TIMEOUT)

    pipe.reader_closed.get(TIMEOUT)
    assert not pipe.write(b"lost")


def test_many_streams_leave_no_thread_behind(streamer: Streamer) -> None:
    """This test ensures that streams, whichever side ends them, cost no thread: after many
    of them the OS process has the threads it had before."""
    before = threading.active_count()
    for n in range(20):
        client = ChunkedClient("/streamer/stream")
        assert client.chunk() == b"first"
        pipe = _pipe(streamer, n)
        if n % 2:
            client.close()
        else:
            pipe.close()
            assert client.chunk() == b""
            client.close()
        pipe.reader_closed.get(TIMEOUT)
    # At most: an actor thread of an earlier test may still be on its way out.
    await_condition(lambda: threading.active_count() <= before, TIMEOUT,
                    message="no more threads than before the streams")


def test_stopping_the_server_ends_open_streams(streamer: Streamer) -> None:
    """This test ensures that stopping an HTTP server ends its open streams at once (the
    client sees the connection end, the writer `reader_closed`) instead of waiting for
    them, and leaves no thread behind."""
    before = threading.active_count()
    server = HttpServer(libprocess.manager(), "127.0.0.1", 0)
    port = server.start()
    client = ChunkedClient("/streamer/stream", port)
    assert client.chunk() == b"first"
    pipe = _pipe(streamer, 0)

    started = time.monotonic()
    server.stop()

    assert time.monotonic() - started < SHUTDOWN_TIMEOUT
    pipe.reader_closed.get(TIMEOUT)
    with pytest.raises((EOFError, ConnectionError)):
        client.chunk()
    client.close()
    await_condition(lambda: threading.active_count() <= before, TIMEOUT,
                    message="the server's thread to be gone")
