"""The test kit, as a pytest plugin (`-p libprocess.testing`, or `pytest_plugins`).

Like Mesos's `FUTURE_PROTOBUF` / `DROP_PROTOBUF` / `EXPECT_NO_FUTURE_PROTOBUFS`: register an
expectation *before* the action, then act, then wait on the returned future. Expectations see
events at the runtime's one dequeue point, on the receiving process's thread.

After every test the plugin drops all expectations (failing the test if an
`expect_no_message` was violated), terminates the processes the test spawned, and resumes the
clock.

Under the plugin, `libprocess.exit()` (or `sys.exit()` in a handler) does not end the test
run: the exit is recorded, the process that exited is terminated, and the test fails unless it
expected the exit with `future_exit()`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from google.protobuf import symbol_database
from google.protobuf.message import Message

from libprocess import runtime as _runtime
from libprocess.clock import Clock
from libprocess.clock import clock as _clock
from libprocess.events import DispatchEvent, Event, ExitedEvent, MessageEvent
from libprocess.future import Future, Promise
from libprocess.process import Process
from libprocess.runtime import manager
from libprocess.upid import UPID

__all__ = ["await_condition", "drop_dispatch", "drop_message", "drop_messages",
           "expect_no_message", "future_dispatch", "future_exit", "future_exited",
           "future_message", "inject_exited", "reset", "settle"]

Spec = UPID | str | Process | None
MessageName = type[Message] | str


def _name(message: MessageName) -> str:
    return message if isinstance(message, str) else message.DESCRIPTOR.full_name


def _matches_upid(spec: Spec, upid: UPID) -> bool:
    if spec is None:
        return True
    if isinstance(spec, Process):
        return spec.upid == upid
    if isinstance(spec, UPID):
        return spec == upid
    if "@" in spec:
        return str(upid) == spec
    return upid.id == spec


def _parse(name: str, body: bytes, cls: type[Message] | None) -> Any:
    if cls is None:
        try:
            cls = symbol_database.Default().GetSymbol(name)
        except KeyError:
            return body
    assert cls is not None
    message = cls()
    message.ParseFromString(body)
    return message


class _Expectation:
    """One registered expectation; `check(process, event)` says whether to drop it."""

    def __init__(self, match: Callable[[Process, Event], bool], *, drop: bool, once: bool,
                 result: Callable[[Process, Event], Any], forbidden: str | None = None):
        self.match = match
        self.drop = drop
        self.once = once
        self.result = result
        self.forbidden = forbidden
        self.promise: Promise[Any] = Promise()
        self.done = False

    def check(self, process: Process, event: Event) -> tuple[bool, bool]:
        """Whether the event matched, and whether to drop it."""
        if not self.match(process, event):
            return (False, False)
        if self.forbidden is not None:
            with _lock:
                _violations.append(f"{self.forbidden}: saw {event!r} at {process.id}")
            return (True, False)
        if self.once:
            # Events of several processes pass here on their own threads: claim atomically.
            with _lock:
                if self.done:
                    return (False, False)
                self.done = True
        try:
            self.promise.set(self.result(process, event))
        except Exception as e:
            self.promise.fail(f"Could not parse the intercepted event: {e}")
        return (True, self.drop)


_lock = threading.Lock()
_expectations: list[_Expectation] = []
_violations: list[str] = []


def _filter(process: Process, event: Event) -> bool:
    """The dequeue-point filter: an event satisfies at most one one-shot expectation (the
    oldest pending that matches), so two `future_message`s registered for the same message
    get the first and the second such message, in order; standing expectations
    (`drop_messages`, `expect_no_message`) see every event."""
    with _lock:
        current = [e for e in _expectations if not e.done]
    drop = False
    claimed = False
    for expectation in current:
        if expectation.once and claimed:
            continue
        matched, dropped = expectation.check(process, event)
        if matched and expectation.once:
            claimed = True
        drop = drop or dropped
    if current and any(e.done for e in current):
        with _lock:
            _expectations[:] = [e for e in _expectations if not e.done]
    return drop


def _install() -> None:
    filters = manager().filters
    if _filter not in filters:
        filters.append(_filter)


def _add(expectation: _Expectation) -> _Expectation:
    _install()
    with _lock:
        _expectations.append(expectation)
    return expectation


def _message_matcher(message: MessageName, from_: Spec, to: Spec) -> Callable[..., bool]:
    name = _name(message)

    def match(process: Process, event: Event) -> bool:
        return (type(event) is MessageEvent and event.name == name
                and _matches_upid(from_, event.sender)
                and _matches_upid(to, process.upid))

    return match


def _message_result(message: MessageName) -> Callable[[Process, Event], Any]:
    cls = None if isinstance(message, str) else message
    return lambda process, event: _parse(event.name, event.body, cls)  # type: ignore


def future_message(message: MessageName, from_: Spec = None, to: Spec = None) -> Future[Any]:
    """A future of the next matching message (parsed), which is still delivered."""
    return _add(_Expectation(_message_matcher(message, from_, to), drop=False, once=True,
                             result=_message_result(message))).promise.future


def drop_message(message: MessageName, from_: Spec = None, to: Spec = None) -> Future[Any]:
    """Drops the next matching message; the future gives it (parsed)."""
    return _add(_Expectation(_message_matcher(message, from_, to), drop=True, once=True,
                             result=_message_result(message))).promise.future


def drop_messages(message: MessageName, from_: Spec = None, to: Spec = None) -> None:
    """Drops every matching message until the end of the test."""
    _add(_Expectation(_message_matcher(message, from_, to), drop=True, once=False,
                      result=lambda p, e: None))


def expect_no_message(message: MessageName, from_: Spec = None, to: Spec = None) -> None:
    """Fails the test (at its end, or at `check_expectations()`) if a match is seen."""
    _add(_Expectation(_message_matcher(message, from_, to), drop=False, once=False,
                      result=lambda p, e: None,
                      forbidden=f"expect_no_message({_name(message)}, {from_}, {to})"))


def _dispatch_matcher(target: Spec, method: str | Callable[..., Any]) -> Callable[..., bool]:
    wanted = method if isinstance(method, str) else method.__name__

    def match(process: Process, event: Event) -> bool:
        return (type(event) is DispatchEvent and event.method == wanted
                and _matches_upid(target, process.upid))

    return match


def future_dispatch(target: Spec, method: str | Callable[..., Any]) -> Future[Any]:
    """A future (of the call's args) of the next dispatch of `method` onto `target`."""
    return _add(_Expectation(_dispatch_matcher(target, method), drop=False, once=True,
                             result=lambda p, e: e.args)).promise.future  # type: ignore


def drop_dispatch(target: Spec, method: str | Callable[..., Any]) -> Future[Any]:
    """Drops the next dispatch of `method` onto `target`."""
    return _add(_Expectation(_dispatch_matcher(target, method), drop=True, once=True,
                             result=lambda p, e: e.args)).promise.future  # type: ignore


def future_exited(to: Spec, upid: Spec = None) -> Future[UPID]:
    """A future of the next `exited` event delivered to `to` (about `upid`)."""

    def match(process: Process, event: Event) -> bool:
        return (type(event) is ExitedEvent and _matches_upid(to, process.upid)
                and _matches_upid(upid, event.upid))

    return _add(_Expectation(match, drop=False, once=True,
                             result=lambda p, e: e.upid)).promise.future  # type: ignore


def inject_exited(from_: UPID | Process, to: UPID | Process | str) -> None:
    """Delivers `exited(from_)` to `to`, as if the link to `from_` broke."""
    upid = from_.upid if isinstance(from_, Process) else from_
    process = to if isinstance(to, Process) else manager().lookup(to)
    if process is None:
        raise LookupError(f"No local process {to}")
    manager().enqueue(process, ExitedEvent(upid))


_exit_promises: list[Promise[int]] = []


def future_exit() -> Future[int]:
    """A future of the status of the next `libprocess.exit()` (or `sys.exit()` in a handler).

    Under the plugin an exit ends the process that called it (it is terminated) but not the
    OS process; an exit that no `future_exit()` expected fails the test.
    """
    promise: Promise[int] = Promise()
    with _lock:
        _exit_promises.append(promise)
    return promise.future


def _exit_hook(code: int, message: str) -> None:
    with _lock:
        promise = _exit_promises.pop(0) if _exit_promises else None
        if promise is None:
            _violations.append(f"unexpected libprocess.exit({code}): {message}")
    if promise is not None:
        promise.set(code)


def settle(timeout: float = 30.0) -> None:
    """Waits until every expired timer has fired and every process is idle."""
    _clock.settle(timeout)


def check_expectations() -> None:
    """Raises `AssertionError` listing every violated `expect_no_message`."""
    with _lock:
        violations, _violations[:] = list(_violations), []
    if violations:
        raise AssertionError("; ".join(violations))


def reset() -> None:
    """Drops every expectation and resumes the clock."""
    with _lock:
        _expectations.clear()
        _exit_promises.clear()
    _clock.resume()


def await_condition(condition: Callable[[], Any], timeout: float = 10.0,
                    interval: float = 0.02, message: str = "condition") -> Any:
    """Polls `condition()` (real time) until truthy, for waiting on real OS processes.

    Returns the truthy value; raises `TimeoutError` naming `message` after `timeout` s.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"Timed out after {timeout} s waiting for {message}")
        time.sleep(interval)


# pytest plugin.


def pytest_configure(config: pytest.Config) -> None:
    """An exit in a test (a master committing suicide) must not end the test run."""
    _runtime.exit_hook = _exit_hook


@pytest.fixture
def clock() -> Iterator[Clock]:
    """The libprocess clock, paused for the test and resumed after it."""
    _clock.pause()
    yield _clock
    _clock.resume()


@pytest.fixture(autouse=True)
def _libprocess_reset() -> Iterator[None]:
    m = manager()
    before = {p.id for p in m.processes()}
    yield
    try:
        check_expectations()
    finally:
        reset()
        spawned = [p for p in m.processes() if p.id not in before]
        for process in spawned:
            m.terminate(process, True)
        for process in spawned:
            if process._terminated is not None:
                process._terminated.wait(5.0)
