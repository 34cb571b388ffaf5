"""The ZeroMQ transport: one ROUTER bound at this OS process's libprocess address, one
outbound DEALER per peer address.

Threads: the receive thread owns the ROUTER and blocks in `recv` on it (the cheapest way for
pyzmq to wake on a message); the I/O thread owns the DEALERs' life cycle (connect, socket
monitors, close) and the outbox of messages to peers not yet connected; any thread sends on
an established DEALER directly, under one lock (ZeroMQ sockets are not thread-safe, but a
socket may move between threads behind a full memory barrier, which the lock gives).

Wire format, one ZeroMQ frame per message (each extra frame costs about as much as a whole
message in pyzmq, see `shared/reference/python-limits.md`):

    <target id> NUL <sender UPID> NUL <message name> NUL <body>

Peer failure (the basis of `link`/`exited`) comes from each DEALER's socket monitor: a refused
connection (`EVENT_CLOSED`), one that nobody answers (the connect timeout, `EVENT_CLOSED`
too), a broken one (`EVENT_DISCONNECTED`, e.g. `kill -9` of the peer)
and a half-open one (ZMTP heartbeats time out, also `EVENT_DISCONNECTED`). A broken peer's
socket is closed at once, so the next send opens a fresh connection, and every process linked
to that address gets `exited`. A reconnecting link (`link(upid, reconnect=True)`) takes the
old connection out of use at once and closes it quietly: its links watch the new one.
"""

from __future__ import annotations

import collections
import logging
import os
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import zmq
from zmq.utils.monitor import recv_monitor_message

from libprocess import metrics
from libprocess.upid import UPID, UPIDError

if TYPE_CHECKING:
    from libprocess.runtime import Manager

__all__ = ["Transport"]

log = logging.getLogger("libprocess.transport")

# ZMTP heartbeats: a silent peer is declared dead after about a second (measured in
# python-limits.md: 1.2 s with these values).
HEARTBEAT_IVL_MS = 300
HEARTBEAT_TIMEOUT_MS = 900
HEARTBEAT_TTL_MS = 1200
# A peer that accepts TCP but never completes the ZMTP handshake (frozen while connecting).
HANDSHAKE_IVL_MS = 1500
# A TCP connection attempt that gets no answer (SYN dropped) counts as failed after this.
CONNECT_TIMEOUT_MS = 2000
# A connection that is not up this long after `connect` failed, even if ZeroMQ said nothing:
# it reports no event at all for an address it cannot resolve (a hostname that does not
# exist, `999.1.1.1`), where a link must still get its `exited`.
CONNECT_DEADLINE_S = CONNECT_TIMEOUT_MS / 1000 + 1.0
# How many messages the I/O thread reads from the ROUTER before handing them to processes.
READ_BATCH = 512

_EVENTS = int(zmq.EVENTS)
_POLLIN = int(zmq.POLLIN)
_RCVMORE = int(zmq.RCVMORE)

_DEAD_EVENTS = (zmq.EVENT_DISCONNECTED | zmq.EVENT_CLOSED
                | getattr(zmq, "EVENT_HANDSHAKE_FAILED_NO_DETAIL", 0)
                | getattr(zmq, "EVENT_HANDSHAKE_FAILED_PROTOCOL", 0))
_MONITORED = (_DEAD_EVENTS | zmq.EVENT_CONNECTED
              | getattr(zmq, "EVENT_HANDSHAKE_SUCCEEDED", 0))


class _Peer:
    __slots__ = ("address", "closed", "connected", "deadline", "monitor", "socket")

    def __init__(self, address: tuple[str, int], socket: zmq.Socket[Any],
                 monitor: zmq.Socket[Any], deadline: float) -> None:
        self.address = address
        self.socket = socket
        self.monitor = monitor
        self.connected = False
        self.closed = False
        # Real time (monotonic) by which the TCP connection must be up (see `_expire`).
        self.deadline = deadline


