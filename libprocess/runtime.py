"""The process manager: one per OS process. Owns the table of local processes, the event
queues' single dequeue point (test filters, in-flight counting), links, and the transport and
HTTP server it starts on `initialize()`.

Runs on whichever thread calls it; its own state is guarded by one lock. Events are handed to
each process's pykka actor, whose thread calls `serve()`. Also here: `exit()`, which ends the
OS process (a `SystemExit` raised by a handler comes to the same).
"""

from __future__ import annotations

import logging
import os
import queue
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, NoReturn

import pykka

from libprocess import metrics
from libprocess.clock import clock
from libprocess.events import (
    DispatchEvent,
    Event,
    ExitedEvent,
    HttpEvent,
    MessageEvent,
    TerminateEvent,
)
from libprocess.future import Future, Promise
from libprocess.upid import UPID, UPIDError

if TYPE_CHECKING:
    from libprocess.http import Request
    from libprocess.http_server import HttpServer
    from libprocess.process import Process
    from libprocess.transport import Transport

__all__ = ["Filter", "Manager", "ProcessExit", "exit", "initialize", "manager"]

log = logging.getLogger("libprocess")

# A filter sees every event at the dequeue point; returning True drops the event.
Filter = Callable[["Process", Event], bool]

DEFAULT_MAX_MESSAGE_SIZE = 64 * 1024 * 1024


class _ProcessActor(pykka.ThreadingActor):
    """The pykka actor hosting one `Process`; its thread is the process's thread."""

    use_daemon_thread = True

    @staticmethod
    def _create_actor_inbox() -> Any:
        # `SimpleQueue` (C, no task tracking) hands an event to the actor thread noticeably
        # faster than pykka's default `queue.Queue`; pykka only needs get/put/empty.
        return queue.SimpleQueue()

    def __init__(self, manager: Manager, process: Process) -> None:
        super().__init__()
        self._manager = manager
        self._process = process

    def on_start(self) -> None:
        threading.current_thread().name = self._process.id
        self._process._thread = threading.current_thread()

    def on_receive(self, message: Any) -> Any:
        if type(message) is list:
            self._manager.serve_batch(self._process, message)
        else:
            self._manager.serve(self._process, message)
        return None

    def on_failure(self, exception_type: Any, exception_value: Any, traceback: Any) -> None:
        log.error("Process %s failed: %s", self._process.id, exception_value)


