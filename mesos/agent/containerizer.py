"""The POSIX containerizer: each executor is a real OS process in its own session.

Port, in spirit, of the Mesos containerizer with the POSIX launcher and no isolators
(`src/slave/containerizer/mesos/containerizer.cpp`, `launcher.cpp`) plus
`Containerizer::resources` (`src/slave/containerizer/containerizer.cpp`).

A container is one executor run: `launch` starts the executor's `CommandInfo` with
`subprocess.Popen(..., start_new_session=True)` in its sandbox, with `stdout` and `stderr`
appended to files there and exactly the environment the agent computed (nothing is inherited
from the agent, as in Mesos). A waiter thread per container blocks in `wait()` on the child
and completes the container's termination future; the agent hears of it through
`wait(container_id).on_any(defer(agent, ...))`. `destroy` kills the whole tree: the
executor's process group and every descendant (the command executor starts its task in a
session of its own), with SIGKILL. `usage` reads the tree's CPU times and memory with psutil
on a short-lived thread, so the agent's thread never blocks on `/proc`.

Executors outlive the agent (their own sessions; nothing here kills them when the agent
exits). For a checkpointing framework `launch` writes the executor's pid to `forked.pid`, and
a restarted agent gives `recover` the runs it read back: an executor whose pid still names a
process that started no later than that file was written (and, where its environment can be
read, whose `MESOS_DIRECTORY` is the run's sandbox) is adopted; anything else (the process is
gone, or the pid was reused by an unrelated process, or the host rebooted) is a container that
already terminated, and nothing is killed. An adopted executor is not this OS process's child,
so its exit is watched through a pidfd (polled where pidfds are missing) by one monitor thread
(port of the Mesos containerizer's recovery and of `process::reap` for non-children).

Thread-safety: the agent calls every method on its own thread; the waiter, monitor and usage
threads only complete futures. The container table is guarded by a lock.
"""

from __future__ import annotations

import logging
import os
import select
import signal
import subprocess
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

import psutil

from libprocess import Future, Promise, clock
from mesos.agent.checkpoint import checkpoint
from mesos.common.resources import Resources, format_scalar
from mesos.protos.mesos import mesos_pb2

__all__ = [
    "DEFAULT_PATH",
    "DEFAULT_PORTS",
    "ContainerTermination",
    "PosixContainerizer",
    "RecoveredContainer",
    "detect_resources",
    "wait_status_text",
]

log = logging.getLogger(__name__)

# `os::host_default_path()`: the PATH an executor gets when its environment sets none.
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# `src/slave/constants.hpp`.
DEFAULT_PORTS = "[31000-32000]"
DEFAULT_CPUS = 1.0
DEFAULT_MEM_MB = 1024
DEFAULT_DISK_MB = 10 * 1024

_GB = 1024 ** 3
_MB = 1024 ** 2

# How long `destroy_all` waits (real time) for the waiter threads to reap what it killed.
_REAP_TIMEOUT = 5.0

# A recovered executor must have started no later than its `forked.pid` was written; this
# much later is still accepted, for the whole seconds of the boot time that psutil's start
# times are computed from and for small wall clock steps.
START_TIME_TOLERANCE = 2.0

# How often the exit monitor polls the processes it has no pidfd for.
_POLL_INTERVAL = 0.1

T = TypeVar("T")


