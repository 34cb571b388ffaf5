"""Where the agent keeps things under `--work_dir`: sandboxes and the `meta/` checkpoints.

Port of `src/slave/paths.{hpp,cpp}`. Every path the agent (and, later, its recovery) uses is
built here and nowhere else. The same functions build both trees: pass `work_dir` for the
sandboxes and `get_meta_root_dir(work_dir)` for the checkpoints, exactly as Mesos passes
`flags.work_dir` or `metaDir` as `rootDir`:

    <root>/slaves/latest                                   -> symlink to the current agent
    <root>/slaves/<sid>/slave.info                         (meta only)
    <root>/slaves/<sid>/frameworks/<fid>/framework.{info,pid}             (meta only)
    <root>/slaves/<sid>/frameworks/<fid>/executors/<eid>/executor.info    (meta only)
    <root>/slaves/<sid>/frameworks/<fid>/executors/<eid>/runs/latest      -> symlink
    <root>/slaves/<sid>/frameworks/<fid>/executors/<eid>/runs/<cid>/      the sandbox
        .../runs/<cid>/executor.sentinel, http.marker, pids/{forked,libprocess}.pid,
        .../runs/<cid>/tasks/<tid>/{task.info,task.updates}                (meta only)
    <work_dir>/meta/boot_id, <work_dir>/meta/resources/resources.info

Ids may be given as protobuf ids (`SlaveID`, ...) or as plain strings. Pure functions except
the two `create_*` helpers, which make directories and swap the `latest` symlink.
"""

from __future__ import annotations

import os
from typing import Any

__all__ = [
    "BOOT_ID_FILE",
    "EXECUTORS_DIR",
    "EXECUTOR_INFO_FILE",
    "EXECUTOR_RUNS_DIR",
    "EXECUTOR_SENTINEL_FILE",
    "FORKED_PID_FILE",
    "FRAMEWORKS_DIR",
    "FRAMEWORK_INFO_FILE",
    "FRAMEWORK_PID_FILE",
    "HTTP_MARKER_FILE",
    "LATEST_SYMLINK",
    "LIBPROCESS_PID_FILE",
    "SLAVES_DIR",
    "SLAVE_INFO_FILE",
    "TASK_INFO_FILE",
    "TASK_UPDATES_FILE",
    "ExecutorRunPath",
    "create_executor_directory",
    "create_slave_directory",
    "get_boot_id_path",
    "get_executor_http_marker_path",
    "get_executor_info_path",
    "get_executor_latest_run_path",
    "get_executor_path",
    "get_executor_run_path",
    "get_executor_sentinel_path",
    "get_executor_virtual_path",
    "get_forked_pid_path",
    "get_framework_info_path",
    "get_framework_path",
    "get_framework_pid_path",
    "get_latest_slave_path",
    "get_libprocess_pid_path",
    "get_meta_root_dir",
    "get_resources_info_path",
    "get_resources_target_path",
    "get_sandbox_root_dir",
    "get_slave_info_path",
    "get_slave_path",
    "get_task_info_path",
    "get_task_path",
    "get_task_updates_path",
    "parse_executor_run_path",
]

# File names, as `src/slave/paths.cpp` spells them.
BOOT_ID_FILE = "boot_id"
SLAVE_INFO_FILE = "slave.info"
FRAMEWORK_PID_FILE = "framework.pid"
FRAMEWORK_INFO_FILE = "framework.info"
LIBPROCESS_PID_FILE = "libprocess.pid"
EXECUTOR_INFO_FILE = "executor.info"
EXECUTOR_SENTINEL_FILE = "executor.sentinel"
HTTP_MARKER_FILE = "http.marker"
FORKED_PID_FILE = "forked.pid"
TASK_INFO_FILE = "task.info"
TASK_UPDATES_FILE = "task.updates"
RESOURCES_INFO_FILE = "resources.info"
RESOURCES_TARGET_FILE = "resources.target"
LATEST_SYMLINK = "latest"

# Directory names.
SLAVES_DIR = "slaves"
FRAMEWORKS_DIR = "frameworks"
EXECUTORS_DIR = "executors"
EXECUTOR_RUNS_DIR = "runs"


def _id(value: Any) -> str:
    """The text of an id: a protobuf id's `value`, or the string itself."""
    text = value if isinstance(value, str) else value.value
    # An id that is empty, `.`/`..` or holds a separator would escape its directory.
    if not text or text in (".", "..") or os.sep in text or "\0" in text:
        raise ValueError(f"Invalid id {text!r} for a path component")
    return text


