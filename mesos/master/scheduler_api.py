"""The v1 scheduler HTTP API of the master: `POST /api/v1/scheduler` (port of
`Master::Http::scheduler` in `src/master/http.cpp`, of `StreamingHttpConnection` in
`src/master/master.hpp`, of the scheduler half of `src/internal/evolve.cpp` and of
`src/common/recordio.hpp`).

What each part owns:

- `SchedulerApi.scheduler` answers the endpoint: it decodes the `mesos.v1.scheduler.Call`
  (JSON or protobuf, by `Content-Type`), validates it, and either opens a subscription
  stream (SUBSCRIBE: `200`, a `Mesos-Stream-Id` header and a chunked RecordIO body in the
  encoding `Accept` asks for) or hands the call to the master's handler for it (`202`),
  once the caller proved it owns the framework's current stream (`Mesos-Stream-Id`).
- `HttpConnection` is one subscription stream: `send` turns what the master would send a
  PID scheduler into a v1 `Event` (`evolve`), encodes it and writes it as one RecordIO
  record into the response's `Pipe`; it also sends the HEARTBEAT events, the first at once
  and then every `HEARTBEAT_INTERVAL` seconds of clock time.
- `evolve` is a pure function. What the v1 APIs share (RecordIO, media types, decoding a
  call, the streamed connection and its heartbeats) is `mesos.common.http_api`.

The v1 and v0 scheduler protos are wire-compatible (same field numbers; `agent_id` is the
v1 spelling of `slave_id`), so a call is decoded as the v1 message, as Mesos does, and read
by the master as its internal `mesos.scheduler.Call` through its bytes (`devolve`).

Threads: everything here runs on the master's thread (the endpoint is a master route, and
heartbeats are `delay`ed onto the master), except that a stream's `closed` future completes
on the HTTP server's loop thread when the client goes away; the master defers its callback.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from libprocess import Accepted, BadRequest, Pipe, Request, Response
from mesos.common.http_api import (
    APPLICATION_JSON,
    APPLICATION_PROTOBUF,
    StreamingHttpConnection,
    accepts_media_type,
    decode_call,
    negotiate_stream_type,
    recordio_encode,
    serialize,
)
from mesos.common.http_api import convert as _convert
from mesos.common.http_api import method_not_allowed as _method_not_allowed
from mesos.common.http_api import same_wire as _same_wire
from mesos.master.validation import validate_scheduler_call
from mesos.protos.mesos.scheduler import scheduler_pb2
from mesos.protos.mesos.v1 import mesos_pb2 as v1_mesos_pb2
from mesos.protos.mesos.v1.scheduler import scheduler_pb2 as v1_scheduler_pb2
from mesos.protos.messages import messages_pb2

if TYPE_CHECKING:
    from mesos.master.framework import Framework
    from mesos.master.master import Master

__all__ = [
    "APPLICATION_JSON",
    "APPLICATION_PROTOBUF",
    "HEARTBEAT_INTERVAL",
    "HttpConnection",
    "SchedulerApi",
    "accepts_media_type",
    "devolve",
    "evolve",
    "recordio_encode",
]

log = logging.getLogger("mesos.master.scheduler_api")

# Mesos's `DEFAULT_HEARTBEAT_INTERVAL`, also told to the scheduler in SUBSCRIBED.
HEARTBEAT_INTERVAL = 15.0

Call = scheduler_pb2.Call
Event = v1_scheduler_pb2.Event


# -- pure helpers ----------------------------------------------------------------------------


def devolve(call: Any) -> Any:
    """A `mesos.v1.scheduler.Call` as the master's `mesos.scheduler.Call` (same wire)."""
    return _convert(call, Call)


