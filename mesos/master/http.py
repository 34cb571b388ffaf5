"""The master's HTTP endpoints and their JSON models (port of the read-only endpoints of
`src/master/http.cpp` and `src/master/readonly_handler.cpp`, and of `/teardown`,
`/health`, `/redirect`, `/flags`). `/api/v1/scheduler` is `scheduler_api.SchedulerApi`;
`/api/v1` (the operator API) is `operator_api.OperatorApi`.

Handlers run on the master's thread (libprocess routes them there) and read its books
directly; each answers a `libprocess.Response`. The JSON keeps Mesos's field names and
shapes, so tools written for Mesos's `/state` read ours.

A master that does not lead answers the endpoints that need the leader's books with 307 to
the leading master (`Location: //<hostname>:<port>/<path>`), or 503 while nobody leads, as
Mesos's `Http::redirect`; `/health` and `/flags` answer on every master.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlencode

from libprocess import (
    OK,
    BadRequest,
    Future,
    NotFound,
    Request,
    Response,
    ServiceUnavailable,
    TemporaryRedirect,
)
from mesos.common.json_model import model_attributes, model_resources, to_mesos_json
from mesos.common.resources import ResourceFormat, Resources
from mesos.master.operator_api import OperatorApi
from mesos.master.scheduler_api import SchedulerApi
from mesos.protos.mesos import mesos_pb2

if TYPE_CHECKING:
    from mesos.master.framework import Framework
    from mesos.master.master import Master
    from mesos.master.slave import Slave

__all__ = [
    "TASK_LIMIT",
    "MasterHttp",
    "model_executor",
    "model_framework",
    "model_offer",
    "model_slave",
    "model_task",
]

log = logging.getLogger("mesos.master.http")

# The default `limit` of `/tasks`, as Mesos's `TASK_LIMIT`.
TASK_LIMIT = 100

# Task states counted per framework and agent by `/state-summary`.
_SUMMARY_STATES = ("TASK_STAGING", "TASK_STARTING", "TASK_RUNNING", "TASK_KILLING",
                   "TASK_FINISHED", "TASK_KILLED", "TASK_FAILED", "TASK_LOST", "TASK_ERROR",
                   "TASK_UNREACHABLE")


# -- models ----------------------------------------------------------------------------------


def _capability_names(capabilities: Iterable[Any], enum: Any) -> list[str]:
    return [enum.Name(c.type) for c in capabilities]


def _labels(labels: Any) -> list[dict[str, Any]]:
    return [to_mesos_json(label) for label in labels.labels]


def model_status(status: Any) -> dict[str, Any]:
    """A `TaskStatus` as `/state` shows it (`json(JSON::ObjectWriter*, const TaskStatus&)`)."""
    result: dict[str, Any] = {
        "state": mesos_pb2.TaskState.Name(status.state),
        "timestamp": status.timestamp,
    }
    if status.HasField("labels"):
        result["labels"] = _labels(status.labels)
    if status.HasField("container_status"):
        result["container_status"] = to_mesos_json(status.container_status)
    if status.HasField("healthy"):
        result["healthy"] = status.healthy
    if status.HasField("check_status"):
        result["check_status"] = to_mesos_json(status.check_status)
    return result


def model_task(task: Any) -> dict[str, Any]:
    """A `Task` as `/state` and `/tasks` show it (`json(..., const Task&)`)."""
    result: dict[str, Any] = {
        "id": task.task_id.value,
        "name": task.name,
        "framework_id": task.framework_id.value,
        "executor_id": task.executor_id.value,
        "slave_id": task.slave_id.value,
        "state": mesos_pb2.TaskState.Name(task.state),
        "resources": model_resources(Resources(task.resources)),
        # A task's resources are allocated to one role (MESOS-6636).
        "role": task.resources[0].allocation_info.role if len(task.resources) else "",
        "statuses": [model_status(s) for s in task.statuses],
    }
    if task.HasField("user"):
        result["user"] = task.user
    if task.HasField("labels"):
        result["labels"] = _labels(task.labels)
    for field in ("discovery", "container", "health_check", "kill_policy"):
        if task.HasField(field):
            result[field] = to_mesos_json(getattr(task, field))
    return result


def model_executor(executor: Any) -> dict[str, Any]:
    """An `ExecutorInfo` (`json(..., const ExecutorInfo&)`)."""
    result: dict[str, Any] = {
        "executor_id": executor.executor_id.value,
        "name": executor.name,
        "framework_id": executor.framework_id.value,
        "command": to_mesos_json(executor.command),
        "resources": model_resources(Resources(executor.resources)),
    }
    if len(executor.resources) > 0:
        result["role"] = executor.resources[0].allocation_info.role
    if executor.HasField("labels"):
        result["labels"] = _labels(executor.labels)
    if executor.HasField("type"):
        result["type"] = mesos_pb2.ExecutorInfo.Type.Name(executor.type)
    return result


def model_offer(offer: Any) -> dict[str, Any]:
    return {
        "id": offer.id.value,
        "framework_id": offer.framework_id.value,
        "allocation_info": to_mesos_json(offer.allocation_info),
        "slave_id": offer.slave_id.value,
        "resources": model_resources(Resources(offer.resources)),
    }


def model_framework_summary(framework: Framework) -> dict[str, Any]:
    """`json(..., const Summary<Framework>&)`: what `/state-summary` shows of a framework."""
    info = framework.info
    result: dict[str, Any] = {
        "id": framework.id,
        "name": info.name,
    }
    if framework.pid:
        result["pid"] = str(framework.pid)
    result.update({
        "used_resources": model_resources(framework.total_used_resources),
        "offered_resources": model_resources(framework.total_offered_resources),
        "capabilities": _capability_names(info.capabilities,
                                          mesos_pb2.FrameworkInfo.Capability.Type),
        "hostname": info.hostname,
        "webui_url": info.webui_url,
        "active": framework.active(),
        "connected": framework.connected(),
        "recovered": framework.recovered(),
    })
    return result


def model_framework(framework: Framework, master: Master) -> dict[str, Any]:
    """`FullFrameworkWriter`: what `/state` and `/frameworks` show of a framework."""
    info = framework.info
    result = model_framework_summary(framework)
    result.update({
        "user": info.user,
        "failover_timeout": info.failover_timeout,
        "checkpoint": info.checkpoint,
        "registered_time": framework.registered_time,
        "unregistered_time": framework.unregistered_time,
    })
    if info.HasField("principal"):
        result["principal"] = info.principal
    result["resources"] = model_resources(
        framework.total_used_resources + framework.total_offered_resources)
    if framework.registered_time != framework.reregistered_time:
        result["reregistered_time"] = framework.reregistered_time
    if framework.multi_role:
        result["roles"] = list(info.roles)
    else:
        result["role"] = info.role
    result["tasks"] = [model_task(t) for t in framework.tasks.values()]
    result["unreachable_tasks"] = [model_task(t) for t in framework.unreachable_tasks.values()]
    result["completed_tasks"] = [model_task(t) for t in framework.completed_tasks]
    result["offers"] = [model_offer(master.offers[o]) for o in sorted(framework.offers)
                        if o in master.offers]
    executors = []
    for slave_id, by_id in framework.executors.items():
        for executor in by_id.values():
            executors.append({**model_executor(executor), "slave_id": slave_id})
    result["executors"] = executors
    if info.HasField("labels"):
        result["labels"] = _labels(info.labels)
    result["offer_constraints"] = {}
    return result


def model_slave_info(info: Any) -> dict[str, Any]:
    """`json(..., const SlaveInfo&)`."""
    result: dict[str, Any] = {
        "id": info.id.value,
        "hostname": info.hostname,
        "port": info.port,
        "attributes": model_attributes(info.attributes),
    }
    if info.HasField("domain"):
        result["domain"] = to_mesos_json(info.domain)
    return result


def _endpoint_protos(resources: Resources) -> list[dict[str, Any]]:
    return [to_mesos_json(r) for r in resources.to_protobuf_list(ResourceFormat.ENDPOINT)]


def model_slave(slave: Slave, full: bool = True) -> dict[str, Any]:
    """`SlaveWriter` (and, with `full`, the `*_full` fields `/state` and `/slaves` add)."""
    result = model_slave_info(slave.info)
    result["pid"] = str(slave.pid)
    result["registered_time"] = slave.registered_time
    if slave.reregistered_time is not None:
        result["reregistered_time"] = slave.reregistered_time
    total = slave.total_resources
    used = slave.total_used_resources()
    reservations = total.reservations()
    result.update({
        "resources": model_resources(total),
        "used_resources": model_resources(used),
        "offered_resources": model_resources(slave.offered_resources),
        "reserved_resources": {role: model_resources(r) for role, r in reservations.items()},
        "unreserved_resources": model_resources(total.unreserved()),
        "active": slave.active,
        "deactivated": slave.connected and not slave.active,
        "version": slave.version,
        "capabilities": _capability_names(slave.capabilities,
                                          mesos_pb2.SlaveInfo.Capability.Type),
    })
    if full:
        result["reserved_resources_full"] = {
            role: _endpoint_protos(r) for role, r in reservations.items()}
        result["unreserved_resources_full"] = _endpoint_protos(total.unreserved())
        result["used_resources_full"] = _endpoint_protos(used)
        result["offered_resources_full"] = _endpoint_protos(slave.offered_resources)
    return result


def model_master_info(info: Any) -> dict[str, Any]:
    """`json(..., const MasterInfo&)` (`leader_info`)."""
    result: dict[str, Any] = {
        "id": info.id,
        "pid": info.pid,
        "port": info.port,
        "hostname": info.hostname,
    }
    if info.HasField("domain"):
        result["domain"] = to_mesos_json(info.domain)
    return result


# -- query parameters ------------------------------------------------------------------------


class _BadQuery(Exception):
    pass


def _non_negative_int(request: Request, name: str, default: int) -> int:
    text = request.query.get(name)
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        raise _BadQuery(f"Failed to parse '{name}': '{text}' is not an integer "
                        "(expected a non-negative integer)") from None
    if value < 0:
        raise _BadQuery(f"Failed to parse '{name}': '{text}' is negative "
                        "(expected a non-negative integer)")
    return value


# -- handlers --------------------------------------------------------------------------------


class MasterHttp:
    """The master's endpoints: `install_routes()` registers them on the master process.

    Every handler runs on the master's thread and answers at once from its books.
    """

    def __init__(self, master: Master) -> None:
        self.master = master

    def install_routes(self) -> None:
        route = self.master.route
        leading = self._leading
        route("/state", leading(self.state), "Information about the state of the master.")
        route("/state-summary", leading(self.state_summary),
              "Summary of agents, tasks and registered frameworks in the cluster.")
        route("/frameworks", leading(self.frameworks),
              "Information about registered frameworks.")
        route("/slaves", leading(self.slaves), "Information about registered agents.")
        route("/tasks", leading(self.tasks), "Lists tasks from all active frameworks.")
        route("/roles", leading(self.roles), "Information about roles.")
        route("/health", self.health, "Health check of the master.")
        route("/redirect", self.redirect, "Redirects to the leading master.")
        route("/flags", self.flags, "Exposes the master's flag configuration.")
        route("/teardown", leading(self.teardown, recovered=True),
              "Tears down a running framework by shutting down all tasks/executors and"
              " removing the framework.")
        route("/api/v1/scheduler", leading(SchedulerApi(self.master).scheduler, recovered=True),
              "Endpoint for schedulers to make calls against the master (the v1 scheduler"
              " HTTP API).")
        route("/api/v1", leading(OperatorApi(self.master).api, recovered=True),
              "Endpoint for API calls against the master (the v1 operator HTTP API).")

    def _leading(self, handler: Callable[[Request], Response | Future[Response]],
                 recovered: bool = False) -> Callable[[Request], Response | Future[Response]]:
        """`handler` on the leading master; a redirect to the leader elsewhere. With
        `recovered`, the leader answers 503 until it has recovered the registry."""

        def route(request: Request) -> Response | Future[Response]:
            if not self.master.elected():
                return self.redirect(request)
            if recovered and not self.master.recovered():
                return ServiceUnavailable("Master has not finished recovery")
            return handler(request)

        route.__name__ = handler.__name__
        return route

    # /state and friends.

    def state(self, request: Request) -> Response:
        master = self.master
        info = master.info
        leader = master.leader
        body: dict[str, Any] = {
            "version": info.version,
            "build_user": "mesos-python",
            "start_time": master.start_time,
        }
        if master.elected_time is not None:
            body["elected_time"] = master.elected_time
        body.update({
            "id": info.id,
            "pid": str(master.upid),
            "hostname": info.hostname,
            "capabilities": [],
            "activated_slaves": float(sum(1 for s in master.slaves.values() if s.active)),
            "deactivated_slaves": float(sum(1 for s in master.slaves.values()
                                            if not s.active)),
            "unreachable_slaves": float(len(master.slaves_unreachable)),
        })
        if leader is not None:
            body["leader"] = leader.pid
            body["leader_info"] = model_master_info(leader)
        if master.flags.cluster is not None:
            body["cluster"] = master.flags.cluster
        if master.flags.log_dir is not None:
            body["log_dir"] = master.flags.log_dir
        body["flags"] = master.flags.as_dict()
        body["slaves"] = [model_slave(s) for s in master.slaves.values()]
        body["recovered_slaves"] = [model_slave_info(i) for i in master.slaves_recovered.values()]
        body["frameworks"] = [model_framework(f, master) for f in master.frameworks.values()]
        body["completed_frameworks"] = [model_framework(f, master)
                                        for f in master.completed_frameworks.values()]
        # Orphan tasks and unregistered frameworks no longer exist in Mesos; the empty
        # arrays stay for tools that read them.
        body["orphan_tasks"] = []
        body["unregistered_frameworks"] = []
        return OK(body)

    def state_summary(self, request: Request) -> Response:
        master = self.master
        slave_frameworks: dict[str, set[str]] = {}
        framework_slaves: dict[str, set[str]] = {}
        slave_counts: dict[str, dict[str, int]] = {}
        framework_counts: dict[str, dict[str, int]] = {}
        for framework in master.frameworks.values():
            counts = framework_counts.setdefault(framework.id, {})
            for task in framework.all_tasks():
                slave_id = task.slave_id.value
                state = mesos_pb2.TaskState.Name(task.state)
                counts[state] = counts.get(state, 0) + 1
                per_slave = slave_counts.setdefault(slave_id, {})
                per_slave[state] = per_slave.get(state, 0) + 1
                framework_slaves.setdefault(framework.id, set()).add(slave_id)
                slave_frameworks.setdefault(slave_id, set()).add(framework.id)

        slaves = []
        for slave in master.slaves.values():
            entry = model_slave(slave, full=False)
            counts = slave_counts.get(slave.id, {})
            entry.update({state: counts.get(state, 0) for state in _SUMMARY_STATES})
            entry["framework_ids"] = sorted(slave_frameworks.get(slave.id, ()))
            slaves.append(entry)
        frameworks = []
        for framework in master.frameworks.values():
            entry = model_framework_summary(framework)
            counts = framework_counts.get(framework.id, {})
            entry.update({state: counts.get(state, 0) for state in _SUMMARY_STATES})
            entry["slave_ids"] = sorted(framework_slaves.get(framework.id, ()))
            frameworks.append(entry)

        body: dict[str, Any] = {"hostname": master.info.hostname}
        if master.flags.cluster is not None:
            body["cluster"] = master.flags.cluster
        body["slaves"] = slaves
        body["frameworks"] = frameworks
        return OK(body)

    def frameworks(self, request: Request) -> Response:
        master = self.master
        wanted = request.query.get("framework_id")

        def selected(framework: Framework) -> bool:
            return wanted is None or framework.id == wanted

        return OK({
            "frameworks": [model_framework(f, master) for f in master.frameworks.values()
                           if selected(f)],
            "completed_frameworks": [model_framework(f, master)
                                     for f in master.completed_frameworks.values()
                                     if selected(f)],
            "unregistered_frameworks": [],
        })

    def slaves(self, request: Request) -> Response:
        master = self.master
        wanted = request.query.get("slave_id")
        return OK({
            "slaves": [model_slave(s) for s in master.slaves.values()
                       if wanted is None or s.id == wanted],
            "recovered_slaves": [model_slave_info(i) for i in master.slaves_recovered.values()
                                 if wanted is None or i.id.value == wanted],
        })

    def tasks(self, request: Request) -> Response:
        """`/tasks?limit=&offset=&order=asc|des&framework_id=&task_id=`."""
        try:
            limit = _non_negative_int(request, "limit", TASK_LIMIT)
            offset = _non_negative_int(request, "offset", 0)
        except _BadQuery as e:
            return BadRequest(str(e))
        order = request.query.get("order", "des")
        if order not in ("asc", "des"):
            return BadRequest(f"Failed to parse 'order': '{order}' is not 'asc' or 'des'")
        framework_id = request.query.get("framework_id")
        task_id = request.query.get("task_id")

        master = self.master
        frameworks = [*master.frameworks.values(), *master.completed_frameworks.values()]
        tasks = [t for f in frameworks if framework_id is None or f.id == framework_id
                 for t in f.all_tasks() if task_id is None or t.task_id.value == task_id]

        # By the time of the first status; tasks without one sort first when ascending.
        def started(task: Any) -> tuple[int, float]:
            if len(task.statuses) == 0:
                return (0, 0.0)
            return (1, task.statuses[0].timestamp)

        tasks.sort(key=started, reverse=(order == "des"))
        return OK({"tasks": [model_task(t) for t in tasks[offset:offset + limit]]})

    def roles(self, request: Request) -> Response:
        master = self.master
        roles = []
        for name in master.known_roles():
            allocated = Resources()
            offered = Resources()
            frameworks = []
            for framework in master.frameworks.values():
                if name in framework.roles:
                    frameworks.append(framework.id)
                allocated = allocated + _allocated_to_subtree(framework.total_used_resources,
                                                              name)
                offered = offered + _allocated_to_subtree(framework.total_offered_resources,
                                                          name)
            reserved = Resources()
            for slave in master.slaves.values():
                reserved = reserved + slave.total_resources.reserved_to_role_subtree(name)
            roles.append({
                "name": name,
                "weight": master.weights.get(name, 1.0),
                "quota": {"role": name, "guarantee": {}, "limit": {},
                          "consumed": _quantities(allocated)},
                "resources": _quantities(allocated + offered),
                "allocated": _quantities(allocated),
                "offered": _quantities(offered),
                "reserved": _quantities(reserved),
                "frameworks": frameworks,
            })
        return OK({"roles": roles})

    # Simple endpoints.

    def health(self, request: Request) -> Response:
        return OK()

    def redirect(self, request: Request) -> Response:
        """Port of `Http::redirect`: 307 to the leading master, 503 while nobody leads.

        `/redirect` itself goes to the leader's `//hostname:port`; any other path keeps
        its path and query there (a path under `/redirect/` is 404, as a loop guard).
        """
        leader = self.master.leader
        if leader is None:
            log.warning("Current master is not elected as leader, and leader information is"
                        " unavailable; failed to redirect %s", request.path)
            return ServiceUnavailable("No leader elected")
        hostname = leader.hostname if leader.HasField("hostname") else (
            leader.address.ip or leader.pid.rpartition("@")[2].rpartition(":")[0])
        base = f"//{hostname}:{leader.port}"
        own = f"/{self.master.id}/redirect"
        if request.path in ("/redirect", own):
            return TemporaryRedirect(base)
        if request.path.startswith(("/redirect/", own + "/")):
            return NotFound()
        query = f"?{urlencode(request.query)}" if request.query else ""
        log.info("Redirecting request for %s to the leading master %s", request.path,
                 hostname)
        return TemporaryRedirect(f"{base}{request.path}{query}")

    def flags(self, request: Request) -> Response:
        return OK(self.master.flags.flags_json())

    def teardown(self, request: Request) -> Response:
        """POST `frameworkId=<id>` (form-encoded body): removes the framework."""
        if request.method != "POST":
            return Response(405, f"Expecting 'POST', received '{request.method}'\n",
                            headers={"Allow": "POST"})
        try:
            values = parse_qs(request.body.decode(), strict_parsing=bool(request.body))
        except (UnicodeDecodeError, ValueError) as e:
            return BadRequest(f"Unable to decode query string: {e}")
        framework_ids = values.get("frameworkId")
        if not framework_ids:
            return BadRequest("Missing 'frameworkId' query parameter in the request body")
        framework = self.master.frameworks.get(framework_ids[0])
        if framework is None:
            return BadRequest("No framework found with specified ID")
        log.info("Tearing down framework %s on request of %s", framework, request.remote)
        self.master.teardown(framework)
        return OK()


def _allocated_to_subtree(resources: Resources, role: str) -> Resources:
    prefix = role + "/"
    return resources.filter(lambda r: r.allocation_info.role == role or
                            r.allocation_info.role.startswith(prefix))


def _quantities(resources: Resources) -> dict[str, Any]:
    return {name: value for name, value in sorted(resources.scalar_quantities().items())}

