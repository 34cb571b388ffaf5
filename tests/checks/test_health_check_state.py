"""Tests of `HealthCheckState`, the pure rules of a task health check (mesos-behaviour.md
§2.13): no threads, no clock, "now" passed in. Times are seconds since the checker started.
"""

from __future__ import annotations

from typing import Any

import pytest

from mesos.checks import HealthCheckState, http_status_healthy, validate_health_check
from mesos.protos.mesos import mesos_pb2

HealthCheck = mesos_pb2.HealthCheck


def command_check(**fields: Any) -> Any:
    check = HealthCheck(type=HealthCheck.COMMAND, **fields)
    check.command.value = "true"
    return check


def state(**fields: Any) -> HealthCheckState:
    task_id = mesos_pb2.TaskID(value="t1")
    return HealthCheckState(command_check(**fields), task_id, start_time=0.0)


def health(verdict: Any) -> tuple[bool, int, bool] | None:
    """A verdict's report as `(healthy, consecutive_failures, kill_task)`, None if none."""
    if verdict.status is None:
        return None
    status = verdict.status
    assert status.task_id.value == "t1"
    return (status.healthy, status.consecutive_failures, status.kill_task)


def test_defaults_are_mesos_defaults() -> None:
    """This test ensures that an unconfigured check uses Mesos's defaults: first check after
    15 s, every 10 s, a 20 s timeout, a 10 s grace period and a kill after 3 failures."""
    s = state()

    assert s.first_check_in == 15.0
    assert s.interval == 10.0
    assert s.timeout == 20.0
    assert s.grace_period == 10.0
    assert s.max_consecutive_failures == 3


def test_failures_in_grace_period_are_ignored_until_the_first_success() -> None:
    """This test ensures that failures within the grace period are ignored (no report,
    nothing counted) only until the first success: a failure after it is counted even
    though the grace period has not ended."""
    s = state(delay_seconds=0, grace_period_seconds=10, interval_seconds=2)

    # 1. Failures in the grace period: ignored.
    for now in (0.0, 2.0, 4.0):
        verdict = s.failure(now)
        assert verdict.ignored and verdict.status is None
    assert s.consecutive_failures == 0

    # 2. The first success reports healthy.
    assert health(s.success()) == (True, 0, False)

    # 3. A failure still inside the grace period now counts.
    verdict = s.failure(7.0)
    assert not verdict.ignored
    assert health(verdict) == (False, 1, False)


def test_grace_period_ends() -> None:
    """This test ensures that a failure at the very end of the grace period is still
    ignored, and one just after it is counted, without any success before."""
    s = state(delay_seconds=0, grace_period_seconds=10)

    assert s.failure(10.0).ignored
    assert health(s.failure(10.5)) == (False, 1, False)


def test_grace_period_includes_the_delay() -> None:
    """This test ensures that the grace period runs from the checker's start, delay
    included: with a delay longer than the grace period, the first failure counts."""
    s = state(delay_seconds=15, grace_period_seconds=10)

    first = s.first_check_in
    assert first == 15.0
    assert health(s.failure(first)) == (False, 1, False)


def test_zero_grace_period_ignores_nothing() -> None:
    """This test ensures that without a grace period the first failure counts."""
    s = state(delay_seconds=0, grace_period_seconds=0)

    assert health(s.failure(0.0)) == (False, 1, False)


def test_consecutive_failures_ask_for_a_kill() -> None:
    """This test ensures that each counted failure reports healthy=false with the count, that
    `kill_task` is set once the count reaches `consecutive_failures` (and stays set), and
    that a success in between resets the count."""
    s = state(grace_period_seconds=0, consecutive_failures=3)

    assert health(s.failure(1.0)) == (False, 1, False)
    assert health(s.failure(2.0)) == (False, 2, False)
    # A success after failures reports healthy and starts counting again.
    assert health(s.success()) == (True, 0, False)
    assert health(s.failure(3.0)) == (False, 1, False)
    assert health(s.failure(4.0)) == (False, 2, False)
    assert health(s.failure(5.0)) == (False, 3, True)
    # The checker keeps reporting until the executor stops it.
    assert health(s.failure(6.0)) == (False, 4, True)


def test_one_failure_allowed() -> None:
    """This test ensures that `consecutive_failures=1` asks for a kill on the first failure."""
    s = state(grace_period_seconds=0, consecutive_failures=1)

    assert health(s.failure(0.0)) == (False, 1, True)


