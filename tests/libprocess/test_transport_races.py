"""The transport's orderings between its threads, against raw ZeroMQ sockets in this OS
process: a reconnecting link, a lost wake-up of the I/O thread, and a connection attempt that
nobody answers."""

from __future__ import annotations

import os
import socket
import threading
import time
import types
from collections.abc import Iterator
from typing import Any

import pytest
import zmq
from google.protobuf.wrappers_pb2 import StringValue

import libprocess
from libprocess import UPID, dispatch, testing
from libprocess import transport as transport_module


@pytest.fixture
def router() -> Iterator[tuple[zmq.Socket[Any], UPID]]:
    """A raw ZeroMQ ROUTER standing for a remote runtime, and a UPID at its address."""
    sock = zmq.Context.instance().socket(zmq.ROUTER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.RCVTIMEO, 10_000)
    port = sock.bind_to_random_port("tcp://127.0.0.1")
    yield sock, UPID("agent", "127.0.0.1", port)
    sock.close(0)


def _body(frame: bytes) -> bytes:
    return frame.split(b"\0", 3)[3]


def test_message_after_a_reconnecting_link_takes_the_new_connection(
        recorder: Any, router: tuple[zmq.Socket[Any], UPID]) -> None:
    """This test ensures that a message sent right after `link(upid, reconnect=True)` travels
    on the new connection (it used to be written on the old one, which the link then closed:
    an executor's re-registration to a restarted agent could be lost), and that replacing
    the connection reports no `exited`."""
    sock, agent = router
    dispatch(recorder, recorder.send, agent, StringValue(value="before")).get(5)
    old_identity, frame = sock.recv_multipart()
    assert _body(frame) == StringValue(value="before").SerializeToString()

    def relink_and_send() -> None:
        recorder.link(agent, reconnect=True)
        recorder.send(agent, StringValue(value="after"))

    dispatch(recorder, relink_and_send).get(5)
    identity, frame = sock.recv_multipart()
    assert _body(frame) == StringValue(value="after").SerializeToString()
    assert identity != old_identity, "the message went out on the replaced connection"
    testing.settle()
    assert recorder.exits == []


def test_a_wake_up_racing_the_io_thread_is_not_lost(
        recorder: Any, router: tuple[zmq.Socket[Any], UPID],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """This test ensures that a sender waking the I/O thread while it is handling an earlier
    wake-up does not leave the wake-up flag set with nothing to read: messages to a new peer
    (which wait in the outbox for the I/O thread) used to stay there for ever afterwards."""
    transport = libprocess.manager().transport
    assert transport is not None
    raced = threading.Event()

    def eventfd_read(fd: int) -> int:
        if threading.current_thread().name == "libprocess-io" and not raced.is_set():
            raced.set()
            # Another sender wakes the I/O thread right now, in the middle of its wake-up.
            sender = threading.Thread(target=transport._wake)
            sender.start()
            sender.join(5)
        return os.eventfd_read(fd)

    monkeypatch.setattr(transport_module, "os",
                        types.SimpleNamespace(eventfd_read=eventfd_read,
                                              eventfd_write=os.eventfd_write))
    transport._wake()
    testing.await_condition(raced.is_set, 5, message="the I/O thread to wake up")
    sock, agent = router
    dispatch(recorder, recorder.send, agent, StringValue(value="to a new peer")).get(5)
    _, frame = sock.recv_multipart()
    assert _body(frame) == StringValue(value="to a new peer").SerializeToString()


def test_exited_when_a_connection_attempt_gets_no_answer(
        recorder: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """This test ensures that a link to an address whose TCP connection attempt is never
    answered (a listener with a full accept queue drops the SYNs, as a blackholed host does)
    reports `exited` after the connect timeout, not after the kernel's two minutes of SYN
    retries."""
    monkeypatch.setattr(transport_module, "CONNECT_TIMEOUT_MS", 300)
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        fillers = []
        try:
            for _ in range(3):  # Fill the accept queue; later SYNs are dropped.
                filler = socket.socket()
                filler.setblocking(False)
                filler.connect_ex(("127.0.0.1", port))
                fillers.append(filler)
            target = UPID("silent", "127.0.0.1", port)
            exited = recorder.next_exit.future
            start = time.monotonic()
            dispatch(recorder, recorder.link, target).get(5)
            assert exited.get(5) == target
            assert time.monotonic() - start < 3.0
        finally:
            for filler in fillers:
                filler.close()


def test_exited_for_an_address_that_does_not_resolve(
        recorder: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """This test ensures that a link to a host name that does not resolve reports `exited`
    (ZeroMQ reports nothing at all for such a connection, so it used to wait for ever)."""
    monkeypatch.setattr(transport_module, "CONNECT_DEADLINE_S", 0.3)
    target = UPID("nobody", "no-such-host.invalid", 5050)
    exited = recorder.next_exit.future
    dispatch(recorder, recorder.link, target).get(5)
    assert exited.get(5) == target


def test_messages_reach_a_peer_at_an_ipv6_address(recorder: Any) -> None:
    """This test ensures that a peer at an IPv6 address is reachable (the outbound sockets
    used to refuse IPv6 addresses silently)."""
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        pytest.skip("no IPv6 loopback here")
    sock = zmq.Context.instance().socket(zmq.ROUTER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.IPV6, 1)
    sock.setsockopt(zmq.RCVTIMEO, 10_000)
    try:
        port = sock.bind_to_random_port("tcp://[::1]")
        agent = UPID("agent", "::1", port)
        dispatch(recorder, recorder.send, agent, StringValue(value="over IPv6")).get(5)
        _, frame = sock.recv_multipart()
        assert _body(frame) == StringValue(value="over IPv6").SerializeToString()
    finally:
        sock.close(0)
