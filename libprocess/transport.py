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
connection (`EVENT_CLOSED`), a broken one (`EVENT_DISCONNECTED`, e.g. `kill -9` of the peer)
and a half-open one (ZMTP heartbeats time out, also `EVENT_DISCONNECTED`). A broken peer's
socket is closed at once, so the next send opens a fresh connection, and every process linked
to that address gets `exited`.
"""

from __future__ import annotations

import collections
import logging
import os
import threading
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
# How many messages the I/O thread reads from the ROUTER before handing them to processes.
READ_BATCH = 512

_DEAD_EVENTS = (zmq.EVENT_DISCONNECTED | zmq.EVENT_CLOSED
                | getattr(zmq, "EVENT_HANDSHAKE_FAILED_NO_DETAIL", 0)
                | getattr(zmq, "EVENT_HANDSHAKE_FAILED_PROTOCOL", 0))
_MONITORED = (_DEAD_EVENTS | zmq.EVENT_CONNECTED
              | getattr(zmq, "EVENT_HANDSHAKE_SUCCEEDED", 0))


class _Peer:
    __slots__ = ("address", "closed", "connected", "monitor", "socket")

    def __init__(self, address: tuple[str, int], socket: zmq.Socket[Any],
                 monitor: zmq.Socket[Any]) -> None:
        self.address = address
        self.socket = socket
        self.monitor = monitor
        self.connected = False
        self.closed = False


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
        if self._requested_port:
            router.bind(f"tcp://{self._ip}:{self._requested_port}")
            self.port = self._requested_port
        else:
            self.port = router.bind_to_random_port(f"tcp://{self._ip}")
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
            self._outbox.append(("link", address, reconnect))
        self._wake()

    def _wake(self) -> None:
        self._wake_pending = True
        os.eventfd_write(self._wake_fd, 1)

    # The I/O thread.

    def _run(self) -> None:
        try:
            while not self._stopping:
                try:
                    ready = self._poller.poll()
                except zmq.ZMQError as e:
                    log.error("Transport poll failed: %s", e)
                    continue
                for socket, _ in ready:
                    if socket == self._wake_fd:
                        self._wake_pending = False
                        try:
                            os.eventfd_read(self._wake_fd)
                        except BlockingIOError:
                            pass
                    else:
                        peer = self._monitors.get(socket)
                        if peer is not None:
                            with self._send_lock:
                                self._monitor_event(peer)
                self._flush()
        except Exception:
            log.exception("Transport I/O thread died")
        finally:
            self._close_all()

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
            # Without this, ZeroMQ would silently retry a refused connection forever.
            socket.setsockopt(zmq.RECONNECT_IVL, -1)
            monitor = socket.get_monitor_socket(_MONITORED)
            target = f"[{host}]" if ":" in host else host
            socket.connect(f"tcp://{target}:{port}")
        except zmq.ZMQError as e:
            log.warning("Cannot connect to %s:%d: %s", host, port, e)
            self.peer_failures.inc()
            self._manager.peer_exited(address)
            return None
        peer = _Peer(address, socket, monitor)
        self._peers[address] = peer
        self._monitors[monitor] = peer
        self._poller.register(monitor, zmq.POLLIN)
        return peer

    def _link(self, address: tuple[str, int], reconnect: bool) -> None:
        peer = self._peers.get(address)
        if peer is not None and reconnect:
            self._close(peer)
            peer = None
        if peer is None:
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
                log.info("Connection to %s:%d %s", peer.address[0], peer.address[1],
                         "broke" if peer.connected else "failed")
                self.peer_failures.inc()
                self._close(peer)
                self._manager.peer_exited(peer.address)
                return
            if kind == zmq.EVENT_CONNECTED:
                peer.connected = True

    def _close(self, peer: _Peer) -> None:
        peer.closed = True
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

    def _receive(self) -> None:
        router = self._router
        assert router is not None
        try:
            while not self._stopping:
                try:
                    first = router.recv_multipart()
                except zmq.Again:
                    continue
                except zmq.ZMQError as e:
                    log.error("Transport receive failed: %s", e)
                    continue
                try:
                    self._read(router, first)
                except Exception:
                    log.exception("Transport receive batch failed")
        finally:
            router.close(0)
            self._router = None

    def _read(self, router: zmq.Socket[Any], first: list[bytes]) -> None:
        """Parses `first` and whatever else is queued (up to a batch), then delivers."""
        batch: list[tuple[UPID, str, str, bytes]] = []
        drop = self._manager.drop
        limit = self._manager.max_message_size
        upids = self._upid_cache
        names = self._name_cache
        frames: list[bytes] | None = first
        for _ in range(READ_BATCH):
            if frames is None:
                # Checking `EVENTS` first avoids raising `zmq.Again` once per batch.
                if not int(router.getsockopt(zmq.EVENTS)) & zmq.POLLIN:
                    break
                try:
                    frames = router.recv_multipart(zmq.NOBLOCK)
                except zmq.Again:
                    break
            current, frames = frames, None
            if len(current) != 2:
                drop("malformed_frame", f"{len(current) - 1} frames instead of 1")
                continue
            payload = current[1]
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