class Transport:
    """See the module docstring. `send` and `link` may be called from any thread."""

    def __init__(self, manager: Manager, ip: str, port: int) -> None:
        self._manager = manager
        self._ip = ip
        self._requested_port = port
        self.port = 0
        self._context: zmq.Context[Any] = zmq.Context.instance()
        self._router: zmq.Socket[Any] | None = None
        self._outbox: collections.deque[tuple[Any, ...]] = collections.deque()
        self._wake_fd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        self._wake_pending = False
        self._thread: threading.Thread | None = None
        self._receiver: threading.Thread | None = None
        self._stopping = False
        self._peers: dict[tuple[str, int], _Peer] = {}
        # Guards every DEALER socket and the outbox: any thread sends on an established
        # peer's socket directly (one thread hop less per message), while the I/O thread
        # creates, flushes and closes sockets. ZeroMQ allows a socket to move between threads
        # with a full memory barrier, which the lock gives.
        self._send_lock = threading.Lock()
        self._monitors: dict[Any, _Peer] = {}
        # Peers whose TCP connection is not up yet (I/O thread only).
        self._connecting: set[_Peer] = set()
        self._poller = zmq.Poller()
        self._sender_cache: dict[UPID, bytes] = {}
        self._upid_cache: dict[bytes, UPID] = {}
        self._name_cache: dict[bytes, str] = {}
        self.sent = metrics.Counter("libprocess/messages_sent")
        self.received = metrics.Counter("libprocess/messages_received")
        self.peer_failures = metrics.Counter("libprocess/peer_failures")
        for m in (self.sent, self.received, self.peer_failures):
            metrics.add(m)

    # Life cycle.

    def start(self) -> int:
        router = self._context.socket(zmq.ROUTER)
        router.setsockopt(zmq.LINGER, 0)
        router.setsockopt(zmq.HEARTBEAT_IVL, HEARTBEAT_IVL_MS)
        router.setsockopt(zmq.HEARTBEAT_TIMEOUT, HEARTBEAT_TIMEOUT_MS)
        router.setsockopt(zmq.HEARTBEAT_TTL, HEARTBEAT_TTL_MS)
        router.setsockopt(zmq.HANDSHAKE_IVL, HANDSHAKE_IVL_MS)
        # The receive thread wakes this often to notice `stop()`.
        router.setsockopt(zmq.RCVTIMEO, 250)
        host = self._ip
        if ":" in host:
            router.setsockopt(zmq.IPV6, 1)
            host = f"[{host}]"
        if self._requested_port:
            router.bind(f"tcp://{host}:{self._requested_port}")
            self.port = self._requested_port
        else:
            self.port = router.bind_to_random_port(f"tcp://{host}")
        self._router = router
        self._poller.register(self._wake_fd, zmq.POLLIN)
        self._thread = threading.Thread(target=self._run, name="libprocess-io", daemon=True)
        self._thread.start()
        self._receiver = threading.Thread(target=self._receive, name="libprocess-recv",
                                          daemon=True)
        self._receiver.start()
        return self.port

    def stop(self) -> None:
        self._stopping = True
        self._wake()
        if self._thread is not None:
            self._thread.join(5.0)
        if self._receiver is not None:
            self._receiver.join(5.0)

    # Any thread.

    def send(self, to: UPID, sender: UPID, name: str, body: bytes) -> None:
        header = self._sender_cache.get(sender)
        if header is None:
            header = str(sender).encode()
            if len(self._sender_cache) > 4096:
                self._sender_cache.clear()
            self._sender_cache[sender] = header
        frame = b"".join((to.id.encode(), b"\0", header, b"\0", name.encode(), b"\0", body))
        with self._send_lock:
            peer = self._peers.get(to.address)
            if peer is not None:
                try:
                    peer.socket.send(frame, zmq.NOBLOCK, copy=len(frame) < 65536)
                    self.sent.inc()
                except zmq.Again:
                    self._manager.drop("send_queue_full", f"queue to {to.address} is full")
                except zmq.ZMQError as e:
                    self._manager.drop("send_failed", f"send to {to.address}: {e}")
                return
            # No connection yet: the I/O thread connects, then sends everything queued for
            # that address in order, under the lock, before any direct send can happen.
            self._outbox.append((to.address, frame))
        if not self._wake_pending:
            self._wake()

    def link(self, address: tuple[str, int], reconnect: bool) -> None:
        with self._send_lock:
            # With `reconnect`, the current connection stops taking messages now, not when
            # the I/O thread gets to the link: a message sent right after `link` must travel
            # on the new connection (queued behind the link in the outbox), never be written
            # on the old one that is about to be closed.
            old = self._peers.pop(address, None) if reconnect else None
            self._outbox.append(("link", address, old))
        self._wake()

    def _wake(self) -> None:
        self._wake_pending = True
        os.eventfd_write(self._wake_fd, 1)

    # The I/O thread.

    def _run(self) -> None:
        try:
            while not self._stopping:
                try:
                    ready = self._poller.poll(self._poll_timeout())
                except zmq.ZMQError as e:
                    log.error("Transport poll failed: %s", e)
                    continue
                for socket, _ in ready:
                    if socket == self._wake_fd:
                        # Read first, then clear the flag: a sender that sets the flag and
                        # writes in between leaves the eventfd readable (one spare wake-up).
                        # The other order could consume that write and leave the flag set
                        # with nothing to read, so later senders would skip waking us and
                        # their messages would sit in the outbox.
                        try:
                            os.eventfd_read(self._wake_fd)
                        except BlockingIOError:
                            pass
                        self._wake_pending = False
                    else:
                        peer = self._monitors.get(socket)
                        if peer is not None:
                            with self._send_lock:
                                self._monitor_event(peer)
                self._flush()
                if self._connecting:
                    self._expire()
        except Exception:
            log.exception("Transport I/O thread died")
        finally:
            self._close_all()

    def _poll_timeout(self) -> int | None:
        """Milliseconds until the first connection deadline; None (forever) if none."""
        if not self._connecting:
            return None
        first = min(peer.deadline for peer in self._connecting)
        return max(0, int((first - time.monotonic()) * 1000) + 1)

    def _expire(self) -> None:
        """Fails the connections that are still not up at their deadline."""
        now = time.monotonic()
        expired = [peer for peer in self._connecting if peer.deadline <= now]
        if expired:
            with self._send_lock:
                for peer in expired:
                    self._failed(peer, "got no answer")

    def _flush(self) -> None:
        with self._send_lock:
            self._flush_locked()

    def _flush_locked(self) -> None:
        outbox = self._outbox
        sent = 0
        while outbox:
            item = outbox.popleft()
            if item[0] == "link":
                self._link(item[1], item[2])
                continue
            address, frame = item
            peer = self._peers.get(address)
            if peer is None:
                peer = self._connect(address)
                if peer is None:
                    self._manager.drop("send_failed", f"cannot connect to {address}")
                    continue
            try:
                peer.socket.send(frame, zmq.NOBLOCK, copy=len(frame) < 65536)
                sent += 1
            except zmq.Again:
                self._manager.drop("send_queue_full", f"queue to {address} is full")
            except zmq.ZMQError as e:
                self._manager.drop("send_failed", f"send to {address}: {e}")
        if sent:
            self.sent.inc(sent)

    def _connect(self, address: tuple[str, int]) -> _Peer | None:
        host, port = address
        try:
            socket = self._context.socket(zmq.DEALER)
            socket.setsockopt(zmq.LINGER, 0)
            # Unbounded: fire-and-forget must not drop because the peer is slower than us;
            # a dead or frozen peer is detected (and its queue freed) within about a second.
            socket.setsockopt(zmq.SNDHWM, 0)
            socket.setsockopt(zmq.HEARTBEAT_IVL, HEARTBEAT_IVL_MS)
            socket.setsockopt(zmq.HEARTBEAT_TIMEOUT, HEARTBEAT_TIMEOUT_MS)
            socket.setsockopt(zmq.HEARTBEAT_TTL, HEARTBEAT_TTL_MS)
            socket.setsockopt(zmq.HANDSHAKE_IVL, HANDSHAKE_IVL_MS)
            # A TCP connect that gets no answer at all (a blackholed host, a listener whose
            # accept queue is full) would otherwise take the kernel's SYN retries, about two
            # minutes, to fail; the link's `exited` must come within seconds.
            socket.setsockopt(zmq.CONNECT_TIMEOUT, CONNECT_TIMEOUT_MS)
            # Without this, ZeroMQ would silently retry a refused connection forever.
            socket.setsockopt(zmq.RECONNECT_IVL, -1)
            # Peers at IPv6 addresses (IPv4 ones still work).
            socket.setsockopt(zmq.IPV6, 1)
            monitor = socket.get_monitor_socket(_MONITORED)
            target = f"[{host}]" if ":" in host else host
            socket.connect(f"tcp://{target}:{port}")
        except zmq.ZMQError as e:
            log.warning("Cannot connect to %s:%d: %s", host, port, e)
            self.peer_failures.inc()
            self._manager.peer_exited(address)
            return None
        peer = _Peer(address, socket, monitor, time.monotonic() + CONNECT_DEADLINE_S)
        self._peers[address] = peer
        self._connecting.add(peer)
        self._monitors[monitor] = peer
        self._poller.register(monitor, zmq.POLLIN)
        return peer

    def _link(self, address: tuple[str, int], old: _Peer | None) -> None:
        if old is not None:
            # Replaced by `link(reconnect=True)`: closed without `exited` for its links,
            # which now watch the new connection.
            self._close(old)
        if address not in self._peers:
            self._connect(address)

    def _monitor_event(self, peer: _Peer) -> None:
        while True:
            try:
                event = recv_monitor_message(peer.monitor, zmq.NOBLOCK)
            except zmq.Again:
                return
            except zmq.ZMQError:
                return
            kind = event["event"]
            if kind & _DEAD_EVENTS:
                self._failed(peer, "broke" if peer.connected else "failed")
                return
            if kind == zmq.EVENT_CONNECTED:
                peer.connected = True
                self._connecting.discard(peer)

    def _failed(self, peer: _Peer, how: str) -> None:
        """Closes a dead connection; its address's links get `exited` (under the lock)."""
        if peer.closed:
            return
        current = self._peers.get(peer.address) is peer
        self._close(peer)
        if current:
            log.info("Connection to %s:%d %s", peer.address[0], peer.address[1], how)
            self.peer_failures.inc()
            self._manager.peer_exited(peer.address)
        # Otherwise a reconnecting link replaced it: its links watch the new one.

    def _close(self, peer: _Peer) -> None:
        if peer.closed:
            return
        peer.closed = True
        self._connecting.discard(peer)
        if self._peers.get(peer.address) is peer:
            del self._peers[peer.address]
        self._monitors.pop(peer.monitor, None)
        try:
            self._poller.unregister(peer.monitor)
        except KeyError:
            pass
        try:
            peer.socket.disable_monitor()
        except zmq.ZMQError:
            pass
        peer.monitor.close(0)
        peer.socket.close(0)

    def _close_all(self) -> None:
        with self._send_lock:
            for peer in list(self._peers.values()):
                self._close(peer)
            # Connections replaced by a reconnecting link not yet handled.
            for item in self._outbox:
                if item[0] == "link" and item[2] is not None:
                    self._close(item[2])

    def _receive(self) -> None:
        router = self._router
        assert router is not None
        try:
            while not self._stopping:
                try:
                    # The first frame of a message (the sender's identity, added by the
                    # ROUTER); blocks up to `RCVTIMEO`.
                    router.recv()
                except zmq.Again:
                    continue
                except zmq.ZMQError as e:
                    log.error("Transport receive failed: %s", e)
                    continue
                try:
                    self._read(router)
                except Exception:
                    log.exception("Transport receive batch failed")
        finally:
            router.close(0)
            self._router = None

    def _read(self, router: zmq.Socket[Any]) -> None:
        """Parses the message whose identity frame was just received, and whatever else is
        queued (up to a batch), then delivers.

        Frames are read one by one with integer socket options: `recv_multipart` and
        `getsockopt` with the enum constants cost several microseconds per message in
        pyzmq (each option read is about as dear as a whole `recv`), most of the receive
        path's time.
        """
        batch: list[tuple[UPID, str, str, bytes]] = []
        drop = self._manager.drop
        limit = self._manager.max_message_size
        upids = self._upid_cache
        names = self._name_cache
        recv = router.recv
        # Integer options give integers (the stubs say `int | bytes`).
        get: Callable[[int], int] = router.get  # type: ignore[assignment]
        first = True
        for _ in range(READ_BATCH):
            if not first:
                # Checking `EVENTS` first avoids raising `zmq.Again` once per batch.
                if not get(_EVENTS) & _POLLIN:
                    break
                try:
                    recv(zmq.NOBLOCK)  # The identity frame.
                except zmq.Again:
                    break
            first = False
            # A ROUTER always gives the identity and at least one frame; the frames of one
            # message arrive together, so these `recv`s never block.
            payload = recv()
            if get(_RCVMORE):
                extra = 1
                recv()
                while get(_RCVMORE):
                    recv()
                    extra += 1
                drop("malformed_frame", f"{extra + 1} frames instead of 1")
                continue
            parts = payload.split(b"\0", 3)
            if len(parts) != 4:
                drop("malformed_frame", "envelope without target, sender, name and body")
                continue
            to_raw, sender_raw, name_raw, body = parts
            sender = upids.get(sender_raw)
            if sender is None:
                try:
                    sender = UPID(sender_raw.decode())
                except (UnicodeDecodeError, UPIDError):
                    drop("bad_sender", f"unparsable sender {sender_raw[:64]!r}")
                    continue
                if len(upids) > 65536:
                    upids.clear()
                upids[sender_raw] = sender
            name = names.get(name_raw)
            if name is None:
                try:
                    name = name_raw.decode("ascii")
                except UnicodeDecodeError:
                    drop("unknown_message", f"undecodable name {name_raw[:64]!r}", sender)
                    continue
                if not name or len(names) > 4096:
                    if not name:
                        drop("unknown_message", "empty message name", sender)
                        continue
                    names.clear()
                names[name_raw] = name
            if len(body) > limit:
                drop("oversized", f"{name} of {len(body)} bytes (limit {limit})", sender)
                continue
            try:
                to_id = to_raw.decode()
            except UnicodeDecodeError:
                drop("unknown_process", f"undecodable target {to_raw[:64]!r}", sender)
                continue
            batch.append((sender, to_id, name, body))
        if batch:
            self.received.inc(len(batch))
            self._manager.deliver_batch(batch)
