"""A small v1 HTTP executor client for tests, speaking the protocol as pymesos's
`MesosExecutorDriver` does (`pymesos/executor.py` and `pymesos/process.py`): the SUBSCRIBE
request is written by hand on a raw socket (`Content-Type` and `Accept: application/json`,
`Connection: close`, a `Content-Length`) and carries the unacknowledged tasks and updates;
its chunked response is decoded by hand and split into RecordIO records; UPDATE and MESSAGE
are JSON POSTs on a kept-alive `http.client` connection, answered 202.

Like an executor driver, the client keeps the tasks it was given (LAUNCH) and the updates it
sent until the agent acknowledges them (ACKNOWLEDGED), and sends both again when it
subscribes again. It uses the stream reader of `v1_http_scheduler.py` (loaded by path).

Not a test module: tests and the integration test's executor script load it by path, since
tests cannot import each other. Only the standard library; everything runs on the calling
thread; every read has a deadline.
"""

from __future__ import annotations

import base64
import http.client
import importlib.util
import json
import time
import uuid
from pathlib import Path
from typing import Any

TIMEOUT = 10.0
PATH = "/api/v1/executor"


def _load_stream_reader() -> Any:
    path = Path(__file__).parent / "v1_http_scheduler.py"
    spec = importlib.util.spec_from_file_location("v1_http_scheduler", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_stream = _load_stream_reader()
Subscription = _stream.Subscription
StreamEnded = _stream.StreamEnded


def encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


class Executor:
    """A pymesos-like HTTP executor of `framework_id`/`executor_id` at an agent's HTTP
    `address`: `subscribe()`, then `update()`/`message()`; `event()`/`next()` read the
    stream and keep the books of unacknowledged tasks (`tasks`, by task id) and updates
    (`updates`, by uuid)."""

    def __init__(self, address: tuple[str, int], framework_id: str, executor_id: str,
                 path: str = PATH) -> None:
        self.address = address
        self.path = path
        self.framework_id = framework_id
        self.executor_id = executor_id
        self.subscription: Any = None
        self._subscriptions: list[Any] = []
        self.tasks: dict[str, dict[str, Any]] = {}
        self.updates: dict[str, dict[str, Any]] = {}
        self._conn: http.client.HTTPConnection | None = None

    def ids(self) -> dict[str, Any]:
        return {"framework_id": {"value": self.framework_id},
                "executor_id": {"value": self.executor_id}}

    def subscribe(self, **kwargs: Any) -> Any:
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
        assert self.subscription is not None
        return self._keep_books(self.subscription.event(timeout))

    def next(self, kind: str, skip: tuple[str, ...] = ("HEARTBEAT",),
             timeout: float = TIMEOUT) -> dict[str, Any]:
        """The next event of type `kind`, skipping events of the `skip` types only."""
        deadline = time.monotonic() + timeout
        while True:
            event = self.event(max(0.0, deadline - time.monotonic()))
            if event["type"] in skip and event["type"] != kind:
                continue
            assert event["type"] == kind, f"expected {kind}, got {event}"
            return event  # type: ignore[no-any-return]

    def remaining(self, timeout: float = TIMEOUT) -> list[Any]:
        """The events left until the stream ends (`TimeoutError` if it does not)."""
        assert self.subscription is not None
        return [self._keep_books(e) for e in self.subscription.remaining(timeout)]

    def post(self, body: dict[str, Any] | bytes, *, content_type: str = "application/json",
             method: str = "POST", headers: dict[str, str] | None = None,
             path: str | None = None) -> tuple[int, str]:
        """One request on the kept-alive call connection: (status, body text)."""
        if self._conn is None:
            self._conn = http.client.HTTPConnection(*self.address, timeout=TIMEOUT)
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        all_headers = {"Content-Type": content_type, **(headers or {})}
        try:
            self._conn.request(method, path or self.path, body=data, headers=all_headers)
            response = self._conn.getresponse()
            return response.status, response.read().decode()
        except (OSError, http.client.HTTPException):
            self._conn.close()
            self._conn = None
            raise

    def update(self, task_id: str, state: str, **status: Any) -> tuple[int, str]:
        """UPDATE as pymesos's `sendStatusUpdate` (a fresh uuid, SOURCE_EXECUTOR, a
        timestamp), kept until acknowledged: (the HTTP status, the uuid in base64)."""
        fields = {"task_id": {"value": task_id}, "state": state,
                  "source": "SOURCE_EXECUTOR", "timestamp": time.time(),
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
        if self._conn is not None:
            self._conn.close()
            self._conn = None
