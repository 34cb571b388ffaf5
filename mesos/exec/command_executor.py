"""The command executor (`mesos-executor`): runs one task's `CommandInfo` as a child process.

Port, in spirit, of `src/launcher/executor.cpp` (`CommandExecutor`) on the v0 executor driver.
An agent starts it for a task that has a `CommandInfo` and no `ExecutorInfo`. It registers,
and when the task arrives it sends TASK_STARTING, starts the command in its own session and
process group (in the sandbox, stdout and stderr inherited so they land in the sandbox
files), sends TASK_RUNNING, and when the command ends sends TASK_FINISHED (exit 0) or
TASK_FAILED ("Command exited with status N", "Command terminated with signal ..."). A kill
sends SIGTERM to the task's process group and SIGKILL after the kill policy's grace period,
then TASK_KILLED. Once its terminal update is acknowledged (or a bound has passed) it stops
its driver and exits 0.

A task with a `health_check` gets a `health-checker(N)` (`mesos.checks`) once it runs: each
of its reports becomes a TASK_RUNNING update with `healthy`, and one asking for a kill kills
the task, which then ends TASK_KILLED with healthy=false (mesos-behaviour.md §2.13).

`python -m mesos.exec.command_executor` works as well as the console script.
"""

from __future__ import annotations

import enum
import logging
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from google.protobuf import json_format

from libprocess import ID, Future, Process, clock, defer, delay, dispatch, spawn, terminate, wait
from libprocess.clock import Timer
from mesos.checks.health_checker import HealthChecker
from mesos.common.durations import format_duration, parse_duration
from mesos.common.flags import JSON, PATH, Flag, Flags, load_or_exit
from mesos.exec.driver import DEFAULT_EXECUTOR_SHUTDOWN_GRACE_PERIOD, MesosExecutorDriver
from mesos.interface import Executor
from mesos.protos.mesos import mesos_pb2

__all__ = [
    "DEFAULT_KILL_GRACE_PERIOD",
    "SHUTDOWN_ACKNOWLEDGEMENT_TIMEOUT",
    "TERMINAL_ACKNOWLEDGEMENT_TIMEOUT",
    "CommandExecutor",
    "CommandExecutorFlags",
    "CommandExecutorProcess",
    "main",
    "wait_status_message",
]

# Named, not `__name__`: run with `python -m`, this module is `__main__`.
log = logging.getLogger("mesos.exec.command_executor")

# Without a kill policy, a killed task gets this long between SIGTERM and SIGKILL (Mesos keeps
# 3 seconds for backwards compatibility).
DEFAULT_KILL_GRACE_PERIOD = 3.0

# A shutdown leaves this much of the agent's grace period to send TASK_KILLED before the
# agent destroys the container.
SHUTDOWN_KILL_BUFFER = 1.0

# How long the executor waits for the agent to acknowledge its terminal update before it
# exits anyway.
TERMINAL_ACKNOWLEDGEMENT_TIMEOUT = 5.0

# After a shutdown the agent is tearing the executor down (and ignores updates of a framework
# it is shutting down): the executor gives its terminal update this long, as Mesos's command
# executor does, rather than waiting out the agent's grace period to be killed.
SHUTDOWN_ACKNOWLEDGEMENT_TIMEOUT = 1.0

# How long `cleanup` waits (real time, blocking) for a command it has just sent SIGKILL.
CLEANUP_REAP_TIMEOUT = 5.0

_MULTIPLE_TASKS = 'Attempted to run multiple tasks using a "command" executor'


class Phase(enum.Enum):
    """Where the command executor's one task is."""

    # No task yet.
    IDLE = "IDLE"
    # The command is running.
    LAUNCHED = "LAUNCHED"
    # SIGTERM sent; SIGKILL follows when the grace period ends.
    KILLING = "KILLING"
    # The command ended (or never started); the terminal update is out.
    TERMINATED = "TERMINATED"


def wait_status_message(returncode: int) -> str:
    """How Mesos words a wait status (`WSTRINGIFY`): `exited with status 3`, `terminated with
    signal Killed`. `returncode` is a `Popen.returncode` (negative: killed by that signal)."""
    if returncode >= 0:
        return f"exited with status {returncode}"
    number = -returncode
    try:
        name = signal.strsignal(number) or f"Unknown signal {number}"
    except ValueError:
        name = f"Unknown signal {number}"
    return f"terminated with signal {name}"


