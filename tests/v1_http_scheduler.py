"""A small v1 HTTP scheduler client for tests, speaking the protocol as pymesos does
(`pymesos/scheduler.py` and `pymesos/process.py`): the SUBSCRIBE request is written by hand
on a raw socket (`Content-Type` and `Accept: application/json`, `Connection: close`, a
`Content-Length`), the chunked response is decoded by hand and split into RecordIO records;
every other call is a JSON POST on a kept-alive `http.client` connection carrying the
`Mesos-Stream-Id` the subscription answered.

Not a test module: test modules load it by path (`load()` in them), since tests cannot
import each other. Everything runs on the calling (test) thread; every read has a deadline.
"""

from __future__ import annotations

import http.client
import json
import socket
import time
from typing import Any

TIMEOUT = 10.0
PATH = "/api/v1/scheduler"


class StreamEnded(Exception):
    """The subscription stream ended (or the socket closed) before a whole record came."""


class Subscription:
    """One SUBSCRIBE request and its streamed answer.

    `status`, `headers` (lower-case names) and, for a refusal, `body` are read at once;
    `stream_id` is the `Mesos-Stream-Id`. `event()` gives the next RecordIO record (parsed
    JSON unless `accept` is protobuf, then the raw bytes).
    """

    def __init__(self, address: tuple[str, int], call: dict[str, Any] | bytes, *,
                 path: str = PATH, content_type: str = "application/json",
                 accept: str | None = "application/json",
                 extra_headers: dict[str, str] | None = None) -> None:
        self.accept = accept
        data = call if isinstance(call, bytes) else json.dumps(call).encode()
        lines = [f"POST {path} HTTP/1.1", f"Host: {address[0]}:{address[1]}",
                 f"Content-Type: {content_type}"]
        if accept is not None:
            lines.append(f"Accept: {accept}")
        lines += [f"{k}: {v}" for k, v in (extra_headers or {}).items()]
        lines += ["Connection: close", f"Content-Length: {len(data)}", "", ""]
        self._sock = socket.create_connection(address, timeout=TIMEOUT)
        self._sock.sendall("\r\n".join(lines).encode() + data)
        self._raw = b""
        self._body = b""
        self._ended = False
        self.status, self.headers = self._read_head()
        self.chunked = self.headers.get("transfer-encoding", "").lower() == "chunked"
        self.stream_id = self.headers.get("mesos-stream-id")
        # The first event (SUBSCRIBED, or ERROR) once `Scheduler.subscribe` read it.
        self.first: Any = None
        self.body = b""
        if not self.chunked:
            self.body = self._read_exact(int(self.headers.get("content-length", "0")),
                                         time.monotonic() + TIMEOUT)

    # Raw bytes.

    def _recv(self, deadline: float) -> None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("no data from the master in time")
        self._sock.settimeout(remaining)
        try:
            data = self._sock.recv(65536)
        except TimeoutError:
            raise TimeoutError("no data from the master in time") from None
        if not data:
            raise StreamEnded("the master closed the connection")
        self._raw += data

    def _read_line(self, deadline: float) -> bytes:
        while b"\r\n" not in self._raw:
            self._recv(deadline)
        line, self._raw = self._raw.split(b"\r\n", 1)
        return line

    def _read_exact(self, n: int, deadline: float) -> bytes:
        while len(self._raw) < n:
            self._recv(deadline)
        data, self._raw = self._raw[:n], self._raw[n:]
        return data

    def _read_head(self) -> tuple[int, dict[str, str]]:
        deadline = time.monotonic() + TIMEOUT
        status = int(self._read_line(deadline).split()[1])
        headers: dict[str, str] = {}
        while True:
            line = self._read_line(deadline)
            if not line:
                return status, headers
            name, _, value = line.decode().partition(":")
            headers[name.strip().lower()] = value.strip()

    def _read_chunk(self, deadline: float) -> None:
        """Appends the next chunk of the body; marks the end at the last (empty) chunk."""
        size = int(self._read_line(deadline).split(b";")[0], 16)
        if size == 0:
            self._read_line(deadline)
            self._ended = True
            return
        self._body += self._read_exact(size, deadline)
        assert self._read_exact(2, deadline) == b"\r\n", "bad chunk framing"

    # Records.

    def record(self, timeout: float = TIMEOUT) -> bytes:
        """The next RecordIO record's bytes; `StreamEnded` if the stream ends first."""
        deadline = time.monotonic() + timeout
        while True:
            length, newline, rest = self._body.partition(b"\n")
            if newline and len(rest) >= int(length):
                record, self._body = rest[:int(length)], rest[int(length):]
                return record
            if self._ended:
                raise StreamEnded(f"the stream ended; {len(self._body)} bytes left over")
            self._read_chunk(deadline)

    def event(self, timeout: float = TIMEOUT) -> Any:
        record = self.record(timeout)
        return record if self.accept == "application/x-protobuf" else json.loads(record)

    def remaining(self, timeout: float = TIMEOUT) -> list[Any]:
        """Reads to the end of the stream (the final chunk, or the connection closing) and
        returns the events not read yet; `TimeoutError` if it does not end in time."""
        deadline = time.monotonic() + timeout
        try:
            while not self._ended:
                self._read_chunk(deadline)
        except StreamEnded:
            self._ended = True
        events = []
        while self._body:
            events.append(self.event(max(0.0, deadline - time.monotonic())))
        return events

    def close(self) -> None:
        """Closes the connection, as a scheduler that goes away does."""
        self._sock.close()


