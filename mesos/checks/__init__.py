"""Task health checks (port of `src/checks/`), run by the built-in executors.

`mesos.checks.health_checker`: `HealthCheckState`, the pure rules (delay, interval, timeout,
grace period, consecutive failures), and `HealthCheckerProcess` (`health-checker(N)`) with
its facade `HealthChecker`, which run a task's `HealthCheck` (COMMAND, HTTP or TCP) and report
`TaskHealthStatus` to the executor (mesos-behaviour.md §2.13).
"""

from mesos.checks.health_checker import (
    HealthChecker,
    HealthCheckerProcess,
    HealthCheckState,
    Verdict,
    http_status_healthy,
    validate_health_check,
)

__all__ = [
    "HealthCheckState",
    "HealthChecker",
    "HealthCheckerProcess",
    "Verdict",
    "http_status_healthy",
    "validate_health_check",
]
