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

Thread-safety: the agent calls every method on its own thread; the waiter and usage threads
only complete futures. The container table is guarded by a lock.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

import psutil

from libprocess import Future, Promise, clock
from mesos.common.resources import Resources, format_scalar
from mesos.protos.mesos import mesos_pb2

__all__ = [
    "DEFAULT_PATH",
    "DEFAULT_PORTS",
    "ContainerTermination",
    "PosixContainerizer",
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


@dataclass
class _Container:
    container_id: str
    directory: str
    resources: Resources
    process: subprocess.Popen[bytes] | None = None
    termination: Promise[ContainerTermination] = field(default_factory=Promise)
    waiter: threading.Thread | None = None
    destroying: bool = False


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


class PosixContainerizer:
    """Runs executors as OS processes (see the module docstring); owned by the agent.

    Every method is called on the agent's thread and returns at once: `launch` forks the
    executor synchronously (a `Popen` is quick), waiting and usage happen on threads.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._containers: dict[str, _Container] = {}

    # The containerizer interface (`Containerizer` in Mesos).

    def launch(self, container_id: str, command: Any, directory: str,
               environment: Mapping[str, str], resources: Resources | None = None,
               user: str | None = None) -> Future[bool]:
        """Starts `command` (a `CommandInfo`) in `directory` with exactly `environment`.

        Ready (True) once the executor process exists; failed, with the reason, if it could
        not be started, in which case `wait` gives a termination without a status. `user` is
        accepted for the interface: this port runs every executor as the agent's user.
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
        return Future.ready(True)

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
        if container.process is not None and not container.termination.future.is_ready():
            log.info("Destroying container %s", container_id)
            container.destroying = True
            self._kill_tree(container.process.pid)
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
        if container is None or container.process is None:
            return Future.failed(f"Unknown container {container_id}")
        if container.termination.future.is_ready():
            return Future.failed(f"Container {container_id} has terminated")
        return _in_thread("container-usage", self._statistics, container.process.pid,
                          container.resources, clock.now())

    def containers(self) -> set[str]:
        with self._lock:
            return set(self._containers)

    def pid(self, container_id: str) -> int | None:
        """The executor's OS pid (its process group and session id too)."""
        with self._lock:
            container = self._containers.get(container_id)
        if container is None or container.process is None:
            return None
        return container.process.pid

    def forget(self, container_id: str) -> None:
        """Drops a terminated container from the table (the agent removed its executor)."""
        with self._lock:
            container = self._containers.get(container_id)
            if container is not None and container.termination.future.is_ready():
                del self._containers[container_id]

    def destroy_all(self, timeout: float = _REAP_TIMEOUT) -> None:
        """Kills every container now and waits (real time, bounded) for them to be reaped:
        the agent's last resort when it terminates."""
        with self._lock:
            containers = list(self._containers.values())
        for container in containers:
            if container.process is not None and not container.termination.future.is_ready():
                container.destroying = True
                self._kill_tree(container.process.pid)
        for container in containers:
            if container.waiter is not None:
                container.waiter.join(timeout)

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
