"""The v1 executor HTTP API of the agent: `POST /slave(1)/api/v1/executor`, and
`/api/v1/executor` on an agent that is its OS process's HTTP delegate, as `mesos-agent` is
(port of `Slave::Http::executor` in `src/slave/http.cpp`, of the executor half of
`src/internal/{evolve,devolve}.cpp` and of `validation::executor::call::validate`;
docs/executor-http-api.md).

What each part owns:

- `ExecutorApi.executor` answers the endpoint: it decodes the `mesos.v1.executor.Call`
  (JSON or protobuf, by `Content-Type`), validates it, finds the framework and executor it
  names, and hands it to the agent: SUBSCRIBE opens the executor's stream (`200`, a chunked
  RecordIO body in the encoding `Accept` asks for, answered by `Agent.subscribe_executor`),
  UPDATE is a status update from the executor (`Agent.http_status_update`) and MESSAGE a
  framework message (`Agent.executor_message`), both `202`.
- `ExecutorConnection` is one executor's subscription stream: `send` turns what the agent
  would send a PID executor into a v1 executor `Event` (`evolve`) and writes it as one
  RecordIO record; HEARTBEAT comes every `EXECUTOR_HEARTBEAT_INTERVAL`, the first one after
  that long (Mesos's `DEFAULT_EXECUTOR_HEARTBEAT_INTERVAL`).
- `evolve`, `devolve` and `validate_executor_call` are pure functions.

The v1 and v0 executor protos are wire-compatible (same field numbers; `agent_id` is the
v1 spelling of `slave_id`), so a call is decoded as the v1 message and read by the agent as
its internal `mesos.executor.Call` through its bytes.

Unlike the scheduler API, there is no `Mesos-Stream-Id`: an executor is known by its
framework and executor ids, and a new SUBSCRIBE replaces (closes) its previous stream.

Threads: the handler runs on the agent's thread (it is an agent route); a stream's `closed`
future completes on the HTTP server's loop thread, and the agent defers its callback.
"""

from __future__ import annotations

import logging
import uuid
from typing import TYPE_CHECKING, Any

from libprocess import Accepted, BadRequest, Pipe, Request, Response, ServiceUnavailable
from mesos.common.http_api import (
    StreamingHttpConnection,
    convert,
    decode_call,
    method_not_allowed,
    negotiate_stream_type,
    same_wire,
)
from mesos.protos.mesos import mesos_pb2
from mesos.protos.mesos.executor import executor_pb2
from mesos.protos.mesos.v1.executor import executor_pb2 as v1_executor_pb2
from mesos.protos.messages import messages_pb2

if TYPE_CHECKING:
    from mesos.agent.agent import Agent

__all__ = [
    "EXECUTOR_HEARTBEAT_INTERVAL",
    "ExecutorApi",
    "ExecutorConnection",
    "devolve",
    "evolve",
    "subscribed_event",
    "validate_executor_call",
]

log = logging.getLogger(__name__)

# Mesos's `DEFAULT_EXECUTOR_HEARTBEAT_INTERVAL` (`src/slave/constants.hpp`): 30 minutes.
EXECUTOR_HEARTBEAT_INTERVAL = 30 * 60.0

Call = executor_pb2.Call
Event = v1_executor_pb2.Event


# -- pure helpers ----------------------------------------------------------------------------


def devolve(call: Any) -> Any:
    """A `mesos.v1.executor.Call` as the agent's `mesos.executor.Call` (same wire)."""
    return convert(call, Call)


def subscribed_event(message: Any, container_id: str) -> Any:
    """SUBSCRIBED for an ExecutorRegisteredMessage, with the executor's container id, as
    `Slave::subscribe` sends it."""
    event = evolve(message)
    event.subscribed.container_id.value = container_id
    return event


def evolve(message: Any) -> Any:
    """What the agent sends a PID executor, as the v1 `Event` an HTTP executor gets (port of
    the executor `evolve(const ...Message&)` overloads)."""
    event = Event()
    if isinstance(message, messages_pb2.ExecutorRegisteredMessage):
        event.type = Event.SUBSCRIBED
        same_wire(message.executor_info, event.subscribed.executor_info)
        same_wire(message.framework_info, event.subscribed.framework_info)
        same_wire(message.slave_info, event.subscribed.agent_info)
    elif isinstance(message, messages_pb2.RunTaskMessage):
        event.type = Event.LAUNCH
        same_wire(message.task, event.launch.task)
    elif isinstance(message, messages_pb2.RunTaskGroupMessage):
        event.type = Event.LAUNCH_GROUP
        same_wire(message.task_group, event.launch_group.task_group)
    elif isinstance(message, messages_pb2.KillTaskMessage):
        event.type = Event.KILL
        event.kill.task_id.value = message.task_id.value
        if message.HasField("kill_policy"):
            same_wire(message.kill_policy, event.kill.kill_policy)
    elif isinstance(message, messages_pb2.StatusUpdateAcknowledgementMessage):
        event.type = Event.ACKNOWLEDGED
        event.acknowledged.task_id.value = message.task_id.value
        event.acknowledged.uuid = message.uuid
    elif isinstance(message, messages_pb2.FrameworkToExecutorMessage):
        event.type = Event.MESSAGE
        event.message.data = message.data
    elif isinstance(message, messages_pb2.ShutdownExecutorMessage):
        event.type = Event.SHUTDOWN
    else:
        raise TypeError(f"No v1 executor event for {message.DESCRIPTOR.full_name}")
    return event


