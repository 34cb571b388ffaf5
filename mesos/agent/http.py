"""The agent's HTTP endpoints (port of `src/slave/http.cpp` and the sandbox side of
`src/files/files.cpp`).

Served by the agent process, so `/slave(1)/state` and, on an agent whose process is the HTTP
delegate, `/state`: `state`, `flags`, `health`, `monitor/statistics`, and the sandbox browser
`files/browse`, `files/read` and `files/download` (which a real agent serves from its `files`
process at `/files/...`; the delegate routes those paths here), and `api/v1/executor`, the
v1 executor HTTP API (`executor_api.ExecutorApi`). Every handler runs on the
agent's thread; `monitor/statistics` gathers the executors' usage on the containerizer's
threads and answers with a future.

The JSON shapes are Mesos's: field names, enum names for task states, resources as
`{"cpus": 1.0, "mem": 128.0, ...}`. The sandbox browser shows only what lies under the
agent's sandbox root (`<work_dir>/slaves`): a path outside it, or escaping it through `..`
or a symlink, is "not found", as an unattached path is in Mesos.
"""

from __future__ import annotations

import grp
import logging
import os
import pwd
import stat
from typing import TYPE_CHECKING, Any

from libprocess import OK, BadRequest, Future, NotFound, Request, Response, collect
from mesos.agent import paths
from mesos.agent.agent import MESOS_VERSION, Executor, Framework
from mesos.agent.executor_api import ExecutorApi
from mesos.common.json_model import model_attributes, model_resources, to_mesos_json
from mesos.common.resources import Resources
from mesos.protos.mesos import mesos_pb2

if TYPE_CHECKING:
    from mesos.agent.agent import Agent

__all__ = ["AgentHttp", "model_task", "model_task_info"]

log = logging.getLogger(__name__)

# `files.cpp` caps a read at 16 pages.
MAX_READ_LENGTH = 16 * 4096


def _state_name(state: int) -> str:
    try:
        return mesos_pb2.TaskState.Name(state)
    except ValueError:
        return str(state)


def _role(resources: Any) -> str | None:
    for resource in resources:
        if resource.HasField("allocation_info"):
            return resource.allocation_info.role
    return None


def model_status(status: Any) -> dict[str, Any]:
    """A task status as `/state` shows it (`json(JSON::ObjectWriter*, const TaskStatus&)`)."""
    result: dict[str, Any] = {"state": _state_name(status.state),
                              "timestamp": status.timestamp}
    if status.HasField("labels"):
        result["labels"] = to_mesos_json(status.labels)["labels"] if status.labels.labels \
            else []
    if status.HasField("container_status"):
        result["container_status"] = to_mesos_json(status.container_status)
    if status.HasField("healthy"):
        result["healthy"] = status.healthy
    return result


def _task_common(result: dict[str, Any], task: Any) -> dict[str, Any]:
    role = _role(task.resources)
    if role is not None:
        result["role"] = role
    for name in ("labels", "discovery", "container", "health_check", "kill_policy"):
        if task.HasField(name):
            value = to_mesos_json(getattr(task, name))
            result[name] = value.get("labels", []) if name == "labels" else value
    return result


def model_task(task: Any) -> dict[str, Any]:
    """A `Task` as `/state` shows it (`model(const Task&)`)."""
    result: dict[str, Any] = {
        "id": task.task_id.value,
        "name": task.name,
        "framework_id": task.framework_id.value,
        "executor_id": task.executor_id.value,
        "slave_id": task.slave_id.value,
        "state": _state_name(task.state),
        "resources": model_resources(task.resources),
        "statuses": [model_status(status) for status in task.statuses],
    }
    if task.HasField("user"):
        result["user"] = task.user
    return _task_common(result, task)


