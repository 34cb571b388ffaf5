"""Small v1 HTTP API clients for tests, speaking the protocols as pymesos does
(`pymesos/scheduler.py`, `pymesos/executor.py` and `pymesos/process.py`).

- `Subscription` owns one SUBSCRIBE request and its streamed answer: the request is written
  by hand on a raw socket (`Content-Type` and `Accept: application/json`,
  `Connection: close`, a `Content-Length`), the chunked response is decoded by hand and
  split into RecordIO records. The scheduler, executor and operator streams are all read
  with it.
- `Scheduler` owns a framework's subscription and its calls: JSON POSTs on a kept-alive
  `http.client` connection carrying the `Mesos-Stream-Id` the subscription answered.
- `Executor` owns an executor's subscription, its UPDATE and MESSAGE calls (answered 202)
  and, like an executor driver, the books of the tasks it was given (LAUNCH) and the
  updates it sent until the agent acknowledges them (ACKNOWLEDGED); it sends both again
  when it subscribes again.

Used by the tests in the test's thread and by `tests/integration/http_executor.py`, an
executor that runs as a real OS process. Only the standard library and the libprocess clock
(for the timestamp of an update); everything runs on the calling thread; every read has a
(real time) deadline.
"""

from __future__ import annotations

import base64
import http.client
import json
import socket
import time
import uuid
from typing import Any

from libprocess.clock import clock

__all__ = ["TIMEOUT", "Executor", "Scheduler", "StreamEnded", "Subscription", "encode"]

TIMEOUT = 10.0
SCHEDULER_PATH = "/api/v1/scheduler"
EXECUTOR_PATH = "/api/v1/executor"


def encode(data: bytes) -> str:
    """`data` in base64, as the JSON form of a protobuf `bytes` field carries it."""
    return base64.b64encode(data).decode("ascii")


class StreamEnded(Exception):
    """The subscription stream ended (or the socket closed) before a whole record came."""