def _say(text: str, err: bool = False) -> None:
    """A line for the sandbox's stdout (or stderr), where Mesos's command executor writes."""
    print(text, file=sys.stderr if err else sys.stdout, flush=True)


def _wait_for_exit(pid: int, exited: Callable[[], Any]) -> None:
    """Waits (on its own thread) until the child `pid` has exited, without reaping it.

    The child stays a zombie until `CommandExecutorProcess.reaped` reaps it on the process's
    thread, so its pid, which is also its process group's id, cannot be reused by another
    process while the executor might still signal it.
    """
    try:
        os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
    except ChildProcessError:
        pass
    except OSError as e:
        log.warning("Failed to wait for pid %d: %s", pid, e)
    exited()


class CommandExecutorProcess(Process):
    """The command executor's actor (`command-executor(N)`): owns the task and its child.

    Every event runs on this process's thread: the driver's callbacks (handed over by
    `CommandExecutor` with `dispatch`), the waiter thread's news of the child's exit (through
    `defer`), and the kill escalation and max completion timers (`delay`). Status updates go
    out through the driver (`sendStatusUpdate`, safe from any thread).
    """

    def __init__(self, shutdown_grace_period: float = DEFAULT_EXECUTOR_SHUTDOWN_GRACE_PERIOD,
                 task_command: Any = None, working_directory: str | None = None,
                 environment: Mapping[str, str] | None = None) -> None:
        super().__init__(ID.generate("command-executor"))
        self.shutdown_grace_period = shutdown_grace_period
        # A `CommandInfo` that replaces the task's (the `--task_command` flag).
        self.task_command = task_command
        self.working_directory = working_directory
        self.environment = dict(os.environ if environment is None else environment)

        self.driver: Any = None
        self.executor_id = mesos_pb2.ExecutorID()
        if "MESOS_EXECUTOR_ID" in self.environment:
            self.executor_id.value = self.environment["MESOS_EXECUTOR_ID"]
        self.framework_info: Any = None

        self.phase = Phase.IDLE
        self.task: Any = None
        self.kill_policy: Any = None
        self.popen: subprocess.Popen[bytes] | None = None
        self.returncode: int | None = None

        # Why the task is being killed, which decides its terminal state and flags.
        self.killed = False
        self.killed_by_health_check = False
        self.killed_by_max_completion_time = False

        self.kill_grace_period_start: float | None = None
        self.kill_grace_period_timer: Timer | None = None
        self.max_completion_timer: Timer | None = None

        # Checks the task's health while it runs (only if the task has a `health_check`).
        self.health_checker: HealthChecker | None = None

        # Set once the executor is on its way out (waiting for its last acknowledgements).
        self.finishing = False
        self.shutting_down = False

    def finalize(self) -> None:
        for timer in (self.kill_grace_period_timer, self.max_completion_timer):
            if timer is not None:
                timer.cancel()
        self._stop_health_checker()

    # The driver's callbacks (dispatched by `CommandExecutor`).

    def registered(self, driver: Any, executor_info: Any, framework_info: Any) -> None:
        self.driver = driver
        self.executor_id.CopyFrom(executor_info.executor_id)
        self.framework_info = framework_info
        log.info("Registered executor %s of framework %s", executor_info.executor_id.value,
                 framework_info.id.value)

    def reregistered(self, driver: Any, slave_info: Any) -> None:
        self.driver = driver
        log.info("Reregistered with agent %s", slave_info.id.value)

    def disconnected(self, driver: Any) -> None:
        self.driver = driver
        log.info("Disconnected from the agent; waiting for it to come back")

    def launch(self, driver: Any, task: Any) -> None:
        self.driver = driver
        if self.phase is not Phase.IDLE:
            self.update(task.task_id, mesos_pb2.TASK_FAILED, message=_MULTIPLE_TASKS)
            return

        self.task = task
        task_id = task.task_id
        if task.HasField("kill_policy"):
            self.kill_policy = task.kill_policy

        if self.task_command is not None:
            command = self.task_command
        elif task.HasField("command"):
            command = task.command
        else:
            self._launch_failed(f"Expecting task '{task_id.value}' to have a command")
            return
        if not command.value:
            what = "Shell command" if command.shell else "Executable"
            self._launch_failed(f"{what} of task '{task_id.value}' is not specified")
            return

        _say(f"Starting task {task_id.value}")
        self.update(task_id, mesos_pb2.TASK_STARTING)

        try:
            self.popen = self._spawn_command(command)
        except (OSError, ValueError) as e:
            self._launch_failed(f"Failed to launch the command: {e}")
            return
        pid = self.popen.pid
        _say(f"Forked command at {pid}")

        waiter = threading.Thread(target=_wait_for_exit, args=(pid, defer(self, self.reaped)),
                                  name=f"command-executor-reaper({pid})", daemon=True)
        waiter.start()

        if task.HasField("max_completion_time"):
            seconds = task.max_completion_time.nanoseconds / 1e9
            self.max_completion_timer = delay(seconds, self, self.max_completion_time_reached)

        self.update(task_id, mesos_pb2.TASK_RUNNING)
        self.phase = Phase.LAUNCHED

        if task.HasField("health_check"):
            self._start_health_checker(task)

    def kill_task(self, driver: Any, task_id: Any) -> None:
        self.driver = driver
        if self.task is None or task_id.value != self.task.task_id.value:
            log.warning("Ignoring kill for task %s because this executor does not run it",
                        task_id.value)
            return
        grace_period = DEFAULT_KILL_GRACE_PERIOD
        if self.kill_policy is not None and self.kill_policy.HasField("grace_period"):
            grace_period = self.kill_policy.grace_period.nanoseconds / 1e9
        _say(f"Received kill for task {task_id.value} with grace period of "
             f"{format_duration(grace_period)}")
        self._kill(grace_period)

    def framework_message(self, driver: Any, data: bytes) -> None:
        self.driver = driver

    def shutdown(self, driver: Any) -> None:
        """The command executor runs one task, so a shutdown is a kill of that task, quick
        enough to leave time for TASK_KILLED before the agent's grace period ends."""
        self.driver = driver
        self.shutting_down = True
        _say("Shutting down")
        if self.phase in (Phase.LAUNCHED, Phase.KILLING):
            self._kill(max(0.0, self.shutdown_grace_period - SHUTDOWN_KILL_BUFFER))
        elif self.phase is Phase.IDLE:
            self._finish()

    def error(self, driver: Any, message: str) -> None:
        self.driver = driver
        _say(f"Error: {message}", err=True)

    # Health checks and the max completion time.

    def task_health_updated(self, health: Any) -> None:
        """A health checker's verdict (`TaskHealthStatus`): a TASK_RUNNING update with
        `healthy`, and a kill when the checker says so (port of `taskHealthUpdated`)."""
        if self.phase is not Phase.LAUNCHED or self.task is None:
            log.debug("Ignoring the health of task %s because the task is %s",
                      health.task_id.value, self.phase.value.lower())
            return
        if health.task_id.value != self.task.task_id.value:
            log.warning("Ignoring the health of task %s because this executor runs task %s",
                        health.task_id.value, self.task.task_id.value)
            return
        _say(f"Received task health update, healthy: {str(health.healthy).lower()}")
        self.update(health.task_id, mesos_pb2.TASK_RUNNING, healthy=health.healthy,
                    reason=mesos_pb2.TaskStatus.REASON_TASK_HEALTH_CHECK_STATUS_UPDATED)
        if health.kill_task:
            self.killed_by_health_check = True
            self.kill_task(self.driver, health.task_id)

    def max_completion_time_reached(self) -> None:
        self.max_completion_timer = None
        if self.phase in (Phase.IDLE, Phase.TERMINATED):
            return
        _say(f"Killing task {self.task.task_id.value} which exceeded its maximum completion "
             f"time of {format_duration(self.task.max_completion_time.nanoseconds / 1e9)}")
        self.killed_by_max_completion_time = True
        self._kill(0.0)

    def _start_health_checker(self, task: Any) -> None:
        """Checks the task's health from now on, in the task's sandbox with the executor's
        environment; a bad check is reported and the task runs unchecked, as in Mesos."""
        try:
            self.health_checker = HealthChecker.create(
                task.health_check, task.task_id, defer(self, self.task_health_updated),
                working_directory=self._task_directory(), environment=self.environment)
        except ValueError as e:
            _say(f"Failed to create health checker: {e}", err=True)

    def _stop_health_checker(self) -> None:
        """No more health checks: the task is being killed or has ended (Mesos pauses its
        checker at the same points; nothing resumes it)."""
        checker, self.health_checker = self.health_checker, None
        if checker is not None:
            checker.stop()

    # The child.

    def _task_directory(self) -> str:
        """Where the task runs: `--working_directory`, else the sandbox."""
        return (self.working_directory or self.environment.get("MESOS_DIRECTORY")
                or os.getcwd())

    def _spawn_command(self, command: Any) -> subprocess.Popen[bytes]:
        env = dict(self.environment)
        directory = self._task_directory()
        env.setdefault("MESOS_SANDBOX", env.get("MESOS_DIRECTORY", directory))
        for variable in command.environment.variables:
            if variable.type == mesos_pb2.Environment.Variable.SECRET:
                _say(f"Ignoring secret environment variable '{variable.name}': secrets are "
                     f"not supported", err=True)
                continue
            env[variable.name] = variable.value
        if command.HasField("user") and command.user:
            log.warning("Running the task as the executor's user: switching to user '%s' "
                        "is not supported", command.user)

        if command.shell:
            argv: Sequence[str] = ["/bin/sh", "-c", command.value]
            executable = None
        else:
            argv = list(command.arguments) or [command.value]
            executable = command.value
        # Its own session and process group: a kill reaches every process the task started,
        # and never the executor.
        return subprocess.Popen(argv, executable=executable, cwd=directory, env=env,
                                stdin=subprocess.DEVNULL, close_fds=True,
                                start_new_session=True)

    def _signal(self, sig: signal.Signals) -> None:
        assert self.popen is not None
        pid = self.popen.pid
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            pass
        except OSError as e:
            _say(f"Failed to send {sig.name} to the process group {pid}: {e}", err=True)
            # The command itself may not have been signalled; make sure it is.
            try:
                os.kill(pid, sig)
            except OSError:
                pass

    def _kill(self, grace_period: float) -> None:
        """Port of the private `CommandExecutor::kill`: SIGTERM, then SIGKILL when the grace
        period ends; a later kill can only shorten the period, never extend it."""
        if self.phase is Phase.TERMINATED:
            return

        if self.phase is Phase.KILLING:
            assert self.kill_grace_period_start is not None
            assert self.kill_grace_period_timer is not None
            # Retries and longer periods change nothing; a shorter one brings SIGKILL
            # forward (at once if it has already passed).
            if self.kill_grace_period_start + grace_period >= \
                    self.kill_grace_period_timer.deadline:
                return
            elapsed = clock.now() - self.kill_grace_period_start
            remaining = max(0.0, grace_period - elapsed)
            _say(f"Rescheduling escalation to SIGKILL in {format_duration(remaining)} "
                 f"from now")
            self.kill_grace_period_timer.cancel()
            self.kill_grace_period_timer = delay(remaining, self, self.escalated,
                                                 grace_period)
            return

        if self.phase is Phase.LAUNCHED:
            assert self.task is not None and self.popen is not None
            if self._framework_has_capability(
                    mesos_pb2.FrameworkInfo.Capability.TASK_KILLING_STATE):
                self.update(self.task.task_id, mesos_pb2.TASK_KILLING)
            self._stop_health_checker()
            _say(f"Sending SIGTERM to process group {self.popen.pid}")
            self._signal(signal.SIGTERM)
            _say(f"Scheduling escalation to SIGKILL in {format_duration(grace_period)} "
                 f"from now")
            self.kill_grace_period_timer = delay(grace_period, self, self.escalated,
                                                 grace_period)
            self.kill_grace_period_start = clock.now()
            self.killed = True
            self.phase = Phase.KILLING

    def escalated(self, grace_period: float) -> None:
        if self.phase is not Phase.KILLING:
            return
        assert self.popen is not None
        _say(f"Process {self.popen.pid} did not terminate after "
             f"{format_duration(grace_period)}, sending SIGKILL to process group "
             f"{self.popen.pid}")
        self._signal(signal.SIGKILL)

    def reaped(self) -> None:
        """The child has exited: reap it, and send the terminal update."""
        assert self.popen is not None and self.task is not None
        if self.returncode is not None:
            # Reaped by `cleanup` already; the executor is on its way out.
            return
        pid = self.popen.pid
        returncode = self.popen.wait()
        self.returncode = returncode
        self.phase = Phase.TERMINATED
        self._stop_health_checker()
        for timer in (self.kill_grace_period_timer, self.max_completion_timer):
            if timer is not None:
                timer.cancel()

        reason = None
        if returncode == 0:
            state = mesos_pb2.TASK_FINISHED
        elif self.killed_by_max_completion_time:
            state = mesos_pb2.TASK_FAILED
            reason = mesos_pb2.TaskStatus.REASON_MAX_COMPLETION_TIME_REACHED
        elif self.killed:
            state = mesos_pb2.TASK_KILLED
        else:
            state = mesos_pb2.TASK_FAILED
        message = "Command " + wait_status_message(returncode)
        _say(f"{message} (pid: {pid})")

        healthy = False if self.killed and self.killed_by_health_check else None
        self.update(self.task.task_id, state, healthy=healthy, message=message, reason=reason)
        self._finish()

    def cleanup(self) -> None:
        """Last words of `main`: never leave the task's processes behind (SIGKILL to the
        group, and the command reaped)."""
        self._stop_health_checker()
        if self.popen is None or self.returncode is not None:
            return
        self._signal(signal.SIGKILL)
        try:
            self.returncode = self.popen.wait(CLEANUP_REAP_TIMEOUT)
        except subprocess.TimeoutExpired:
            log.warning("The command (pid %d) survived SIGKILL", self.popen.pid)
        self.phase = Phase.TERMINATED

    # Updates and the way out.

    def update(self, task_id: Any, state: int, healthy: bool | None = None,
               message: str | None = None, reason: int | None = None) -> None:
        status = mesos_pb2.TaskStatus()
        status.task_id.CopyFrom(task_id)
        if self.executor_id.value:
            status.executor_id.CopyFrom(self.executor_id)
        status.state = state  # type: ignore[assignment]
        status.source = mesos_pb2.TaskStatus.SOURCE_EXECUTOR
        if healthy is not None:
            status.healthy = healthy
        if message is not None:
            status.message = message
        if reason is not None:
            status.reason = reason  # type: ignore[assignment]
        if self.driver is None:
            log.error("Cannot send %s for task %s: not registered yet",
                      mesos_pb2.TaskState.Name(state), task_id.value)
            return
        self.driver.sendStatusUpdate(status)

    def _launch_failed(self, message: str) -> None:
        assert self.task is not None
        _say(message, err=True)
        self.phase = Phase.TERMINATED
        self.update(self.task.task_id, mesos_pb2.TASK_FAILED, message=message,
                    reason=mesos_pb2.TaskStatus.REASON_COMMAND_EXECUTOR_FAILED)
        self._finish()

    def _finish(self) -> None:
        """Stops the driver once the agent has acknowledged every update (bounded), so the
        terminal update is with the agent before this executor exits."""
        if self.finishing:
            return
        self.finishing = True
        if self.driver is None:
            return
        wait_acks = getattr(self.driver, "awaitAcknowledgements", None)
        if wait_acks is None:
            self._stop_driver(Future.ready(None))
            return
        wait_acks().after(self._acknowledgement_timeout(), lambda _: "timeout").on_any(
            defer(self, self._stop_driver))

    def _acknowledgement_timeout(self) -> float:
        """How long to wait for the terminal update's acknowledgement before exiting.

        After a shutdown, briefly. With checkpointing, a restarted agent collects
        unacknowledged updates when the executor reregisters, so the executor must outlive an
        agent that is down: it waits up to the recovery timeout (after which the driver shuts
        it down anyway)."""
        if self.shutting_down:
            return SHUTDOWN_ACKNOWLEDGEMENT_TIMEOUT
        if os.environ.get("MESOS_CHECKPOINT") != "1":
            return TERMINAL_ACKNOWLEDGEMENT_TIMEOUT
        try:
            recovery = parse_duration(os.environ.get("MESOS_RECOVERY_TIMEOUT", "15mins"))
        except ValueError:
            recovery = 15 * 60.0
        return max(TERMINAL_ACKNOWLEDGEMENT_TIMEOUT, recovery + TERMINAL_ACKNOWLEDGEMENT_TIMEOUT)

    def _stop_driver(self, future: Future[Any]) -> None:
        if future.is_ready() and future.value == "timeout":
            log.warning("Stopping without the acknowledgement of every status update after "
                        "%s", format_duration(self._acknowledgement_timeout()))
        self.driver.stop()

    def _framework_has_capability(self, capability: int) -> bool:
        if self.framework_info is None:
            return False
        return any(c.type == capability for c in self.framework_info.capabilities)


