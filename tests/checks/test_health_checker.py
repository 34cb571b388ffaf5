"""Tests of the `health-checker(N)` process: real COMMAND, HTTP and TCP checks on this
machine, timers on a paused libprocess clock.

The checker reports to a `Reports` callback; a test moves the clock past a delay, an interval
or a timeout and reads the report that follows. Checks themselves run off the checker's
thread, so "the check has finished and the next one is scheduled" is awaited with `idle()`.
"""

from __future__ import annotations

import http.server
import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from libprocess import dispatch, spawn, terminate, wait
from libprocess.testing import await_condition, settle
from mesos.checks import HealthChecker, HealthCheckerProcess
from mesos.protos.mesos import mesos_pb2

HealthCheck = mesos_pb2.HealthCheck
TIMEOUT = 10.0


class Checker:
    """A spawned `HealthCheckerProcess` for task `t1` and what it reported."""

    def __init__(self, kit: Any, check: Any, sandbox: Path,
                 environment: dict[str, str] | None = None) -> None:
        self.reports = kit.Reports()
        self.process = HealthCheckerProcess(check, mesos_pb2.TaskID(value="t1"), self.reports,
                                            working_directory=str(sandbox),
                                            environment=environment)
        spawn(self.process)
        # The checker's start (and so its delay) is at the clock time it initializes.
        settle()

    def on_thread(self, fn: Any) -> Any:
        """`fn()` run on the checker's thread."""
        return dispatch(self.process, fn).get(TIMEOUT)

    def performed(self) -> int:
        return int(self.on_thread(lambda: self.process.checks_performed))

    def idle(self) -> None:
        """Waits until no check is in flight and the next one is scheduled."""
        await_condition(lambda: self.on_thread(
            lambda: self.process.started_at is None and self.process.check_timer is not None),
            message="the checker to be idle")

    def next(self) -> tuple[bool, int, bool]:
        status = self.reports.next()
        assert status.task_id.value == "t1"
        return (status.healthy, status.consecutive_failures, status.kill_task)


@pytest.fixture
def checker(kit: Any, tmp_path: Path) -> Any:
    def make(check: Any, environment: dict[str, str] | None = None) -> Checker:
        return Checker(kit, check, tmp_path, environment)
    return make


def pid_file(path: Path) -> int:
    await_condition(lambda: path.exists() and path.read_text().strip(), message=str(path))
    return int(path.read_text())


