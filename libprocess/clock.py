"""`clock`: the one source of "now" and the one timer wheel for everything above the runtime.

Tests `pause()` it, `advance(seconds)` it and `settle()` it; nothing in `mesos/` reads wall time
or sleeps directly. Timers fire on the clock's own thread, which only calls the timer's thunk;
`delay()` uses thunks that `dispatch` onto an actor, so handlers always run on their actor.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import math
import threading
import time
from collections.abc import Callable

__all__ = ["Clock", "Timer", "clock"]

log = logging.getLogger(__name__)


class Timer:
    """A scheduled thunk; `cancel()` stops it if it has not fired yet (returns True then)."""

    __slots__ = ("_clock", "cancelled", "deadline", "fired", "seq", "thunk")

    def __init__(self, clock: Clock, deadline: float, seq: int,
                 thunk: Callable[[], object]) -> None:
        self._clock = clock
        self.deadline = deadline
        self.seq = seq
        self.thunk = thunk
        self.cancelled = False
        self.fired = False

    def cancel(self) -> bool:
        with self._clock._cond:
            if self.fired or self.cancelled:
                return False
            self.cancelled = True
            self._clock._cancelled += 1
            return True

    def __lt__(self, other: Timer) -> bool:
        return (self.deadline, self.seq) < (other.deadline, other.seq)


class Clock:
    """A pausable clock with timers; one instance, `libprocess.clock`.

    While running, `now()` is wall time (plus the time advanced during earlier pauses, so it
    never goes backwards). While paused it moves only by `advance()`. `settle()` returns when
    every expired timer has fired and no process has an event queued or running.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._paused = False
        self._paused_now = 0.0
        self._offset = 0.0
        self._heap: list[Timer] = []
        self._seq = itertools.count()
        self._firing = False
        self._cancelled = 0
        self._thread: threading.Thread | None = None
        # Set by the runtime: blocks until no process has queued or running events.
        self.wait_processes_idle: Callable[[float], bool] = lambda timeout: True

    # Time.

    def now(self) -> float:
        """Seconds since the epoch, as a float (virtual while paused)."""
        if self._paused:
            return self._paused_now
        return time.time() + self._offset

    def paused(self) -> bool:
        return self._paused

    def pause(self) -> None:
        with self._cond:
            if not self._paused:
                self._paused_now = time.time() + self._offset
                self._paused = True
            self._cond.notify_all()

    def resume(self) -> None:
        with self._cond:
            if self._paused:
                self._offset = self._paused_now - time.time()
                self._paused = False
            self._cond.notify_all()

    def advance(self, seconds: float) -> None:
        """Moves a paused clock forward; expired timers fire on the clock thread."""
        if not 0 <= seconds < math.inf:
            # Negative, infinite or NaN: any of them would wreck every later `now()`.
            raise ValueError(f"Cannot advance the clock by {seconds!r} seconds")
        with self._cond:
            if not self._paused:
                raise RuntimeError("Clock.advance() needs a paused clock")
            self._paused_now += seconds
            self._cond.notify_all()

    def update(self, when: float) -> None:
        """Sets a paused clock to `when` if that is later than now."""
        with self._cond:
            if not self._paused:
                raise RuntimeError("Clock.update() needs a paused clock")
            self._paused_now = max(self._paused_now, when)
            self._cond.notify_all()

    # Timers.

    def timer(self, seconds: float, thunk: Callable[[], object]) -> Timer:
        """Runs `thunk()` on the clock thread once `seconds` of clock time have passed."""
        with self._cond:
            t = Timer(self, self.now() + max(0.0, seconds), next(self._seq), thunk)
            heapq.heappush(self._heap, t)
            if self._cancelled > 1024 and self._cancelled > len(self._heap) // 2:
                self._compact()
            self._ensure_thread()
            self._cond.notify_all()
        return t

    def _compact(self) -> None:
        self._heap = [t for t in self._heap if not t.cancelled]
        heapq.heapify(self._heap)
        self._cancelled = 0

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="libprocess-clock",
                                            daemon=True)
            self._thread.start()

    def _expired_locked(self) -> bool:
        while self._heap and self._heap[0].cancelled:
            heapq.heappop(self._heap)
            self._cancelled -= 1
        return bool(self._heap) and self._heap[0].deadline <= self.now()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._expired_locked():
                    if self._heap and not self._paused:
                        self._cond.wait(max(0.0, self._heap[0].deadline - self.now()))
                    else:
                        self._cond.wait()
                due: list[Timer] = []
                now = self.now()
                while self._heap and (self._heap[0].cancelled or self._heap[0].deadline <= now):
                    t = heapq.heappop(self._heap)
                    if t.cancelled:
                        self._cancelled -= 1
                        continue
                    t.fired = True
                    due.append(t)
                self._firing = True
            try:
                for t in due:
                    try:
                        t.thunk()
                    except SystemExit as e:
                        # `sys.exit()` or `libprocess.exit()` in a thunk: end the OS process
                        # as from a handler (the test kit's hook only records it).
                        from libprocess import runtime  # Late import: runtime imports us.

                        if not isinstance(e, runtime.ProcessExit):
                            runtime._exit_requested(runtime._exit_code(e.code),
                                                    f"{e!r} in timer thunk {t.thunk!r}")
                    except BaseException:
                        # Whatever a thunk raises, the clock thread (and every later timer,
                        # and `settle()`) must survive it.
                        log.exception("Timer thunk %r raised", t.thunk)
            finally:
                with self._cond:
                    self._firing = False
                    self._cond.notify_all()

    def pending_timers(self) -> int:
        with self._cond:
            return sum(1 for t in self._heap if not t.cancelled)

    # Settling.

    def settle(self, timeout: float = 30.0) -> None:
        """Blocks until every expired timer has fired and every process is idle.

        Raises `TimeoutError` after `timeout` seconds of real time (a handler that never
        finishes, or a timer loop that keeps expiring).
        """
        deadline = time.monotonic() + timeout
        while True:
            with self._cond:
                ok = self._cond.wait_for(
                    lambda: not self._firing and not self._expired_locked(),
                    max(0.0, deadline - time.monotonic()))
            if not ok:
                raise TimeoutError("Clock.settle(): timers still firing")
            if not self.wait_processes_idle(max(0.0, deadline - time.monotonic())):
                raise TimeoutError("Clock.settle(): processes still busy")
            with self._cond:
                if not self._firing and not self._expired_locked():
                    # Processes were idle after the timers quiesced; re-check the processes
                    # once more so an event queued by the last thunk is not missed.
                    pass
                else:
                    continue
            if self.wait_processes_idle(0.0):
                return


clock = Clock()
