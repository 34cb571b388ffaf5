"""Benchmark: task throughput on a local cluster, and status update throughput through a
real master.

1. Tasks: `mesos-local`-style cluster (1 master, 2 agents as OS processes), one framework
   (the integration tests' `batch_framework.py`, written against `mesos.native`) launching
   `--tasks` `true` command tasks; prints tasks launched and finished per second (from the
   framework's registration to the last TASK_FINISHED). Every task is a real command executor
   OS process, so this measures the whole path: offer, launch, fork/exec, updates, acks.
2. Status updates: a real `mesos-master` OS process; in this process a simulated agent (a
   libprocess Process speaking the agent protocol) and a framework (`MesosSchedulerDriver`,
   implicit acknowledgements). The framework launches `--update-tasks` tasks on the agent's
   offer; the agent then sends `--updates-per-task` TASK_RUNNING updates per task, each sent
   when the previous one of that task was acknowledged (one in flight per task, as the status
   update manager does). Prints acknowledged updates per second through the master.

Run: `.venv/bin/python tools/bench/task_throughput.py [--tasks 500]`.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import libprocess
from libprocess import UPID, Process
from mesos.cli.local import LocalCluster, http_json
from mesos.interface import Scheduler, mesos_pb2
from mesos.native import MesosSchedulerDriver
from mesos.protos.messages import messages_pb2

ROOT = Path(__file__).resolve().parents[2]
BATCH_FRAMEWORK = ROOT / "tests" / "integration" / "batch_framework.py"


def task_throughput(tasks: int) -> None:
    cluster = LocalCluster(2, resources="cpus:8;mem:8192;disk:4096;ports:[31000-32000]")
    try:
        cluster.start()
        spec = {"tasks": {f"t{i}": "true" for i in range(tasks)}}
        child = subprocess.Popen([sys.executable, str(BATCH_FRAMEWORK), cluster.master,
                                  json.dumps(spec)], stdout=subprocess.PIPE, text=True)
        assert child.stdout is not None
        start = finished_at = 0.0
        finished = failed = 0
        for line in child.stdout:
            event = json.loads(line)
            if event["event"] == "registered":
                start = time.perf_counter()
            elif event["event"] == "update" and event["state"] == "TASK_FINISHED":
                finished += 1
                finished_at = time.perf_counter()
            elif event["event"] == "update" and event["state"] not in (
                    "TASK_STARTING", "TASK_RUNNING"):
                failed += 1
        child.wait()
        elapsed = finished_at - start
        print(f"tasks: {finished} of {tasks} `true` tasks finished ({failed} other) on 1 master"
              f" + 2 agents in {elapsed:.1f} s: {finished / elapsed:.1f} tasks/s launched and "
              f"finished")
    finally:
        cluster.stop()


class SimulatedAgent(Process):
    """Registers with the master, then answers each RunTaskMessage with a stream of
    TASK_RUNNING updates, one in flight per task (sent when the previous one is acked)."""

    def __init__(self, master: UPID, updates_per_task: int) -> None:
        super().__init__("slave(1)")
        self.master = master
        self.updates_per_task = updates_per_task
        self.slave_id = ""
        self.remaining: dict[str, int] = {}
        self.runs: dict[str, messages_pb2.RunTaskMessage] = {}
        self.head: dict[str, bytes] = {}
        self.acked = 0
        self.first_update = 0.0
        self.done = threading.Event()
        self.total = 0

    def initialize(self) -> None:
        self.install(messages_pb2.SlaveRegisteredMessage, self.registered)
        self.install(messages_pb2.PingSlaveMessage, self.ping)
        self.install(messages_pb2.RunTaskMessage, self.run_task)
        self.install(messages_pb2.StatusUpdateAcknowledgementMessage, self.acknowledged)
        message = messages_pb2.RegisterSlaveMessage(version="1.12.0")
        message.slave.hostname = "simulated"
        for name, amount in (("cpus", 1000.0), ("mem", 1_000_000.0)):
            resource = message.slave.resources.add(name=name, type=mesos_pb2.Value.SCALAR)
            resource.scalar.value = amount
        for capability in ("MULTI_ROLE", "HIERARCHICAL_ROLE", "RESERVATION_REFINEMENT"):
            message.agent_capabilities.add().type = getattr(
                mesos_pb2.SlaveInfo.Capability, capability)
        self.send(self.master, message)

    def registered(self, sender: UPID, message: messages_pb2.SlaveRegisteredMessage) -> None:
        self.slave_id = message.slave_id.value

    def ping(self, sender: UPID, message: messages_pb2.PingSlaveMessage) -> None:
        self.send(sender, messages_pb2.PongSlaveMessage())

    def run_task(self, sender: UPID, run: messages_pb2.RunTaskMessage) -> None:
        task_id = run.task.task_id.value
        self.runs[task_id] = run
        self.remaining[task_id] = self.updates_per_task
        if not self.first_update:
            self.first_update = time.perf_counter()
        self.forward(task_id)

    def forward(self, task_id: str) -> None:
        run = self.runs[task_id]
        update = messages_pb2.StatusUpdate(uuid=uuid.uuid4().bytes,
                                           timestamp=libprocess.clock.now())
        update.framework_id.CopyFrom(run.framework.id)
        update.slave_id.value = self.slave_id
        update.status.task_id.CopyFrom(run.task.task_id)
        update.status.state = mesos_pb2.TASK_RUNNING
        update.status.uuid = update.uuid
        self.head[task_id] = update.uuid
        self.send(self.master, messages_pb2.StatusUpdateMessage(update=update,
                                                                pid=str(self.upid)))

    def acknowledged(self, sender: UPID,
                     ack: messages_pb2.StatusUpdateAcknowledgementMessage) -> None:
        task_id = ack.task_id.value
        if self.head.get(task_id) != ack.uuid:
            return
        self.acked += 1
        self.remaining[task_id] -= 1
        if self.remaining[task_id] > 0:
            self.forward(task_id)
        elif self.acked == self.total:
            self.done.set()


class Launcher(Scheduler):
    def __init__(self, tasks: int) -> None:
        self.tasks = tasks

    def resourceOffers(self, driver, offers):  # type: ignore[no-untyped-def]
        for offer in offers:
            if not self.tasks:
                driver.declineOffer(offer.id)
                continue
            batch = []
            for i in range(self.tasks):
                task = mesos_pb2.TaskInfo(name=f"u{i}")
                task.task_id.value = f"u{i}"
                task.slave_id.CopyFrom(offer.slave_id)
                task.command.value = "true"
                resource = task.resources.add(name="cpus", type=mesos_pb2.Value.SCALAR)
                resource.scalar.value = 0.1
                resource.allocation_info.role = offer.allocation_info.role or "*"
                batch.append(task)
            self.tasks = 0
            driver.launchTasks(offer.id, batch)


def update_throughput(tasks: int, per_task: int) -> None:
    cluster = LocalCluster(0)
    try:
        cluster.start()
        master_pid = UPID(http_json(f"http://{cluster.master}/master/state")["pid"])  # type: ignore
        agent = SimulatedAgent(master_pid, per_task)
        agent.total = tasks * per_task
        libprocess.spawn(agent)
        framework = mesos_pb2.FrameworkInfo(user="bench", name="update throughput")
        framework.roles.append("*")
        framework.capabilities.add().type = mesos_pb2.FrameworkInfo.Capability.MULTI_ROLE
        driver = MesosSchedulerDriver(Launcher(tasks), framework, cluster.master)
        driver.start()
        if not agent.done.wait(600):
            raise TimeoutError(f"only {agent.acked} of {agent.total} updates acknowledged")
        elapsed = time.perf_counter() - agent.first_update
        driver.stop()
        print(f"status updates: {agent.total} updates ({tasks} tasks x {per_task}, one in "
              f"flight per task) acknowledged end to end through a real master in "
              f"{elapsed:.1f} s: {agent.total / elapsed:,.0f} updates/s")
    finally:
        cluster.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=500)
    parser.add_argument("--update-tasks", type=int, default=100)
    parser.add_argument("--updates-per-task", type=int, default=50)
    args = parser.parse_args()
    update_throughput(args.update_tasks, args.updates_per_task)
    task_throughput(args.tasks)
    libprocess.finalize()


if __name__ == "__main__":
    main()
