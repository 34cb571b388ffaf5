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
from collections.abc import Sequence
from pathlib import Path

import libprocess
from libprocess import UPID
from mesos.cli.local import LocalCluster, http_json
from mesos.interface import Scheduler, mesos_pb2
from mesos.native import MesosSchedulerDriver
from mesos.protos.messages import messages_pb2
from mesos.testing.simulated_agent import SimulatedAgent

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


class CountingAgent(SimulatedAgent):
    """Runs each task as `updates_per_task` TASK_RUNNING updates (one in flight per task)
    and counts the acknowledged ones; `done` is set when all `total` are."""

    def __init__(self, master: UPID, updates_per_task: int) -> None:
        super().__init__(master, resources=(("cpus", 1000.0), ("mem", 1_000_000.0)),
                         script=[mesos_pb2.TASK_RUNNING] * updates_per_task)
        self.acked = 0
        self.first_update = 0.0
        self.done = threading.Event()
        self.total = 0

    def script(self, run: messages_pb2.RunTaskMessage) -> Sequence[int]:
        if not self.first_update:
            self.first_update = time.perf_counter()
        return self.states

    def on_acknowledged(self, task_id: str, update: messages_pb2.StatusUpdate) -> None:
        self.acked += 1
        if self.acked == self.total:
            self.done.set()


class Launcher(Scheduler):
    def __init__(self, tasks: int) -> None:
        self.tasks = tasks

    def resourceOffers(self, driver, offers):
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
        agent = CountingAgent(master_pid, per_task)
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
