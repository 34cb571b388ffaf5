"""Futures and promises."""

from __future__ import annotations

from typing import Any

import pytest

from libprocess import (
    Future,
    FutureDiscarded,
    FutureFailed,
    Promise,
    await_all,
    collect,
)


def test_ready_value_and_callbacks() -> None:
    """This test ensures that callbacks registered before and after completion both run."""
    promise: Promise[int] = Promise()
    seen: list[Any] = []
    promise.future.on_ready(seen.append)
    assert promise.set(3)
    promise.future.on_ready(seen.append)
    assert seen == [3, 3]
    assert promise.future.get(0) == 3
    assert not promise.set(4), "a future completes once"
    assert promise.future.value == 3


def test_failure_and_discard() -> None:
    """This test ensures that failed and discarded futures raise from `get`."""
    failed: Future[int] = Future.failed("boom")
    with pytest.raises(FutureFailed, match="boom"):
        failed.get(0)
    promise: Promise[int] = Promise()
    requested: list[bool] = []
    promise.future.on_discard(lambda: requested.append(True))
    promise.future.discard()
    assert requested == [True] and promise.future.is_pending()
    promise.discard()
    with pytest.raises(FutureDiscarded):
        promise.future.get(0)


def test_get_times_out_while_pending() -> None:
    """This test ensures that `get(timeout)` on a pending future raises `TimeoutError`."""
    with pytest.raises(TimeoutError):
        Promise[int]().future.get(0.01)


def test_then_chains_and_flattens() -> None:
    """This test ensures that `then` maps values, flattens futures and passes failures on."""
    inner: Promise[int] = Promise()
    source: Promise[int] = Promise()
    chained = source.future.then(lambda v: v + 1).then(lambda v: inner.future.then(
        lambda w: v * w))
    source.set(1)
    assert chained.is_pending()
    inner.set(10)
    assert chained.get(0) == 20
    broken = Future.ready(1).then(lambda v: 1 / 0)
    assert broken.is_failed() and "ZeroDivisionError" in broken.failure
    assert Future.failed("x").then(lambda v: v).failure == "x"


def test_recover() -> None:
    """This test ensures that `recover` replaces a failure and keeps a value."""
    assert Future.failed("x").recover(lambda f: 5).get(0) == 5
    assert Future.ready(1).recover(lambda f: 5).get(0) == 1


def test_collect_and_await_all() -> None:
    """This test ensures that `collect` gives values in order and fails at the first failure,
    and `await_all` waits for every outcome."""
    a: Promise[int] = Promise()
    b: Promise[int] = Promise()
    both = collect([a.future, b.future])
    b.set(2)
    assert both.is_pending()
    a.set(1)
    assert both.get(0) == [1, 2]
    c: Promise[int] = Promise()
    assert collect([c.future, Future.failed("bad")]).failure == "bad"
    everything = await_all([Future.ready(1), Future.failed("bad")])
    assert [f.is_ready() for f in everything.get(0)] == [True, False]
    assert collect([]).get(0) == []


def test_after_uses_the_clock(clock: Any) -> None:
    """This test ensures that `after` fires on the paused libprocess clock, not real time."""
    promise: Promise[str] = Promise()
    timed = promise.future.after(10.0, lambda f: "timed out")
    clock.advance(9.0)
    clock.settle()
    assert timed.is_pending()
    clock.advance(1.0)
    clock.settle()
    assert timed.get(1) == "timed out"
    assert promise.future.has_discard()


def test_after_cancels_when_completed(clock: Any) -> None:
    """This test ensures that a future completed in time keeps its own value."""
    promise: Promise[str] = Promise()
    timed = promise.future.after(10.0, lambda f: "timed out")
    promise.set("value")
    clock.advance(20.0)
    clock.settle()
    assert timed.get(0) == "value"


def test_a_long_chain_completes() -> None:
    """This test ensures that a chain of thousands of `then`s completes when its head does
    (nested callbacks used to hit the recursion limit, which left the tail pending), and that
    a discard of the tail reaches the head."""
    head: Promise[int] = Promise()
    tail = head.future
    for _ in range(3000):
        tail = tail.then(lambda v: v + 1)
    head.set(0)
    assert tail.get(0) == 3000
    other: Promise[int] = Promise()
    end = other.future
    for _ in range(3000):
        end = end.then(lambda v: v)
    end.discard()
    assert other.future.has_discard()


def test_shallow_callbacks_stay_synchronous() -> None:
    """This test ensures that completing a promise runs a short chain's callbacks before
    `set` returns, as libprocess does."""
    head: Promise[int] = Promise()
    tail = head.future.then(lambda v: v + 1).then(lambda v: v * 2)
    head.set(1)
    assert tail.is_ready() and tail.value == 4
