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
