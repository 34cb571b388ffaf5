"""Processes: install, send, dispatch/defer/delay, terminate/wait, local links, and the test
kit's filters at the dequeue point."""

from __future__ import annotations

import json
import threading
import urllib.request
from typing import Any

import pytest
from google.protobuf.wrappers_pb2 import Int64Value, StringValue

import libprocess
from libprocess import (
    OK,
    UPID,
    Future,
    Process,
    Promise,
    defer,
    dispatch,
    metrics,
    spawn,
    terminate,
    testing,
    wait,
)


class Pinger(Process):
    """Sends `StringValue` pings; records replies and the threads handlers ran on."""

    def __init__(self, id: str | None = None) -> None:
        super().__init__(id)
        self.replies: list[str] = []
        self.threads: set[str] = set()
        self.initialized_on: str = ""
        self.finalized = threading.Event()

    def initialize(self) -> None:
        self.initialized_on = threading.current_thread().name
        self.install(StringValue, self.reply, "value")
        self.install(Int64Value, self.explode)
        self.install("raw.bytes", self.raw)
        self.route("/state", lambda request: OK({"replies": self.replies,
                                                 "query": request.query}))
        self.route("/later", self.later)

    def finalize(self) -> None:
        self.finalized.set()

    def reply(self, sender: UPID, value: str) -> None:
        self.threads.add(threading.current_thread().name)
        self.replies.append(value)
        if value.startswith("ping"):
            self.send(sender, StringValue(value="pong" + value[4:]))

    def explode(self, sender: UPID, message: Int64Value) -> None:
        raise RuntimeError("handler bug")

    def raw(self, sender: UPID, body: bytes) -> None:
        self.replies.append(body.decode())

    def later(self, request: Any) -> Future[Any]:
        promise: Promise[Any] = Promise()
        libprocess.delay(0.0, self, lambda: promise.set(OK("later")))
        return promise.future


def _http_get(path: str) -> tuple[int, bytes]:
    ip, port = libprocess.http_address()
    with urllib.request.urlopen(f"http://{ip}:{port}{path}", timeout=10) as response:
        return response.status, response.read()


def test_handlers_run_on_the_process_thread() -> None:
    """This test ensures that a message handler gets the chosen field, runs on the process's
    own thread, and the reply comes back."""
    a, b = Pinger(), Pinger()
    spawn(a)
    spawn(b)
    pong = testing.future_message(StringValue, from_=b, to=a)
    dispatch(a, a.send, b.upid, StringValue(value="ping 1"))
    assert pong.get(5).value == "pong 1"
    testing.settle()
    assert b.replies == ["ping 1"] and a.replies == ["pong 1"]
    assert b.threads == {b.id} and b.initialized_on == b.id


def test_a_raising_handler_does_not_kill_the_process() -> None:
    """This test ensures that an exception in a handler is logged and counted, and the
    process keeps handling messages."""
    a = Pinger()
    spawn(a)
    errors = metrics.get("libprocess/handler_errors")
    assert errors is not None
    before = errors.values()["libprocess/handler_errors"]
    dispatch(a, a.send, a.upid, Int64Value(value=1))
    dispatch(a, a.send, a.upid, StringValue(value="still here"))
    testing.settle()
    assert a.replies == ["still here"]
    assert errors.values()["libprocess/handler_errors"] == before + 1


def test_raw_handlers_get_bytes() -> None:
    """This test ensures that a string-named handler receives the raw body."""
    a = Pinger()
    spawn(a)
    dispatch(a, a.send, a.upid, "raw.bytes", b"hello")
    testing.settle()
    assert a.replies == ["hello"]


