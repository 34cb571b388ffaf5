"""A simulated agent: the agent side of the master protocol, without executors.

Integration tests and benchmarks need agents by the hundred, or agents whose every update is
scripted, which real agents (an OS process and an executor per task) cannot give. This
module builds the messages an agent sends (`registration`, `status_update`) and
`SimulatedAgent`, which registers, answers pings and "runs" each task as a script of states
sent as status updates, one in flight per task, the next one only after the master has
acknowledged the previous one (the status update stream rule), so acknowledgement routing
is exercised as with a real agent.
"""

from __future__ import annotations

import uuid
from collections import deque
from collections.abc import Iterable, Sequence
from typing import Any

import libprocess
from libprocess import UPID, Process
from mesos.protos.mesos import mesos_pb2
from mesos.protos.messages import messages_pb2

__all__ = ["AGENT_CAPABILITIES", "SimulatedAgent", "registration", "status_update"]

AGENT_VERSION = "1.12.0"

AGENT_CAPABILITIES = (
    mesos_pb2.SlaveInfo.Capability.MULTI_ROLE,
    mesos_pb2.SlaveInfo.Capability.HIERARCHICAL_ROLE,
    mesos_pb2.SlaveInfo.Capability.RESERVATION_REFINEMENT,
)


def registration(info: Any, tasks: Iterable[Any] = (), frameworks: Iterable[Any] = (),
                 version: str = AGENT_VERSION) -> Any:
    """`RegisterSlaveMessage` for an agent without an id, else `ReregisterSlaveMessage` with
    its `tasks` and `frameworks`, both with the capabilities of a current agent."""
    message: Any
    if info.HasField("id"):
        message = messages_pb2.ReregisterSlaveMessage(slave=info, version=version)
        message.tasks.extend(tasks)
        message.frameworks.extend(frameworks)
    else:
        message = messages_pb2.RegisterSlaveMessage(slave=info, version=version)
    message.agent_capabilities.extend(
        mesos_pb2.SlaveInfo.Capability(type=c) for c in AGENT_CAPABILITIES)
    return message


def status_update(framework_id: Any, slave_id: Any, task_id: Any, state: int) -> Any:
    """A status update as an executor's agent forwards it: a fresh uuid (in the update and
    its status), the executor as its source, stamped with the runtime clock."""
    now = libprocess.clock.now()
    update_uuid = uuid.uuid4().bytes
    update = messages_pb2.StatusUpdate(uuid=update_uuid, timestamp=now,
                                       latest_state=state)  # type: ignore[arg-type]
    update.framework_id.CopyFrom(framework_id)
    update.slave_id.CopyFrom(slave_id)
    status = update.status
    status.task_id.CopyFrom(task_id)
    status.state = state  # type: ignore[assignment]
    status.source = mesos_pb2.TaskStatus.SOURCE_EXECUTOR
    status.uuid = update_uuid
    status.timestamp = now
    status.slave_id.CopyFrom(slave_id)
    return update


class SimulatedAgent(Process):
    """An agent stand-in `slave(N)` (or the given id) for a master at `master`.

    Registers at once (and every `retry_interval` seconds until registered, when given),
    answers pings, and runs each task by sending the states `script(run_task_message)`
    returns as status updates, one in flight per task. Subclasses hear of progress through
    `on_registered(slave_id)` and `on_acknowledged(task_id, update)`. Its state is touched
    on its own thread only.
    """

    def __init__(self, master: UPID, *, id: str = "slave(1)", hostname: str = "simulated",
                 resources: Sequence[tuple[str, float]] = (("cpus", 4.0), ("mem", 4096.0)),
                 script: Sequence[int] = (mesos_pb2.TASK_RUNNING, mesos_pb2.TASK_FINISHED),
                 retry_interval: float | None = None) -> None:
        super().__init__(id)
        self.master = master
        self.info = mesos_pb2.SlaveInfo(hostname=hostname, port=5051)
        for name, amount in resources:
            resource = self.info.resources.add(name=name, type=mesos_pb2.Value.SCALAR)
            resource.scalar.value = amount
        self.states = tuple(script)
        self.retry_interval = retry_interval
        # Per task: the updates still to send, in order; the head waits for its ack.
        self.streams: dict[str, deque[Any]] = {}

    @property
    def slave_id(self) -> str:
        return self.info.id.value if self.info.HasField("id") else ""

    def initialize(self) -> None:
        self.install(messages_pb2.SlaveRegisteredMessage, self._registered)
        self.install(messages_pb2.PingSlaveMessage, self._ping)
        self.install(messages_pb2.RunTaskMessage, self._run_task)
        self.install(messages_pb2.StatusUpdateAcknowledgementMessage, self._acknowledged)
        # Scripted tasks run their script out: kills, shutdowns and scheduler moves change
        # nothing here (installed so that they are not logged as unknown messages).
        for ignored in (messages_pb2.KillTaskMessage, messages_pb2.ShutdownFrameworkMessage,
                        messages_pb2.UpdateFrameworkMessage):
            self.install(ignored, lambda sender, message: None)
        self.register()

    def register(self) -> None:
        if self.slave_id:
            return
        self.send(self.master, registration(self.info))
        if self.retry_interval is not None:
            libprocess.delay(self.retry_interval, self, self.register)

    def script(self, run: Any) -> Sequence[int]:
        """The states task `run` goes through (the constructor's `script` by default)."""
        return self.states

    def on_registered(self, slave_id: str) -> None:
        """Called once, when the master registered this agent."""

    def on_acknowledged(self, task_id: str, update: Any) -> None:
        """Called for each update of a task the master acknowledged."""

    def _registered(self, sender: UPID, message: Any) -> None:
        if not self.slave_id:
            self.info.id.CopyFrom(message.slave_id)
            self.on_registered(self.slave_id)

    def _ping(self, sender: UPID, message: Any) -> None:
        self.send(sender, messages_pb2.PongSlaveMessage())

    def _run_task(self, sender: UPID, run: Any) -> None:
        task_id = run.task.task_id.value
        self.streams[task_id] = deque(
            status_update(run.framework.id, self.info.id, run.task.task_id, state)
            for state in self.script(run))
        self._forward(task_id)

    def _forward(self, task_id: str) -> None:
        stream = self.streams.get(task_id)
        if stream:
            self.send(self.master, messages_pb2.StatusUpdateMessage(update=stream[0],
                                                                    pid=str(self.upid)))

    def _acknowledged(self, sender: UPID, ack: Any) -> None:
        task_id = ack.task_id.value
        stream = self.streams.get(task_id)
        if stream and stream[0].uuid == ack.uuid:
            update = stream.popleft()
            self.on_acknowledged(task_id, update)
            self._forward(task_id)