def evolve(message: Any) -> Any:
    """What the master sends a PID scheduler, as the v1 `Event` an HTTP scheduler gets
    (port of the `evolve(const ...Message&)` overloads for the scheduler)."""
    event = Event()
    if isinstance(message, messages_pb2.FrameworkRegisteredMessage |
                  messages_pb2.FrameworkReregisteredMessage):
        # Both subscribe the scheduler: there is only SUBSCRIBED in v1.
        event.type = Event.SUBSCRIBED
        event.subscribed.framework_id.value = message.framework_id.value
        event.subscribed.heartbeat_interval_seconds = HEARTBEAT_INTERVAL
        _same_wire(message.master_info, event.subscribed.master_info)
    elif isinstance(message, messages_pb2.ResourceOffersMessage):
        event.type = Event.OFFERS
        for offer in message.offers:
            _same_wire(offer, event.offers.offers.add())
    elif isinstance(message, messages_pb2.RescindResourceOfferMessage):
        event.type = Event.RESCIND
        event.rescind.offer_id.value = message.offer_id.value
    elif isinstance(message, messages_pb2.StatusUpdateMessage):
        update = message.update
        event.type = Event.UPDATE
        status = event.update.status
        _same_wire(update.status, status)
        if update.HasField("slave_id"):
            status.agent_id.value = update.slave_id.value
        if update.HasField("executor_id"):
            status.executor_id.value = update.executor_id.value
        status.timestamp = update.timestamp
        # Only an update that an agent sends reliably carries a uuid to acknowledge; the
        # master's own updates (no `pid` to acknowledge to) are never acknowledged.
        if update.uuid and message.pid:
            status.uuid = update.uuid
        else:
            status.ClearField("uuid")
    elif isinstance(message, messages_pb2.LostSlaveMessage):
        event.type = Event.FAILURE
        event.failure.agent_id.value = message.slave_id.value
    elif isinstance(message, messages_pb2.ExitedExecutorMessage):
        event.type = Event.FAILURE
        event.failure.agent_id.value = message.slave_id.value
        event.failure.executor_id.value = message.executor_id.value
        event.failure.status = message.status
    elif isinstance(message, messages_pb2.ExecutorToFrameworkMessage):
        event.type = Event.MESSAGE
        event.message.agent_id.value = message.slave_id.value
        event.message.executor_id.value = message.executor_id.value
        event.message.data = message.data
    elif isinstance(message, messages_pb2.FrameworkErrorMessage):
        event.type = Event.ERROR
        event.error.message = message.message
    else:
        raise TypeError(f"No v1 scheduler event for {message.DESCRIPTOR.full_name}")
    return event


# -- a subscription stream -------------------------------------------------------------------


class HttpConnection(StreamingHttpConnection):
    """An HTTP scheduler's subscription stream (Mesos's `StreamingHttpConnection`); used on
    the master's thread. `send` takes what the master would send a PID scheduler (evolved)
    or a v1 `Event`; heartbeats start at once and come every `HEARTBEAT_INTERVAL` s.
    `stream_id` is the `Mesos-Stream-Id` every later call must carry."""

    event_class = Event
    heartbeat_interval = HEARTBEAT_INTERVAL

    def evolve(self, message: Any) -> Any:
        return evolve(message)


# -- the endpoint ----------------------------------------------------------------------------