def get_meta_root_dir(work_dir: str) -> str:
    return os.path.join(work_dir, "meta")


def get_sandbox_root_dir(work_dir: str) -> str:
    return os.path.join(work_dir, SLAVES_DIR)


def get_boot_id_path(root_dir: str) -> str:
    return os.path.join(root_dir, BOOT_ID_FILE)


def get_latest_slave_path(root_dir: str) -> str:
    return os.path.join(root_dir, SLAVES_DIR, LATEST_SYMLINK)


def get_slave_path(root_dir: str, slave_id: Any) -> str:
    return os.path.join(root_dir, SLAVES_DIR, _id(slave_id))


def get_slave_info_path(root_dir: str, slave_id: Any) -> str:
    return os.path.join(get_slave_path(root_dir, slave_id), SLAVE_INFO_FILE)


def get_framework_path(root_dir: str, slave_id: Any, framework_id: Any) -> str:
    return os.path.join(get_slave_path(root_dir, slave_id), FRAMEWORKS_DIR, _id(framework_id))


def get_framework_pid_path(root_dir: str, slave_id: Any, framework_id: Any) -> str:
    return os.path.join(get_framework_path(root_dir, slave_id, framework_id),
                        FRAMEWORK_PID_FILE)


def get_framework_info_path(root_dir: str, slave_id: Any, framework_id: Any) -> str:
    return os.path.join(get_framework_path(root_dir, slave_id, framework_id),
                        FRAMEWORK_INFO_FILE)


def get_executor_path(root_dir: str, slave_id: Any, framework_id: Any,
                      executor_id: Any) -> str:
    return os.path.join(get_framework_path(root_dir, slave_id, framework_id), EXECUTORS_DIR,
                        _id(executor_id))


def get_executor_info_path(root_dir: str, slave_id: Any, framework_id: Any,
                           executor_id: Any) -> str:
    return os.path.join(get_executor_path(root_dir, slave_id, framework_id, executor_id),
                        EXECUTOR_INFO_FILE)


def get_executor_run_path(root_dir: str, slave_id: Any, framework_id: Any, executor_id: Any,
                          container_id: Any) -> str:
    return os.path.join(get_executor_path(root_dir, slave_id, framework_id, executor_id),
                        EXECUTOR_RUNS_DIR, _id(container_id))


def get_executor_latest_run_path(root_dir: str, slave_id: Any, framework_id: Any,
                                 executor_id: Any) -> str:
    return os.path.join(get_executor_path(root_dir, slave_id, framework_id, executor_id),
                        EXECUTOR_RUNS_DIR, LATEST_SYMLINK)


def get_executor_virtual_path(framework_id: Any, executor_id: Any) -> str:
    """`/frameworks/<fid>/executors/<eid>/runs/latest`: the sandbox as `/files` shows it,
    without the agent's work directory and id."""
    return "/" + "/".join((FRAMEWORKS_DIR, _id(framework_id), EXECUTORS_DIR, _id(executor_id),
                           EXECUTOR_RUNS_DIR, LATEST_SYMLINK))


def get_executor_sentinel_path(root_dir: str, slave_id: Any, framework_id: Any,
                               executor_id: Any, container_id: Any) -> str:
    return os.path.join(get_executor_run_path(root_dir, slave_id, framework_id, executor_id,
                                              container_id), EXECUTOR_SENTINEL_FILE)


def get_executor_http_marker_path(root_dir: str, slave_id: Any, framework_id: Any,
                                  executor_id: Any, container_id: Any) -> str:
    return os.path.join(get_executor_run_path(root_dir, slave_id, framework_id, executor_id,
                                              container_id), HTTP_MARKER_FILE)


def get_libprocess_pid_path(root_dir: str, slave_id: Any, framework_id: Any,
                            executor_id: Any, container_id: Any) -> str:
    return os.path.join(get_executor_run_path(root_dir, slave_id, framework_id, executor_id,
                                              container_id), "pids", LIBPROCESS_PID_FILE)


def get_forked_pid_path(root_dir: str, slave_id: Any, framework_id: Any, executor_id: Any,
                        container_id: Any) -> str:
    return os.path.join(get_executor_run_path(root_dir, slave_id, framework_id, executor_id,
                                              container_id), "pids", FORKED_PID_FILE)