def running(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


# COMMAND.


def test_first_check_after_delay_then_every_interval(clock: Any, kit: Any, checker: Any,
                                                     tmp_path: Path) -> None:
    """This test ensures that the first check runs `delay_seconds` after the start, the next
    one `interval_seconds` after it ends, and that only the first success is reported."""
    c = checker(kit.health_check(HealthCheck.COMMAND, "echo x >> checks.log", delay_seconds=5,
                                 interval_seconds=10, grace_period_seconds=0))

    # 1. Nothing before the delay.
    clock.advance(4.5)
    settle()
    assert c.performed() == 0

    # 2. The first check at the delay: healthy.
    clock.advance(0.5)
    settle()
    assert c.next() == (True, 0, False)
    c.idle()
    assert c.performed() == 1

    # 3. The next one an interval later, and it reports nothing new.
    clock.advance(9.5)
    settle()
    assert c.performed() == 1
    clock.advance(0.5)
    settle()
    c.idle()
    assert c.performed() == 2
    assert c.reports.pending() == 0
    assert (tmp_path / "checks.log").read_text() == "x\nx\n"


def test_failing_command_counts_and_asks_for_kill(clock: Any, kit: Any, checker: Any) -> None:
    """This test ensures that a command exiting non-zero is a failure, that failures are
    counted, that `kill_task` is asked for at `consecutive_failures`, and that the checker
    goes on checking until it is stopped."""
    c = checker(kit.health_check(HealthCheck.COMMAND, "exit 3", delay_seconds=0,
                                 interval_seconds=1, grace_period_seconds=0,
                                 consecutive_failures=2))

    assert c.next() == (False, 1, False)
    clock.advance(1)
    assert c.next() == (False, 2, True)
    clock.advance(1)
    assert c.next() == (False, 3, True)


def test_grace_period_until_first_success(clock: Any, kit: Any, checker: Any,
                                          tmp_path: Path) -> None:
    """This test ensures that failures in the grace period are not reported before the first
    success, and are reported after it although the grace period has not ended."""
    c = checker(kit.health_check(HealthCheck.COMMAND, "test -f healthy", delay_seconds=0,
                                 interval_seconds=1, grace_period_seconds=10))

    # 1. Two failures in the grace period: ignored.
    c.idle()
    clock.advance(1)
    settle()
    c.idle()
    assert c.performed() == 2
    assert c.reports.pending() == 0

    # 2. A success: healthy.
    (tmp_path / "healthy").touch()
    clock.advance(1)
    assert c.next() == (True, 0, False)
    c.idle()

    # 3. A failure 3 s after the start, well within the grace period: counted.
    (tmp_path / "healthy").unlink()
    clock.advance(1)
    assert c.next() == (False, 1, False)


def test_command_past_its_timeout_is_killed_and_fails(clock: Any, kit: Any, checker: Any,
                                                      tmp_path: Path) -> None:
    """This test ensures that a command still running at `timeout_seconds` (clock time) is
    killed and counts as a failure."""
    c = checker(kit.health_check(
        HealthCheck.COMMAND, "echo $$ > check.pid; exec sleep 30", delay_seconds=0,
        timeout_seconds=2, interval_seconds=10, grace_period_seconds=0,
        consecutive_failures=1))
    pid = pid_file(tmp_path / "check.pid")
    settle()

    # 1. Just before the timeout, nothing.
    clock.advance(1.5)
    settle()
    assert c.reports.pending() == 0
    assert running(pid)

    # 2. At the timeout: a failure, and the command is gone.
    clock.advance(0.5)
    assert c.next() == (False, 1, True)
    assert not running(pid)


def test_zero_timeout_waits_forever_and_stop_kills_the_command(clock: Any, kit: Any,
                                                               checker: Any,
                                                               tmp_path: Path) -> None:
    """This test ensures that `timeout_seconds=0` lets a check run without limit, and that
    terminating the checker kills the command in flight."""
    c = checker(kit.health_check(HealthCheck.COMMAND, "echo $$ > check.pid; exec sleep 30",
                                 delay_seconds=0, timeout_seconds=0, grace_period_seconds=0))
    pid = pid_file(tmp_path / "check.pid")

    clock.advance(1000)
    settle()
    assert c.reports.pending() == 0
    assert running(pid)

    terminate(c.process)
    assert wait(c.process, TIMEOUT)
    assert not running(pid)


def test_command_environment_and_directory(clock: Any, kit: Any, checker: Any,
                                           tmp_path: Path) -> None:
    """This test ensures that a command check runs in the task's sandbox with the executor's
    environment plus the command's own variables."""
    check = kit.health_check(
        HealthCheck.COMMAND,
        'test "$FROM_CHECK" = yes && test "$FROM_EXECUTOR" = yes && test -f marker',
        delay_seconds=0, grace_period_seconds=0)
    check.command.environment.variables.add(name="FROM_CHECK", value="yes")
    (tmp_path / "marker").touch()

    c = checker(check, environment={**os.environ, "FROM_EXECUTOR": "yes"})

    assert c.next() == (True, 0, False)


def test_argv_command(clock: Any, kit: Any, checker: Any) -> None:
    """This test ensures that a command with `shell=false` runs `value` with `arguments` as
    its argv, and that an executable that cannot be started is a failure."""
    check = kit.health_check(HealthCheck.COMMAND, "/bin/sh", delay_seconds=0,
                             interval_seconds=1, grace_period_seconds=0)
    check.command.shell = False
    check.command.arguments.extend(["sh", "-c", "exit 0"])
    assert checker(check).next() == (True, 0, False)

    missing = kit.health_check(HealthCheck.COMMAND, "/nonexistent/health-check",
                               delay_seconds=0, grace_period_seconds=0)
    missing.command.shell = False
    assert checker(missing).next() == (False, 1, False)


def test_pause_and_resume(clock: Any, kit: Any, checker: Any) -> None:
    """This test ensures that a paused checker runs no check however long it waits, and that
    resuming it checks at once."""
    c = checker(kit.health_check(HealthCheck.COMMAND, "true", delay_seconds=0,
                                 interval_seconds=5, grace_period_seconds=0))
    assert c.next() == (True, 0, False)
    c.idle()

    c.on_thread(c.process.pause)
    clock.advance(60)
    settle()
    assert c.performed() == 1

    c.on_thread(c.process.resume)
    settle()
    c.idle()
    assert c.performed() == 2


def test_create_refuses_a_bad_check(kit: Any) -> None:
    """This test ensures that the facade refuses an invalid check with Mesos's message and
    spawns nothing."""
    check = HealthCheck(type=HealthCheck.HTTP)

    with pytest.raises(ValueError, match="Expecting 'http' to be set for HTTP health check"):
        HealthChecker.create(check, mesos_pb2.TaskID(value="t1"), kit.Reports())


# HTTP.


class _Server:
    """An HTTP server on 127.0.0.1 answering `code` (changeable) and redirecting `/moved`
    to `/health`; records the paths requested."""

    def __init__(self) -> None:
        self.code = 200
        self.paths: list[str] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.paths.append(self.path)
                if self.path == "/moved":
                    self.send_response(302)
                    self.send_header("Location", "/health")
                else:
                    self.send_response(server.code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(TIMEOUT)


@pytest.fixture
def server() -> Iterator[_Server]:
    s = _Server()
    yield s
    s.close()


def test_http_check(clock: Any, kit: Any, checker: Any, server: _Server) -> None:
    """This test ensures that an HTTP check GETs `http://127.0.0.1:<port><path>`, is healthy
    on a 200 and fails on a 500."""
    c = checker(kit.health_check(HealthCheck.HTTP, port=server.port, path="/health",
                                 delay_seconds=0, interval_seconds=5,
                                 grace_period_seconds=0))

    # 1. 200: healthy.
    assert c.next() == (True, 0, False)
    assert server.paths == ["/health"]

    # 2. 500: a failure.
    server.code = 500
    clock.advance(5)
    assert c.next() == (False, 1, False)
    assert server.paths == ["/health", "/health"]


def test_http_check_follows_redirects(clock: Any, kit: Any, checker: Any,
                                      server: _Server) -> None:
    """This test ensures that an HTTP check follows redirects (as `curl -L` does) and judges
    the final status: a redirect to a 404 is a failure."""
    server.code = 404
    c = checker(kit.health_check(HealthCheck.HTTP, port=server.port, path="/moved",
                                 delay_seconds=0, grace_period_seconds=0))

    assert c.next() == (False, 1, False)
    assert server.paths == ["/moved", "/health"]


def test_http_check_without_server_fails(clock: Any, kit: Any, checker: Any) -> None:
    """This test ensures that an HTTP check to a port nobody listens on is a failure."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    c = checker(kit.health_check(HealthCheck.HTTP, port=port, delay_seconds=0,
                                 grace_period_seconds=0))

    assert c.next() == (False, 1, False)


# TCP.


def test_tcp_check(clock: Any, kit: Any, checker: Any) -> None:
    """This test ensures that a TCP check is healthy while something listens on the port and
    fails once the port is closed."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    try:
        c = checker(kit.health_check(HealthCheck.TCP, port=port, delay_seconds=0,
                                     interval_seconds=5, grace_period_seconds=0))

        # 1. Listening: healthy.
        assert c.next() == (True, 0, False)
        c.idle()
    finally:
        listener.close()

    # 2. Closed: a failure.
    clock.advance(5)
    assert c.next() == (False, 1, False)
