"""`Process`: the actor base class, and the verbs that cross actors (`spawn`, `dispatch`, ...).

A `Process` is hosted by a pykka `ThreadingActor`; every event it handles (message, dispatch,
exited, HTTP request) runs on that actor's thread, one at a time, after passing the runtime's
dequeue point. Only that thread touches the process's state.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from google.protobuf.message import Message

from libprocess import runtime as _runtime
from libprocess.clock import Timer, clock
from libprocess.future import Future
from libprocess.upid import ID, UPID

if TYPE_CHECKING:
    from libprocess.http import Request, Response

__all__ = ["Process", "defer", "delay", "dispatch", "spawn", "terminate", "wait"]

log = logging.getLogger(__name__)

Handler = Callable[..., Any]
RouteHandler = Callable[["Request"], "Response | Future[Response]"]


class Process:
    """Subclass me. Override `initialize()`, `finalize()` and `exited(upid)`.

    In `__init__` or `initialize()`, `install(MessageClass, handler, *fields)` the messages
    the process handles (the install block is the protocol table) and `route(path, handler)`
    its HTTP endpoints. `self.upid` is its address once spawned.

    An exception in a handler is logged and counted; the process goes on. To end the whole
    OS process, as Mesos's `EXIT` (a master committing suicide), call
    `libprocess.exit(status, message)`; `sys.exit()` in a handler does the same.
    """

    def __init__(self, id: str | None = None) -> None:
        self._id = id or ID.generate(type(self).__name__.lower())
        self.upid: UPID = UPID()
        # Message name -> (class or None for raw bytes, handler, chosen field names).
        self._handlers: dict[str, tuple[type[Message] | None, Handler, tuple[str, ...]]] = {}
        self._routes: dict[str, tuple[RouteHandler, str]] = {}
        self._actor: Any = None
        self._thread: Any = None
        self._terminating = False
        self._dropping = False
        self._terminated: Any = None
        # Set (under the runtime's in-flight lock) when the process has finished: no event
        # is queued for it any more.
        self._closed = False
        # The `initialize` event, which even `terminate(inject=True)` does not drop.
        self._init_event: Any = None
        # Events queued or running, by kind; guarded by the runtime's in-flight lock.
        self._queued: dict[str, int] = {"message": 0, "dispatch": 0, "http": 0, "exited": 0,
                                        "terminate": 0}

    # Hooks.

    def initialize(self) -> None:
        """Runs on the process's thread first, before any other event."""

    def finalize(self) -> None:
        """Runs on the process's thread last, when it is terminated."""

    def exited(self, upid: UPID) -> None:
        """A linked process died or its connection broke."""

    # Verbs.

    @property
    def pid(self) -> UPID:
        return self.upid

    @property
    def id(self) -> str:
        return self._id

    def install(self, message: type[Message] | str, handler: Handler, *fields: str) -> None:
        """Handles `message` with `handler(from_upid, message)`.

        With `fields`, the handler gets those fields' values instead of the message:
        `install(PingSlaveMessage, self.ping, "connected")` calls `self.ping(from, connected)`.
        A string name installs a raw handler `handler(from_upid, body_bytes)`.
        """
        if isinstance(message, str):
            if fields:
                raise ValueError("A raw (string-named) handler cannot take fields")
            self._handlers[message] = (None, handler, ())
            return
        descriptor = message.DESCRIPTOR
        for f in fields:
            if f not in descriptor.fields_by_name:
                raise ValueError(f"{descriptor.full_name} has no field {f!r}")
        self._handlers[descriptor.full_name] = (message, handler, tuple(fields))

    def route(self, path: str, handler: RouteHandler, help: str = "") -> None:
        """Serves `/<id><path>` with `handler(request)` on this process's thread.

        The handler returns a `Response` or a `Future` of one, so it can answer later without
        blocking the HTTP server or its own thread.
        """
        if not path.startswith("/"):
            raise ValueError(f"Route {path!r} must start with '/'")
        self._routes[path] = (handler, help)

    def send(self, to: UPID | str, message: Message | str, body: bytes = b"") -> None:
        """Sends a protobuf message (or a raw `name` with `body`) to `to`. Fire and forget."""
        if isinstance(message, Message):
            name = message.DESCRIPTOR.full_name
            body = message.SerializeToString()
        else:
            name = message
        target = to if isinstance(to, UPID) else UPID(to)
        _runtime.manager().send(self.upid, target, name, body)

    def link(self, upid: UPID | str, reconnect: bool = False) -> None:
        """Promises one `exited(upid)` when `upid` dies or its connection breaks.

        `reconnect=True` drops any existing connection to that address first (an executor
        reconnecting to a restarted agent at the same address).
        """
        target = upid if isinstance(upid, UPID) else UPID(upid)
        _runtime.manager().link(self, target, reconnect)

    def unlink(self, upid: UPID | str) -> None:
        target = upid if isinstance(upid, UPID) else UPID(upid)
        _runtime.manager().unlink(self, target)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.upid or self._id}>"


def _resolve(target: Process | UPID | str) -> Process:
    if isinstance(target, Process):
        return target
    process = _runtime.manager().lookup(target)
    if process is None:
        raise LookupError(f"No local process {target}")
    return process


def spawn(process: Process) -> UPID:
    """Starts `process` on its own actor thread; `initialize()` is its first event."""
    return _runtime.manager().spawn(process)


def terminate(target: Process | UPID | str, inject: bool = True) -> None:
    """Asks a process to finish. With `inject`, events already queued are dropped."""
    process = _runtime.manager().lookup(target) if not isinstance(target, Process) else target
    if process is not None:
        _runtime.manager().terminate(process, inject)


def wait(target: Process | UPID | str, timeout: float | None = None) -> bool:
    """Blocks (real time) until the process has finished; True if it has."""
    if isinstance(target, Process):
        event = target._terminated
        return True if event is None else bool(event.wait(timeout))
    return _runtime.manager().wait(target, timeout)


def dispatch(target: Process | UPID | str, fn: Callable[..., Any] | str, *args: Any,
             **kwargs: Any) -> Future[Any]:
    """Runs `fn(*args, **kwargs)` on the target's thread; a future of its result.

    `fn` may be a method name of the target. A result that is itself a future is flattened.
    """
    process = _resolve(target)
    function = getattr(process, fn) if isinstance(fn, str) else fn
    return _runtime.manager().dispatch(process, function, args, kwargs)


def defer(target: Process | UPID | str, fn: Callable[..., Any] | str,
          *args: Any) -> Callable[..., Future[Any]]:
    """A callable that, whenever called (from any thread), dispatches `fn` onto the target.

    Call arguments are appended to the bound `args`: `future.on_any(defer(self, self._done))`
    runs `self._done(future)` on this process's thread.
    """
    process = _resolve(target)
    function = getattr(process, fn) if isinstance(fn, str) else fn

    def deferred(*more: Any, **kwargs: Any) -> Future[Any]:
        return _runtime.manager().dispatch(process, function, args + more, kwargs)

    deferred.__name__ = getattr(function, "__name__", "deferred")
    return deferred


def delay(seconds: float, target: Process | UPID | str, fn: Callable[..., Any] | str,
          *args: Any) -> Timer:
    """Dispatches `fn(*args)` onto the target after `seconds` of clock time; cancellable."""
    deferred = defer(target, fn, *args)
    return clock.timer(seconds, deferred)
