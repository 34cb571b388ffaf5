"""The agent's checkpointed state: writing it, and reading it back after a restart.

Port of `src/slave/state.{hpp,cpp}` (the recovered state model and `state::recover`), of the
`checkpoint*` helpers the agent's `Framework` and `Executor` call in `src/slave/slave.cpp`,
and of `src/slave/compatibility.cpp`. Only frameworks with `checkpoint=true` are written
here; the agent's own `SlaveInfo` always is. The layout is Mesos's `meta/` tree under
`--work_dir` (see `mesos.agent.paths`), every file written atomically by
`mesos.agent.checkpoint`:

    meta/boot_id
    meta/slaves/latest -> meta/slaves/<sid>
    meta/slaves/<sid>/slave.info
    meta/slaves/<sid>/frameworks/<fid>/{framework.info, framework.pid}
    .../frameworks/<fid>/executors/<eid>/executor.info
    .../executors/<eid>/runs/{latest -> <cid>, <cid>/}
    .../runs/<cid>/{executor.sentinel, http.marker, pids/forked.pid, pids/libprocess.pid}
    .../runs/<cid>/tasks/<tid>/{task.info, task.updates}

`recover(meta_dir, strict)` reads that tree into plain dataclasses (`State`, `SlaveState`,
`FrameworkState`, `ExecutorState`, `RunState`, `TaskState`). As in Mesos, a file that is
missing because the agent died before writing it is only logged; a file that exists but
cannot be read (empty, truncated, not parsable), a dangling `latest` link, and a run
directory with files missing that are always written before files that are there (a run
half deleted) are *errors*: with `strict` the first one raises `RecoveryError` naming the
file; without, each is logged, counted in `errors` (summed up the tree, as Mesos does) and
recovery keeps what it can. A truncated last record of `task.updates` is an error too (the
non-strict read keeps the records before it and truncates the file to them).

Unlike Mesos, which takes an empty info or pid file for one its agent died before filling,
this port counts it as damaged: every file here is written atomically (temp file, fsync,
rename), so a crash leaves the old file or none, never an empty one.

Pure functions over the filesystem, no actors: the agent calls them on its own thread.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import psutil

from libprocess import UPID, UPIDError
from mesos.agent import paths
from mesos.agent.checkpoint import CheckpointError, checkpoint, read_message, read_text
from mesos.agent.status_update_stream import CheckpointError as UpdatesError
from mesos.agent.status_update_stream import read_task_updates
from mesos.common.resources import Resources
from mesos.protos.mesos import mesos_pb2
from mesos.protos.messages import messages_pb2

__all__ = [
    "CheckpointedRun",
    "ExecutorState",
    "FrameworkState",
    "RecoveryError",
    "RunState",
    "SlaveState",
    "State",
    "TaskState",
    "checkpoint_boot_id",
    "checkpoint_executor",
    "checkpoint_framework",
    "checkpoint_http_marker",
    "checkpoint_libprocess_pid",
    "checkpoint_slave_info",
    "checkpoint_task",
    "checkpointed_runs",
    "compatible",
    "current_boot_id",
    "mark_executor_completed",
    "recover",
]

log = logging.getLogger(__name__)

BOOT_ID_PATH = "/proc/sys/kernel/random/boot_id"


class RecoveryError(Exception):
    """Recovery cannot go on: a strict recovery found an error (the message names the file),
    or the state is unusable whatever the mode."""


# ---------------------------------------------------------------------------------------
# The recovered state (`state::State` and its children). Plain data.


@dataclass
class TaskState:
    """A checkpointed task: its `Task` (`task.info`) and the records of `task.updates`."""

    id: str
    info: mesos_pb2.Task | None = None
    updates: list[messages_pb2.StatusUpdate] = field(default_factory=list)
    acks: set[bytes] = field(default_factory=set)
    updates_path: str | None = None
    errors: int = 0


@dataclass
class RunState:
    """One run (container) of an executor: its tasks and pids. `forked_pid_time` is when
    `forked.pid` was written (its mtime), which bounds the executor's start time, so that a
    process that got the same pid later is not taken for the executor. `completed` means
    the executor terminated and all its updates were acknowledged (`executor.sentinel`).
    `http` says how the executor talked to the agent: False with a `libprocess_pid`, True
    for an HTTP executor (`http.marker`), None if the agent died before it (re)registered
    (Mesos's `RunState::http`)."""

    id: str
    tasks: dict[str, TaskState] = field(default_factory=dict)
    forked_pid: int | None = None
    forked_pid_time: float | None = None
    libprocess_pid: UPID | None = None
    http: bool | None = None
    completed: bool = False
    errors: int = 0


@dataclass
class ExecutorState:
    """A checkpointed executor: its `ExecutorInfo`, its runs and which one is `latest`."""

    id: str
    info: mesos_pb2.ExecutorInfo | None = None
    latest: str | None = None
    runs: dict[str, RunState] = field(default_factory=dict)
    errors: int = 0


@dataclass
class FrameworkState:
    """A checkpointed framework: its `FrameworkInfo`, scheduler pid (None for an HTTP
    framework) and executors."""

    id: str
    info: mesos_pb2.FrameworkInfo | None = None
    pid: UPID | None = None
    executors: dict[str, ExecutorState] = field(default_factory=dict)
    errors: int = 0


@dataclass
class SlaveState:
    """The latest agent's checkpoint: its id, `SlaveInfo` (None if it never registered) and
    frameworks."""

    id: str
    info: mesos_pb2.SlaveInfo | None = None
    frameworks: dict[str, FrameworkState] = field(default_factory=dict)
    errors: int = 0


@dataclass
class State:
    """Everything recovered: the latest agent (None if there is none), whether the host
    rebooted since it was checkpointed, and the number of errors a non-strict recovery
    tolerated (in the whole tree)."""

    slave: SlaveState | None = None
    rebooted: bool = False
    errors: int = 0


# ---------------------------------------------------------------------------------------
# Reading.


class _Reader:
    """One recovery: the strict flag and the way each problem is handled."""

    def __init__(self, strict: bool) -> None:
        self.strict = strict

    def error(self, message: str) -> None:
        """A recovery error: fatal when strict, logged (and counted by the caller) when
        not."""
        if self.strict:
            raise RecoveryError(message)
        log.error("Recovery error (tolerated because --strict=false): %s", message)

    @staticmethod
    def link_target(link: str) -> str:
        """Where a symlink points (absolute), without resolving every component."""
        target = os.readlink(link)
        return target if os.path.isabs(target) else os.path.join(os.path.dirname(link),
                                                                  target)

    def listdir(self, directory: str) -> list[str]:
        """The entries of `directory` (none if it does not exist), sorted."""
        try:
            return sorted(os.listdir(directory))
        except FileNotFoundError:
            return []
        except OSError as e:
            raise RecoveryError(f"Failed to list '{directory}': {e.strerror or e}") from None


def current_boot_id() -> str:
    """This boot of the host (`os::bootId`): the kernel's boot id, or the boot time where
    there is none."""
    try:
        with open(BOOT_ID_PATH) as f:
            return f.read().strip()
    except OSError:
        return str(int(psutil.boot_time()))


def recover(root_dir: str, strict: bool) -> State:
    """Reads the checkpointed state under `root_dir` (the agent's `meta` directory).

    Port of `state::recover`: no `root_dir` or no `slaves/latest` link means there is
    nothing to recover (a first start, or an agent that never registered or was shut down).
    A `boot_id` different from this boot's sets `rebooted` (the state is still read: the
    agent decides). Raises `RecoveryError` (see the module docstring).
    """
    log.info("Recovering state from '%s'", root_dir)
    state = State()
    if not os.path.exists(root_dir):
        return state
    reader = _Reader(strict)

    boot_id_path = paths.get_boot_id_path(root_dir)
    if os.path.exists(boot_id_path):
        try:
            previous = read_text(boot_id_path)
        except (OSError, CheckpointError) as e:
            # As in Mesos, an unreadable boot id only costs the reboot detection.
            log.warning("Failed to read '%s': %s", boot_id_path, e)
        else:
            if previous != current_boot_id():
                log.info("Agent host rebooted")
                state.rebooted = True

    latest = paths.get_latest_slave_path(root_dir)
    if not os.path.lexists(latest):
        log.info("Failed to find the latest agent from '%s'", root_dir)
        return state
    try:
        target = reader.link_target(latest)
    except OSError as e:
        raise RecoveryError(f"Failed to read the latest agent link '{latest}': {e}") from None
    if not os.path.isdir(target):
        reader.error(f"Failed to find the latest agent: '{latest}' points to '{target}', "
                     "which does not exist (a dangling link)")
        state.errors += 1
        return state
    slave_id = os.path.basename(target)

    state.slave = _recover_slave(reader, root_dir, slave_id)
    state.errors += state.slave.errors
    return state


def _recover_slave(reader: _Reader, root: str, slave_id: str) -> SlaveState:
    state = SlaveState(slave_id)
    path = paths.get_slave_info_path(root, slave_id)
    if not os.path.exists(path):
        # The agent died before it registered with the master.
        log.warning("Failed to find agent info file '%s'", path)
        return state
    try:
        state.info = read_message(path, mesos_pb2.SlaveInfo)
    except (OSError, CheckpointError) as e:
        reader.error(f"Failed to read agent info: {e}")
        state.errors += 1
        return state

    frameworks = os.path.join(paths.get_slave_path(root, slave_id), paths.FRAMEWORKS_DIR)
    for framework_id in reader.listdir(frameworks):
        framework = _recover_framework(reader, root, slave_id, framework_id)
        state.frameworks[framework_id] = framework
        state.errors += framework.errors
    return state


def _recover_framework(reader: _Reader, root: str, slave_id: str,
                       framework_id: str) -> FrameworkState:
    state = FrameworkState(framework_id)
    executors_dir = os.path.join(paths.get_framework_path(root, slave_id, framework_id),
                                 paths.EXECUTORS_DIR)
    executor_ids = reader.listdir(executors_dir)

    path = paths.get_framework_info_path(root, slave_id, framework_id)
    if not os.path.exists(path):
        if executor_ids:
            # `framework.info` is written before any of its executors: it was deleted.
            reader.error(f"Failed to find framework info file '{path}' although the framework "
                         f"has executors {executor_ids}")
            state.errors += 1
        else:
            log.warning("Failed to find framework info file '%s'", path)
        return state
    try:
        state.info = read_message(path, mesos_pb2.FrameworkInfo)
    except (OSError, CheckpointError) as e:
        reader.error(f"Failed to read framework info: {e}")
        state.errors += 1
        return state

    path = paths.get_framework_pid_path(root, slave_id, framework_id)
    if not os.path.exists(path):
        if executor_ids:
            reader.error(f"Failed to find framework pid file '{path}' although the framework "
                         f"has executors {executor_ids}")
            state.errors += 1
        else:
            log.warning("Failed to find framework pid file '%s'", path)
        return state
    try:
        with open(path, "rb") as f:
            text = f.read().decode().strip()
        # An HTTP framework has no pid: its file is empty.
        state.pid = UPID(text) if text else None
    except (OSError, UnicodeDecodeError, UPIDError) as e:
        reader.error(f"Failed to read framework pid from '{path}': {e}")
        state.errors += 1
        return state

    for executor_id in executor_ids:
        executor = _recover_executor(reader, root, slave_id, framework_id, executor_id)
        state.executors[executor_id] = executor
        state.errors += executor.errors
    return state


def _recover_executor(reader: _Reader, root: str, slave_id: str, framework_id: str,
                      executor_id: str) -> ExecutorState:
    state = ExecutorState(executor_id)
    runs_dir = os.path.join(paths.get_executor_path(root, slave_id, framework_id, executor_id),
                            paths.EXECUTOR_RUNS_DIR)
    for name in reader.listdir(runs_dir):
        run_path = os.path.join(runs_dir, name)
        if name == paths.LATEST_SYMLINK:
            try:
                target = reader.link_target(run_path)
            except OSError:
                target = os.path.realpath(run_path)
            if not os.path.isdir(target):
                reader.error(f"Failed to find the latest run of executor '{executor_id}' of "
                             f"framework {framework_id}: '{run_path}' points to '{target}', "
                             "which does not exist (a dangling link)")
                state.errors += 1
                continue
            state.latest = os.path.basename(target)
        elif name.startswith("."):
            continue  # A stray temporary file or link of an interrupted write.
        elif os.path.isdir(run_path):
            run = _recover_run(reader, root, slave_id, framework_id, executor_id, name)
            state.runs[name] = run
            state.errors += run.errors

    if state.latest is None:
        # The agent died before it created the link (or the link was dangling).
        log.warning("Failed to find the latest run of executor '%s' of framework %s",
                    executor_id, framework_id)
        return state

    path = paths.get_executor_info_path(root, slave_id, framework_id, executor_id)
    if not os.path.exists(path):
        # `executor.info` is written before the executor's first run directory.
        reader.error(f"Failed to find executor info file '{path}' although the executor has "
                     f"runs {sorted(state.runs)}")
        state.errors += 1
        return state
    try:
        state.info = read_message(path, mesos_pb2.ExecutorInfo)
    except (OSError, CheckpointError) as e:
        reader.error(f"Failed to read executor info: {e}")
        state.errors += 1
    return state


def _recover_run(reader: _Reader, root: str, slave_id: str, framework_id: str,
                 executor_id: str, container_id: str) -> RunState:
    state = RunState(container_id)
    # Paths are built from the run's directory (as `paths` lays them out), once.
    run_dir = paths.get_executor_run_path(root, slave_id, framework_id, executor_id,
                                          container_id)
    # Known first, so that it holds even if the rest of the run is partial.
    state.completed = os.path.exists(os.path.join(run_dir, paths.EXECUTOR_SENTINEL_FILE))

    tasks_dir = os.path.join(run_dir, "tasks")
    for task_id in reader.listdir(tasks_dir):
        task = _recover_task(reader, os.path.join(tasks_dir, task_id), task_id)
        state.tasks[task_id] = task
        state.errors += task.errors

    forked = os.path.join(run_dir, "pids", paths.FORKED_PID_FILE)
    libprocess = os.path.join(run_dir, "pids", paths.LIBPROCESS_PID_FILE)
    marker = os.path.join(run_dir, paths.HTTP_MARKER_FILE)
    if not os.path.exists(forked):
        registered = next((p for p in (libprocess, marker) if os.path.exists(p)), None)
        if registered is not None:
            # The forked pid is written at launch, before the executor could register and
            # have its libprocess pid (or HTTP marker) written: this run was partly deleted.
            reader.error(f"Failed to find executor forked pid file '{forked}' although "
                         f"'{registered}' exists")
            state.errors += 1
        else:
            # The agent died before the executor was launched.
            log.warning("Failed to find executor forked pid file '%s'", forked)
        return state
    try:
        text = read_text(forked)
        state.forked_pid = int(text)
        if state.forked_pid <= 0:
            raise ValueError(f"'{text}' is not a process id")
        state.forked_pid_time = os.stat(forked).st_mtime
    except (OSError, CheckpointError, ValueError) as e:
        reader.error(f"Failed to read executor forked pid from '{forked}': {e}")
        state.errors += 1
        state.forked_pid = None
        return state

    if not os.path.exists(libprocess):
        if os.path.exists(marker):
            # An HTTP executor: it subscribes again by itself.
            state.http = True
            return state
        # The agent died before the executor registered.
        log.warning("Failed to find executor libprocess pid file '%s' or HTTP marker '%s'",
                    libprocess, marker)
        return state
    try:
        pid = UPID(read_text(libprocess))
        if not pid:
            raise UPIDError("empty pid")
        state.libprocess_pid = pid
        state.http = False
    except (OSError, CheckpointError, UPIDError) as e:
        reader.error(f"Failed to read executor libprocess pid from '{libprocess}': {e}")
        state.errors += 1
    return state


def _recover_task(reader: _Reader, task_dir: str, task_id: str) -> TaskState:
    state = TaskState(task_id)
    info = os.path.join(task_dir, paths.TASK_INFO_FILE)
    updates = os.path.join(task_dir, paths.TASK_UPDATES_FILE)
    if not os.path.exists(info):
        if os.path.exists(updates):
            # `task.info` is written before the first update: this task was partly deleted.
            reader.error(f"Failed to find task info file '{info}' although '{updates}' exists")
            state.errors += 1
        else:
            log.warning("Failed to find task info file '%s'", info)
        return state
    try:
        state.info = read_message(info, mesos_pb2.Task)
    except (OSError, CheckpointError) as e:
        reader.error(f"Failed to read task info: {e}")
        state.errors += 1
        return state

    if not os.path.exists(updates):
        # The agent died before it checkpointed any update of the task.
        log.warning("Failed to find status updates file '%s'", updates)
        return state
    state.updates_path = updates
    try:
        records = read_task_updates(updates, reader.strict)
    except UpdatesError as e:
        raise RecoveryError(str(e)) from None
    except OSError as e:
        reader.error(f"Failed to read status updates file '{updates}': {e.strerror or e}")
        state.errors += 1
        state.updates_path = None
        return state
    state.updates = records.updates
    state.acks = records.acks
    state.errors += records.errors
    return state


# ---------------------------------------------------------------------------------------
# Every run that may still have a live executor, whatever agent it belongs to.


@dataclass(frozen=True)
class CheckpointedRun:
    """A run (container) found under `slaves/*/.../runs/`: not completed, with a forked pid.
    Its executor may still run although the agent recovers no executor for it (its agent,
    framework or executor info could not be recovered, or it belongs to an older agent)."""

    slave_id: str
    framework_id: str
    executor_id: str
    container_id: str
    forked_pid: int
    forked_pid_time: float


def checkpointed_runs(root_dir: str) -> list[CheckpointedRun]:
    """Every run under `root_dir` (the `meta` directory) of every agent, framework and
    executor, that has no `executor.sentinel` and a readable `forked.pid`.

    The agent destroys the executors of those it does not recover, as Mesos's containerizer
    destroys the containers of its runtime directory the agent did not recover ("orphans").
    Best effort, and never an error: a file that cannot be read only hides its run.
    """
    runs: list[CheckpointedRun] = []

    def entries(directory: str) -> list[str]:
        try:
            return sorted(name for name in os.listdir(directory)
                          if name != paths.LATEST_SYMLINK and not name.startswith("."))
        except OSError:
            return []

    slaves = os.path.join(root_dir, paths.SLAVES_DIR)
    for slave_id in entries(slaves):
        frameworks = os.path.join(slaves, slave_id, paths.FRAMEWORKS_DIR)
        for framework_id in entries(frameworks):
            executors = os.path.join(frameworks, framework_id, paths.EXECUTORS_DIR)
            for executor_id in entries(executors):
                runs_dir = os.path.join(executors, executor_id, paths.EXECUTOR_RUNS_DIR)
                for container_id in entries(runs_dir):
                    run_dir = os.path.join(runs_dir, container_id)
                    if os.path.islink(run_dir) or os.path.exists(
                            os.path.join(run_dir, paths.EXECUTOR_SENTINEL_FILE)):
                        continue
                    forked = os.path.join(run_dir, "pids", paths.FORKED_PID_FILE)
                    try:
                        pid = int(read_text(forked))
                        mtime = os.stat(forked).st_mtime
                    except (OSError, CheckpointError, ValueError):
                        continue
                    if pid > 0:
                        runs.append(CheckpointedRun(slave_id, framework_id, executor_id,
                                                    container_id, pid, mtime))
    return runs


# ---------------------------------------------------------------------------------------
# Writing (`Slave::registered`, `Framework::checkpointFramework`,
# `Executor::checkpointExecutor`, `Executor::checkpointTask`, ...). Each raises `OSError`.


def checkpoint_boot_id(root_dir: str) -> None:
    """`meta/boot_id`: this boot's id, so that the next start can tell a reboot."""
    path = paths.get_boot_id_path(root_dir)
    log.debug("Checkpointing boot id to '%s'", path)
    checkpoint(path, current_boot_id())


def checkpoint_slave_info(root_dir: str, info: mesos_pb2.SlaveInfo) -> None:
    """`slaves/<sid>/slave.info`, after pointing `slaves/latest` at this agent."""
    paths.create_slave_directory(root_dir, info.id)
    path = paths.get_slave_info_path(root_dir, info.id)
    log.info("Checkpointing SlaveInfo to '%s'", path)
    checkpoint(path, info)


def checkpoint_framework(root_dir: str, slave_id: Any, info: mesos_pb2.FrameworkInfo,
                         pid: UPID | None) -> None:
    """`framework.info` then `framework.pid` (empty for an HTTP framework)."""
    path = paths.get_framework_info_path(root_dir, slave_id, info.id)
    log.info("Checkpointing FrameworkInfo to '%s'", path)
    checkpoint(path, info)
    path = paths.get_framework_pid_path(root_dir, slave_id, info.id)
    log.info("Checkpointing framework pid '%s' to '%s'", pid or "", path)
    checkpoint(path, str(pid) if pid is not None else "")


def checkpoint_executor(root_dir: str, slave_id: Any, framework_id: Any,
                        info: mesos_pb2.ExecutorInfo, container_id: str) -> str:
    """`executor.info`, then the run's meta directory with `runs/latest` pointing at it;
    returns that directory."""
    path = paths.get_executor_info_path(root_dir, slave_id, framework_id, info.executor_id)
    log.info("Checkpointing ExecutorInfo to '%s'", path)
    checkpoint(path, info)
    return paths.create_executor_directory(root_dir, slave_id, framework_id, info.executor_id,
                                           container_id)


def checkpoint_task(root_dir: str, slave_id: Any, framework_id: Any, executor_id: Any,
                    container_id: str, task: mesos_pb2.Task) -> None:
    """`task.info`: the `Task` (not the `TaskInfo`, whose `data` may be large)."""
    path = paths.get_task_info_path(root_dir, slave_id, framework_id, executor_id,
                                    container_id, task.task_id)
    log.info("Checkpointing TaskInfo to '%s'", path)
    checkpoint(path, task)


def checkpoint_libprocess_pid(root_dir: str, slave_id: Any, framework_id: Any,
                              executor_id: Any, container_id: str, pid: UPID) -> None:
    """`pids/libprocess.pid`: where a restarted agent finds the executor to reconnect."""
    path = paths.get_libprocess_pid_path(root_dir, slave_id, framework_id, executor_id,
                                         container_id)
    log.info("Checkpointing executor pid '%s' to '%s'", pid, path)
    checkpoint(path, str(pid))


def checkpoint_http_marker(root_dir: str, slave_id: Any, framework_id: Any,
                           executor_id: Any, container_id: str) -> None:
    """`http.marker`: the executor subscribed over the v1 HTTP API, so a restarted agent
    waits for it to subscribe again instead of sending it ReconnectExecutorMessage."""
    path = paths.get_executor_http_marker_path(root_dir, slave_id, framework_id, executor_id,
                                               container_id)
    log.info("Creating a marker file for an HTTP based executor at '%s'", path)
    checkpoint(path, b"")


def mark_executor_completed(root_dir: str, slave_id: Any, framework_id: Any,
                            executor_id: Any, container_id: str) -> None:
    """`executor.sentinel`: the run terminated and all its updates were acknowledged, so a
    restarted agent does not wait for it."""
    path = paths.get_executor_sentinel_path(root_dir, slave_id, framework_id, executor_id,
                                            container_id)
    checkpoint(path, b"")


# ---------------------------------------------------------------------------------------
# Compatibility of a recovered `SlaveInfo` with the agent's current one
# (`src/slave/compatibility.cpp`).


def _describe(info: mesos_pb2.SlaveInfo) -> str:
    from mesos.common.attributes import format_attributes

    return (f"hostname: {info.hostname}, port: {info.port}, resources: "
            f"{Resources(info.resources)}, attributes: '{format_attributes(info.attributes)}'")


def _attribute_value(attribute: Any) -> Any:
    if attribute.type == mesos_pb2.Value.SCALAR:
        return round(attribute.scalar.value, 3)
    if attribute.type == mesos_pb2.Value.TEXT:
        return attribute.text.value
    if attribute.type == mesos_pb2.Value.RANGES:
        return {(r.begin, r.end) for r in attribute.ranges.range}
    return attribute.SerializeToString()


def _ranges_within(inner: Iterable[tuple[int, int]], outer: Iterable[tuple[int, int]]) -> bool:
    spans = list(outer)
    return all(any(b <= begin and end <= e for b, e in spans) for begin, end in inner)


def compatible(previous: mesos_pb2.SlaveInfo, current: mesos_pb2.SlaveInfo,
               policy: str) -> str | None:
    """None if an agent checkpointed with `previous` may recover as `current` under
    `--reconfiguration_policy` (`equal`: nothing changed; `additive`: same hostname, port
    and domain, resources and attributes only added or grown); otherwise the reason.
    `current` must carry the recovered id."""
    if policy == "equal":
        if previous == current:
            return None
        return ("Incompatible agent info detected.\n"
                f"Old agent info: {_describe(previous)}\n"
                f"New agent info: {_describe(current)}")
    if policy != "additive":
        return f"Unknown reconfiguration policy '{policy}'"

    def refused(reason: str) -> str:
        return f"Configuration change not permitted under 'additive' policy: {reason}"

    if previous.hostname != current.hostname:
        return refused(f"Hostname changed from {previous.hostname} to {current.hostname}")
    if previous.port != current.port:
        return refused(f"Port changed from {previous.port} to {current.port}")
    if previous.HasField("domain") and previous.domain != current.domain:
        return refused("Domain changed")
    old_resources, new_resources = Resources(previous.resources), Resources(current.resources)
    if not new_resources.contains(old_resources):
        return refused(f"Resources {old_resources} are not all contained in {new_resources}")
    for attribute in previous.attributes:
        match = next((a for a in current.attributes if a.name == attribute.name), None)
        if match is None:
            return refused(f"Couldn't find attribute '{attribute.name}'")
        if match.type != attribute.type:
            return refused(f"Type of attribute '{attribute.name}' changed")
        old, new = _attribute_value(attribute), _attribute_value(match)
        if attribute.type == mesos_pb2.Value.RANGES:
            if not _ranges_within(old, new):
                return refused(f"Previous value of ranges attribute '{attribute.name}' not "
                               "included in current")
        elif old != new:
            return refused(f"Value of attribute '{attribute.name}' changed")
    return None