class Manager:
    """See the module docstring. Use `manager()` to get the one instance."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._processes: dict[str, Process] = {}
        # Ids of processes whose actor is being started (reserved; not yet visible).
        self._spawning: set[str] = set()
        self._terminated_events: dict[str, threading.Event] = {}
        self.ip = "127.0.0.1"
        self.port = 0
        self.http_port = 0
        self.transport: Transport | None = None
        self.http: HttpServer | None = None
        self.delegate: str | None = None
        self.max_message_size = DEFAULT_MAX_MESSAGE_SIZE
        self.filters: list[Filter] = []
        # In-flight events: queued or running in some process.
        self._inflight = 0
        # `_inflight_lock` guards the counts (taken directly on the hot path: a plain lock's
        # context manager is C, the condition's is Python); `_idle` is signalled only when
        # somebody waits for idleness (`settle`).
        self._inflight_lock = threading.Lock()
        self._idle = threading.Condition(self._inflight_lock)
        self._idle_waiters = 0
        # Local links: target id -> linker processes.
        self._local_links: dict[str, set[Process]] = defaultdict(set)
        # Remote links: (host, port) -> target UPID -> linker processes.
        self._remote_links: dict[tuple[str, int], dict[UPID, set[Process]]] = defaultdict(
            lambda: defaultdict(set))
        self._logged_causes: set[str] = set()
        self.dropped = metrics.Counter("libprocess/dropped_messages")
        self._drop_counters: dict[str, metrics.Counter] = {}
        self.handler_errors = metrics.Counter("libprocess/handler_errors")
        for m in (self.dropped, self.handler_errors):
            metrics.add(m)
        clock.wait_processes_idle = self.wait_idle

    # Start-up.

    def initialize(self, ip: str | None = None, port: int | None = None,
                   http_port: int | None = None, delegate: str | None = None,
                   max_message_size: int | None = None,
                   http: bool = True) -> tuple[str, int, int]:
        """Starts the transport (and, with `http`, the HTTP server) once; later calls return
        the addresses (the HTTP port is 0 when no server runs)."""
        from libprocess.transport import Transport

        with self._lock:
            if delegate is not None:
                self.delegate = delegate
            if max_message_size is not None:
                self.max_message_size = max_message_size
            if self.transport is not None:
                return (self.ip, self.port, self.http_port)
            self.ip = ip or os.environ.get("LIBPROCESS_IP", "127.0.0.1")
            port = int(os.environ.get("LIBPROCESS_PORT", "0")) if port is None else port
            self.transport = Transport(self, self.ip, port)
            self.port = self.transport.start()
            if http:
                # Imported here: aiohttp costs a third of a second at start-up, which OS
                # processes without HTTP (executors) should not pay.
                from libprocess.http_server import HttpServer

                self.http = HttpServer(self, self.ip, http_port or 0)
                self.http_port = self.http.start()
            log.info("libprocess initialized at %s:%d (HTTP %d)", self.ip, self.port,
                     self.http_port)
            return (self.ip, self.port, self.http_port)

    def ensure_initialized(self) -> None:
        if self.transport is None:
            self.initialize()

    # Processes.

    def spawn(self, process: Process) -> UPID:
        self.ensure_initialized()
        with self._lock:
            if process._actor is not None:
                raise RuntimeError(f"{process!r} was spawned already")
            if process.id in self._processes or process.id in self._spawning:
                raise ValueError(f"A process with id {process.id!r} exists already")
            # The id is reserved while the actor's thread starts outside the lock: starting
            # a thread costs a millisecond or more, which would stall every link, unlink
            # and other spawn (a master taking back a thousand agents does all three).
            self._spawning.add(process.id)
        try:
            process.upid = UPID(process.id, self.ip, self.port)
            process._terminated = threading.Event()
            process._actor = _ProcessActor.start(self, process)
            # `initialize` is queued before the process becomes visible (to `lookup`, the
            # transport, HTTP), so it is always the first event the process handles.
            process._init_event = DispatchEvent(process.initialize, (), {}, None)
            self.enqueue(process, process._init_event)
        finally:
            with self._lock:
                self._spawning.discard(process.id)
                if process._actor is not None:
                    self._terminated_events[process.id] = process._terminated
                    self._processes[process.id] = process
        return process.upid

    def lookup(self, target: Process | UPID | str) -> Process | None:
        """The local process `target` names (a UPID, `id@ip:port` or a bare id); None if
        there is none, also when the text is no valid address (it names no process)."""
        if not isinstance(target, UPID | str):
            return target
        if isinstance(target, UPID):
            ident = target.id
        elif "@" in target:
            try:
                ident = UPID(target).id
            except UPIDError:
                return None
        else:
            ident = target
        return self._processes.get(ident)

    def processes(self) -> list[Process]:
        with self._lock:
            return list(self._processes.values())

    def terminate(self, process: Process, inject: bool) -> None:
        if process._terminating or process._actor is None:
            # Terminating twice, or a process never spawned: nothing to do.
            return
        process._terminating = True
        if inject:
            process._dropping = True
        self.enqueue(process, TerminateEvent(inject))

    def wait(self, target: UPID | str, timeout: float | None) -> bool:
        ident = target.id if isinstance(target, UPID) else (UPID(target).id if "@" in target
                                                           else target)
        event = self._terminated_events.get(ident)
        return True if event is None else event.wait(timeout)

    # Queues.

    def enqueue(self, process: Process, event: Event) -> None:
        """Queues `event` for `process`; an event for a finished process is discarded.

        The hand-off to the actor happens under the in-flight lock, and `_finish` closes the
        process under the same lock before stopping its actor: an event is thus either
        queued ahead of the actor's stop (and served, which discards it) or refused here. It
        is never left in a dead actor's inbox, where pykka would drop it silently (leaking
        the in-flight count, so `settle()` would hang, and leaving its future pending).
        """
        with self._inflight_lock:
            accepted = not process._closed and process._actor is not None
            if accepted:
                try:
                    process._actor.tell(event)
                except pykka.ActorDeadError:
                    accepted = False
                else:
                    self._inflight += 1
                    process._queued[event.kind] += 1
        if not accepted:
            # Outside the lock: discarding runs the future's callbacks.
            if isinstance(event, MessageEvent):
                self.drop("unknown_process", f"{event.name} to finished process "
                          f"{process.id!r}", event.sender)
            self._fail_dropped(event)

    def enqueue_many(self, process: Process, events: list[Event]) -> None:
        """Queues many messages for `process` in one hand-off (see `enqueue`)."""
        with self._inflight_lock:
            accepted = not process._closed and process._actor is not None
            if accepted:
                try:
                    process._actor.tell(events)
                except pykka.ActorDeadError:
                    accepted = False
                else:
                    self._inflight += len(events)
                    process._queued["message"] += len(events)
        if not accepted:
            for _ in events:
                self.drop("unknown_process", f"message to finished process {process.id!r}")

    def _done(self, process: Process, kind: str, n: int) -> None:
        with self._inflight_lock:
            self._inflight -= n
            process._queued[kind] -= n
            if self._inflight == 0 and self._idle_waiters:
                self._idle.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        """Blocks until no event is queued or running anywhere; False on timeout."""
        with self._inflight_lock:
            if self._inflight == 0:
                return True
            self._idle_waiters += 1
            try:
                return self._idle.wait_for(lambda: self._inflight == 0, timeout)
            finally:
                self._idle_waiters -= 1

    def inflight(self) -> int:
        return self._inflight

    def queue_counts(self, process: Process) -> dict[str, int]:
        """Events queued or running in `process`, by kind (`message`, `dispatch`, `http`,
        `exited`, `terminate`): Mesos's `<process>/event_queue_*` gauges."""
        with self._inflight_lock:
            return dict(process._queued)

    # The dequeue point.

    def serve(self, process: Process, event: Event) -> None:
        """Runs on `process`'s thread for each event: filters, then the handler."""
        try:
            self.serve_one(process, event)
        finally:
            self._done(process, event.kind, 1)

    def serve_batch(self, process: Process, events: list[Event]) -> None:
        """`serve` for a batch of messages (from `enqueue_many`), settled at once."""
        serve_one = self.serve_one
        try:
            for event in events:
                serve_one(process, event)
        finally:
            self._done(process, "message", len(events))

    def serve_one(self, process: Process, event: Event) -> None:
        """The dequeue point: filters, then the handler; never raises."""
        try:
            if process._dropping:
                if ((type(event) is not TerminateEvent and event is not process._init_event)
                        or process._terminated.is_set()):
                    # Discarded: only `initialize` (which always runs first, as in
                    # libprocess) and the first terminate get through.
                    self._fail_dropped(event)
                    return
            if self.filters:
                for f in self.filters:
                    try:
                        if f(process, event):
                            self._fail_dropped(event)
                            return
                    except Exception:
                        log.exception("Event filter %r raised", f)
            if type(event) is MessageEvent:
                self._handle_message(process, event)
            else:
                self._handle(process, event)
        except SystemExit as e:
            # A handler called `sys.exit()` or `libprocess.exit()`: the daemon wants this OS
            # process gone, as Mesos's `exit()`. Unless a test hook intercepted the exit, the
            # OS process ends inside `_exit_requested`; under the hook this process dies.
            if not isinstance(e, ProcessExit):
                _exit_requested(_exit_code(e.code),
                                f"{process.id}: {type(e).__name__}({e.code!r}) in a handler")
            self._fail_dropped(event)
            self.terminate(process, True)
        except BaseException as e:
            # Anything else that is not an `Exception` (a stray `KeyboardInterrupt`,
            # `GeneratorExit`) is a handler bug like any other: it must not stop the actor
            # (pykka would then stop every actor of the OS process).
            self.handler_errors.inc()
            log.exception("%s: handling %r raised", process.id, event)
            promise = getattr(event, "promise", None)
            if promise is not None:
                promise.fail(f"{type(e).__name__}: {e}", e)

    def _fail_dropped(self, event: Event) -> None:
        promise = getattr(event, "promise", None)
        if promise is not None:
            promise.discard()

    def _handle(self, process: Process, event: Event) -> None:
        kind = type(event)
        if kind is MessageEvent:
            self._handle_message(process, event)  # type: ignore[arg-type]
        elif kind is DispatchEvent:
            self._handle_dispatch(process, event)  # type: ignore[arg-type]
        elif kind is ExitedEvent:
            try:
                process.exited(event.upid)  # type: ignore[attr-defined]
            except Exception:
                self.handler_errors.inc()
                log.exception("%s: exited(%s) raised", process.id, event.upid)  # type: ignore
        elif kind is HttpEvent:
            self._handle_http(process, event)  # type: ignore[arg-type]
        elif kind is TerminateEvent:
            self._finish(process)

    def _handle_message(self, process: Process, event: MessageEvent) -> None:
        entry = process._handlers.get(event.name)
        if entry is None:
            self.drop("unknown_message",
                      f"no handler for {event.name!r} in {process.id}", event.sender)
            return
        cls, handler, fields = entry
        try:
            if cls is None:
                handler(event.sender, event.body)
                return
            message = cls()
            try:
                message.ParseFromString(event.body)
            except Exception as e:
                self.drop("unparsable_body", f"{event.name} to {process.id}: {e}",
                          event.sender)
                return
            if fields:
                handler(event.sender, *[getattr(message, f) for f in fields])
            else:
                handler(event.sender, message)
        except Exception:
            self.handler_errors.inc()
            log.exception("%s: handler for %s from %s raised", process.id, event.name,
                          event.sender)

    def _handle_dispatch(self, process: Process, event: DispatchEvent) -> None:
        try:
            result = event.fn(*event.args, **event.kwargs)
        except Exception as e:
            self.handler_errors.inc()
            if event.promise is None:
                log.exception("%s: dispatch of %s raised", process.id, event.method)
            else:
                log.debug("%s: dispatch of %s raised", process.id, event.method,
                          exc_info=True)
                event.promise.fail(f"{type(e).__name__}: {e}", e)
            return
        if event.promise is not None:
            event.promise.associate(result)

    def _handle_http(self, process: Process, event: HttpEvent) -> None:
        from libprocess.http import Response

        # The longest route that is a prefix of the path, segment by segment, as libprocess
        # does (`/api/v1/operator` is served by `/api/v1`).
        route = event.route
        entry = process._routes.get(route)
        while entry is None and route.count("/") > 1:
            route = route.rsplit("/", 1)[0]
            entry = process._routes.get(route)
        if entry is None:
            event.promise.set(Response(404, f"No route {event.route} in {process.id}\n"))
            return
        try:
            event.promise.associate(entry[0](event.request))
        except Exception as e:
            self.handler_errors.inc()
            log.exception("%s: route %s raised", process.id, event.route)
            event.promise.set(Response(500, f"{type(e).__name__}: {e}\n"))

    def _finish(self, process: Process) -> None:
        try:
            process.finalize()
        except SystemExit as e:
            # The process still finishes (under a test hook the OS process lives on).
            if not isinstance(e, ProcessExit):
                _exit_requested(_exit_code(e.code), f"{process.id}: {e!r} in finalize()")
        except BaseException:
            log.exception("%s: finalize() raised", process.id)
        with self._lock:
            if self._processes.get(process.id) is process:
                del self._processes[process.id]
            if self._terminated_events.get(process.id) is process._terminated:
                del self._terminated_events[process.id]
            linkers = self._local_links.pop(process.id, set())
            # The links this process made die with it (they would leak otherwise).
            for watchers in self._local_links.values():
                watchers.discard(process)
            for targets in self._remote_links.values():
                for watchers in targets.values():
                    watchers.discard(process)
            process._dropping = True
        with self._inflight_lock:
            # From here on `enqueue` refuses events for this process (see there).
            process._closed = True
        for linker in linkers:
            if linker is not process:
                self.enqueue(linker, ExitedEvent(process.upid))
        process._terminated.set()
        process._actor.stop(block=False)

    # Dispatch.

    def dispatch(self, process: Process, fn: Callable[..., Any], args: tuple[Any, ...],
                 kwargs: dict[str, Any]) -> Future[Any]:
        promise: Promise[Any] = Promise()
        if process._terminated is None:
            promise.fail(f"{process!r} is not spawned")
            return promise.future
        self.enqueue(process, DispatchEvent(fn, args, kwargs, promise))
        return promise.future

    # Messages.

    def send(self, sender: UPID, to: UPID, name: str, body: bytes) -> None:
        self.ensure_initialized()
        if to.port == self.port and (to.host == self.ip or to.host in _LOCAL_HOSTS):
            self.deliver(sender, to, name, body)
            return
        if not to:
            self.drop("bad_target", f"{name} to empty address", sender)
            return
        assert self.transport is not None
        self.transport.send(to, sender, name, body)

    def deliver(self, sender: UPID, to: UPID, name: str, body: bytes) -> None:
        """Queues a message for a local process (from the transport or a local sender)."""
        process = self._processes.get(to.id)
        if process is None:
            self.drop("unknown_process", f"{name} to unknown process {to.id!r}", sender)
            return
        self.enqueue(process, MessageEvent(sender, to, name, body))

    def deliver_batch(self, batch: Iterable[tuple[UPID, str, str, bytes]]) -> None:
        """Queues many messages (from the transport's thread): one hand-off per process."""
        groups: dict[str, list[Event]] = {}
        for sender, to_id, name, body in batch:
            process = self._processes.get(to_id)
            if process is None:
                self.drop("unknown_process", f"{name} to unknown process {to_id!r}", sender)
                continue
            events = groups.get(to_id)
            if events is None:
                events = groups[to_id] = []
            events.append(MessageEvent(sender, process.upid, name, body))
        for to_id, events in groups.items():
            process = self._processes.get(to_id)
            if process is not None:
                self.enqueue_many(process, events)

    def drop(self, cause: str, detail: str, sender: UPID | str | None = None) -> None:
        """Counts a dropped message by cause and logs the first of each cause."""
        self.dropped.inc()
        counter = self._drop_counters.get(cause)
        if counter is None:
            with self._lock:
                counter = self._drop_counters.get(cause)
                if counter is None:
                    counter = metrics.Counter(f"libprocess/dropped_messages/{cause}")
                    metrics.add(counter)
                    self._drop_counters[cause] = counter
        counter.inc()
        if cause not in self._logged_causes:
            self._logged_causes.add(cause)
            log.warning("Dropping message (%s): %s, from %s (further drops for this cause "
                        "are only counted)", cause, detail, sender or "unknown sender")

    # Links.

    def link(self, linker: Process, target: UPID, reconnect: bool) -> None:
        self.ensure_initialized()
        local = target.port == self.port and (target.host == self.ip or
                                              target.host in _LOCAL_HOSTS)
        if local:
            with self._lock:
                alive = target.id in self._processes
                if alive:
                    self._local_links[target.id].add(linker)
            if not alive:
                self.enqueue(linker, ExitedEvent(target))
            return
        with self._lock:
            self._remote_links[target.address][target].add(linker)
        assert self.transport is not None
        self.transport.link(target.address, reconnect)

    def unlink(self, linker: Process, target: UPID) -> None:
        with self._lock:
            self._local_links.get(target.id, set()).discard(linker)
            targets = self._remote_links.get(target.address)
            if targets is not None and target in targets:
                targets[target].discard(linker)

    def peer_exited(self, address: tuple[str, int]) -> None:
        """Called by the transport when the connection to `address` broke or never came up."""
        with self._lock:
            targets = self._remote_links.pop(address, None)
        if not targets:
            return
        for target, linkers in targets.items():
            for linker in linkers:
                self.enqueue(linker, ExitedEvent(target))

    def linked_addresses(self) -> set[tuple[str, int]]:
        with self._lock:
            return set(self._remote_links)

    # HTTP.

    def http_request(self, process_id: str, route: str, request: Request) -> Future[Any] | None:
        """Queues an HTTP request for a process route; None if there is no such process."""
        process = self._processes.get(process_id)
        if process is None:
            return None
        promise: Promise[Any] = Promise()
        self.enqueue(process, HttpEvent(route, request, promise))
        return promise.future

    # Shutdown.

    def finalize(self, timeout: float = 5.0) -> None:
        """Terminates every process and stops the transport and HTTP server."""
        for process in self.processes():
            self.terminate(process, True)
        deadline = time.monotonic() + timeout
        for process in self.processes():
            if process._terminated is not None:
                process._terminated.wait(max(0.0, deadline - time.monotonic()))
        with self._lock:
            transport, self.transport = self.transport, None
            http, self.http = self.http, None
        if http is not None:
            http.stop()
        if transport is not None:
            transport.stop()


