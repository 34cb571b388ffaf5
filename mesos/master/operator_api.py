"""The v1 operator HTTP API of the master: `POST /api/v1` (port of `Master::Http::api` and
its per-call handlers in `src/master/http.cpp`, of the v1 getters of
`src/master/readonly_handler.cpp`, of `validation::master::call::validate` and of the
operator event stream: `Master::Subscribers` and `protobuf::master::event`).

What each part owns:

- `OperatorApi.api` answers the endpoint: it decodes the `mesos.v1.master.Call` (JSON or
  protobuf, by `Content-Type`), validates it as the master's internal `mesos.master.Call`
  (`devolve`: same wire, `slave_id` is the internal spelling of `agent_id`), picks the
  answer's encoding from `Accept`, and answers the call with a `mesos.v1.master.Response`
  (200), a bare 200 (TEARDOWN, MARK_AGENT_GONE) or the call's error status.
- The `get_*` functions build the responses from the master's books (pure reads, on the
  master's thread); the same books `/master/state` shows, so both agree.
- `Subscribers` is the operator event stream (SUBSCRIBE): each subscriber gets SUBSCRIBED
  with the whole state, then TASK_ADDED, TASK_UPDATED, AGENT_ADDED, AGENT_REMOVED,
  FRAMEWORK_ADDED, FRAMEWORK_UPDATED, FRAMEWORK_REMOVED as the master's books change (the
  master calls the `Subscribers` methods of the same names), and a HEARTBEAT every
  `HEARTBEAT_INTERVAL` seconds (the first one an interval after SUBSCRIBED, as Mesos's
  `Subscriber` heartbeater), as RecordIO records in the response's `Pipe`. AGENT_REMOVED
  is sent whenever an agent leaves the registered agents (removed, unreachable or gone);
  Mesos sends it only for `removeSlave`, which leaves a subscriber blind to the others.

The media types, the decoding of a call, RecordIO and the streamed connection with its
heartbeats are `mesos.common.http_api`, shared with the other v1 APIs.

Threads: everything runs on the master's thread (the endpoint is a master route, the
master's hooks run there, heartbeats are `delay`ed onto it), except that a stream's end is
seen on the HTTP server's thread; the master defers what it does about it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from libprocess import (
    OK,
    BadRequest,
    Future,
    NotFound,
    Pipe,
    Request,
    Response,
    ServiceUnavailable,
    defer,
    metrics,
)
from mesos.common.http_api import (
    APPLICATION_PROTOBUF,
    StreamingHttpConnection,
    convert,
    decode_call,
    method_not_allowed,
    negotiate_stream_type,
    recordio_encode,
    serialize,
)
from mesos.common.json_model import to_mesos_json
from mesos.common.resources import ResourceFormat, Resources
from mesos.master.scheduler_api import HEARTBEAT_INTERVAL
from mesos.protos.mesos.master import master_pb2
from mesos.protos.mesos.v1 import mesos_pb2 as v1_mesos_pb2
from mesos.protos.mesos.v1.master import master_pb2 as v1_master_pb2

if TYPE_CHECKING:
    from mesos.master.framework import Framework
    from mesos.master.master import Master
    from mesos.master.slave import Slave

__all__ = [
    "OperatorApi",
    "OperatorConnection",
    "Subscribers",
    "encode",
    "get_agents",
    "get_executors",
    "get_frameworks",
    "get_roles",
    "get_state",
    "get_tasks",
    "model_agent",
    "model_framework",
    "validate_master_call",
]

log = logging.getLogger("mesos.master.operator_api")

Call = master_pb2.Call
V1Call = v1_master_pb2.Call
V1Response = v1_master_pb2.Response
Event = v1_master_pb2.Event

# A GET_METRICS call without a timeout waits this long for the pull gauges (Mesos waits
# for all of them; the snapshot here is bounded, as `/metrics/snapshot` is).
DEFAULT_METRICS_TIMEOUT = 5.0

# The call payload each call type requires (`validation::master::call::validate`); types
# not listed need none.
_CALL_PAYLOADS = {
    Call.GET_METRICS: "get_metrics",
    Call.SET_LOGGING_LEVEL: "set_logging_level",
    Call.LIST_FILES: "list_files",
    Call.READ_FILE: "read_file",
    Call.UPDATE_WEIGHTS: "update_weights",
    Call.RESERVE_RESOURCES: "reserve_resources",
    Call.UNRESERVE_RESOURCES: "unreserve_resources",
    Call.CREATE_VOLUMES: "create_volumes",
    Call.DESTROY_VOLUMES: "destroy_volumes",
    Call.GROW_VOLUME: "grow_volume",
    Call.SHRINK_VOLUME: "shrink_volume",
    Call.UPDATE_MAINTENANCE_SCHEDULE: "update_maintenance_schedule",
    Call.START_MAINTENANCE: "start_maintenance",
    Call.STOP_MAINTENANCE: "stop_maintenance",
    Call.DRAIN_AGENT: "drain_agent",
    Call.DEACTIVATE_AGENT: "deactivate_agent",
    Call.REACTIVATE_AGENT: "reactivate_agent",
    Call.UPDATE_QUOTA: "update_quota",
    Call.SET_QUOTA: "set_quota",
    Call.REMOVE_QUOTA: "remove_quota",
    Call.TEARDOWN: "teardown",
    Call.MARK_AGENT_GONE: "mark_agent_gone",
}


# -- pure helpers ----------------------------------------------------------------------------


def validate_master_call(call: Any) -> str | None:
    """Port of `validation::master::call::validate`: None for a valid `mesos.master.Call`,
    else what is wrong."""
    if not call.IsInitialized():
        return "Not initialized: " + ", ".join(call.FindInitializationErrors())
    if not call.HasField("type"):
        return "Expecting 'type' to be present"
    payload = _CALL_PAYLOADS.get(call.type)
    if payload is not None and not call.HasField(payload):
        return f"Expecting '{payload}' to be present"
    volume = {Call.GROW_VOLUME: call.grow_volume, Call.SHRINK_VOLUME: call.shrink_volume}
    if call.type in volume and not volume[call.type].HasField("slave_id"):
        return ("Expecting 'agent_id' to be present; only agent default resources are"
                " supported right now")
    return None


def _add_v1(repeated: Any, messages: Iterable[Any]) -> None:
    """Appends internal messages to a repeated field of their v1 twins (the same field
    numbers: `asV1Protobuf`)."""
    for message in messages:
        repeated.add().MergeFromString(message.SerializePartialToString())


def _time_info(target: Any, seconds: float) -> None:
    target.nanoseconds = int(seconds * 1e9)


def _endpoint(resources: Resources) -> list[Any]:
    """Resources as endpoints show them (both reservation formats where possible)."""
    return resources.to_protobuf_list(ResourceFormat.ENDPOINT)


# The lists Mesos's JSON writers of the state calls write even when they are empty (the
# other answers are plain protobuf-to-JSON, which leaves empty lists out).
_STATE_LISTS = {
    "get_tasks": ("tasks", "unreachable_tasks", "completed_tasks"),
    "get_executors": ("executors",),
    "get_frameworks": ("frameworks", "completed_frameworks"),
    "get_agents": ("agents", "recovered_agents"),
}


def _with_state_lists(body: dict[str, Any]) -> dict[str, Any]:
    for key, lists in _STATE_LISTS.items():
        if key in body:
            for name in lists:
                body[key].setdefault(name, [])
    if "get_state" in body:
        _with_state_lists(body["get_state"])
    return body


def encode(message: Any, content_type: str) -> bytes:
    """A v1 `Response` or `Event` in the negotiated encoding: protobuf bytes, or Mesos's
    JSON (with the state calls' lists always present, as Mesos writes them)."""
    if content_type == APPLICATION_PROTOBUF:
        return serialize(message, content_type)
    body = to_mesos_json(message)
    if "subscribed" in body:
        _with_state_lists(body["subscribed"])
    return json.dumps(_with_state_lists(body), separators=(",", ":")).encode()


# -- the master's books as v1 messages -------------------------------------------------------


def model_agent(slave: Slave) -> Any:
    """A registered agent as `Response.GetAgents.Agent` (`createAgentResponse`)."""
    agent = V1Response.GetAgents.Agent()
    agent.agent_info.MergeFromString(slave.info.SerializePartialToString())
    agent.active = slave.active
    agent.deactivated = slave.connected and not slave.active
    agent.version = slave.version
    agent.pid = str(slave.pid)
    _time_info(agent.registered_time, slave.registered_time)
    if slave.reregistered_time is not None:
        _time_info(agent.reregistered_time, slave.reregistered_time)
    _add_v1(agent.total_resources, _endpoint(slave.total_resources))
    _add_v1(agent.allocated_resources, _endpoint(slave.total_used_resources()))
    _add_v1(agent.offered_resources, _endpoint(slave.offered_resources))
    _add_v1(agent.capabilities, slave.capabilities)
    return agent


def model_framework(framework: Framework, master: Master) -> Any:
    """A framework as `Response.GetFrameworks.Framework` (`model(const Framework&)`);
    times that were never set are left out."""
    model = V1Response.GetFrameworks.Framework()
    model.framework_info.MergeFromString(framework.info.SerializePartialToString())
    model.active = framework.active()
    model.connected = framework.connected()
    model.recovered = framework.recovered()
    for field, seconds in (("registered_time", framework.registered_time),
                           ("unregistered_time", framework.unregistered_time),
                           ("reregistered_time", framework.reregistered_time)):
        if seconds:
            _time_info(getattr(model, field), seconds)
    _add_v1(model.offers, (master.offers[o] for o in sorted(framework.offers)
                           if o in master.offers))
    _add_v1(model.allocated_resources, _endpoint(framework.total_used_resources))
    _add_v1(model.offered_resources, _endpoint(framework.total_offered_resources))
    # No offer constraints are kept here: an empty set of them, as `/state` shows.
    model.offer_constraints.SetInParent()
    return model


def _all_frameworks(master: Master) -> list[Framework]:
    return [*master.frameworks.values(), *master.completed_frameworks.values()]


def get_agents(master: Master) -> Any:
    """`Response.GetAgents`: registered agents, and those recovered from the registry that
    have not come back yet."""
    result = V1Response.GetAgents()
    for slave in master.slaves.values():
        result.agents.add().CopyFrom(model_agent(slave))
    _add_v1(result.recovered_agents, master.slaves_recovered.values())
    return result


def get_frameworks(master: Master) -> Any:
    """`Response.GetFrameworks`: registered (any state) and completed frameworks."""
    result = V1Response.GetFrameworks()
    for framework in master.frameworks.values():
        result.frameworks.add().CopyFrom(model_framework(framework, master))
    for framework in master.completed_frameworks.values():
        result.completed_frameworks.add().CopyFrom(model_framework(framework, master))
    return result


def get_executors(master: Master) -> Any:
    """`Response.GetExecutors`: the executors of registered and completed frameworks."""
    result = V1Response.GetExecutors()
    for framework in _all_frameworks(master):
        for slave_id, executors in framework.executors.items():
            for executor in executors.values():
                entry = result.executors.add()
                entry.executor_info.MergeFromString(executor.SerializePartialToString())
                entry.agent_id.value = slave_id
    return result


def get_tasks(master: Master) -> Any:
    """`Response.GetTasks`: the live, unreachable and completed tasks of registered and
    completed frameworks (the master keeps no pending tasks)."""
    result = V1Response.GetTasks()
    frameworks = _all_frameworks(master)
    for framework in frameworks:
        _add_v1(result.tasks, framework.tasks.values())
    for framework in frameworks:
        _add_v1(result.unreachable_tasks, framework.unreachable_tasks.values())
    for framework in frameworks:
        _add_v1(result.completed_tasks, framework.completed_tasks)
    return result


def get_state(master: Master) -> Any:
    """`Response.GetState`: tasks, executors, frameworks and agents in one."""
    result = V1Response.GetState()
    result.get_tasks.CopyFrom(get_tasks(master))
    result.get_executors.CopyFrom(get_executors(master))
    result.get_frameworks.CopyFrom(get_frameworks(master))
    result.get_agents.CopyFrom(get_agents(master))
    return result


def _in_role_subtree(resources: Resources, role: str) -> Resources:
    prefix = role + "/"
    return resources.filter(lambda r: r.allocation_info.role == role
                            or r.allocation_info.role.startswith(prefix))


def get_roles(master: Master) -> Any:
    """`Response.GetRoles`: every known role with its weight, its frameworks, and the
    cpus, mem, disk and gpus allocated or offered to its subtree."""
    result = V1Response.GetRoles()
    for name in master.known_roles():
        role = result.roles.add(name=name, weight=master.weights.get(name, 1.0))
        used = Resources()
        for framework in master.frameworks.values():
            if name in framework.roles:
                role.frameworks.add(value=framework.id)
            used = used + _in_role_subtree(framework.total_used_resources, name)
            used = used + _in_role_subtree(framework.total_offered_resources, name)
        quantities = used.scalar_quantities()
        for kind in ("cpus", "mem", "disk", "gpus"):
            if kind in quantities:
                resource = role.resources.add(name=kind, type=v1_mesos_pb2.Value.SCALAR)
                resource.scalar.value = quantities[kind]
    return result


# The GET_* calls answered by one of the builders above: the response's type, the field the
# builder fills, the builder.
_BUILT_RESPONSES: dict[int, tuple[V1Response.Type, str, Callable[[Master], Any]]] = {
    Call.GET_STATE: (V1Response.GET_STATE, "get_state", get_state),
    Call.GET_AGENTS: (V1Response.GET_AGENTS, "get_agents", get_agents),
    Call.GET_FRAMEWORKS: (V1Response.GET_FRAMEWORKS, "get_frameworks", get_frameworks),
    Call.GET_EXECUTORS: (V1Response.GET_EXECUTORS, "get_executors", get_executors),
    Call.GET_TASKS: (V1Response.GET_TASKS, "get_tasks", get_tasks),
    Call.GET_ROLES: (V1Response.GET_ROLES, "get_roles", get_roles),
}


# -- the operator event stream ---------------------------------------------------------------


class OperatorConnection(StreamingHttpConnection):
    """One operator's event stream (`Master::Subscribers::Subscriber`): v1 master events;
    the first HEARTBEAT one interval after SUBSCRIBED, then one every interval."""

    event_class = Event
    heartbeat_interval = HEARTBEAT_INTERVAL
    first_heartbeat = HEARTBEAT_INTERVAL

    def evolve(self, message: Any) -> Any:
        raise TypeError(f"No operator event for {message.DESCRIPTOR.full_name}")

    def send(self, message: Any) -> bool:
        """Writes an operator `Event` as one RecordIO record; False if the stream is over."""
        try:
            record = recordio_encode(encode(message, self.content_type))
        except Exception:
            # The master's books must not stop half-updated over an event it cannot encode.
            log.exception("Dropping an operator event that cannot be encoded")
            return True
        return self.pipe.write(record)


class Subscribers:
    """The operator API's subscribers and the events the master's books produce; used on
    the master's thread. Every method is a no-op without subscribers, so the master calls
    them unconditionally."""

    def __init__(self, master: Master) -> None:
        self.master = master
        self._subscribed: dict[str, OperatorConnection] = {}

    def __len__(self) -> int:
        return len(self._subscribed)

    def subscribe(self, content_type: str) -> OperatorConnection:
        """A new stream: SUBSCRIBED with the whole state first, then the events, and a
        HEARTBEAT every `HEARTBEAT_INTERVAL` seconds (the first one after an interval)."""
        connection = OperatorConnection(Pipe(), content_type)
        event = Event(type=Event.SUBSCRIBED)
        event.subscribed.get_state.CopyFrom(get_state(self.master))
        event.subscribed.heartbeat_interval_seconds = HEARTBEAT_INTERVAL
        connection.send(event)
        connection.start_heartbeat(self.master)
        self._subscribed[connection.stream_id] = connection
        connection.closed.on_any(defer(self.master, self._closed, connection.stream_id))
        log.info("Added operator subscriber %s", connection.stream_id)
        return connection

    def _closed(self, stream_id: str, _: Any = None) -> None:
        connection = self._subscribed.pop(stream_id, None)
        if connection is not None:
            log.info("Removed operator subscriber %s: its stream ended", stream_id)
            connection.close()

    def close(self) -> None:
        """Ends every stream (the master is terminating)."""
        for connection in list(self._subscribed.values()):
            connection.close()
        self._subscribed.clear()

    def send(self, event: Any) -> None:
        for stream_id, connection in list(self._subscribed.items()):
            if not connection.send(event):
                self._closed(stream_id)

    # The events (`protobuf::master::event::create*`).

    def task_added(self, task: Any) -> None:
        if self._subscribed:
            event = Event(type=Event.TASK_ADDED)
            event.task_added.task.MergeFromString(task.SerializePartialToString())
            self.send(event)

    def task_updated(self, task: Any, status: Any) -> None:
        """TASK_UPDATED: the task's latest state and the status that told it."""
        if self._subscribed:
            event = Event(type=Event.TASK_UPDATED)
            updated = event.task_updated
            updated.framework_id.value = task.framework_id.value
            updated.status.MergeFromString(status.SerializePartialToString())
            updated.state = task.state
            self.send(event)

    def agent_added(self, slave: Slave) -> None:
        if self._subscribed:
            event = Event(type=Event.AGENT_ADDED)
            event.agent_added.agent.CopyFrom(model_agent(slave))
            self.send(event)

    def agent_removed(self, slave_id: str) -> None:
        if self._subscribed:
            event = Event(type=Event.AGENT_REMOVED)
            event.agent_removed.agent_id.value = slave_id
            self.send(event)

    def framework_added(self, framework: Framework) -> None:
        if self._subscribed:
            event = Event(type=Event.FRAMEWORK_ADDED)
            event.framework_added.framework.CopyFrom(model_framework(framework, self.master))
            self.send(event)

    def framework_updated(self, framework: Framework) -> None:
        if self._subscribed:
            event = Event(type=Event.FRAMEWORK_UPDATED)
            event.framework_updated.framework.CopyFrom(
                model_framework(framework, self.master))
            self.send(event)

    def framework_removed(self, framework: Framework) -> None:
        if self._subscribed:
            event = Event(type=Event.FRAMEWORK_REMOVED)
            event.framework_removed.framework_info.MergeFromString(
                framework.info.SerializePartialToString())
            self.send(event)


# -- the endpoint ----------------------------------------------------------------------------


def _not_implemented(kind: int) -> Response:
    return Response(501, f"{Call.Type.Name(kind)} calls are not supported by this master\n")


class OperatorApi:
    """`/api/v1` of the master (its handler runs on the master's thread)."""

    def __init__(self, master: Master) -> None:
        self.master = master

    def api(self, request: Request) -> Response | Future[Response]:
        """Port of `Master::Http::api` (the caller, `MasterHttp`, answers 307/503 on a
        master that does not lead or has not recovered)."""
        if request.method != "POST":
            return method_not_allowed(request.method)
        v1_call = decode_call(request, V1Call, strict=True)
        if isinstance(v1_call, Response):
            return v1_call
        call = convert(v1_call, Call)
        error = validate_master_call(call)
        if error is not None:
            return BadRequest(f"Failed to validate master::Call: {error}")
        log.info("Processing call %s", Call.Type.Name(call.type))
        # Unlike the scheduler API, every call's answer is encoded as `Accept` asks.
        accept_type = negotiate_stream_type(request)
        if isinstance(accept_type, Response):
            return accept_type
        return self._call(call, accept_type)

    def _call(self, call: Any, accept: str) -> Response | Future[Response]:
        master = self.master
        kind = call.type
        response = V1Response()
        if kind == Call.GET_HEALTH:
            response.type = V1Response.GET_HEALTH
            response.get_health.healthy = True
        elif kind == Call.GET_FLAGS:
            response.type = V1Response.GET_FLAGS
            for name, value in master.flags.as_dict().items():
                response.get_flags.flags.add(name=name, value=value)
        elif kind == Call.GET_VERSION:
            response.type = V1Response.GET_VERSION
            response.get_version.version_info.version = master.info.version
            response.get_version.version_info.build_user = "mesos-python"
        elif kind == Call.GET_METRICS:
            return self._get_metrics(call, accept)
        elif kind == Call.GET_LOGGING_LEVEL:
            # glog's `--v` verbosity: this port has no verbose logging levels, so it is
            # the default, 0.
            response.type = V1Response.GET_LOGGING_LEVEL
            response.get_logging_level.level = 0
        elif kind in _BUILT_RESPONSES:
            response_type, field, build = _BUILT_RESPONSES[kind]
            response.type = response_type
            getattr(response, field).CopyFrom(build(master))
        elif kind == Call.GET_WEIGHTS:
            response.type = V1Response.GET_WEIGHTS
            for role, weight in sorted(master.weights.items()):
                response.get_weights.weight_infos.add(role=role, weight=weight)
        elif kind == Call.GET_MASTER:
            response.type = V1Response.GET_MASTER
            get_master = response.get_master
            get_master.master_info.MergeFromString(master.info.SerializePartialToString())
            get_master.start_time = master.start_time
            if master.elected_time is not None:
                get_master.elected_time = master.elected_time
        elif kind == Call.GET_MAINTENANCE_STATUS:
            # This master keeps no maintenance schedule (UPDATE_MAINTENANCE_SCHEDULE is
            # not supported), so no machine is draining or down.
            response.type = V1Response.GET_MAINTENANCE_STATUS
            response.get_maintenance_status.status.SetInParent()
        elif kind == Call.GET_MAINTENANCE_SCHEDULE:
            response.type = V1Response.GET_MAINTENANCE_SCHEDULE
            response.get_maintenance_schedule.schedule.SetInParent()
        elif kind == Call.SUBSCRIBE:
            connection = master.subscribers.subscribe(accept)
            return Response(200, connection.pipe, accept)
        elif kind == Call.TEARDOWN:
            return self._teardown(call.teardown.framework_id.value)
        elif kind == Call.MARK_AGENT_GONE:
            return self._mark_agent_gone(call.mark_agent_gone.slave_id.value)
        else:
            return _not_implemented(kind)
        return OK(encode(response, accept), accept)

    def _get_metrics(self, call: Any, accept: str) -> Future[Response]:
        """Port of `Master::Http::getMetrics`: a snapshot of every metric of this OS
        process, waiting at most the call's timeout for the pull gauges."""
        timeout = DEFAULT_METRICS_TIMEOUT
        if call.get_metrics.HasField("timeout"):
            timeout = call.get_metrics.timeout.nanoseconds / 1e9

        def respond(values: dict[str, float]) -> Response:
            response = V1Response(type=V1Response.GET_METRICS)
            for name, value in values.items():
                response.get_metrics.metrics.add(name=name, value=value)
            return OK(encode(response, accept), accept)

        return metrics.snapshot(timeout).then(respond)

    def _teardown(self, framework_id: str) -> Response:
        """Port of `Master::Http::_teardown`, as `/teardown` does it."""
        framework = self.master.frameworks.get(framework_id)
        if framework is None:
            return BadRequest("No framework found with specified ID")
        log.info("Tearing down framework %s on an operator's TEARDOWN call", framework)
        self.master.teardown(framework)
        return OK()

    def _mark_agent_gone(self, slave_id: str) -> Response | Future[Response]:
        """Port of `Master::Http::_markAgentGone`: 200 once the agent is gone in the
        registry and in the master's books; 200 at once for an agent already gone; 503
        while another transition of the agent is under way; 404 for an unknown agent."""
        master = self.master
        log.info("Marking agent '%s' as gone", slave_id)
        if slave_id in master.slaves_gone:
            log.warning("Not marking agent '%s' as gone because it has already transitioned"
                        " to gone", slave_id)
            return OK()
        busy = None
        if slave_id in master.slaves_marking_gone:
            busy = "is already being transitioned to gone"
        elif slave_id in master.slaves_removing:
            busy = "is being transitioned to removed"
        elif slave_id in master.slaves_marking_unreachable:
            busy = "is being transitioned to unreachable"
        if busy is not None:
            log.warning("Not marking agent '%s' as gone because it %s", slave_id, busy)
            return ServiceUnavailable(f"Agent '{slave_id}' {busy}")
        if slave_id not in master.slaves and slave_id not in master.slaves_recovered \
                and slave_id not in master.slaves_unreachable:
            return NotFound(f"Agent '{slave_id}' not found")
        return master.mark_agent_gone(slave_id).then(lambda _: OK())