def test_dispatch_returns_a_future_of_the_result() -> None:
    """This test ensures that dispatch runs on the target's thread and gives its result,
    flattening returned futures and failing on exceptions."""
    a = Pinger()
    spawn(a)
    assert dispatch(a, lambda: threading.current_thread().name).get(5) == a.id
    assert dispatch(a, lambda: Future.ready(7)).get(5) == 7
    assert dispatch(a.upid, "initialize").get(5) is None
    failed = dispatch(a, lambda: 1 / 0)
    with pytest.raises(libprocess.FutureFailed, match="ZeroDivisionError"):
        failed.get(5)


def test_defer_runs_callbacks_on_the_owner() -> None:
    """This test ensures that a deferred callback runs on its owner's thread, with the call's
    arguments appended."""
    a = Pinger()
    spawn(a)
    seen: Promise[tuple[str, int]] = Promise()
    callback = defer(a, lambda x: seen.set((threading.current_thread().name, x)))
    threading.Thread(target=callback, args=(5,)).start()
    assert seen.future.get(5) == (a.id, 5)


def test_terminate_finalizes_and_wait_returns() -> None:
    """This test ensures that terminate runs finalize, wait returns, and messages to the
    terminated process are dropped as unknown."""
    a = Pinger()
    upid = spawn(a)
    terminate(upid)
    assert wait(upid, 5)
    assert a.finalized.is_set()
    assert libprocess.manager().lookup(upid) is None
    with pytest.raises(LookupError):
        dispatch(upid, "initialize")


def test_duplicate_ids_are_refused() -> None:
    """This test ensures that two live processes cannot share an id."""
    spawn(Pinger("twin"))
    with pytest.raises(ValueError, match="twin"):
        spawn(Pinger("twin"))


def test_local_link_gets_exited_on_terminate() -> None:
    """This test ensures that linking to a local process gives exited when it terminates, and
    linking to an unknown local process gives exited at once."""

    class Watcher(Process):
        def __init__(self) -> None:
            super().__init__()
            self.exits: list[UPID] = []

        def exited(self, upid: UPID) -> None:
            self.exits.append(upid)

    watcher, target = Watcher(), Pinger()
    spawn(watcher)
    spawn(target)
    dispatch(watcher, watcher.link, target.upid).get(5)
    exited = testing.future_exited(watcher, target)
    terminate(target)
    assert exited.get(5) == target.upid
    ghost = UPID("ghost", *libprocess.address())
    dispatch(watcher, watcher.link, ghost).get(5)
    testing.settle()
    assert watcher.exits == [target.upid, ghost]


def test_drop_message_and_expect_no_message() -> None:
    """This test ensures that `drop_message` drops exactly the next match (the handler never
    sees it) and later ones are delivered."""
    a, b = Pinger(), Pinger()
    spawn(a)
    spawn(b)
    dropped = testing.drop_message(StringValue, to=b)
    dispatch(a, a.send, b.upid, StringValue(value="first"))
    assert dropped.get(5).value == "first"
    dispatch(a, a.send, b.upid, StringValue(value="second"))
    testing.settle()
    assert b.replies == ["second"]


def test_drop_messages_drops_all_matches() -> None:
    """This test ensures that `drop_messages` drops every match until the test ends."""
    a, b = Pinger(), Pinger()
    spawn(a)
    spawn(b)
    testing.drop_messages(StringValue, from_=a, to=b.id)
    for i in range(3):
        dispatch(a, a.send, b.upid, StringValue(value=str(i)))
    dispatch(b, b.send, b.upid, StringValue(value="own"))
    testing.settle()
    assert b.replies == ["own"]


def test_expect_no_message_detects_a_violation() -> None:
    """This test ensures that `expect_no_message` records a matching message as a failure."""
    a = Pinger()
    spawn(a)
    testing.expect_no_message(StringValue, to=a)
    dispatch(a, a.send, a.upid, StringValue(value="oops"))
    testing.settle()
    with pytest.raises(AssertionError, match="expect_no_message"):
        testing.check_expectations()


