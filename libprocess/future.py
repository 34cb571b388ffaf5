"""`Future` and `Promise`: the values that cross actors.

A future is completed exactly once (ready, failed or discarded) by the `Promise` that owns it.
Callbacks run synchronously on the thread that completes the future (or at once on the
caller's thread if it is already complete), as in libprocess; a callback that must touch an
actor's state is wrapped with `defer(process, fn)` so it runs on that actor's thread. Only
completions nested more than a few dozen callbacks deep on one thread are queued, and run in
order before the outermost completion returns, so that long chains cannot overflow the stack.
"""

from __future__ import annotations

import collections
import enum
import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any, Generic, TypeVar

__all__ = ["Future", "FutureDiscarded", "FutureFailed", "Promise", "await_all", "collect"]

T = TypeVar("T")
U = TypeVar("U")

log = logging.getLogger(__name__)

# Callbacks nest: completing a future inside a callback runs the next future's callbacks at
# once, on the same stack. Past this depth they are queued instead and run, in order, by the
# outermost callback of this thread before it returns, so a long chain (`then` after `then`,
# thousands deep) completes instead of hitting Python's recursion limit half way (a
# `RecursionError` in a callback is only logged, which would leave the rest of the chain
# pending for ever). Shallow chains keep the synchronous behaviour of libprocess.
_MAX_NESTING = 32
_nesting = threading.local()


def _call(callback: Callable[..., Any], *args: Any) -> None:
    """Runs `callback(*args)` now, or queues it when callbacks are already nested deeply."""
    local = _nesting
    depth: int = getattr(local, "depth", 0)
    if depth == 0 and not hasattr(local, "queue"):
        local.queue = collections.deque()
    if depth >= _MAX_NESTING:
        local.queue.append((callback, args))
        return
    local.depth = depth + 1
    try:
        _invoke(callback, args)
        if depth == 0:
            queue = local.queue
            while queue:
                queued, queued_args = queue.popleft()
                _invoke(queued, queued_args)
    finally:
        local.depth = depth


def _invoke(callback: Callable[..., Any], args: tuple[Any, ...]) -> None:
    try:
        callback(*args)
    except Exception:
        # A broken callback must not break the thread that completed the future.
        log.exception("Future callback %r raised", callback)


class FutureFailed(Exception):
    """Raised by `Future.get()` when the future failed; `.failure` is the message."""

    def __init__(self, failure: str, cause: BaseException | None = None) -> None:
        super().__init__(failure)
        self.failure = failure
        self.cause = cause


class FutureDiscarded(Exception):
    """Raised by `Future.get()` when the future was discarded."""


class _State(enum.Enum):
    PENDING = "pending"
    READY = "ready"
    FAILED = "failed"
    DISCARDED = "discarded"


