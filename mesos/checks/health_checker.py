"""Task health checks: the pure decision core and the `health-checker(N)` process.

Port of `src/checks/health_checker.cpp` and the plain-runtime half of
`src/checks/checker_process.cpp` (mesos-behaviour.md §2.13). A built-in executor creates one
checker per task once the task runs; the checker runs the task's `HealthCheck` (COMMAND, HTTP
or TCP) first after `delay_seconds`, then `interval_seconds` after each check ends, and
reports a `TaskHealthStatus` to the executor's callback whenever there is something to say:

- the first success, and the first success after failures, report healthy=true;
- each counted failure reports healthy=false with the number of consecutive failures, and
  asks for a kill (`kill_task`) once that number reaches `consecutive_failures`;
- failures within `grace_period_seconds` of the checker's start (the delay included) are
  ignored until the first success; after a success nothing is ignored any more;
- a check that runs past `timeout_seconds` (0: no timeout) is a failure.

`HealthCheckState` holds those rules with no threads and no clock: callers pass "now".
`HealthCheckerProcess` owns the timers (on the libprocess clock) and the checks themselves,
which run off its thread and come back through `defer`. `HealthChecker` is its facade.
"""

from __future__ import annotations

import dataclasses
import http.client
import logging
import os
import signal
import socket
import ssl
import subprocess
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any

from libprocess import ID, Process, clock, defer, delay, dispatch, spawn, terminate
from libprocess.clock import Timer
from mesos.common.durations import format_duration
from mesos.protos.mesos import mesos_pb2
from mesos.protos.messages import messages_pb2

__all__ = [
    "DEFAULT_DOMAIN",
    "DEFAULT_HTTP_SCHEME",
    "HealthCheckState",
    "HealthChecker",
    "HealthCheckerProcess",
    "Verdict",
    "http_status_healthy",
    "validate_health_check",
]

log = logging.getLogger(__name__)

HealthCheck = mesos_pb2.HealthCheck

DEFAULT_HTTP_SCHEME = "http"

# Mesos checks `127.0.0.1` rather than `localhost`: some container images have no
# `localhost` in their hosts file.
DEFAULT_DOMAIN = "127.0.0.1"
DEFAULT_DOMAIN_IPV6 = "::1"

# How long `finalize` blocks (real time) to reap a check command it has just sent SIGKILL.
_REAP_TIMEOUT = 5.0


def validate_health_check(check: Any) -> str | None:
    """What is wrong with a `HealthCheck`, or None (port of
    `common::validation::validateHealthCheck`)."""
    if not check.HasField("type"):
        return "HealthCheck must specify 'type'"
    if check.type == HealthCheck.COMMAND:
        if not check.HasField("command"):
            return "Expecting 'command' to be set for COMMAND health check"
        if not check.command.HasField("value"):
            kind = "'shell command'" if check.command.shell else "'executable path'"
            return f"Command health check must contain {kind}"
    elif check.type == HealthCheck.HTTP:
        if not check.HasField("http"):
            return "Expecting 'http' to be set for HTTP health check"
        if check.http.HasField("scheme") and check.http.scheme not in ("http", "https"):
            return f"Unsupported HTTP health check scheme: '{check.http.scheme}'"
        if check.http.HasField("path") and not check.http.path.startswith("/"):
            return f"The path '{check.http.path}' of HTTP health check must start with '/'"
    elif check.type == HealthCheck.TCP:
        if not check.HasField("tcp"):
            return "Expecting 'tcp' to be set for TCP health check"
    else:
        name = HealthCheck.Type.Name(check.type) if check.type in HealthCheck.Type.values() \
            else str(check.type)
        return f"'{name}' is not a valid health check type"
    for field in ("delay_seconds", "grace_period_seconds", "interval_seconds",
                  "timeout_seconds"):
        if check.HasField(field) and getattr(check, field) < 0.0:
            return f"Expecting '{field}' to be non-negative"
    return None


def http_status_healthy(code: int) -> bool:
    """The built-in executors' rule for an HTTP check: any status in [200, 400) is healthy.

    `HTTPCheckInfo.statuses` is left to custom executors, as in Mesos.
    """
    return 200 <= code < 400


# The pure core.