class CommandExecutor(Executor):
    """The `Executor` the command executor gives its driver.

    Each callback (on the driver's thread) hands its work to a `CommandExecutorProcess`
    with `dispatch`, which owns every piece of the task's state on its own thread. The
    constructor spawns that process; `cleanup()` kills what is left and terminates it.
    """

    def __init__(self, shutdown_grace_period: float = DEFAULT_EXECUTOR_SHUTDOWN_GRACE_PERIOD,
                 task_command: Any = None, working_directory: str | None = None,
                 environment: Mapping[str, str] | None = None) -> None:
        self.process = CommandExecutorProcess(shutdown_grace_period, task_command,
                                              working_directory, environment)
        spawn(self.process)

    def registered(self, driver: Any, executorInfo: Any, frameworkInfo: Any,
                   slaveInfo: Any) -> None:
        dispatch(self.process, self.process.registered, driver, executorInfo, frameworkInfo)

    def reregistered(self, driver: Any, slaveInfo: Any) -> None:
        dispatch(self.process, self.process.reregistered, driver, slaveInfo)

    def disconnected(self, driver: Any) -> None:
        dispatch(self.process, self.process.disconnected, driver)

    def launchTask(self, driver: Any, task: Any) -> None:
        dispatch(self.process, self.process.launch, driver, task)

    def killTask(self, driver: Any, taskId: Any) -> None:
        dispatch(self.process, self.process.kill_task, driver, taskId)

    def frameworkMessage(self, driver: Any, message: Any) -> None:
        dispatch(self.process, self.process.framework_message, driver, message)

    def shutdown(self, driver: Any) -> None:
        dispatch(self.process, self.process.shutdown, driver)

    def error(self, driver: Any, message: Any) -> None:
        dispatch(self.process, self.process.error, driver, message)

    def cleanup(self, timeout: float = 5.0) -> None:
        """Kills the task if it still runs (SIGKILL to its group), then terminates the
        process; blocks the calling thread up to `timeout` seconds."""
        done = dispatch(self.process, self.process.cleanup)
        try:
            done.get(timeout)
        except Exception:
            log.debug("Cleanup of the command executor did not complete", exc_info=True)
        terminate(self.process, inject=False)
        wait(self.process, timeout)