def detect_resources(resources_flag: str | None, default_role: str, work_dir: str) -> Resources:
    """The agent's total resources: `--resources`, plus what it leaves out, detected.

    Port of `Containerizer::resources`: `cpus` is the number of CPUs; `mem` the total memory
    minus 1GB (or half of it under 2GB); `disk` the size of the filesystem holding
    `work_dir` minus 5GB (or half of it under 10GB); `ports` are `[31000-32000]`. As in
    Mesos a resource is detected only when its name does not appear in the flag text at all,
    so `cpus:0` stays zero. Raises `ValueError` for a bad resource string.
    """
    text = resources_flag or ""
    resources = Resources.parse(text, default_role)

    def add(name: str, value: str) -> None:
        nonlocal resources
        resources = resources + Resources.parse(f"{name}:{value}", default_role)

    if "cpus" not in text:
        try:
            cpus = float(psutil.cpu_count(logical=True) or DEFAULT_CPUS)
        except Exception as e:
            log.warning("Failed to auto-detect the number of cpus to use: %s; defaulting to "
                        "%s", e, DEFAULT_CPUS)
            cpus = DEFAULT_CPUS
        add("cpus", format_scalar(cpus))

    if "mem" not in text:
        try:
            total = psutil.virtual_memory().total
            mem = (total - _GB) if total >= 2 * _GB else total // 2
            mem_mb = mem // _MB
        except Exception as e:
            log.warning("Failed to auto-detect the size of main memory: %s; defaulting to "
                        "%d MB", e, DEFAULT_MEM_MB)
            mem_mb = DEFAULT_MEM_MB
        add("mem", str(mem_mb))

    if "disk" not in text:
        try:
            total = psutil.disk_usage(work_dir).total
            disk = (total - 5 * _GB) if total >= 10 * _GB else total // 2
            disk_mb = disk // _MB
        except Exception as e:
            log.warning("Failed to auto-detect the disk space: %s; defaulting to %d MB", e,
                        DEFAULT_DISK_MB)
            disk_mb = DEFAULT_DISK_MB
        add("disk", str(disk_mb))

    if "ports" not in text:
        add("ports", DEFAULT_PORTS)

    return resources


def wait_status_text(status: int | None) -> str:
    """How Mesos words a wait status (`WSTRINGIFY`): `exited with status 3`,
    `terminated with signal Killed`; `status` is a raw `waitpid` status."""
    if status is None:
        return "terminated with unknown status"
    if os.WIFEXITED(status):
        return f"exited with status {os.WEXITSTATUS(status)}"
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        try:
            name = signal.strsignal(number) or f"Unknown signal {number}"
        except ValueError:
            name = f"Unknown signal {number}"
        return f"terminated with signal {name}"
    return f"wait status {status}"


def _raw_status(returncode: int) -> int:
    # `Popen.returncode` is the exit code, or minus the signal that killed the child; the
    # wire (`ExitedExecutorMessage.status`) carries the raw wait status, as Mesos does.
    return (-returncode) & 0x7F if returncode < 0 else (returncode & 0xFF) << 8


@dataclass
class ContainerTermination:
    """How a container ended (port of `mesos::slave::ContainerTermination`).

    `status` is the raw wait status of the executor (None if it never ran or could not be
    reaped); `state`, `reason` and `message` are set when the containerizer itself decided
    the fate of the tasks (none of this containerizer's isolators do yet).
    """

    status: int | None
    state: int | None = None
    reason: int | None = None
    message: str = ""


@dataclass(frozen=True)
class RecoveredContainer:
    """A container a restarted agent read back from its checkpoint: the executor's sandbox,
    the pid from `forked.pid` (None if it was never written) and when that file was written
    (its mtime, which bounds the executor's start time)."""

    container_id: str
    directory: str
    pid: int | None
    launched_before: float | None = None
    resources: Resources = field(default_factory=Resources)


@dataclass
class _Container:
    container_id: str
    directory: str
    resources: Resources
    process: subprocess.Popen[bytes] | None = None
    termination: Promise[ContainerTermination] = field(default_factory=Promise)
    waiter: threading.Thread | None = None
    destroying: bool = False
    # The executor's pid when it is not this OS process's child (a recovered container).
    recovered_pid: int | None = None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else self.recovered_pid


def _in_thread(name: str, fn: Callable[..., T], *args: Any) -> Future[T]:
    """Runs `fn(*args)` on a short-lived daemon thread; a future of its result."""
    promise: Promise[T] = Promise()

    def run() -> None:
        try:
            promise.set(fn(*args))
        except Exception as e:
            promise.fail(f"{type(e).__name__}: {e}", e)

    threading.Thread(target=run, name=name, daemon=True).start()
    return promise.future