def model_task_info(task: Any, framework_id: str) -> dict[str, Any]:
    """A queued `TaskInfo` as `/state` shows it (`model(const TaskInfo&)`): always STAGING."""
    result: dict[str, Any] = {
        "id": task.task_id.value,
        "name": task.name,
        "framework_id": framework_id,
        "executor_id": task.executor.executor_id.value if task.HasField("executor") else "",
        "slave_id": task.slave_id.value,
        "state": "TASK_STAGING",
        "resources": model_resources(task.resources),
        "statuses": [],
    }
    return _task_common(result, task)


def model_executor(executor: Executor) -> dict[str, Any]:
    """An executor as the agent's `/state` shows it (`ExecutorWriter`)."""
    info = executor.info
    result: dict[str, Any] = {
        "id": executor.id,
        "name": info.name,
        "framework_id": executor.framework_id.value,
        "source": info.source,
        "container": executor.container_id,
        "directory": executor.directory,
        "resources": model_resources(executor.allocated_resources()),
    }
    role = _role(info.resources)
    if role is not None:
        result["role"] = role
    if info.HasField("labels"):
        result["labels"] = to_mesos_json(info.labels).get("labels", [])
    if info.HasField("type"):
        result["type"] = mesos_pb2.ExecutorInfo.Type.Name(info.type)
    result["tasks"] = [model_task(task) for task in executor.launched_tasks.values()]
    result["queued_tasks"] = [model_task_info(task, executor.framework_id.value)
                              for task in executor.queued_tasks.values()]
    result["completed_tasks"] = [model_task(task) for task in [
        *executor.terminated_tasks.values(), *executor.completed_tasks]]
    return result


def model_framework(framework: Framework) -> dict[str, Any]:
    """A framework as the agent's `/state` shows it (`FrameworkWriter`)."""
    info = framework.info
    result: dict[str, Any] = {
        "id": framework.id,
        "name": info.name,
        "user": info.user,
        "failover_timeout": info.failover_timeout,
        "checkpoint": info.checkpoint,
        "hostname": info.hostname,
    }
    multi_role = any(c.type == mesos_pb2.FrameworkInfo.Capability.MULTI_ROLE
                     for c in info.capabilities)
    if multi_role:
        result["roles"] = list(info.roles)
    else:
        result["role"] = info.role or "*"
    if info.HasField("principal"):
        result["principal"] = info.principal
    result["capabilities"] = [mesos_pb2.FrameworkInfo.Capability.Type.Name(c.type)
                              for c in info.capabilities]
    result["executors"] = [model_executor(e) for e in framework.executors.values()]
    result["completed_executors"] = [model_executor(e) for e in framework.completed_executors]
    return result


def _file_info(path: str, virtual: str) -> dict[str, Any]:
    """One entry of `/files/browse` (`model(const FileInfo&)`)."""
    st = os.lstat(path)
    try:
        uid: Any = pwd.getpwuid(st.st_uid).pw_name
    except KeyError:
        uid = str(st.st_uid)
    try:
        gid: Any = grp.getgrgid(st.st_gid).gr_name
    except KeyError:
        gid = str(st.st_gid)
    return {
        "path": virtual,
        "nlink": st.st_nlink,
        "size": st.st_size,
        "mtime": float(int(st.st_mtime)),
        "mode": stat.filemode(st.st_mode),
        "uid": uid,
        "gid": gid,
    }