@dataclasses.dataclass(frozen=True)
class Verdict:
    """What `HealthCheckState` decided about one check result.

    `status` is the `TaskHealthStatus` to report, or None when there is nothing to say (a
    success that changes nothing, or a failure ignored in the grace period); `ignored` says
    the latter; `next_check_in` is when (seconds from now) the next check starts.
    """

    status: Any
    ignored: bool
    next_check_in: float


class HealthCheckState:
    """The rules of a task health check, with "now" passed in (no threads, no clock).

    Port of the bookkeeping of `HealthChecker` (`startTime`, `consecutiveFailures`,
    `initializing`). Owned by whoever drives it; the `HealthCheckerProcess` uses it on its
    own thread only.
    """

    def __init__(self, check: Any, task_id: Any, start_time: float) -> None:
        self.task_id = mesos_pb2.TaskID()
        self.task_id.CopyFrom(task_id)
        self.delay = float(check.delay_seconds)
        self.interval = float(check.interval_seconds)
        self.grace_period = float(check.grace_period_seconds)
        # Zero means no timeout at all.
        self.timeout: float | None = (float(check.timeout_seconds)
                                      if check.timeout_seconds > 0 else None)
        self.max_consecutive_failures = int(check.consecutive_failures)
        self.start_time = start_time
        self.consecutive_failures = 0
        # True until the first success: failures in the grace period are ignored meanwhile.
        self.initializing = True

    @property
    def first_check_in(self) -> float:
        """Seconds from the start to the first check."""
        return self.delay

    def deadline(self, started_at: float) -> float | None:
        """When a check started at `started_at` has run too long (None: never)."""
        return None if self.timeout is None else started_at + self.timeout

    def timed_out(self, started_at: float, now: float) -> bool:
        deadline = self.deadline(started_at)
        return deadline is not None and now >= deadline

    def in_grace_period(self, now: float) -> bool:
        """Whether a failure at `now` is ignored (only before the first success)."""
        return (self.initializing and self.grace_period > 0
                and now - self.start_time <= self.grace_period)

    def result(self, healthy: bool, started_at: float, now: float) -> Verdict:
        """A check started at `started_at` ended at `now`, healthy or not; one that ran
        past its timeout is a failure whatever it said."""
        if healthy and not self.timed_out(started_at, now):
            return self.success()
        return self.failure(now)

    def success(self) -> Verdict:
        """Port of `HealthChecker::success`: healthy=true on the first success and on the
        first one after failures, nothing otherwise."""
        status = None
        if self.initializing or self.consecutive_failures > 0:
            status = messages_pb2.TaskHealthStatus(healthy=True)
            status.task_id.CopyFrom(self.task_id)
            self.initializing = False
        self.consecutive_failures = 0
        return Verdict(status, False, self.interval)

    def failure(self, now: float) -> Verdict:
        """Port of `HealthChecker::failure`: ignored in the grace period before the first
        success; otherwise counted, reported unhealthy, and a kill asked for once there
        have been `consecutive_failures` in a row."""
        if self.in_grace_period(now):
            return Verdict(None, True, self.interval)
        self.consecutive_failures += 1
        status = messages_pb2.TaskHealthStatus(
            healthy=False, consecutive_failures=self.consecutive_failures,
            kill_task=self.consecutive_failures >= self.max_consecutive_failures)
        status.task_id.CopyFrom(self.task_id)
        return Verdict(status, False, self.interval)


# The checker process.


def _wait_for_exit(pid: int, exited: Callable[[], Any]) -> None:
    """Waits (on its own thread) until the child `pid` has exited, without reaping it, so
    that its pid (and process group) cannot be reused while the checker may still kill it."""
    try:
        os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
    except ChildProcessError:
        pass
    except OSError as e:
        log.warning("Failed to wait for health check command %d: %s", pid, e)
    exited()


def _exit_message(returncode: int) -> str:
    if returncode >= 0:
        return f"exited with status {returncode}"
    try:
        name = signal.strsignal(-returncode) or f"Unknown signal {-returncode}"
    except ValueError:
        name = f"Unknown signal {-returncode}"
    return f"terminated with signal {name}"