class Scheduler:
    """A pymesos-like HTTP scheduler: `subscribe()`, then `call()`s with the stream id."""

    def __init__(self, address: tuple[str, int], path: str = PATH) -> None:
        self.address = address
        self.path = path
        self.subscription: Subscription | None = None
        self.framework_id: str | None = None
        self._conn: http.client.HTTPConnection | None = None

    def subscribe(self, framework_info: dict[str, Any], **kwargs: Any) -> Subscription:
        """Subscribes (with `framework_info["id"]`, if set, as pymesos resubscribes) and
        reads SUBSCRIBED; the subscription is returned either way."""
        call: dict[str, Any] = {"type": "SUBSCRIBE",
                                "subscribe": {"framework_info": framework_info}}
        if "id" in framework_info:
            call["framework_id"] = framework_info["id"]
        subscription = Subscription(self.address, call, path=self.path, **kwargs)
        self.subscription = subscription
        if subscription.status == 200:
            event = subscription.event()
            if event.get("type") == "SUBSCRIBED":
                self.framework_id = event["subscribed"]["framework_id"]["value"]
            subscription.first = event
        return subscription

    def event(self, timeout: float = TIMEOUT) -> Any:
        assert self.subscription is not None
        return self.subscription.event(timeout)

    def next(self, kind: str, skip: tuple[str, ...] = ("HEARTBEAT",),
             timeout: float = TIMEOUT) -> dict[str, Any]:
        """The next event of type `kind`, skipping events of the `skip` types only."""
        while True:
            event = self.event(timeout)
            if event["type"] in skip and event["type"] != kind:
                continue
            assert event["type"] == kind, f"expected {kind}, got {event}"
            return event  # type: ignore[no-any-return]

    def post(self, body: dict[str, Any] | bytes, *, content_type: str = "application/json",
             stream_id: str | None = None, method: str = "POST",
             headers: dict[str, str] | None = None) -> tuple[int, str]:
        """One request on the kept-alive call connection: (status, body text)."""
        if self._conn is None:
            self._conn = http.client.HTTPConnection(*self.address, timeout=TIMEOUT)
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        all_headers = {"Content-Type": content_type, **(headers or {})}
        if stream_id is not None:
            all_headers["Mesos-Stream-Id"] = stream_id
        try:
            self._conn.request(method, self.path, body=data, headers=all_headers)
            response = self._conn.getresponse()
            return response.status, response.read().decode()
        except (OSError, http.client.HTTPException):
            self._conn.close()
            self._conn = None
            raise

    def call(self, kind: str, **fields: Any) -> tuple[int, str]:
        """A call of this framework as pymesos sends it (`type`, `framework_id`, payload),
        with the current stream id."""
        assert self.subscription is not None and self.framework_id is not None
        body = {"type": kind, "framework_id": {"value": self.framework_id}, **fields}
        return self.post(body, stream_id=self.subscription.stream_id)

    def close(self) -> None:
        if self.subscription is not None:
            self.subscription.close()
        if self._conn is not None:
            self._conn.close()
            self._conn = None