class Future(Generic[T]):
    """A value that will be ready, failed or discarded.

    Thread-safe. `Future.ready(v)`, `Future.failed(msg)` make completed ones. Waiting with
    `get(timeout)` blocks the calling thread in real time, so an actor never calls it on itself.
    """

    __slots__ = ("_callbacks", "_cond", "_discard_callbacks", "_discard_requested",
                 "_failure", "_state", "_value")

    def __init__(self) -> None:
        self._state = _State.PENDING
        self._value: Any = None
        self._failure: FutureFailed | None = None
        self._cond = threading.Condition(threading.Lock())
        self._callbacks: list[Callable[[Future[T]], Any]] = []
        self._discard_callbacks: list[Callable[[], Any]] = []
        self._discard_requested = False

    # Construction helpers.

    @staticmethod
    def ready(value: U) -> Future[U]:
        promise: Promise[U] = Promise()
        promise.set(value)
        return promise.future

    @staticmethod
    def failed(message: str, cause: BaseException | None = None) -> Future[Any]:
        promise: Promise[Any] = Promise()
        promise.fail(message, cause)
        return promise.future

    # State.

    def is_pending(self) -> bool:
        return self._state is _State.PENDING

    def is_ready(self) -> bool:
        return self._state is _State.READY

    def is_failed(self) -> bool:
        return self._state is _State.FAILED

    def is_discarded(self) -> bool:
        return self._state is _State.DISCARDED

    def has_discard(self) -> bool:
        """True once somebody asked for this future to be discarded."""
        return self._discard_requested

    @property
    def value(self) -> T:
        if self._state is not _State.READY:
            raise RuntimeError(f"Future is {self._state.value}, not ready")
        return self._value

    @property
    def failure(self) -> str:
        if self._failure is None:
            raise RuntimeError(f"Future is {self._state.value}, not failed")
        return self._failure.failure

    def get(self, timeout: float | None = None) -> T:
        """Blocks (real time) until complete; returns the value or raises.

        Raises `TimeoutError` if still pending after `timeout` seconds, `FutureFailed` or
        `FutureDiscarded` otherwise.
        """
        if not self.wait(timeout):
            raise TimeoutError(f"Future still pending after {timeout} s")
        if self._state is _State.READY:
            return self._value
        if self._state is _State.FAILED:
            assert self._failure is not None
            raise self._failure
        raise FutureDiscarded("Future was discarded")

    def wait(self, timeout: float | None = None) -> bool:
        """Blocks until complete or `timeout`; True when complete."""
        with self._cond:
            if self._state is _State.PENDING:
                self._cond.wait_for(lambda: self._state is not _State.PENDING, timeout)
            return self._state is not _State.PENDING

    # Completion (through the promise).

    def _complete(self, state: _State, value: Any = None,
                  failure: FutureFailed | None = None) -> bool:
        with self._cond:
            if self._state is not _State.PENDING:
                return False
            self._state = state
            self._value = value
            self._failure = failure
            callbacks, self._callbacks = self._callbacks, []
            self._discard_callbacks = []
            self._cond.notify_all()
        for callback in callbacks:
            self._run(callback)
        return True

    def _run(self, callback: Callable[[Future[T]], Any]) -> None:
        _call(callback, self)

    # Callbacks.

    def on_any(self, callback: Callable[[Future[T]], Any]) -> Future[T]:
        """Calls `callback(self)` once complete; returns self for chaining."""
        with self._cond:
            if self._state is _State.PENDING:
                self._callbacks.append(callback)
                return self
        # Already complete: the callback runs now, before `on_any` returns, at any depth.
        _invoke(callback, (self,))
        return self

    def on_ready(self, callback: Callable[[T], Any]) -> Future[T]:
        return self.on_any(lambda f: callback(f._value) if f.is_ready() else None)

    def on_failed(self, callback: Callable[[str], Any]) -> Future[T]:
        return self.on_any(lambda f: callback(f.failure) if f.is_failed() else None)

    def on_discarded(self, callback: Callable[[], Any]) -> Future[T]:
        return self.on_any(lambda f: callback() if f.is_discarded() else None)

    def on_discard(self, callback: Callable[[], Any]) -> Future[T]:
        """Calls `callback()` when somebody requests a discard while pending."""
        run = False
        with self._cond:
            if self._discard_requested and self._state is _State.PENDING:
                run = True
            elif self._state is _State.PENDING:
                self._discard_callbacks.append(callback)
        if run:
            _invoke(callback, ())
        return self

    def discard(self) -> None:
        """Requests a discard; the promise's owner decides (see `Promise.discard`)."""
        with self._cond:
            if self._state is not _State.PENDING or self._discard_requested:
                return
            self._discard_requested = True
            callbacks, self._discard_callbacks = self._discard_callbacks, []
        for callback in callbacks:
            _call(callback)

    # Composition.

    def then(self, fn: Callable[[T], Any]) -> Future[Any]:
        """A future of `fn(value)` (flattened if `fn` returns a future); failures pass through."""
        promise: Promise[Any] = Promise()

        def next_step(f: Future[T]) -> None:
            if f.is_ready():
                try:
                    promise.associate(fn(f._value))
                except Exception as e:
                    log.debug("then callback raised", exc_info=True)
                    promise.fail(f"{type(e).__name__}: {e}", e)
            elif f.is_failed():
                assert f._failure is not None
                promise.fail(f._failure.failure, f._failure.cause)
            else:
                promise.discard()

        self.on_any(next_step)
        promise.future.on_discard(self.discard)
        return promise.future

    def recover(self, fn: Callable[[Future[T]], Any]) -> Future[Any]:
        """On failure or discard, the future of `fn(self)`; a ready value passes through."""
        promise: Promise[Any] = Promise()

        def next_step(f: Future[T]) -> None:
            if f.is_ready():
                promise.set(f._value)
                return
            try:
                promise.associate(fn(f))
            except Exception as e:
                promise.fail(f"{type(e).__name__}: {e}", e)

        self.on_any(next_step)
        return promise.future

    def after(self, seconds: float, fn: Callable[[Future[T]], Any]) -> Future[Any]:
        """If still pending after `seconds` of clock time, the result of `fn(self)` instead.

        The timer runs on `libprocess.clock`, so a paused test clock controls it. The
        original future is asked to discard when the timer wins.
        """
        from libprocess.clock import clock  # Late import: clock imports this module.

        promise: Promise[Any] = Promise()

        def expired() -> None:
            if promise.future.is_pending() and self.is_pending():
                self.discard()
                try:
                    promise.associate(fn(self))
                except Exception as e:
                    promise.fail(f"{type(e).__name__}: {e}", e)

        timer = clock.timer(seconds, expired)

        def done(f: Future[T]) -> None:
            timer.cancel()
            promise.associate(f)

        self.on_any(done)
        return promise.future

    def __repr__(self) -> str:
        detail = ""
        if self._state is _State.READY:
            detail = f" {self._value!r}"[:80]
        elif self._state is _State.FAILED:
            detail = f" {self.failure!r}"
        return f"<Future {self._state.value}{detail}>"