def _http_get(url: str, timeout: float | None) -> int:
    """GETs `url` as Mesos's `curl -s -S -L -k` does (redirects followed, certificates not
    verified, no proxy) and returns the final status code; raises `OSError` on failure."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}),
                                         urllib.request.HTTPSHandler(context=context))
    try:
        with opener.open(url, timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as e:
        e.close()
        return int(e.code)
    except (urllib.error.URLError, http.client.HTTPException, ValueError) as e:
        raise OSError(str(getattr(e, "reason", e))) from e


def _tcp_connect(host: str, port: int, timeout: float | None) -> None:
    """Connects to `host:port` and closes (Mesos's `mesos-tcp-connect`); raises `OSError`."""
    with socket.create_connection((host, port), timeout=timeout):
        pass


class HealthCheckerProcess(Process):
    """The health checker of one task (`health-checker(N)`).

    Owns a `HealthCheckState`, the check timer and the timeout timer (both `delay`s on the
    libprocess clock) and the check in flight. Everything runs on this process's thread; a
    check runs elsewhere (a child process for COMMAND, a worker thread for HTTP and TCP) and
    its result comes back through `defer`. `callback(TaskHealthStatus)` is called on this
    thread: the executor passes `defer(executor, executor.task_health_updated)`.
    """

    def __init__(self, check: Any, task_id: Any, callback: Callable[[Any], Any], *,
                 working_directory: str | None = None,
                 environment: Mapping[str, str] | None = None) -> None:
        super().__init__(ID.generate("health-checker"))
        self.check = mesos_pb2.HealthCheck()
        self.check.CopyFrom(check)
        self.task_id = mesos_pb2.TaskID()
        self.task_id.CopyFrom(task_id)
        self.callback = callback
        self.working_directory = working_directory
        self.environment = dict(os.environ if environment is None else environment)
        self.name = f"{HealthCheck.Type.Name(check.type)} health check"

        self.state: HealthCheckState | None = None
        self.paused = False
        self.check_timer: Timer | None = None
        self.timeout_timer: Timer | None = None
        # Each check gets a number; a result for any other number is stale and dropped.
        self.generation = 0
        self.started_at: float | None = None
        self.command: subprocess.Popen[bytes] | None = None
        # How many checks have been started (for tests and logs).
        self.checks_performed = 0

    def initialize(self) -> None:
        self.state = HealthCheckState(self.check, self.task_id, clock.now())
        log.info("Starting %s for task '%s' in %s", self.name, self.task_id.value,
                 format_duration(self.state.first_check_in))
        self._schedule_next(self.state.first_check_in)

    def finalize(self) -> None:
        self._cancel_timers()
        self._abort_command()
        log.info("Stopped %s for task '%s'", self.name, self.task_id.value)

    # Pausing (what Mesos's executors do when they start killing the task).

    def pause(self) -> None:
        """Stops checking: the pending check is cancelled and one in flight is forgotten."""
        if self.paused:
            return
        log.info("Paused %s for task '%s'", self.name, self.task_id.value)
        self.paused = True
        self._cancel_timers()
        self._abort_command()
        self.generation += 1
        self.started_at = None

    def resume(self) -> None:
        """Starts checking again at once."""
        if not self.paused:
            return
        log.info("Resumed %s for task '%s'", self.name, self.task_id.value)
        self.paused = False
        self._schedule_next(0.0)

    # One check.

    def _schedule_next(self, seconds: float) -> None:
        log.debug("Scheduling %s for task '%s' in %s", self.name, self.task_id.value,
                  format_duration(seconds))
        self.check_timer = delay(seconds, self, self.perform_check)

    def perform_check(self) -> None:
        """Port of `CheckerProcess::performCheck`: starts the check and its timeout."""
        self.check_timer = None
        if self.paused or self.started_at is not None:
            return
        assert self.state is not None
        self.generation += 1
        generation = self.generation
        self.started_at = clock.now()
        self.checks_performed += 1
        done = defer(self, self._check_done, generation)

        if self.check.type == HealthCheck.COMMAND:
            self._command_check(generation)
        elif self.check.type == HealthCheck.HTTP:
            self._in_thread(self._http_check(), done)
        elif self.check.type == HealthCheck.TCP:
            self._in_thread(self._tcp_check(), done)
        else:
            # `validate_health_check` refuses these; a checker built without it fails.
            self._check_done(generation, False, "unknown health check type")
            return

        if self.started_at is not None and self.state.timeout is not None:
            self.timeout_timer = delay(self.state.timeout, self, self._check_timed_out,
                                       generation)

    def _check_done(self, generation: int, healthy: bool, message: str) -> None:
        """A check's result (on this thread); stale results are dropped."""
        if generation != self.generation or self.started_at is None:
            log.debug("Ignoring a stale result of %s for task '%s'", self.name,
                      self.task_id.value)
            return
        if self.timeout_timer is not None:
            self.timeout_timer.cancel()
            self.timeout_timer = None
        started_at, self.started_at = self.started_at, None
        self._process_result(started_at, healthy, message)

    def _check_timed_out(self, generation: int) -> None:
        self.timeout_timer = None
        if generation != self.generation or self.started_at is None:
            return
        assert self.state is not None and self.state.timeout is not None
        self._abort_command()
        started_at, self.started_at = self.started_at, None
        what = "Command" if self.check.type == HealthCheck.COMMAND else self.name
        self._process_result(started_at, False,
                             f"{what} timed out after {format_duration(self.state.timeout)}")

    def _process_result(self, started_at: float, healthy: bool, message: str) -> None:
        """Port of `HealthChecker::processCheckResult`: the core decides, the next check is
        scheduled `interval_seconds` from now, and the callback hears the verdict."""
        assert self.state is not None
        if self.paused:
            log.info("Ignoring %s result for task '%s': checking is paused", self.name,
                     self.task_id.value)
            return
        now = clock.now()
        if healthy and self.state.timed_out(started_at, now):
            healthy = False
            message = f"returned after its timeout of {format_duration(self.state.timeout or 0)}"
        verdict = self.state.result(healthy, started_at, now)
        if healthy:
            log.debug("%s for task '%s' passed", self.name, self.task_id.value)
        elif verdict.ignored:
            log.info("Ignoring failure of %s for task '%s': still in grace period (%s)",
                     self.name, self.task_id.value, message)
        else:
            log.warning("%s for task '%s' failed %d times consecutively: %s", self.name,
                        self.task_id.value, self.state.consecutive_failures, message)
        # The next check is scheduled before anyone hears of this one, so that whoever
        # reacts to the report finds the checker's timer already set.
        self._schedule_next(verdict.next_check_in)
        if verdict.status is not None:
            try:
                self.callback(verdict.status)
            except Exception:
                log.exception("The health callback of task '%s' raised", self.task_id.value)

    # The check types.

    def _command_check(self, generation: int) -> None:
        """Port of `CheckerProcess::commandCheck` (plain runtime): the command in the task's
        sandbox with the executor's environment plus the command's, its output to stderr,
        in its own process group so that a timeout kills all of it."""
        command = self.check.command
        env = dict(self.environment)
        for variable in command.environment.variables:
            if variable.type == mesos_pb2.Environment.Variable.SECRET:
                log.warning("Ignoring secret environment variable '%s' of %s for task '%s'",
                            variable.name, self.name, self.task_id.value)
                continue
            env[variable.name] = variable.value
        if command.shell:
            argv = ["/bin/sh", "-c", command.value]
            executable = None
        else:
            argv = list(command.arguments) or [command.value]
            executable = command.value
        log.debug("Launching %s %s for task '%s'", self.name, argv, self.task_id.value)
        try:
            popen = subprocess.Popen(argv, executable=executable, cwd=self.working_directory,
                                     env=env, stdin=subprocess.DEVNULL, stdout=2, stderr=2,
                                     close_fds=True, start_new_session=True)
        except (OSError, ValueError, subprocess.SubprocessError) as e:
            self._check_done(generation, False, f"Failed to create subprocess: {e}")
            return
        self.command = popen
        waiter = threading.Thread(
            target=_wait_for_exit,
            args=(popen.pid, defer(self, self._command_exited, generation, popen)),
            name=f"health-check-waiter({popen.pid})", daemon=True)
        waiter.start()

    def _command_exited(self, generation: int, popen: subprocess.Popen[bytes]) -> None:
        """The check command has exited: reap it here, then judge its status."""
        returncode = popen.wait()
        if self.command is popen:
            self.command = None
        if returncode == 0:
            self._check_done(generation, True, "")
        else:
            self._check_done(generation, False, f"Command {_exit_message(returncode)}")

    def _abort_command(self) -> None:
        """Kills the check command in flight (its whole group) and reaps it."""
        popen, self.command = self.command, None
        if popen is None or popen.returncode is not None:
            return
        log.debug("Killing the %s process %d for task '%s'", self.name, popen.pid,
                  self.task_id.value)
        try:
            os.killpg(popen.pid, signal.SIGKILL)
        except OSError:
            try:
                popen.kill()
            except OSError:
                pass
        try:
            popen.wait(_REAP_TIMEOUT)
        except subprocess.TimeoutExpired:
            log.warning("The %s process %d survived SIGKILL", self.name, popen.pid)

    def _in_thread(self, check: Callable[[], tuple[bool, str]],
                   done: Callable[..., Any]) -> None:
        """Runs `check()` on a worker thread and hands `(healthy, message)` to `done`."""
        def run() -> None:
            try:
                healthy, message = check()
            except Exception as e:
                healthy, message = False, f"{type(e).__name__}: {e}"
            done(healthy, message)

        threading.Thread(target=run, name=f"health-check({self.task_id.value})",
                         daemon=True).start()

    def _socket_timeout(self) -> float | None:
        # The clock owns the timeout; this only keeps the worker thread from hanging
        # forever on a peer that never answers.
        assert self.state is not None
        return None if self.state.timeout is None else self.state.timeout + 1.0

    def _http_check(self) -> Callable[[], tuple[bool, str]]:
        """Port of `CheckerProcess::httpCheck`: GET `scheme://127.0.0.1:port/path`,
        healthy for a final status in [200, 400). Returns the check, for a worker thread."""
        info = self.check.http
        scheme = info.scheme if info.HasField("scheme") else DEFAULT_HTTP_SCHEME
        host = (f"[{DEFAULT_DOMAIN_IPV6}]" if info.protocol == mesos_pb2.NetworkInfo.IPv6
                else DEFAULT_DOMAIN)
        url = f"{scheme}://{host}:{info.port}{info.path}"
        timeout = self._socket_timeout()

        def check() -> tuple[bool, str]:
            try:
                code = _http_get(url, timeout)
            except OSError as e:
                return False, f"GET {url} failed: {e}"
            if http_status_healthy(code):
                return True, ""
            return False, f"Unexpected HTTP response code: {code}"

        return check

    def _tcp_check(self) -> Callable[[], tuple[bool, str]]:
        """Port of `CheckerProcess::tcpCheck`: a TCP connection to `127.0.0.1:port`.
        Returns the check, for a worker thread."""
        host = (DEFAULT_DOMAIN_IPV6 if self.check.tcp.protocol == mesos_pb2.NetworkInfo.IPv6
                else DEFAULT_DOMAIN)
        port = self.check.tcp.port
        timeout = self._socket_timeout()

        def check() -> tuple[bool, str]:
            try:
                _tcp_connect(host, port, timeout)
            except OSError as e:
                return False, f"TCP connection to {host}:{port} failed: {e}"
            return True, ""

        return check

    def _cancel_timers(self) -> None:
        for timer in (self.check_timer, self.timeout_timer):
            if timer is not None:
                timer.cancel()
        self.check_timer = None
        self.timeout_timer = None


class HealthChecker:
    """Facade of a `HealthCheckerProcess` (port of `checks::HealthChecker`).

    `create` validates the check and spawns the process; `pause`, `resume` and `stop` are
    dispatches, safe from any thread. The checker's reports reach `callback` on the
    checker's thread.
    """

    def __init__(self, process: HealthCheckerProcess) -> None:
        self.process = process
        spawn(process)

    @staticmethod
    def create(check: Any, task_id: Any, callback: Callable[[Any], Any], *,
               working_directory: str | None = None,
               environment: Mapping[str, str] | None = None) -> HealthChecker:
        """A running checker; raises `ValueError` with Mesos's message for a bad check."""
        error = validate_health_check(check)
        if error is not None:
            raise ValueError(error)
        return HealthChecker(HealthCheckerProcess(
            check, task_id, callback, working_directory=working_directory,
            environment=environment))

    def pause(self) -> None:
        dispatch(self.process, self.process.pause)

    def resume(self) -> None:
        dispatch(self.process, self.process.resume)

    def stop(self) -> None:
        """Terminates the checker; a check command in flight is killed."""
        log.info("Health checking of task '%s' stopped", self.process.task_id.value)
        terminate(self.process)
