"""The events a process handles. Each passes the runtime's one dequeue point (`filters`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from libprocess.upid import UPID

if TYPE_CHECKING:
    from libprocess.future import Promise
    from libprocess.http import Request

__all__ = ["DispatchEvent", "Event", "ExitedEvent", "HttpEvent", "MessageEvent",
           "TerminateEvent"]


class Event:
    __slots__ = ()
    kind = "event"


class MessageEvent(Event):
    """A message: `sender`, `to`, `name` (protobuf full name) and the serialized `body`."""

    __slots__ = ("body", "name", "sender", "to")
    kind = "message"

    def __init__(self, sender: UPID, to: UPID, name: str, body: bytes) -> None:
        self.sender = sender
        self.to = to
        self.name = name
        self.body = body

    def __repr__(self) -> str:
        return f"MessageEvent({self.name} {self.sender} -> {self.to}, {len(self.body)} bytes)"


class DispatchEvent(Event):
    """A function to run on the target's thread; its result completes `promise`."""

    __slots__ = ("args", "fn", "kwargs", "method", "promise")
    kind = "dispatch"

    def __init__(self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any],
                 promise: Promise[Any] | None) -> None:
        self.fn = fn
        self.args = args
        self.kwargs = kwargs
        self.promise = promise
        self.method = getattr(fn, "__name__", repr(fn))

    def __repr__(self) -> str:
        return f"DispatchEvent({self.method})"


class ExitedEvent(Event):
    """A linked process (`upid`) is gone or its connection broke."""

    __slots__ = ("upid",)
    kind = "exited"

    def __init__(self, upid: UPID) -> None:
        self.upid = upid

    def __repr__(self) -> str:
        return f"ExitedEvent({self.upid})"


class HttpEvent(Event):
    """An HTTP request for one of the process's routes."""

    __slots__ = ("promise", "request", "route")
    kind = "http"

    def __init__(self, route: str, request: Request, promise: Promise[Any]) -> None:
        self.route = route
        self.request = request
        self.promise = promise

    def __repr__(self) -> str:
        return f"HttpEvent({self.request.method} {self.request.path})"


class TerminateEvent(Event):
    """Asks the process to finish: `finalize()` runs, then it is gone."""

    __slots__ = ("inject",)
    kind = "terminate"

    def __init__(self, inject: bool) -> None:
        self.inject = inject