class AgentHttp:
    """The agent's endpoints (port of `Slave::Http`). Reads the agent's state; runs on the
    agent's thread, like every route of the agent process."""

    def __init__(self, agent: Agent) -> None:
        self.agent = agent

    def install(self) -> None:
        agent = self.agent
        agent.route("/state", self.state, "Information about the state of the agent.")
        agent.route("/state.json", self.state, "Deprecated alias of /state.")
        agent.route("/flags", self.flags, "The agent's flags.")
        agent.route("/health", self.health, "Health check of the agent.")
        agent.route("/monitor/statistics", self.statistics,
                    "Resource usage of each executor.")
        agent.route("/monitor/statistics.json", self.statistics,
                    "Deprecated alias of /monitor/statistics.")
        agent.route("/files/browse", self.browse, "Lists a sandbox directory.")
        agent.route("/files/browse.json", self.browse, "Deprecated alias of /files/browse.")
        agent.route("/files/read", self.read, "Reads part of a sandbox file.")
        agent.route("/files/read.json", self.read, "Deprecated alias of /files/read.")
        agent.route("/files/download", self.download, "Downloads a sandbox file.")
        agent.route("/files/download.json", self.download,
                    "Deprecated alias of /files/download.")
        agent.route("/api/v1/executor", ExecutorApi(agent).executor,
                    "Endpoint for executors to make calls against the agent (the v1 executor"
                    " HTTP API).")

    # `/state`, `/flags`, `/health`.

    def state(self, request: Request) -> Response:
        agent = self.agent
        info = agent.info
        total = agent.total_resources
        reserved = total.reservations()
        unreserved = total.unreserved()
        body: dict[str, Any] = {
            "version": MESOS_VERSION,
            "build_user": "mesos-python",
            "start_time": agent.start_time,
        }
        if info.HasField("id"):
            body["id"] = info.id.value
        body["pid"] = str(agent.upid)
        body["hostname"] = info.hostname
        body["capabilities"] = [mesos_pb2.SlaveInfo.Capability.Type.Name(c)
                                for c in _capabilities()]
        body["resources"] = model_resources(info.resources)
        body["attributes"] = model_attributes(info.attributes)
        master_hostname = agent.master_hostname()
        if master_hostname is not None:
            body["master_hostname"] = master_hostname
        if agent.flags.log_dir:
            body["log_dir"] = agent.flags.log_dir
        body["flags"] = agent.flags.as_dict()
        body["reserved_resources"] = {role: model_resources(r) for role, r in reserved.items()}
        body["unreserved_resources"] = model_resources(unreserved)
        body["reserved_resources_full"] = {
            role: [to_mesos_json(x) for x in r] for role, r in reserved.items()}
        body["unreserved_resources_full"] = [to_mesos_json(x) for x in unreserved]
        allocated = Resources()
        for framework in agent.frameworks.values():
            allocated = allocated + framework.allocated_resources()
        body["reserved_resources_allocated"] = {
            role: model_resources(r) for role, r in allocated.reservations().items()}
        body["unreserved_resources_allocated"] = model_resources(allocated.unreserved())
        body["frameworks"] = [model_framework(f) for f in agent.frameworks.values()]
        body["completed_frameworks"] = [model_framework(f)
                                        for f in agent.completed_frameworks.values()]
        return OK(body)

    def flags(self, request: Request) -> Response:
        return OK(self.agent.flags.flags_json())

    def health(self, request: Request) -> Response:
        return OK()

    # `/monitor/statistics`.

    def statistics(self, request: Request) -> Future[Response]:
        """One entry per live executor: its ids, source and `ResourceStatistics` (port of
        `Slave::Http::statistics`, which reads `Slave::usage`)."""
        from mesos.agent.agent import ExecutorState

        entries: list[dict[str, Any]] = []
        futures: list[Future[Any]] = []
        for framework in self.agent.frameworks.values():
            for executor in framework.executors.values():
                if executor.state is ExecutorState.TERMINATED:
                    continue
                entries.append({
                    "executor_id": executor.id,
                    "executor_name": executor.info.name,
                    "framework_id": framework.id,
                    "source": executor.info.source,
                })
                futures.append(self.agent.containerizer.usage(executor.container_id)
                               .recover(lambda f: None))

        def respond(results: list[Any]) -> Response:
            body = []
            for entry, statistics in zip(entries, results, strict=True):
                if statistics is None:
                    continue
                entry["statistics"] = to_mesos_json(statistics)
                body.append(entry)
            return OK(body)

        return collect(futures).then(respond)

    # The sandbox browser (`/files/*`).

    def _resolve(self, request: Request) -> tuple[str, str] | Response:
        """The real path behind the `path` query parameter, and the path as asked; or the
        error response (400 for a bad request, 404 for anything outside the sandboxes)."""
        path = request.query.get("path")
        if path is None or path == "":
            return BadRequest("Expecting 'path=value' in query.")
        if "\0" in path:
            return BadRequest("The path contains a NUL character.")
        if not path.startswith("/"):
            return BadRequest(f"Expecting an absolute path, got '{path}'.")
        virtual = path.rstrip("/") or "/"
        work_dir = self.agent.flags.work_dir
        root = os.path.realpath(paths.get_sandbox_root_dir(work_dir))
        prefix = "/" + paths.FRAMEWORKS_DIR + "/"
        if (virtual + "/").startswith(prefix):
            # The virtual path `/frameworks/<fid>/executors/<eid>/runs/latest/...`.
            if not self.agent.info.HasField("id"):
                return NotFound(f"File '{path}' not found.\n")
            real = os.path.join(paths.get_slave_path(work_dir, self.agent.info.id),
                                virtual.lstrip("/"))
        else:
            real = virtual
        resolved = os.path.realpath(real)
        if resolved != root and not resolved.startswith(root + os.sep):
            return NotFound(f"File '{path}' not found.\n")
        if not os.path.exists(resolved):
            return NotFound(f"File '{path}' not found.\n")
        return (resolved, virtual)

    def browse(self, request: Request) -> Response:
        resolved = self._resolve(request)
        if isinstance(resolved, Response):
            return resolved
        real, virtual = resolved
        if not os.path.isdir(real):
            return BadRequest(f"'{virtual}' is not a directory.")
        try:
            names = sorted(os.listdir(real))
        except OSError as e:
            return NotFound(f"Failed to list '{virtual}': {e.strerror or e}\n")
        entries = []
        for name in names:
            try:
                entries.append(_file_info(os.path.join(real, name),
                                          virtual.rstrip("/") + "/" + name))
            except OSError:
                continue
        return OK(entries)

    @staticmethod
    def _integer(request: Request, name: str) -> int | Response:
        text = request.query.get(name)
        if text is None or text == "":
            return -1
        try:
            value = int(text)
        except ValueError:
            return BadRequest(f"Failed to parse {name}: '{text}' is not an integer.")
        if value < -1:
            return BadRequest(f"Negative {name} provided: {value}.")
        return value

    def read(self, request: Request) -> Response:
        """`{"offset": N, "data": "..."}`: up to `length` bytes (at most 64KB) from
        `offset`; without an offset, the file's size and no data (port of
        `FilesProcess::read`)."""
        offset = self._integer(request, "offset")
        if isinstance(offset, Response):
            return offset
        length = self._integer(request, "length")
        if isinstance(length, Response):
            return length
        resolved = self._resolve(request)
        if isinstance(resolved, Response):
            return resolved
        real, virtual = resolved
        if os.path.isdir(real):
            return BadRequest("Cannot read a directory.")
        try:
            size = os.path.getsize(real)
            if offset == -1:
                return OK({"offset": size, "data": ""})
            if length == -1:
                length = size - offset
            length = max(0, min(length, MAX_READ_LENGTH))
            if offset >= size or length == 0:
                return OK({"offset": offset, "data": ""})
            with open(real, "rb") as f:
                f.seek(offset)
                data = f.read(length)
        except OSError as e:
            return NotFound(f"Failed to read '{virtual}': {e.strerror or e}\n")
        return OK({"offset": offset, "data": data.decode("utf-8", errors="replace")})

    def download(self, request: Request) -> Response:
        resolved = self._resolve(request)
        if isinstance(resolved, Response):
            return resolved
        real, virtual = resolved
        if os.path.isdir(real):
            return BadRequest("Cannot download a directory.")
        try:
            with open(real, "rb") as f:
                data = f.read()
        except OSError as e:
            return NotFound(f"Failed to read '{virtual}': {e.strerror or e}\n")
        name = os.path.basename(real)
        return Response(200, data, "application/octet-stream",
                        {"Content-Disposition": f'attachment; filename="{name}"'})


def _capabilities() -> tuple[int, ...]:
    from mesos.agent.agent import AGENT_CAPABILITIES

    return AGENT_CAPABILITIES
