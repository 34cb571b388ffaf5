"""The ZeroMQ transport between real OS processes: messages both ways, and `exited` for a
killed peer, for an address where nobody listens, and for a frozen (half-open) peer."""

from __future__ import annotations

import os
import signal
import socket
import time
from typing import Any

import pytest
from google.protobuf.wrappers_pb2 import StringValue

import libprocess
from libprocess import UPID, dispatch

pytestmark = pytest.mark.integration


def test_messages_both_ways(peer: Any, recorder: Any) -> None:
    """This test ensures that protobuf messages cross OS processes in both directions, in
    order, and that the reply names the remote sender."""
    replies = [recorder.next_message.future]
    for i in range(3):
        dispatch(recorder, recorder.send, peer.upid, StringValue(value=f"hello {i}"))
    sender, value = replies[0].get(10)
    assert sender == peer.upid
    assert value == "echo:hello 0"
    libprocess.testing.await_condition(lambda: len(recorder.messages) == 3, 10)
    assert [v for _, v in recorder.messages] == ["echo:hello 0", "echo:hello 1", "echo:hello 2"]


def test_exited_after_kill_9(peer: Any, recorder: Any) -> None:
    """This test ensures that a link reports `exited` within about a second of `kill -9` of
    the peer OS process."""
    echoed = recorder.next_message.future
    dispatch(recorder, recorder.send, peer.upid, StringValue(value="hi"))
    echoed.get(10)  # The connection is up.
    exited = recorder.next_exit.future
    dispatch(recorder, recorder.link, peer.upid).get(5)
    start = time.monotonic()
    os.kill(peer.popen.pid, signal.SIGKILL)
    assert exited.get(5) == peer.upid
    assert time.monotonic() - start < 2.0


def test_exited_when_nobody_listens(recorder: Any) -> None:
    """This test ensures that linking to an address where nobody listens reports `exited`."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    target = UPID("nobody", "127.0.0.1", port)
    exited = recorder.next_exit.future
    start = time.monotonic()
    dispatch(recorder, recorder.link, target).get(5)
    assert exited.get(5) == target
    assert time.monotonic() - start < 2.0


def test_exited_for_half_open_connection(peer: Any, recorder: Any) -> None:
    """This test ensures that a frozen peer (SIGSTOP: the kernel still speaks TCP, the
    process answers nothing) is reported `exited` by the ZeroMQ heartbeats."""
    echoed = recorder.next_message.future
    dispatch(recorder, recorder.link, peer.upid).get(5)
    dispatch(recorder, recorder.send, peer.upid, StringValue(value="hi"))
    echoed.get(10)
    exited = recorder.next_exit.future
    os.kill(peer.popen.pid, signal.SIGSTOP)
    try:
        start = time.monotonic()
        assert exited.get(5) == peer.upid
        assert time.monotonic() - start < 3.0
    finally:
        os.kill(peer.popen.pid, signal.SIGCONT)


def test_reconnecting_link_keeps_the_peer_reachable(peer: Any, recorder: Any) -> None:
    """This test ensures that `link(upid, reconnect=True)` replaces the connection to the
    peer's address (as an executor does towards a restarted agent) without an `exited`, and
    messages flow over the new connection."""
    echoed = recorder.next_message.future
    dispatch(recorder, recorder.link, peer.upid).get(5)
    dispatch(recorder, recorder.send, peer.upid, StringValue(value="before"))
    assert echoed.get(10)[1] == "echo:before"
    dispatch(recorder, recorder.link, peer.upid, True).get(5)
    again = recorder.next_message.future
    dispatch(recorder, recorder.send, peer.upid, StringValue(value="after"))
    assert again.get(10)[1] == "echo:after"
    assert recorder.exits == []


def test_every_link_to_a_dead_peer_gets_exited(peer: Any, recorder: Any,
                                               second_recorder: Any) -> None:
    """This test ensures that two processes linked to the same peer both get `exited` when
    it dies, and that a link made after its death (its connection already closed) still
    gets one."""
    other = second_recorder
    echoed = recorder.next_message.future
    dispatch(recorder, recorder.send, peer.upid, StringValue(value="hi"))
    echoed.get(10)
    first, second = recorder.next_exit.future, other.next_exit.future
    dispatch(recorder, recorder.link, peer.upid).get(5)
    dispatch(other, other.link, peer.upid).get(5)
    peer.kill()
    assert first.get(5) == peer.upid
    assert second.get(5) == peer.upid
    late = recorder.next_exit.future
    dispatch(recorder, recorder.link, peer.upid).get(5)
    assert late.get(5) == peer.upid


def test_large_messages_cross_both_ways(peer: Any, recorder: Any) -> None:
    """This test ensures that a message of several megabytes (sent without copying) reaches
    the peer and comes back intact."""
    text = "".join(chr(ord("a") + i % 26) for i in range(8 * 1024 * 1024))
    echoed = recorder.next_message.future
    dispatch(recorder, recorder.send, peer.upid, StringValue(value=text))
    sender, value = echoed.get(30)
    assert sender == peer.upid
    assert value == "echo:" + text