# The program.


class CommandExecutorFlags(Flags):
    """The command executor's flags (command line only, as in Mesos: the agent passes them)."""

    task_command = Flag(JSON, help="If specified, this is the overridden command for "
                                   "launching the task (a CommandInfo in JSON) instead of "
                                   "the command from TaskInfo.")
    working_directory = Flag(PATH, help="The working directory for the task (default: the "
                                        "sandbox, MESOS_DIRECTORY).")
    launcher_dir = Flag(PATH, help="Directory path of Mesos binaries (accepted for "
                                   "compatibility; unused).")
    sandbox_directory = Flag(PATH, help="The path of the sandbox inside the container "
                                        "(accepted for compatibility; unused).")
    rootfs = Flag(PATH, help="The root filesystem of the task (unsupported: must be unset).")
    user = Flag(str, help="The user that the task should run as (unsupported: the task runs "
                          "as the executor's user).")


def main(argv: Sequence[str] | None = None) -> int:
    """`mesos-executor`: runs the command executor until its task is done; 0 on a clean
    stop, 1 on a bad flag, a bad environment or an aborted driver."""
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s] %(message)s")
    args = list(sys.argv if argv is None else argv)
    if args:
        args[0] = "mesos-executor"
    flags = load_or_exit(CommandExecutorFlags, args, prefix=None)
    program = "mesos-executor"

    if flags.rootfs:
        print(f"{program}: --rootfs is not supported", file=sys.stderr)
        return 1

    for name in ("MESOS_FRAMEWORK_ID", "MESOS_EXECUTOR_ID"):
        if name not in os.environ:
            print(f"{program}: Expecting '{name}' to be set in the environment",
                  file=sys.stderr)
            return 1

    grace_period = DEFAULT_EXECUTOR_SHUTDOWN_GRACE_PERIOD
    text = os.environ.get("MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD")
    if text is not None:
        try:
            grace_period = parse_duration(text)
        except ValueError as e:
            print(f"{program}: Failed to parse value '{text}' of "
                  f"'MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD': {e}", file=sys.stderr)
            return 1

    task_command = None
    if flags.task_command is not None:
        try:
            task_command = json_format.ParseDict(flags.task_command, mesos_pb2.CommandInfo())
        except (json_format.ParseError, TypeError, ValueError) as e:
            print(f"{program}: Failed to parse --task_command as a CommandInfo: {e}",
                  file=sys.stderr)
            return 1

    executor = CommandExecutor(grace_period, task_command, flags.working_directory)
    driver = MesosExecutorDriver(executor)
    try:
        status = driver.run()
    finally:
        executor.cleanup()
    return 0 if status == mesos_pb2.DRIVER_STOPPED else 1


if __name__ == "__main__":
    sys.exit(main())