# Exiting the OS process.


class ProcessExit(SystemExit):
    """Raised by `exit()` when a test hook intercepted the exit, so the caller never
    continues; the runtime then terminates the process whose handler raised it."""


def _exit_os_process(code: int, message: str) -> None:
    """The default exit hook: flushes the logs and standard streams, then ends the OS process
    at once (`os._exit`: other threads are not joined, `atexit` handlers do not run)."""
    for handler in logging.getLogger().handlers:
        try:
            handler.flush()
        except Exception:
            pass
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
    os._exit(code)


# Called with `(code, message)` by `exit()`; the test kit replaces it so that an exit ends the
# calling process instead of the test run.
exit_hook: Callable[[int, str], None] = _exit_os_process


def _exit_code(code: object) -> int:
    """`SystemExit.code` as an exit status, with Python's rules (None is 0, text is 1)."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    return 1


def _exit_requested(code: int, message: str) -> None:
    if code == 0:
        log.info("Exiting: %s", message or "exit(0)")
    else:
        log.error("Exiting with status %d: %s", code, message or "exit() called")
    exit_hook(code, message)


def exit(code: int = 1, message: str = "") -> NoReturn:
    """Ends this OS process with status `code`, as Mesos's `EXIT(code)` (the master that
    "commits suicide", a leader that lost its candidacy).

    Callable from any thread, typically a handler. `sys.exit()` in a handler does the same
    (a `SystemExit` on an actor thread would otherwise end only that thread). Logs `message`,
    flushes the logs and standard streams and ends the OS process at once, without running
    `finalize()` hooks or `atexit` handlers. Under the test kit the exit is recorded instead
    (see `libprocess.testing.future_exit`), and the calling process is terminated.
    """
    _exit_requested(code, message)
    raise ProcessExit(code)


# Host names that also mean this OS process besides its own ip (none by default).
_LOCAL_HOSTS: frozenset[str] = frozenset()

_manager: Manager | None = None
_manager_lock = threading.Lock()


def manager() -> Manager:
    """The one `Manager` of this OS process."""
    global _manager
    if _manager is None:
        with _manager_lock:
            if _manager is None:
                _manager = Manager()
    return _manager


def initialize(ip: str | None = None, port: int | None = None, http_port: int | None = None,
               delegate: str | None = None,
               max_message_size: int | None = None, http: bool = True) -> tuple[str, int, int]:
    """Starts the runtime of this OS process: returns `(ip, port, http_port)`.

    `port` is the ZeroMQ transport's port (`LIBPROCESS_PORT`, ephemeral by default) and
    `http_port` the HTTP server's (ephemeral by default). `delegate` names the process that
    answers HTTP paths without a known process prefix. `http=False` starts no HTTP server
    (`http_port` is then 0). Calling it again only updates the delegate and the message size
    limit.
    """
    return manager().initialize(ip, port, http_port, delegate, max_message_size, http)


def finalize() -> None:
    """Stops every process and the runtime's threads."""
    global _manager
    m = _manager
    if m is not None:
        m.finalize()
