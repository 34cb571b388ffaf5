"""A scripted agent OS process for the master's end-to-end test (not a test module).

Speaks the agent side of the master protocol with libprocess and the Mesos messages only:
registers (retrying every second until `SlaveRegisteredMessage`), answers pings, and runs each
task "virtually": TASK_RUNNING, then TASK_FINISHED, each sent only after the previous update
was acknowledged (the status update stream rule), so acknowledgement routing is exercised.
Usage: `python scripted_agent.py <master-http-host:port>`; prints `REGISTERED <agent id>`.
"""

from __future__ import annotations

import json
import sys
import urllib.request
import uuid
from collections import deque

import libprocess
from libprocess import UPID, Process
from mesos.protos.mesos import mesos_pb2
from mesos.protos.messages import messages_pb2


class ScriptedAgent(Process):
    def __init__(self, master: UPID) -> None:
        super().__init__("slave(1)")
        self.master = master
        self.slave_id = ""
        # Per task: updates still to send, in order; the head waits for its ack.
        self.streams: dict[str, deque[messages_pb2.StatusUpdate]] = {}

    def initialize(self) -> None:
        self.install(messages_pb2.SlaveRegisteredMessage, self.registered)
        self.install(messages_pb2.PingSlaveMessage, self.ping)
        self.install(messages_pb2.RunTaskMessage, self.run_task)
        self.install(messages_pb2.StatusUpdateAcknowledgementMessage, self.acknowledged)
        self.register()

    def register(self) -> None:
        if self.slave_id:
            return
        message = messages_pb2.RegisterSlaveMessage()
        message.slave.hostname = "scripted-agent"
        message.slave.port = 5051
        for name, amount in (("cpus", 4.0), ("mem", 4096.0), ("disk", 4096.0)):
            resource = message.slave.resources.add()
            resource.name = name
            resource.type = mesos_pb2.Value.SCALAR
            resource.scalar.value = amount
        message.version = "1.12.0"
        for capability in ("MULTI_ROLE", "HIERARCHICAL_ROLE", "RESERVATION_REFINEMENT"):
            message.agent_capabilities.add().type = getattr(
                mesos_pb2.SlaveInfo.Capability, capability)
        self.send(self.master, message)
        libprocess.delay(1.0, self, self.register)

    def registered(self, sender: UPID, message: messages_pb2.SlaveRegisteredMessage) -> None:
        if not self.slave_id:
            self.slave_id = message.slave_id.value
            print(f"REGISTERED {self.slave_id}", flush=True)

    def ping(self, sender: UPID, message: messages_pb2.PingSlaveMessage) -> None:
        self.send(sender, messages_pb2.PongSlaveMessage())

    def _update(self, run: messages_pb2.RunTaskMessage, state: int) -> messages_pb2.StatusUpdate:
        update = messages_pb2.StatusUpdate()
        update.framework_id.CopyFrom(run.framework.id)
        update.slave_id.value = self.slave_id
        update.status.task_id.CopyFrom(run.task.task_id)
        update.status.state = state
        update.status.source = mesos_pb2.TaskStatus.SOURCE_EXECUTOR
        update.status.slave_id.value = self.slave_id
        update.uuid = uuid.uuid4().bytes
        update.status.uuid = update.uuid
        update.timestamp = libprocess.clock.now()
        update.status.timestamp = update.timestamp
        return update

    def run_task(self, sender: UPID, run: messages_pb2.RunTaskMessage) -> None:
        task_id = run.task.task_id.value
        self.streams[task_id] = deque([self._update(run, mesos_pb2.TASK_RUNNING),
                                       self._update(run, mesos_pb2.TASK_FINISHED)])
        self.forward(task_id)

    def forward(self, task_id: str) -> None:
        stream = self.streams.get(task_id)
        if stream:
            self.send(self.master, messages_pb2.StatusUpdateMessage(update=stream[0],
                                                                    pid=str(self.upid)))

    def acknowledged(self, sender: UPID,
                     ack: messages_pb2.StatusUpdateAcknowledgementMessage) -> None:
        stream = self.streams.get(ack.task_id.value)
        if stream and stream[0].uuid == ack.uuid:
            stream.popleft()
            self.forward(ack.task_id.value)


def main() -> None:
    address = sys.argv[1]
    with urllib.request.urlopen(f"http://{address}/master/state", timeout=10) as response:
        master = UPID(json.loads(response.read())["pid"])
    libprocess.initialize(ip="127.0.0.1")
    agent = ScriptedAgent(master)
    libprocess.spawn(agent)
    libprocess.wait(agent)


if __name__ == "__main__":
    main()