def get_task_path(root_dir: str, slave_id: Any, framework_id: Any, executor_id: Any,
                  container_id: Any, task_id: Any) -> str:
    return os.path.join(get_executor_run_path(root_dir, slave_id, framework_id, executor_id,
                                              container_id), "tasks", _id(task_id))


def get_task_info_path(root_dir: str, slave_id: Any, framework_id: Any, executor_id: Any,
                       container_id: Any, task_id: Any) -> str:
    return os.path.join(get_task_path(root_dir, slave_id, framework_id, executor_id,
                                      container_id, task_id), TASK_INFO_FILE)


def get_task_updates_path(root_dir: str, slave_id: Any, framework_id: Any, executor_id: Any,
                          container_id: Any, task_id: Any) -> str:
    return os.path.join(get_task_path(root_dir, slave_id, framework_id, executor_id,
                                      container_id, task_id), TASK_UPDATES_FILE)


def get_resources_info_path(root_dir: str) -> str:
    return os.path.join(root_dir, "resources", RESOURCES_INFO_FILE)


def get_resources_target_path(root_dir: str) -> str:
    return os.path.join(root_dir, "resources", RESOURCES_TARGET_FILE)


class ExecutorRunPath:
    """The four ids an executor run directory names (`paths::ExecutorRunPath`)."""

    __slots__ = ("container_id", "executor_id", "framework_id", "slave_id")

    def __init__(self, slave_id: str, framework_id: str, executor_id: str,
                 container_id: str) -> None:
        self.slave_id = slave_id
        self.framework_id = framework_id
        self.executor_id = executor_id
        self.container_id = container_id

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ExecutorRunPath) and (
            (self.slave_id, self.framework_id, self.executor_id, self.container_id)
            == (other.slave_id, other.framework_id, other.executor_id, other.container_id))

    def __hash__(self) -> int:
        return hash((self.slave_id, self.framework_id, self.executor_id, self.container_id))

    def __repr__(self) -> str:
        return (f"ExecutorRunPath({self.slave_id!r}, {self.framework_id!r}, "
                f"{self.executor_id!r}, {self.container_id!r})")


def parse_executor_run_path(root_dir: str, directory: str) -> ExecutorRunPath:
    """The ids of `<root>/slaves/<sid>/frameworks/<fid>/executors/<eid>/runs/<cid>[/...]`.

    Port of `paths::parseExecutorRunPath`; raises `ValueError` if `directory` is not under
    `root_dir` or does not name an executor run.
    """
    root = os.path.join(root_dir, "")
    if not directory.startswith(root):
        raise ValueError(f"Directory '{directory}' does not fall under the root directory: "
                         f"{root}")
    tokens = [t for t in directory[len(root):].split(os.sep) if t]
    if len(tokens) < 8:
        raise ValueError("Path after root directory is not long enough to be an executor "
                         f"run path: {os.path.join(*tokens) if tokens else ''}")
    if (tokens[0], tokens[2], tokens[4], tokens[6]) != (SLAVES_DIR, FRAMEWORKS_DIR,
                                                        EXECUTORS_DIR, EXECUTOR_RUNS_DIR):
        raise ValueError(f"Could not parse executor run path from directory: {directory}")
    return ExecutorRunPath(tokens[1], tokens[3], tokens[5], tokens[7])


def _relink(target: str, link: str) -> None:
    """Points the symlink `link` at `target`, replacing an older link atomically."""
    temporary = f"{link}.{os.getpid()}.tmp"
    try:
        os.unlink(temporary)
    except FileNotFoundError:
        pass
    os.symlink(target, temporary)
    os.replace(temporary, link)


def create_slave_directory(root_dir: str, slave_id: Any) -> str:
    """Makes `<root>/slaves/<sid>` and points `<root>/slaves/latest` at it (port of
    `paths::createSlaveDirectory`); returns the directory."""
    directory = get_slave_path(root_dir, slave_id)
    os.makedirs(directory, exist_ok=True)
    _relink(directory, get_latest_slave_path(root_dir))
    return directory


def create_executor_directory(root_dir: str, slave_id: Any, framework_id: Any,
                              executor_id: Any, container_id: Any) -> str:
    """Makes the run directory of an executor and points its `runs/latest` at it (port of
    `paths::createExecutorDirectory`); returns the run directory. Raises `OSError`."""
    directory = get_executor_run_path(root_dir, slave_id, framework_id, executor_id,
                                      container_id)
    os.makedirs(directory, exist_ok=True)
    _relink(directory, get_executor_latest_run_path(root_dir, slave_id, framework_id,
                                                    executor_id))
    return directory