class Promise(Generic[T]):
    """The writing end of a `Future`. Completing twice is a no-op that returns False."""

    __slots__ = ("future",)

    def __init__(self) -> None:
        self.future: Future[T] = Future()

    def set(self, value: T) -> bool:
        return self.future._complete(_State.READY, value)

    def fail(self, message: str, cause: BaseException | None = None) -> bool:
        return self.future._complete(_State.FAILED, failure=FutureFailed(message, cause))

    def discard(self) -> bool:
        return self.future._complete(_State.DISCARDED)

    def associate(self, value: Any) -> None:
        """Completes with `value`, or with whatever the future `value` completes with."""
        if not isinstance(value, Future):
            self.set(value)
            return
        source: Future[Any] = value

        def copy(f: Future[Any]) -> None:
            if f.is_ready():
                self.set(f._value)
            elif f.is_failed():
                assert f._failure is not None
                self.fail(f._failure.failure, f._failure.cause)
            else:
                self.discard()

        source.on_any(copy)
        self.future.on_discard(source.discard)


def collect(futures: Iterable[Future[Any]]) -> Future[list[Any]]:
    """Ready with every value (in order) once all are ready; fails at the first failure."""
    items = list(futures)
    promise: Promise[list[Any]] = Promise()
    if not items:
        promise.set([])
        return promise.future
    remaining = [len(items)]
    lock = threading.Lock()

    def one(f: Future[Any]) -> None:
        if f.is_ready():
            with lock:
                remaining[0] -= 1
                done = remaining[0] == 0
            if done:
                promise.set([x._value for x in items])
        elif f.is_failed():
            promise.fail(f.failure)
        else:
            promise.discard()

    for f in items:
        f.on_any(one)
    return promise.future


def await_all(futures: Iterable[Future[Any]]) -> Future[list[Future[Any]]]:
    """Ready with the futures themselves once every one is complete, whatever the outcome."""
    items = list(futures)
    promise: Promise[list[Future[Any]]] = Promise()
    remaining = [len(items)]
    lock = threading.Lock()
    if not items:
        promise.set([])
        return promise.future

    def one(_: Future[Any]) -> None:
        with lock:
            remaining[0] -= 1
            done = remaining[0] == 0
        if done:
            promise.set(items)

    for f in items:
        f.on_any(one)
    return promise.future