class Subscription:
    """One SUBSCRIBE request and its streamed answer.

    `status`, `headers` (lower-case names) and, for a refusal, `body` are read at once;
    `stream_id` is the `Mesos-Stream-Id`. `event()` gives the next RecordIO record (parsed
    JSON unless `accept` is protobuf, then the raw bytes).
    """

    def __init__(self, address: tuple[str, int], call: dict[str, Any] | bytes, *,
                 path: str = SCHEDULER_PATH, content_type: str = "application/json",
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
        # The first event (SUBSCRIBED, or ERROR/SHUTDOWN) once the client's `subscribe`
        # read it.
        self.first: Any = None
        self.body = b""
        if not self.chunked:
            self.body = self._read_exact(int(self.headers.get("content-length", "0")),
                                         time.monotonic() + TIMEOUT)

    # Raw bytes.

    def _recv(self, deadline: float) -> None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("no data from the server in time")
        self._sock.settimeout(remaining)
        try:
            data = self._sock.recv(65536)
        except TimeoutError:
            raise TimeoutError("no data from the server in time") from None
        if not data:
            raise StreamEnded("the server closed the connection")
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
        """Closes the connection, as a client that goes away does."""
        self._sock.close()


class _Client:
    """What the scheduler and executor clients share: the server's `address` and the
    endpoint `path`, the current `subscription`, and the kept-alive call connection."""

    def __init__(self, address: tuple[str, int], path: str) -> None:
        self.address = address
        self.path = path
        self.subscription: Subscription | None = None
        self._conn: http.client.HTTPConnection | None = None

    def event(self, timeout: float = TIMEOUT) -> Any:
        """The next event of the current subscription."""
        assert self.subscription is not None
        return self.subscription.event(timeout)

    def next(self, kind: str, skip: tuple[str, ...] = ("HEARTBEAT",),
             timeout: float = TIMEOUT) -> dict[str, Any]:
        """The next event of type `kind` within `timeout`, skipping events of the `skip`
        types only."""
        deadline = time.monotonic() + timeout
        while True:
            event = self.event(max(0.0, deadline - time.monotonic()))
            if event["type"] in skip and event["type"] != kind:
                continue
            assert event["type"] == kind, f"expected {kind}, got {event}"
            return event

    def post(self, body: dict[str, Any] | bytes, *, content_type: str = "application/json",
             stream_id: str | None = None, method: str = "POST",
             headers: dict[str, str] | None = None,
             path: str | None = None) -> tuple[int, str]:
        """One request on the kept-alive call connection (to `path`, by default the
        client's): (status, body text)."""
        if self._conn is None:
            self._conn = http.client.HTTPConnection(*self.address, timeout=TIMEOUT)
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        all_headers = {"Content-Type": content_type, **(headers or {})}
        if stream_id is not None:
            all_headers["Mesos-Stream-Id"] = stream_id
        try:
            self._conn.request(method, path or self.path, body=data, headers=all_headers)
            response = self._conn.getresponse()
            return response.status, response.read().decode()
        except (OSError, http.client.HTTPException):
            self._conn.close()
            self._conn = None
            raise

    def _close_connection(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


class Scheduler(_Client):
    """A pymesos-like HTTP scheduler: `subscribe()`, then `call()`s with the stream id;
    `framework_id` is the one SUBSCRIBED gave."""

    def __init__(self, address: tuple[str, int], path: str = SCHEDULER_PATH) -> None:
        super().__init__(address, path)
        self.framework_id: str | None = None

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

    def call(self, kind: str, **fields: Any) -> tuple[int, str]:
        """A call of this framework as pymesos sends it (`type`, `framework_id`, payload),
        with the current stream id."""
        assert self.subscription is not None and self.framework_id is not None
        body = {"type": kind, "framework_id": {"value": self.framework_id}, **fields}
        return self.post(body, stream_id=self.subscription.stream_id)

    def acknowledge(self, status: dict[str, Any]) -> tuple[int, str]:
        """ACKNOWLEDGE of the update that carried `status` (its agent, task and uuid), as
        pymesos's `acknowledgeStatusUpdate`."""
        return self.call("ACKNOWLEDGE", acknowledge={
            "agent_id": status["agent_id"], "task_id": status["task_id"],
            "uuid": status["uuid"]})

    def close(self) -> None:
        """Closes its stream and the call connection, as a scheduler that goes away."""
        if self.subscription is not None:
            self.subscription.close()
        self._close_connection()


class Executor(_Client):
    """A pymesos-like HTTP executor of `framework_id`/`executor_id` at an agent's HTTP
    `address`: `subscribe()`, then `update()`/`message()`; `event()`/`next()` read the
    stream and keep the books of unacknowledged tasks (`tasks`, by task id) and updates
    (`updates`, by uuid)."""

    def __init__(self, address: tuple[str, int], framework_id: str, executor_id: str,
                 path: str = EXECUTOR_PATH) -> None:
        super().__init__(address, path)
        self.framework_id = framework_id
        self.executor_id = executor_id
        self._subscriptions: list[Subscription] = []
        self.tasks: dict[str, dict[str, Any]] = {}
        self.updates: dict[str, dict[str, Any]] = {}

    def ids(self) -> dict[str, Any]:
        return {"framework_id": {"value": self.framework_id},
                "executor_id": {"value": self.executor_id}}

    def subscribe(self, **kwargs: Any) -> Subscription:
        """SUBSCRIBE with the unacknowledged tasks and updates; reads the first event
        (SUBSCRIBED, or SHUTDOWN for an executor the agent does not expect) into
        `subscription.first` when the answer is 200."""
        call = {"type": "SUBSCRIBE", **self.ids(), "subscribe": {
            "unacknowledged_tasks": list(self.tasks.values()),
            "unacknowledged_updates": list(self.updates.values())}}
        subscription = Subscription(self.address, call, path=self.path, **kwargs)
        self.subscription = subscription
        self._subscriptions.append(subscription)
        if subscription.status == 200:
            subscription.first = self._keep_books(subscription.event())
        return subscription

    def _keep_books(self, event: Any) -> Any:
        if isinstance(event, dict):
            if event.get("type") == "LAUNCH":
                task = event["launch"]["task"]
                self.tasks[task["task_id"]["value"]] = task
            elif event.get("type") == "ACKNOWLEDGED":
                acknowledged = event["acknowledged"]
                self.updates.pop(acknowledged["uuid"], None)
                self.tasks.pop(acknowledged["task_id"]["value"], None)
        return event

    def event(self, timeout: float = TIMEOUT) -> Any:
        return self._keep_books(super().event(timeout))

    def remaining(self, timeout: float = TIMEOUT) -> list[Any]:
        """The events left until the stream ends (`TimeoutError` if it does not)."""
        assert self.subscription is not None
        return [self._keep_books(e) for e in self.subscription.remaining(timeout)]

    def update(self, task_id: str, state: str, **status: Any) -> tuple[int, str]:
        """UPDATE as pymesos's `sendStatusUpdate` (a fresh uuid, SOURCE_EXECUTOR, a
        timestamp), kept until acknowledged: (the HTTP status, the uuid in base64)."""
        fields = {"task_id": {"value": task_id}, "state": state,
                  "source": "SOURCE_EXECUTOR", "timestamp": clock.now(),
                  "uuid": encode(uuid.uuid4().bytes), **status}
        update = {"status": fields}
        self.updates[fields["uuid"]] = update
        code, _ = self.post({"type": "UPDATE", **self.ids(), "update": update})
        return code, fields["uuid"]

    def message(self, data: bytes) -> tuple[int, str]:
        """MESSAGE to the framework, as pymesos's `sendFrameworkMessage`."""
        return self.post({"type": "MESSAGE", **self.ids(), "message": {"data": encode(data)}})

    def close(self) -> None:
        """Closes its streams and the call connection, as an executor that goes away."""
        for subscription in self._subscriptions:
            subscription.close()
        self._subscriptions = []
        self._close_connection()
