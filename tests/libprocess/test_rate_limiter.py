"""RateLimiter: permits spaced on the runtime clock, discards leave the queue."""

from __future__ import annotations

import pytest

from libprocess.rate_limiter import RateLimiter
from libprocess.testing import settle


def test_first_permit_is_immediate_and_the_next_waits_an_interval(clock):
    """This test ensures that permits come no faster than `permits / duration`: the first
    at once, the next one interval (duration / permits) later, not before."""
    limiter = RateLimiter(2, 10.0)
    first, second, third = limiter.acquire(), limiter.acquire(), limiter.acquire()
    assert first.is_ready()
    assert second.is_pending() and third.is_pending()

    clock.advance(4.9)
    settle()
    assert second.is_pending()

    clock.advance(0.1)
    settle()
    assert second.is_ready() and third.is_pending()

    clock.advance(5.0)
    settle()
    assert third.is_ready()
    assert limiter.waiting() == 0


def test_an_idle_limiter_grants_at_once(clock):
    """This test ensures that after a quiet interval a permit is granted without waiting."""
    limiter = RateLimiter(1, 60.0)
    assert limiter.acquire().is_ready()
    clock.advance(60.0)
    settle()
    assert limiter.acquire().is_ready()


def test_discarded_waiter_leaves_the_queue_without_a_permit(clock):
    """This test ensures that a waiter that discards its future is never granted and does not
    use up a permit: the waiter behind it gets the next one."""
    limiter = RateLimiter(1, 10.0)
    assert limiter.acquire().is_ready()
    cancelled, kept = limiter.acquire(), limiter.acquire()

    cancelled.discard()
    assert cancelled.is_discarded()
    assert limiter.waiting() == 1

    clock.advance(10.0)
    settle()
    assert kept.is_ready()


def test_a_discarded_only_waiter_leaves_the_next_permit_free(clock):
    """This test ensures that when the only waiter gives up, the next acquisition after the
    interval is granted at once (the unused permit is not charged)."""
    limiter = RateLimiter(1, 10.0)
    assert limiter.acquire().is_ready()
    waiter = limiter.acquire()
    waiter.discard()
    clock.advance(10.0)
    settle()
    assert waiter.is_discarded()
    assert limiter.acquire().is_ready()


@pytest.mark.parametrize("permits,duration", [(0, 1.0), (1, 0.0), (-1, 5.0)])
def test_nonsense_rates_are_refused(permits, duration):
    """This test ensures that a rate without positive permits and duration is refused."""
    with pytest.raises(ValueError, match="positive"):
        RateLimiter(permits, duration)
