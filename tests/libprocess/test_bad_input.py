"""Bad input never kills the runtime: each malformed frame, unknown target, unparsable body,
oversized body and garbage HTTP request is dropped (or answered 4xx), counted, and a good
message still gets through afterwards."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
import zmq
from google.protobuf.wrappers_pb2 import StringValue

import libprocess
from libprocess import metrics


def _count(name: str) -> int:
    metric = metrics.get(name)
    return 0 if metric is None else int(metric.values()[name])


@pytest.fixture
def raw() -> Any:
    """A raw ZeroMQ DEALER connected to this test process's runtime."""
    ip, port = libprocess.address()
    context = zmq.Context.instance()
    sock = context.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(f"tcp://{ip}:{port}")
    yield sock
    sock.close(0)


def _frame(to: str, sender: str, name: str, body: bytes) -> bytes:
    return b"\0".join([to.encode(), sender.encode(), name.encode(), body])


def _good(raw: Any, recorder: Any, text: str) -> None:
    """Sends a good message from the raw socket and waits until the recorder has it."""
    future = recorder.next_message.future
    raw.send(_frame(recorder.upid.id, "raw@127.0.0.1:9", StringValue.DESCRIPTOR.full_name,
                    StringValue(value=text).SerializeToString()))
    assert future.get(5) == (libprocess.UPID("raw@127.0.0.1:9"), text)


@pytest.mark.parametrize("frames, cause", [
    ([b"a", b"b"], "malformed_frame"),                       # Two frames instead of one.
    ([b"no separators at all"], "malformed_frame"),
    ([_frame("x", "garbage sender", "n", b"")], "bad_sender"),
    ([_frame("x", "a@b:notaport", "n", b"")], "bad_sender"),
    ([b"x\0\xff\xfe@1.2.3.4:5\0n\0"], "bad_sender"),
    ([_frame("nobody-here", "raw@127.0.0.1:9", "google.protobuf.StringValue", b"")],
     "unknown_process"),
])
def test_malformed_frames_are_dropped_and_counted(raw: Any, recorder: Any, frames: list[bytes],
                                                  cause: str) -> None:
    """This test ensures that a malformed frame is dropped with its cause counted, and the
    runtime keeps serving."""
    before = _count(f"libprocess/dropped_messages/{cause}")
    total = _count("libprocess/dropped_messages")
    raw.send_multipart(frames)
    _good(raw, recorder, "still alive")
    assert _count(f"libprocess/dropped_messages/{cause}") == before + 1
    assert _count("libprocess/dropped_messages") == total + 1


def test_unknown_message_name_is_dropped(raw: Any, recorder: Any) -> None:
    """This test ensures that a message the target has no handler for is dropped, counted."""
    before = _count("libprocess/dropped_messages/unknown_message")
    raw.send(_frame(recorder.upid.id, "raw@127.0.0.1:9", "no.such.Message", b"x"))
    _good(raw, recorder, "after unknown")
    assert _count("libprocess/dropped_messages/unknown_message") == before + 1


def test_unparsable_body_is_dropped(raw: Any, recorder: Any) -> None:
    """This test ensures that a body that does not parse as the installed protobuf is dropped,
    counted, and never reaches the handler."""
    before = _count("libprocess/dropped_messages/unparsable_body")
    raw.send(_frame(recorder.upid.id, "raw@127.0.0.1:9", StringValue.DESCRIPTOR.full_name,
                    b"\x0a\xff\xff\xff\xff\x0f"))  # Field 1, length far beyond the body.
    _good(raw, recorder, "after garbage")
    assert _count("libprocess/dropped_messages/unparsable_body") == before + 1
    assert [v for _, v in recorder.messages] == ["after garbage"]


def test_oversized_body_is_dropped(raw: Any, recorder: Any) -> None:
    """This test ensures that a body over the size limit is dropped before parsing."""
    manager = libprocess.manager()
    limit = manager.max_message_size
    manager.max_message_size = 1000
    try:
        before = _count("libprocess/dropped_messages/oversized")
        raw.send(_frame(recorder.upid.id, "raw@127.0.0.1:9", StringValue.DESCRIPTOR.full_name,
                        StringValue(value="x" * 2000).SerializeToString()))
        _good(raw, recorder, "small")
        assert _count("libprocess/dropped_messages/oversized") == before + 1
    finally:
        manager.max_message_size = limit