def test_inject_exited_and_future_dispatch() -> None:
    """This test ensures that `inject_exited` delivers an exited event and `future_dispatch`
    sees a dispatch of a named method."""
    r = Pinger()
    spawn(r)
    exited = testing.future_exited(r)
    testing.inject_exited(UPID("fake@1.2.3.4:5"), r)
    assert exited.get(5) == UPID("fake@1.2.3.4:5")
    seen = testing.future_dispatch(r, "reply")
    dispatch(r, r.reply, r.upid, "direct")
    assert seen.get(5) == (r.upid, "direct")


def test_routes_and_delegate() -> None:
    """This test ensures that `/<id>/<route>` reaches the process's route on its thread, that
    a future response is awaited, and that the delegate answers paths with no process."""
    a = Pinger("http-target")
    spawn(a)
    status, body = _http_get("/http-target/state?x=1")
    assert status == 200
    assert json.loads(body) == {"replies": [], "query": {"x": "1"}}
    assert _http_get("/http-target/later") == (200, b"later")
    manager = libprocess.manager()
    old, manager.delegate = manager.delegate, "http-target"
    try:
        assert json.loads(_http_get("/state")[1])["replies"] == []
    finally:
        manager.delegate = old


def test_metrics_endpoints() -> None:
    """This test ensures that `/metrics/snapshot` has counters and pull gauges (evaluated on
    the owner's thread), and `/metrics` has the same in Prometheus form."""
    a = Pinger()
    spawn(a)
    counter = metrics.add(metrics.Counter("test/things_done"))
    gauge = metrics.add(metrics.PullGauge("test/owner_thread_is_mine",
                                          lambda: threading.current_thread().name == a.id, a))
    timer = metrics.add(metrics.Timer("test/latency_ms"))
    try:
        assert isinstance(counter, metrics.Counter) and isinstance(timer, metrics.Timer)
        counter.inc(3)
        for ms in (1.0, 2.0, 3.0, 4.0):
            timer.record(ms)
        snapshot = json.loads(_http_get("/metrics/snapshot")[1])
        assert snapshot["test/things_done"] == 3
        assert snapshot["test/owner_thread_is_mine"] == 1
        assert snapshot["test/latency_ms/count"] == 4 and snapshot["test/latency_ms/p50"] == 2
        assert snapshot["test/latency_ms/max"] == 4
        text = _http_get("/metrics")[1].decode()
        assert "test_things_done 3.0" in text
        assert "test_latency_ms_p99 4.0" in text
        assert json.loads(_http_get("/version")[1])["version"]
    finally:
        for m in (counter, gauge, timer):
            metrics.remove(m)


def test_queue_counts_by_kind() -> None:
    """This test ensures that the runtime counts a process's queued events by kind (the
    `event_queue_*` gauges), and the counts return to zero once handled."""
    a = Pinger()
    spawn(a)
    testing.settle()  # `initialize` has run.
    gate = threading.Event()
    dispatch(a, gate.wait, 5)  # Holds the process so the next events stay queued.
    dispatch(a, a.send, a.upid, StringValue(value="queued"))
    dispatch(a, lambda: None)
    counts = libprocess.manager().queue_counts(a)
    assert counts["dispatch"] == 3
    gate.set()
    testing.settle()
    assert libprocess.manager().queue_counts(a) == {"message": 0, "dispatch": 0, "http": 0,
                                                    "exited": 0, "terminate": 0}
    assert a.replies == ["queued"]


def test_two_future_messages_get_successive_messages() -> None:
    """This test ensures that one message satisfies one `future_message` only: two
    expectations registered for the same message get the first and the second, in order."""
    a, b = Pinger(), Pinger()
    spawn(a)
    spawn(b)
    first = testing.future_message(StringValue, to=b)
    second = testing.future_message(StringValue, to=b)
    dispatch(a, a.send, b.upid, StringValue(value="one"))
    dispatch(a, a.send, b.upid, StringValue(value="two"))
    assert first.get(5).value == "one"
    assert second.get(5).value == "two"
