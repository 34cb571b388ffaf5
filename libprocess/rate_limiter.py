"""`RateLimiter`: hands out permits no faster than a given rate of clock time.

The port of libprocess's `RateLimiter`: `acquire()` returns a future that becomes ready when
a permit is granted. Permits are spaced `duration / permits` seconds apart on the runtime
clock, so a paused clock in tests decides when they come; a waiter that discards its future
leaves the queue and never consumes a permit (the master uses that to cancel an agent's
removal when a pong arrives while the removal waits for its permit).
"""

from __future__ import annotations

import threading
from collections import deque

from libprocess.clock import Timer, clock
from libprocess.future import Future, Promise

__all__ = ["RateLimiter"]


class RateLimiter:
    """Grants at most `permits` permits per `duration` seconds, first come first served.

    Thread-safe: any thread may call `acquire()` or discard a future it returned; grants
    happen on the caller's thread (when a permit is free at once) or on the clock's thread
    (a timer per wait), which only completes futures, so callbacks that matter should be
    `defer`red onto their actor by the caller.
    """

    def __init__(self, permits: float, duration: float) -> None:
        if not permits > 0 or not duration > 0:
            raise ValueError(f"A rate limit needs positive permits and duration, got"
                             f" {permits!r} per {duration!r} seconds")
        self.permits = permits
        self.duration = duration
        self.interval = duration / permits
        self._lock = threading.Lock()
        self._waiting: deque[Promise[None]] = deque()
        self._last_grant: float | None = None
        self._timer: Timer | None = None

    def __repr__(self) -> str:
        return f"RateLimiter({self.permits:g} per {self.duration:g} s)"

    def waiting(self) -> int:
        """How many acquisitions wait for a permit."""
        with self._lock:
            return sum(1 for p in self._waiting if p.future.is_pending())

    def acquire(self) -> Future[None]:
        """A future ready once a permit is granted; discard it to give up the wait."""
        promise: Promise[None] = Promise()
        with self._lock:
            now = clock.now()
            if not self._waiting and self._free_at(now):
                self._last_grant = now
                grant_now = True
            else:
                self._waiting.append(promise)
                self._schedule(now)
                grant_now = False
        if grant_now:
            promise.set(None)
        else:
            promise.future.on_discard(lambda: self._discarded(promise))
        return promise.future

    def _free_at(self, now: float) -> bool:
        return self._last_grant is None or now - self._last_grant >= self.interval

    def _schedule(self, now: float) -> None:
        """Arms the timer for the next grant (caller holds the lock)."""
        if self._timer is not None or not self._waiting:
            return
        assert self._last_grant is not None
        wait = max(0.0, self._last_grant + self.interval - now)
        self._timer = clock.timer(wait, self._grant)

    def _grant(self) -> None:
        granted: Promise[None] | None = None
        previous: float | None = None
        with self._lock:
            self._timer = None
            now = clock.now()
            # Waiters that gave up leave without taking a permit.
            while self._waiting and not self._waiting[0].future.is_pending():
                self._waiting.popleft()
            if self._waiting and self._free_at(now):
                granted = self._waiting.popleft()
                previous, self._last_grant = self._last_grant, now
            self._schedule(now)
        if granted is not None and not granted.set(None):
            # Discarded between the check and the grant: the permit was not used, so the
            # next waiter may have it at once.
            with self._lock:
                if self._last_grant == now:
                    self._last_grant = previous
                if self._timer is not None:
                    self._timer.cancel()
                    self._timer = None
                self._schedule(clock.now())

    def _discarded(self, promise: Promise[None]) -> None:
        with self._lock:
            try:
                self._waiting.remove(promise)
            except ValueError:
                return
        promise.discard()