def _http(path: str, method: str = "GET", headers: dict[str, str] | None = None,
          body: bytes | None = None) -> tuple[int, bytes]:
    ip, port = libprocess.http_address()
    request = urllib.request.Request(f"http://{ip}:{port}{path}", data=body, method=method,
                                     headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def test_garbage_http_request_gets_400(recorder: Any) -> None:
    """This test ensures that bytes that are not HTTP get a 400 and are counted, and the
    server keeps serving."""
    before = _count("libprocess/http_bad_requests")
    ip, port = libprocess.http_address()
    with socket.create_connection((ip, port), timeout=5) as s:
        s.sendall(b"\x00\x01\x02 this is not http\r\n\r\n")
        reply = s.recv(1024)
    assert reply.split(b" ")[1] == b"400"
    status, body = _http("/version")
    assert status == 200 and b"version" in body
    libprocess.testing.await_condition(
        lambda: _count("libprocess/http_bad_requests") == before + 1, 5)


def test_http_message_posts(recorder: Any) -> None:
    """This test ensures that a libprocess message over HTTP (`POST /<id>/<name>` with
    `Libprocess-From`) is delivered with 202, and answered 404 for an unknown process and 400
    for a garbage sender."""
    future = recorder.next_message.future
    name = StringValue.DESCRIPTOR.full_name
    body = StringValue(value="over http").SerializeToString()
    status, _ = _http(f"/{recorder.upid.id}/{name}", "POST",
                      {"Libprocess-From": "web@127.0.0.1:7"}, body)
    assert status == 202
    assert future.get(5) == (libprocess.UPID("web@127.0.0.1:7"), "over http")
    assert _http(f"/nobody/{name}", "POST", {"Libprocess-From": "web@127.0.0.1:7"},
                 body)[0] == 404
    assert _http(f"/{recorder.upid.id}/{name}", "POST", {"Libprocess-From": "garbage"},
                 body)[0] == 400
    # A target that looks like half an address names no process (it used to be a 500).
    assert _http(f"/x@y/{name}", "POST", {"Libprocess-From": "web@127.0.0.1:7"},
                 body)[0] == 404


def test_unknown_http_path_is_404(recorder: Any) -> None:
    """This test ensures that a path naming no process (and no delegate) is a 404, and an
    unknown route of a known process too."""
    assert _http("/no-such-process/state")[0] == 404
    assert _http(f"/{recorder.upid.id}/no-such-route")[0] == 404


@pytest.fixture
def blocked_gauge(recorder: Any) -> Iterator[threading.Event]:
    """A pull gauge owned by `recorder`, which is kept busy until the returned gate opens."""
    gate = threading.Event()
    gauge = metrics.add(metrics.PullGauge("test/blocked_gauge", lambda: 1.0, recorder))
    libprocess.dispatch(recorder, gate.wait, 30)
    yield gate
    gate.set()
    metrics.remove(gauge)


@pytest.mark.parametrize("timeout", ["inf", "-inf", "nan", "1e400", "1e10", "-5", "soon"])
def test_garbage_snapshot_timeouts_are_bounded(blocked_gauge: threading.Event,
                                               timeout: str) -> None:
    """This test ensures that `/metrics/snapshot` answers whatever its `timeout` parameter
    says (an infinite or huge one used to kill the snapshot's timer thread) and serves the
    next request."""
    done = threading.Thread(target=_http, args=(f"/metrics/snapshot?timeout={timeout}",))
    done.start()
    blocked_gauge.set()  # The gauge answers; the request must not wait for the timer.
    done.join(30)
    assert not done.is_alive()
    status, body = _http("/metrics/snapshot?timeout=0secs")
    assert status == 200 and "libprocess/dropped_messages" in json.loads(body)


def test_snapshot_timeout_takes_mesos_durations(blocked_gauge: threading.Event) -> None:
    """This test ensures that a snapshot's `timeout` in Mesos's duration form (`100ms`) is
    honoured: the answer comes without the busy process's gauge, well before the default
    five seconds."""
    start = time.monotonic()
    status, body = _http("/metrics/snapshot?timeout=100ms")
    assert status == 200
    snapshot = json.loads(body)
    assert "test/blocked_gauge" not in snapshot
    assert "libprocess/dropped_messages" in snapshot
    assert time.monotonic() - start < 3.0


def test_any_http_method_reaches_the_route(recorder: Any) -> None:
    """This test ensures that a route sees the request's method whatever it is, that a method
    token HTTP does not know is answered 400, and that the server keeps serving."""
    seen: list[str] = []

    def route(request: Any) -> Any:
        seen.append(request.method)
        return libprocess.OK("ok")

    libprocess.dispatch(recorder, recorder.route, "/any", route).get(5)
    for method in ("GET", "PUT", "DELETE", "PATCH", "OPTIONS"):
        assert _http(f"/{recorder.upid.id}/any", method)[0] == 200
    assert seen == ["GET", "PUT", "DELETE", "PATCH", "OPTIONS"]
    assert _http(f"/{recorder.upid.id}/any", "FROBNICATE")[0] == 400
    assert _http("/version")[0] == 200


def test_overlong_request_lines_get_400_and_are_logged_once(
        recorder: Any, caplog: pytest.LogCaptureFixture) -> None:
    """This test ensures that request lines far over the server's limit are answered 400,
    logged at most once (not a traceback each), and the server keeps serving."""
    caplog.set_level(logging.WARNING)
    for _ in range(3):
        assert _http(f"/{recorder.upid.id}/" + "x" * 20000)[0] == 400
    assert _http("/version")[0] == 200
    logged = [r for r in caplog.records if "Error handling request" in r.getMessage()]
    assert len(logged) <= 1