def test_only_first_success_and_recovery_are_reported() -> None:
    """This test ensures that the first success reports healthy=true, later successes report
    nothing, and the first success after a failure reports healthy=true again."""
    s = state(grace_period_seconds=0)

    assert health(s.success()) == (True, 0, False)
    assert s.success().status is None
    assert s.success().status is None
    assert health(s.failure(1.0)) == (False, 1, False)
    assert health(s.success()) == (True, 0, False)
    assert s.success().status is None


def test_next_check_is_an_interval_after_each_result() -> None:
    """This test ensures that the first check comes `delay_seconds` after the start and each
    next one `interval_seconds` after the previous check's result, whatever it was."""
    s = state(delay_seconds=5, interval_seconds=7, grace_period_seconds=100)

    assert s.first_check_in == 5.0
    assert s.failure(5.0).next_check_in == 7.0  # Ignored.
    assert s.success().next_check_in == 7.0
    assert s.success().next_check_in == 7.0  # Not reported.
    assert s.failure(20.0).next_check_in == 7.0  # Counted.


def test_a_check_past_its_timeout_is_a_failure() -> None:
    """This test ensures that a check whose result comes at or after its timeout counts as
    a failure, even if it said healthy, and that one just before counts as a success."""
    s = state(grace_period_seconds=0, timeout_seconds=2)

    assert s.deadline(10.0) == 12.0
    assert not s.timed_out(10.0, 11.5)
    assert s.timed_out(10.0, 12.0)

    assert health(s.result(True, started_at=10.0, now=11.5)) == (True, 0, False)
    assert health(s.result(True, started_at=20.0, now=22.0)) == (False, 1, False)
    assert health(s.result(False, started_at=30.0, now=30.5)) == (False, 2, False)


def test_zero_timeout_means_none() -> None:
    """This test ensures that `timeout_seconds=0` means a check never times out."""
    s = state(grace_period_seconds=0, timeout_seconds=0)

    assert s.timeout is None
    assert s.deadline(0.0) is None
    assert health(s.result(True, started_at=0.0, now=1e6)) == (True, 0, False)


def test_http_status_rule() -> None:
    """This test ensures that the built-in executors' HTTP rule is [200, 400)."""
    assert [code for code in (100, 199, 200, 204, 302, 399, 400, 404, 500, 503)
            if http_status_healthy(code)] == [200, 204, 302, 399]


@pytest.mark.parametrize(("build", "error"), [
    (lambda c: None, "HealthCheck must specify 'type'"),
    (lambda c: setattr(c, "type", HealthCheck.COMMAND),
     "Expecting 'command' to be set for COMMAND health check"),
    (lambda c: (setattr(c, "type", HealthCheck.COMMAND), c.command.SetInParent()),
     "Command health check must contain 'shell command'"),
    (lambda c: (setattr(c, "type", HealthCheck.COMMAND),
                setattr(c.command, "shell", False)),
     "Command health check must contain 'executable path'"),
    (lambda c: setattr(c, "type", HealthCheck.HTTP),
     "Expecting 'http' to be set for HTTP health check"),
    (lambda c: (setattr(c, "type", HealthCheck.HTTP), setattr(c.http, "port", 80),
                setattr(c.http, "scheme", "ftp")),
     "Unsupported HTTP health check scheme: 'ftp'"),
    (lambda c: (setattr(c, "type", HealthCheck.HTTP), setattr(c.http, "port", 80),
                setattr(c.http, "path", "health")),
     "The path 'health' of HTTP health check must start with '/'"),
    (lambda c: setattr(c, "type", HealthCheck.TCP),
     "Expecting 'tcp' to be set for TCP health check"),
    (lambda c: setattr(c, "type", HealthCheck.UNKNOWN),
     "'UNKNOWN' is not a valid health check type"),
    (lambda c: (setattr(c, "type", HealthCheck.TCP), setattr(c.tcp, "port", 80),
                setattr(c, "interval_seconds", -1.0)),
     "Expecting 'interval_seconds' to be non-negative"),
])
def test_validation(build: Any, error: str) -> None:
    """This test ensures that a malformed `HealthCheck` is refused with Mesos's message."""
    check = HealthCheck()
    build(check)

    assert validate_health_check(check) == error


def test_valid_checks() -> None:
    """This test ensures that well-formed checks of each type pass validation."""
    http = HealthCheck(type=HealthCheck.HTTP)
    http.http.port = 8080
    http.http.path = "/health"
    http.http.scheme = "https"
    tcp = HealthCheck(type=HealthCheck.TCP)
    tcp.tcp.port = 8080

    assert [validate_health_check(c) for c in (command_check(), http, tcp)] == [None] * 3