def validate_executor_call(call: Any) -> str | None:
    """Port of `common::validation::validateExecutorCall`: why `call` (a
    `mesos.executor.Call`) is invalid, or None."""
    if not call.IsInitialized():
        return "Not initialized: " + ", ".join(call.FindInitializationErrors())
    if not call.HasField("type"):
        return "Expecting 'type' to be present"
    if not call.HasField("executor_id"):
        return "Expecting 'executor_id' to be present"
    if not call.HasField("framework_id"):
        return "Expecting 'framework_id' to be present"
    kind = call.type
    if kind == Call.SUBSCRIBE:
        if not call.HasField("subscribe"):
            return "Expecting 'subscribe' to be present"
    elif kind == Call.UPDATE:
        if not call.HasField("update"):
            return "Expecting 'update' to be present"
        status = call.update.status
        executor = call.executor_id.value
        framework = call.framework_id.value
        if not status.HasField("uuid"):
            return "Expecting 'uuid' to be present"
        try:
            uuid.UUID(bytes=status.uuid)
        except ValueError:
            return f"Invalid UUID: {len(status.uuid)} bytes where 16 are expected"
        if status.HasField("executor_id") and status.executor_id.value != executor:
            return (f"ExecutorID in Call: {executor} does not match ExecutorID in TaskStatus:"
                    f" {status.executor_id.value}")
        if status.source != mesos_pb2.TaskStatus.SOURCE_EXECUTOR:
            return (f"Received Call from executor {executor} of framework {framework} with "
                    "invalid source, expecting 'SOURCE_EXECUTOR'")
        if status.state == mesos_pb2.TASK_STAGING:
            return (f"Received TASK_STAGING from executor {executor} of framework "
                    f"{framework} which is not allowed")
    elif kind == Call.MESSAGE:
        if not call.HasField("message"):
            return "Expecting 'message' to be present"
    return None


# -- a subscription stream -------------------------------------------------------------------


class ExecutorConnection(StreamingHttpConnection):
    """An HTTP executor's subscription stream (Mesos's
    `StreamingHttpConnection<v1::executor::Event>` with its heartbeater); used on the
    agent's thread. `send` takes what the agent would send a PID executor (evolved) or a
    v1 executor `Event`."""

    event_class = Event
    heartbeat_interval = EXECUTOR_HEARTBEAT_INTERVAL
    first_heartbeat = EXECUTOR_HEARTBEAT_INTERVAL

    def evolve(self, message: Any) -> Any:
        return evolve(message)


# -- the endpoint ----------------------------------------------------------------------------


class ExecutorApi:
    """`/api/v1/executor` of the agent (its handler runs on the agent's thread)."""

    def __init__(self, agent: Agent) -> None:
        self.agent = agent

    def executor(self, request: Request) -> Response:
        """Port of `Slave::Http::executor` (without authentication)."""
        from mesos.agent.agent import ExecutorState, State

        agent = self.agent
        # Executors may subscribe once the containerizer has recovered (`_recover`): before,
        # the agent does not know yet which executors it will wait for.
        if not agent.recovery_reconnect:
            return ServiceUnavailable("Agent has not finished recovery")
        if request.method != "POST":
            return method_not_allowed(request.method)

        v1_call = decode_call(request, v1_executor_pb2.Call, strict=True)
        if isinstance(v1_call, Response):
            return v1_call
        call = devolve(v1_call)
        error = validate_executor_call(call)
        if error is not None:
            return BadRequest(f"Failed to validate Executor::Call: {error}")

        content_type = ""
        if call.type == Call.SUBSCRIBE:
            accepted = negotiate_stream_type(request)
            if isinstance(accepted, Response):
                return accepted
            content_type = accepted
        elif call.type == Call.HEARTBEAT:
            # Answered before any lookup: the ids of a heartbeat may be dummies (Mesos's
            # executor library sends it so).
            return Accepted()
        elif agent.state is State.RECOVERING:
            return ServiceUnavailable("Agent has not finished recovery")

        framework = agent.frameworks.get(call.framework_id.value)
        if framework is None:
            return BadRequest("Framework cannot be found")
        executor = framework.get_executor(call.executor_id.value)
        if executor is None:
            return BadRequest("Executor cannot be found")
        if executor.state is ExecutorState.REGISTERING and call.type != Call.SUBSCRIBE:
            return Response(403, "Executor is not subscribed\n")

        if call.type == Call.SUBSCRIBE:
            pipe = Pipe()
            http = ExecutorConnection(pipe, content_type)
            # The agent answers on the stream (SUBSCRIBED and the queued tasks, or SHUTDOWN
            # and the end of the stream); what it writes now is sent once the response
            # starts.
            try:
                agent.subscribe_executor(http, call.subscribe, framework, executor)
            except Exception:
                # As if the executor went away at once: its stream is over for the agent.
                pipe.close_reader()
                raise
            return Response(200, pipe, content_type)
        if call.type == Call.UPDATE:
            agent.http_status_update(call.framework_id, call.update.status)
            return Accepted()
        if call.type == Call.MESSAGE:
            agent.executor_message(agent.upid, agent.info.id, framework.info.id,
                                   executor.info.executor_id, call.message.data)
            return Accepted()
        log.warning("Received 'UNKNOWN' call from executor %s", executor)
        return Response(501)
