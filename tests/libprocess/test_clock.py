"""The pausable clock and its timers."""

from __future__ import annotations

import threading
from typing import Any

import pytest

import libprocess
from libprocess import Process, delay, spawn
from libprocess import clock as global_clock


class Ticker(Process):
    """Counts ticks scheduled with `delay`, and reads the clock inside a handler."""

    def __init__(self) -> None:
        super().__init__()
        self.ticks: list[float] = []

    def tick(self) -> None:
        self.ticks.append(libprocess.clock.now())


def test_paused_clock_only_moves_when_advanced(clock: Any) -> None:
    """This test ensures that a paused clock stands still in real time and moves by
    `advance`."""
    start = clock.now()
    threading.Event().wait(0.01)  # Real time passes; the paused clock must not notice.
    assert clock.now() == start
    clock.advance(5.5)
    assert clock.now() == start + 5.5


def test_delay_fires_after_advance_and_settle(clock: Any) -> None:
    """This test ensures that `delay` runs on the process after exactly its delay of clock
    time, and `settle` waits until it has run."""
    ticker = Ticker()
    spawn(ticker)
    start = clock.now()
    delay(30.0, ticker, ticker.tick)
    clock.advance(29.9)
    clock.settle()
    assert ticker.ticks == []
    clock.advance(0.1)
    clock.settle()
    assert ticker.ticks == [start + 30.0]


def test_cancelled_timer_never_fires(clock: Any) -> None:
    """This test ensures that a cancelled timer does not run."""
    ticker = Ticker()
    spawn(ticker)
    timer = delay(1.0, ticker, ticker.tick)
    assert timer.cancel()
    clock.advance(2.0)
    clock.settle()
    assert ticker.ticks == []
    assert not timer.cancel()


def test_timers_fire_in_deadline_order(clock: Any) -> None:
    """This test ensures that timers expiring in one advance fire in deadline order."""
    order: list[int] = []
    for seconds in (3.0, 1.0, 2.0):
        global_clock.timer(seconds, lambda s=seconds: order.append(int(s)))
    clock.advance(5.0)
    clock.settle()
    assert order == [1, 2, 3]


def test_real_clock_timers_fire() -> None:
    """This test ensures that, unpaused, timers fire in real time."""
    fired = libprocess.Promise[bool]()
    global_clock.timer(0.01, lambda: fired.set(True))
    assert fired.future.get(5)


def test_advance_needs_a_paused_clock() -> None:
    """This test ensures that advancing a running clock is refused loudly."""
    with pytest.raises(RuntimeError):
        global_clock.advance(1.0)


def test_resume_keeps_time_monotonic(clock: Any) -> None:
    """This test ensures that resuming after advancing never moves time backwards."""
    clock.advance(100.0)
    advanced = clock.now()
    clock.resume()
    assert global_clock.now() >= advanced


def test_timers_created_by_thunks_fire_in_the_same_settle(clock: Any) -> None:
    """This test ensures that a chain of zero-delay timers, each created by the previous
    one's thunk, has fully fired when one `settle` returns, while a timer a thunk creates
    for later waits for the next `advance`."""
    fired: list[str] = []

    def link(n: int) -> None:
        fired.append(f"now {n}")
        if n < 5:
            global_clock.timer(0.0, lambda: link(n + 1))
        else:
            global_clock.timer(1.0, lambda: fired.append("later"))

    global_clock.timer(1.0, lambda: link(1))
    clock.advance(1.0)
    clock.settle()
    assert fired == [f"now {n}" for n in range(1, 6)]
    clock.advance(1.0)
    clock.settle()
    assert fired[-1] == "later"


def test_settle_waits_for_a_running_thunk_and_what_it_dispatches(clock: Any) -> None:
    """This test ensures that `settle` does not return while a timer thunk is still running,
    nor before the event that thunk dispatched has been handled."""
    ticker = Ticker()
    spawn(ticker)
    gate = threading.Event()

    def slow_thunk() -> None:
        gate.wait(5)
        libprocess.dispatch(ticker, ticker.tick)

    global_clock.timer(1.0, slow_thunk)
    clock.advance(1.0)
    settled = threading.Event()

    def settle() -> None:
        clock.settle()
        settled.set()

    waiter = threading.Thread(target=settle)
    waiter.start()
    assert not settled.is_set()
    gate.set()
    waiter.join(10)
    assert settled.is_set()
    assert len(ticker.ticks) == 1


def test_a_raising_thunk_does_not_stop_the_clock(clock: Any) -> None:
    """This test ensures that a thunk raising (even a `BaseException`) is logged and the
    clock thread keeps firing later timers."""
    fired: list[int] = []

    def broken() -> None:
        raise KeyboardInterrupt

    global_clock.timer(1.0, broken)
    global_clock.timer(2.0, lambda: fired.append(2))
    clock.advance(1.0)
    clock.settle()
    clock.advance(1.0)
    clock.settle()
    assert fired == [2]


def test_delay_to_a_finished_process_is_discarded(clock: Any) -> None:
    """This test ensures that a `delay` whose process finished before it fired is dropped
    without leaving anything in flight (`settle` still returns)."""
    ticker = Ticker()
    spawn(ticker)
    delay(1.0, ticker, ticker.tick)
    libprocess.terminate(ticker)
    assert libprocess.wait(ticker, 5)
    clock.advance(1.0)
    clock.settle(5)
    assert ticker.ticks == []


@pytest.mark.parametrize("seconds", [-1.0, float("nan"), float("inf")])
def test_advance_refuses_nonsense(clock: Any, seconds: float) -> None:
    """This test ensures that advancing by a negative, NaN or infinite duration is refused
    and leaves the clock where it was."""
    start = clock.now()
    with pytest.raises(ValueError):
        clock.advance(seconds)
    assert clock.now() == start