def _command_argv(command: Any) -> tuple[list[str], str | None]:
    """The argv and executable of a `CommandInfo`, as the Mesos launcher builds them: a shell
    command runs under `sh -c`; otherwise `value` is the executable and `arguments` the argv
    (argv[0] included), defaulting to `[value]`."""
    if not command.HasField("value") or not command.value:
        raise ValueError("The executor's CommandInfo has no value")
    if command.shell:
        return (["/bin/sh", "-c", command.value], None)
    arguments = list(command.arguments) or [command.value]
    return (arguments, command.value)


def _descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return []


def _executor_identity(pid: int, directory: str, launched_before: float | None) -> str | None:
    """None if `pid` is the live executor of the container in `directory` launched no later
    than `launched_before`; otherwise why not."""
    try:
        process = psutil.Process(pid)
        with process.oneshot():
            status = process.status()
            created = process.create_time()
    except psutil.NoSuchProcess:
        return f"its process {pid} is gone"
    except psutil.AccessDenied:
        return f"its process {pid} cannot be inspected"
    if status == psutil.STATUS_ZOMBIE:
        return f"its process {pid} has exited"
    if launched_before is not None and created > launched_before + START_TIME_TOLERANCE:
        return (f"process {pid} started {created - launched_before:.1f} s after the executor "
                "was launched: the pid was reused by another process, which is left alone")
    try:
        environment = process.environ()
    except (psutil.AccessDenied, psutil.ZombieProcess):
        return None  # Its start time is all there is to go by.
    except psutil.NoSuchProcess:
        return f"its process {pid} is gone"
    sandbox = environment.get("MESOS_DIRECTORY")
    if sandbox is None or os.path.realpath(sandbox) != os.path.realpath(directory):
        return (f"process {pid} is not the executor (its MESOS_DIRECTORY is "
                f"{sandbox!r}, not '{directory}'): the pid was reused by another process, "
                "which is left alone")
    return None