class SchedulerApi:
    """`/api/v1/scheduler` of the master (its handler runs on the master's thread)."""

    def __init__(self, master: Master) -> None:
        self.master = master

    def scheduler(self, request: Request) -> Response:
        """Port of `Master::Http::scheduler` (the caller, `MasterHttp`, answers 307/503 on
        a master that does not lead or has not recovered)."""
        if request.method != "POST":
            return _method_not_allowed(request.method)

        v1_call = decode_call(request, v1_scheduler_pb2.Call)
        if isinstance(v1_call, Response):
            return v1_call

        call = devolve(v1_call)
        error = validate_scheduler_call(call)
        if error is not None:
            return BadRequest(f"Failed to validate scheduler::Call: {error}")

        if call.type == Call.SUBSCRIBE:
            return self._subscribe(request, call)

        framework = self.master.frameworks.get(call.framework_id.value)
        if framework is None:
            return BadRequest("Framework cannot be found")
        if not framework.connected():
            return Response(403, "Framework is not subscribed\n")
        if framework.http is None:
            return Response(403, "Framework is not connected via HTTP\n")
        stream_id = request.header("Mesos-Stream-Id")
        if stream_id is None:
            return BadRequest("All non-subscribe calls should include the 'Mesos-Stream-Id'"
                              " header")
        if stream_id != framework.http.stream_id:
            return BadRequest(f"The stream ID '{stream_id}' included in this request didn't"
                              " match the stream ID currently associated with framework ID"
                              f" {framework.id}")
        if call.type == Call.RECONCILE_OPERATIONS:
            return self._reconcile_operations(request, call.reconcile_operations)
        return self._call(framework, call)

    def _reconcile_operations(self, request: Request, reconcile: Any) -> Response:
        """RECONCILE_OPERATIONS, answered at once (`Master::reconcileOperations`): this master
        knows no operations (it has no resource providers), so each one asked about gets the
        state Mesos gives an operation it does not know, by where its agent stands; none
        for an implicit reconciliation (an empty list)."""
        content_type = negotiate_stream_type(request)
        if isinstance(content_type, Response):
            return content_type
        master = self.master
        answer = v1_scheduler_pb2.Response(type=v1_scheduler_pb2.Response.RECONCILE_OPERATIONS)
        answer.reconcile_operations.SetInParent()
        for operation in reconcile.operations:
            status = answer.reconcile_operations.operation_statuses.add()
            status.operation_id.value = operation.operation_id.value
            # The call is in its internal (v0) form here: the agent is `slave_id`.
            slave_id = operation.slave_id.value if operation.HasField("slave_id") else None
            if slave_id is not None:
                status.agent_id.value = slave_id
            if operation.HasField("resource_provider_id"):
                status.resource_provider_id.value = operation.resource_provider_id.value
            if slave_id is not None and slave_id in master.slaves_recovered:
                status.state = v1_mesos_pb2.OPERATION_RECOVERING
            elif slave_id is not None and slave_id in master.slaves_unreachable:
                status.state = v1_mesos_pb2.OPERATION_UNREACHABLE
            elif slave_id is not None and slave_id in master.slaves_gone:
                status.state = v1_mesos_pb2.OPERATION_GONE_BY_OPERATOR
            else:
                status.state = v1_mesos_pb2.OPERATION_UNKNOWN
        return Response(200, serialize(answer, content_type), content_type)

    def _subscribe(self, request: Request, call: Any) -> Response:
        content_type = negotiate_stream_type(request)
        if isinstance(content_type, Response):
            return content_type
        if request.header("Mesos-Stream-Id") is not None:
            return BadRequest("Subscribe calls should not include the 'Mesos-Stream-Id'"
                              " header")
        pipe = Pipe()
        http = HttpConnection(pipe, content_type)
        # The master answers on the stream (SUBSCRIBED, or ERROR and the end of the stream);
        # what it writes now is sent as soon as the response starts.
        try:
            self.master.subscribe_http(http, call.subscribe)
        except Exception:
            # Whatever the master had done is undone as for a client that went away: the
            # framework it may have added is disconnected (`_http_exited`), not left
            # "connected" to a stream nobody reads.
            pipe.close_reader()
            raise
        return Response(200, pipe, content_type, headers={"Mesos-Stream-Id": http.stream_id})

    def _call(self, framework: Framework, call: Any) -> Response:
        """Hands a call of the framework's own stream to the master's handler for it; the
        answer is `202 Accepted` (the outcome, if any, comes on the stream)."""
        master = self.master
        if master.handle_framework_call(framework, call):
            return Accepted()
        kind = call.type
        if kind == Call.UPDATE_FRAMEWORK:
            error = master.update_framework_call(framework, call.update_framework)
            return BadRequest(error) if error is not None else Response(200)
        elif kind in (Call.ACCEPT_INVERSE_OFFERS, Call.DECLINE_INVERSE_OFFERS):
            # Every inverse offer id is unknown here: Mesos drops unknown ids after `202`.
            log.info("Ignoring %s call of framework %s: this master makes no inverse offers",
                     Call.Type.Name(kind), framework)
        elif kind == Call.ACKNOWLEDGE_OPERATION_STATUS:
            # No operation status was ever sent, so none awaits this acknowledgement.
            log.info("Ignoring ACKNOWLEDGE_OPERATION_STATUS call of framework %s: this master"
                     " has no operations", framework)
        else:
            return Response(501, f"{Call.Type.Name(kind)} calls are not supported by this"
                                 " master\n")
        return Accepted()