class _ExitMonitor:
    """Watches adopted executors, which are not this OS process's children, for their exit.

    One daemon thread, started with the first adoption, waits on a pidfd per executor (a
    pidfd pins the process, so a pid reused after the check cannot be mistaken for it), or,
    where pidfds are missing, polls the pid and its start time. When an executor exits, what
    is left of its process group is killed (it belongs to the container, as with a launched
    one) and its termination is set without a status (only a parent can read it).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # pidfd -> (pid, termination); pid -> (start time, termination) for polled ones.
        self._pidfds: dict[int, tuple[int, Promise[ContainerTermination]]] = {}
        self._polled: dict[int, tuple[float, Promise[ContainerTermination]]] = {}
        # The thread and its wake-up pipe exist only once something was adopted.
        self._wake_read = self._wake_write = -1
        self._thread: threading.Thread | None = None

    def adopt(self, recovered: RecoveredContainer,
              termination: Promise[ContainerTermination]) -> str | None:
        """Starts watching the container's executor if it is the live executor; otherwise
        the reason it is not (see `_executor_identity`)."""
        pid = recovered.pid
        assert pid is not None
        try:
            pidfd: int | None = os.pidfd_open(pid)
        except ProcessLookupError:
            return f"its process {pid} is gone"
        except (OSError, AttributeError):
            pidfd = None
        # Checked after the pidfd is open: from now on `pid` cannot name another process.
        reason = _executor_identity(pid, recovered.directory, recovered.launched_before)
        if reason is not None:
            if pidfd is not None:
                os.close(pidfd)
            return reason
        with self._lock:
            if pidfd is not None:
                self._pidfds[pidfd] = (pid, termination)
            else:
                try:
                    self._polled[pid] = (psutil.Process(pid).create_time(), termination)
                except psutil.NoSuchProcess:
                    return f"its process {pid} is gone"
            if self._thread is None:
                self._wake_read, self._wake_write = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
                self._thread = threading.Thread(target=self._run, name="container-monitor",
                                                daemon=True)
                self._thread.start()
            wake = self._wake_write
        try:
            os.write(wake, b"x")
        except BlockingIOError:
            pass  # The thread has wake-ups pending already.
        return None

    def _run(self) -> None:
        while True:
            with self._lock:
                pidfds = dict(self._pidfds)
                polling = bool(self._polled)
            poller = select.poll()
            poller.register(self._wake_read, select.POLLIN)
            for fd in pidfds:
                poller.register(fd, select.POLLIN)
            ready = poller.poll(_POLL_INTERVAL * 1000 if polling else None)
            exited: list[tuple[int, Promise[ContainerTermination]]] = []
            for fd, _ in ready:
                if fd == self._wake_read:
                    try:
                        os.read(self._wake_read, 4096)
                    except BlockingIOError:
                        pass
                    continue
                with self._lock:
                    entry = self._pidfds.pop(fd, None)
                os.close(fd)
                if entry is not None:
                    exited.append(entry)
            if polling:
                with self._lock:
                    for pid, (created, promise) in list(self._polled.items()):
                        if not _same_process_alive(pid, created):
                            del self._polled[pid]
                            exited.append((pid, promise))
            for pid, promise in exited:
                self._exited(pid, promise)

    @staticmethod
    def _exited(pid: int, termination: Promise[ContainerTermination]) -> None:
        try:
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        log.info("Recovered executor %d terminated", pid)
        termination.set(ContainerTermination(None))


def _same_process_alive(pid: int, created: float) -> bool:
    try:
        process = psutil.Process(pid)
        return (process.create_time() == created
                and process.status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:
        return True


class PosixContainerizer:
    """Runs executors as OS processes (see the module docstring); owned by the agent.

    Every method is called on the agent's thread and returns at once: `launch` forks the
    executor synchronously (a `Popen` is quick), waiting and usage happen on threads.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._containers: dict[str, _Container] = {}
        self._monitor = _ExitMonitor()

    # The containerizer interface (`Containerizer` in Mesos).

    def launch(self, container_id: str, command: Any, directory: str,
               environment: Mapping[str, str], resources: Resources | None = None,
               user: str | None = None,
               pid_checkpoint_path: str | None = None) -> Future[bool]:
        """Starts `command` (a `CommandInfo`) in `directory` with exactly `environment`.

        Ready (True) once the executor process exists; failed, with the reason, if it could
        not be started, in which case `wait` gives a termination without a status. `user` is
        accepted for the interface: this port runs every executor as the agent's user. With
        `pid_checkpoint_path` (a checkpointing framework's `forked.pid`) the executor's pid is
        written there atomically before the launch counts as done; if that fails the
        executor is killed and the launch fails.
        """
        with self._lock:
            if container_id in self._containers:
                return Future.failed(f"Container {container_id} has already been launched")
            container = _Container(container_id, directory, resources or Resources())
            self._containers[container_id] = container

        if user is not None:
            log.debug("Launching container %s as the agent's user (switching to '%s' is not "
                      "supported)", container_id, user)

        try:
            argv, executable = _command_argv(command)
            with open(os.path.join(directory, "stdout"), "ab") as stdout, \
                    open(os.path.join(directory, "stderr"), "ab") as stderr:
                process = subprocess.Popen(
                    argv, executable=executable, cwd=directory, env=dict(environment),
                    stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr,
                    start_new_session=True, close_fds=True)
        except (OSError, ValueError, subprocess.SubprocessError) as e:
            message = f"Failed to launch the executor: {e}"
            log.error("Container %s: %s", container_id, message)
            container.termination.set(ContainerTermination(None, message=message))
            return Future.failed(message)

        container.process = process
        container.waiter = threading.Thread(target=self._reap, args=(container,),
                                            name=f"container-waiter({process.pid})",
                                            daemon=True)
        container.waiter.start()
        log.info("Launched container %s with pid %d in '%s'", container_id, process.pid,
                 directory)
        if pid_checkpoint_path is not None:
            try:
                checkpoint(pid_checkpoint_path, str(process.pid))
            except OSError as e:
                message = (f"Failed to checkpoint the executor's pid to "
                           f"'{pid_checkpoint_path}': {e.strerror or e}")
                log.error("Container %s: %s", container_id, message)
                self.destroy(container_id)
                return Future.failed(message)
            log.debug("Checkpointed pid %d of container %s to '%s'", process.pid, container_id,
                      pid_checkpoint_path)
        return Future.ready(True)

    def recover(self, containers: list[RecoveredContainer],
                rebooted: bool = False) -> set[str]:
        """Adopts the executors of a previous agent that are still running; the ids of the
        containers adopted.

        Every container given is added: an adopted one ends when its executor exits (or is
        destroyed); the others are terminated already (`wait` is ready at once, without a
        status, with the reason as message). An executor is adopted if its pid names a live
        process that started no later than `launched_before` (plus a small tolerance) and,
        where its environment can be read, whose `MESOS_DIRECTORY` is the container's
        sandbox: a pid reused by another process is never adopted, and never killed. After
        a reboot (`rebooted`) no executor can have survived and none is looked for.
        """
        adopted: set[str] = set()
        for recovered in containers:
            with self._lock:
                if recovered.container_id in self._containers:
                    log.warning("Skipping recovery of container %s: it is known already",
                                recovered.container_id)
                    continue
                container = _Container(recovered.container_id, recovered.directory,
                                       recovered.resources, recovered_pid=recovered.pid)
                self._containers[recovered.container_id] = container
            reason: str | None
            if rebooted:
                reason = "the agent host rebooted since the executor was launched"
            elif recovered.pid is None:
                reason = "the executor's pid was never checkpointed (it was not launched)"
            else:
                reason = self._monitor.adopt(recovered, container.termination)
            if reason is None:
                log.info("Recovered container %s with pid %d", recovered.container_id,
                         recovered.pid)
                adopted.add(recovered.container_id)
                continue
            log.warning("Container %s is not recovered: %s", recovered.container_id, reason)
            container.recovered_pid = None
            container.termination.set(ContainerTermination(
                None, message=f"Executor terminated while the agent was down: {reason}"))
        return adopted

    def wait(self, container_id: str) -> Future[ContainerTermination | None]:
        """A future of the container's termination; None for an unknown container."""
        with self._lock:
            container = self._containers.get(container_id)
        if container is None:
            return Future.ready(None)
        return cast("Future[ContainerTermination | None]", container.termination.future)

    def destroy(self, container_id: str) -> Future[bool]:
        """Kills the container's whole process tree with SIGKILL; True once it has been
        reaped, False for an unknown container."""
        with self._lock:
            container = self._containers.get(container_id)
        if container is None:
            return Future.ready(False)
        pid = container.pid
        if pid is not None and not container.termination.future.is_ready():
            log.info("Destroying container %s", container_id)
            container.destroying = True
            self._kill_tree(pid)
        return container.termination.future.then(lambda _: True)

    def update(self, container_id: str, resources: Resources) -> Future[None]:
        """Records the container's resources (there is no isolation to adjust)."""
        with self._lock:
            container = self._containers.get(container_id)
        if container is None:
            return Future.failed(f"Unknown container {container_id}")
        container.resources = resources
        return Future.ready(None)

    def usage(self, container_id: str) -> Future[Any]:
        """A future of the container's `ResourceStatistics` (CPU times, RSS, processes and
        threads of the executor and every descendant), read on a thread."""
        with self._lock:
            container = self._containers.get(container_id)
        if container is None or container.pid is None:
            return Future.failed(f"Unknown container {container_id}")
        if container.termination.future.is_ready():
            return Future.failed(f"Container {container_id} has terminated")
        return _in_thread("container-usage", self._statistics, container.pid,
                          container.resources, clock.now())

    def containers(self) -> set[str]:
        with self._lock:
            return set(self._containers)

    def pid(self, container_id: str) -> int | None:
        """The executor's OS pid (its process group and session id too)."""
        with self._lock:
            container = self._containers.get(container_id)
        if container is None:
            return None
        return container.pid

    def forget(self, container_id: str) -> None:
        """Drops a terminated container from the table (the agent removed its executor)."""
        with self._lock:
            container = self._containers.get(container_id)
            if container is not None and container.termination.future.is_ready():
                del self._containers[container_id]

    def destroy_all(self, container_ids: set[str] | None = None,
                    timeout: float = _REAP_TIMEOUT) -> None:
        """Kills every container (or those of `container_ids`) now and waits (real time,
        bounded) for them to be reaped: the agent's last resort when it terminates. The
        executors of checkpointing frameworks are left out by the agent, so that they
        outlive it."""
        with self._lock:
            containers = [c for c in self._containers.values()
                          if container_ids is None or c.container_id in container_ids]
        for container in containers:
            pid = container.pid
            if pid is not None and not container.termination.future.is_ready():
                container.destroying = True
                self._kill_tree(pid)
        for container in containers:
            if container.waiter is not None:
                container.waiter.join(timeout)
            elif container.recovered_pid is not None:
                try:
                    container.termination.future.get(timeout)
                except Exception:
                    log.warning("Container %s did not end within %s s", container.container_id,
                                timeout)

    # Helpers.

    def _reap(self, container: _Container) -> None:
        # On the waiter thread: block until the executor exits, then complete its
        # termination (the agent defers its handling onto its own thread).
        assert container.process is not None
        pid = container.process.pid
        try:
            # Wait without reaping: while the executor is a zombie its pid (which is also its
            # process group's id) cannot be reused, so the group can be killed safely.
            os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
        except ChildProcessError:
            pass
        except OSError as e:
            log.warning("Failed to wait for container %s: %s", container.container_id, e)
        # What the executor left behind in its process group belongs to the container and
        # goes with it, as with Mesos's launcher.
        if not container.destroying:
            try:
                os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        status: int | None
        try:
            status = _raw_status(container.process.wait())
        except Exception as e:
            log.error("Failed to reap container %s: %s", container.container_id, e)
            status = None
        log.info("Container %s %s", container.container_id, wait_status_text(status))
        container.termination.set(ContainerTermination(status))

    @staticmethod
    def _kill_tree(pid: int) -> None:
        own_group = os.getpgrp()
        descendants = _descendants(pid)
        groups = {pid}
        for process in descendants:
            try:
                groups.add(os.getpgid(process.pid))
            except (ProcessLookupError, PermissionError):
                pass
        groups.discard(own_group)
        for group in groups:
            try:
                os.killpg(group, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        for process in descendants:
            try:
                process.send_signal(signal.SIGKILL)
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                pass

    @staticmethod
    def _statistics(pid: int, resources: Resources, timestamp: float) -> Any:
        statistics = mesos_pb2.ResourceStatistics()
        statistics.timestamp = timestamp
        try:
            root = psutil.Process(pid)
            processes = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            raise RuntimeError(f"The executor process {pid} is gone") from None
        user = system = 0.0
        rss = threads = count = 0
        for process in processes:
            try:
                with process.oneshot():
                    times = process.cpu_times()
                    user += times.user
                    system += times.system
                    rss += process.memory_info().rss
                    threads += process.num_threads()
                    count += 1
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                continue
        statistics.processes = count
        statistics.threads = threads
        statistics.cpus_user_time_secs = user
        statistics.cpus_system_time_secs = system
        statistics.mem_rss_bytes = rss
        cpus = resources.get_scalar("cpus")
        if cpus is not None:
            statistics.cpus_limit = cpus
        mem = resources.get_scalar("mem")
        if mem is not None:
            statistics.mem_limit_bytes = int(mem * _MB)
        return statistics
