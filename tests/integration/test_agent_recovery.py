"""Agent recovery with real OS processes: `mesos-master`, `mesos-agent`, command executors
and a framework written against `mesos.native`, with `kill -9` of the agent
(mesos-behaviour.md §2.7, §2.8)."""

from __future__ import annotations

import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

pytestmark = pytest.mark.integration

TIMEOUT = 60.0

# The framework: checkpointing, written only against the official API. It launches LONG
# `sleep 600` tasks and one `sleep SHORT` task on the first offer, prints every status update
# as `UPDATE <task> <state> <reason>`, and stops when its stdin closes.
FRAMEWORK = r'''
import os
import sys
import threading

from mesos.interface import Scheduler, mesos_pb2
from mesos.native import MesosSchedulerDriver

master, long_tasks, short_seconds = sys.argv[1], int(sys.argv[2]), sys.argv[3]


class RecoveryScheduler(Scheduler):
    def __init__(self):
        self.launched = False

    def registered(self, driver, frameworkId, masterInfo):
        print(f"REGISTERED {frameworkId.value}", flush=True)

    def resourceOffers(self, driver, offers):
        for offer in offers:
            if self.launched:
                driver.declineOffer(offer.id)
                continue
            self.launched = True
            tasks = [self.task(offer, f"long-{n}", "sleep 600") for n in range(long_tasks)]
            tasks.append(self.task(offer, "short", f"sleep {short_seconds}"))
            driver.launchTasks(offer.id, tasks)

    def task(self, offer, name, command):
        task = mesos_pb2.TaskInfo()
        task.task_id.value = name
        task.slave_id.value = offer.slave_id.value
        task.name = name
        task.command.value = command
        for resource_name, amount in (("cpus", 0.1), ("mem", 32.0)):
            resource = task.resources.add()
            resource.name = resource_name
            resource.type = mesos_pb2.Value.SCALAR
            resource.scalar.value = amount
        return task

    def statusUpdate(self, driver, update):
        print(f"UPDATE {update.task_id.value} {mesos_pb2.TaskState.Name(update.state)} "
              f"{mesos_pb2.TaskStatus.Reason.Name(update.reason)}", flush=True)

    def slaveLost(self, driver, slaveId):
        print(f"AGENT_LOST {slaveId.value}", flush=True)


framework = mesos_pb2.FrameworkInfo()
framework.user = os.environ.get("USER", "") or "root"
framework.name = "Recovery Framework (Python)"
framework.checkpoint = True
framework.failover_timeout = 3600.0
driver = MesosSchedulerDriver(RecoveryScheduler(), framework, master)
driver.start()
threading.Thread(target=lambda: (sys.stdin.read(), driver.stop()), daemon=True).start()
driver.join()
print("STOPPED", flush=True)
'''


class Lines:
    """The lines a child process prints, gathered by a reader thread; `expect` waits (real
    time) for a line matching a predicate."""

    def __init__(self, stream: Any) -> None:
        self.queue: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream: Any) -> None:
        for line in stream:
            self.queue.put(line.rstrip("\n"))

    def _drain(self, timeout: float) -> None:
        try:
            self.seen.append(self.queue.get(timeout=timeout))
        except queue.Empty:
            pass
        while True:
            try:
                self.seen.append(self.queue.get_nowait())
            except queue.Empty:
                return

    def expect(self, predicate: Any, what: str, timeout: float = TIMEOUT) -> str:
        deadline = time.monotonic() + timeout
        index = 0
        while True:
            while index < len(self.seen):
                if predicate(self.seen[index]):
                    return self.seen[index]
                index += 1
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"Timed out waiting for {what}; saw {self.seen}")
            self._drain(min(remaining, 0.5))

    def updates(self) -> list[tuple[str, str, str]]:
        self._drain(0.0)
        return [tuple(line.split()[1:4]) for line in self.seen  # type: ignore[misc]
                if line.startswith("UPDATE ")]


@pytest.mark.parametrize("stop", [signal.SIGKILL, signal.SIGTERM], ids=["kill-9", "sigterm"])
def test_agent_restart_keeps_tasks_and_delivers_missed_update(
        daemons: Any, kit: Any, work_dir: Path, tmp_path: Path, stop: int) -> None:
    """This test ensures that after `kill -9` (or SIGTERM, which ends a Mesos agent without
    touching checkpointed executors) of an agent running a checkpointing framework's tasks,
    the tasks keep running while the agent is down, and that the restarted agent recovers:
    it keeps its agent id, its tasks stay TASK_RUNNING with no TASK_LOST, and the
    TASK_FINISHED of a task that ended while the agent was down (which its executor could
    not deliver then) reaches the framework."""
    # 1. A master and an agent.
    master = daemons.master()
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    agent_args = ["-m", "mesos.agent.main", f"--master={master}", f"--work_dir={work_dir}",
                  f"--port={port}", "--ip=127.0.0.1", "--hostname=localhost",
                  "--resources=cpus:4;mem:4096;disk:4096;ports:[31000-32000]",
                  "--registration_backoff_factor=100ms"]
    agent = daemons.start("agent-1", agent_args)
    kit.await_condition(
        lambda: kit.get_json(f"http://{master}/master/state")["activated_slaves"] == 1,
        TIMEOUT, message="the agent to register")
    [slave] = kit.get_json(f"http://{master}/master/state")["slaves"]

    # 2. The framework runs three long tasks and a short one.
    script = tmp_path / "framework.py"
    script.write_text(FRAMEWORK)
    log = open(tmp_path / "framework.err", "w")
    framework = subprocess.Popen(
        [sys.executable, str(script), master, "3", "6"], stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, stderr=log, text=True, start_new_session=True,
        env=dict(os.environ, PYTHONUNBUFFERED="1"))
    daemons.children.append(framework)
    lines = Lines(framework.stdout)
    tasks = ["long-0", "long-1", "long-2", "short"]
    for task in tasks:
        lines.expect(lambda line, t=task: line.startswith(f"UPDATE {t} TASK_RUNNING"),
                     f"{task} to run")
    running = kit.await_condition(lambda: (lambda t: t if len(t) == 4 else None)(
        kit.task_processes(work_dir)), TIMEOUT, message="the four task processes")

    # 3. The agent goes: every task keeps running.
    agent.send_signal(stop)
    assert agent.wait(TIMEOUT) == (-signal.SIGKILL if stop == signal.SIGKILL else 0)
    kit.await_condition(
        lambda: not kit.get_json(f"http://{master}/master/state")["slaves"][0]["active"],
        TIMEOUT, message="the master to see the agent go")
    assert all(running[t].is_running() for t in tasks), "a task died with the agent"

    # 4. The short task ends while the agent is down; its executor keeps its update.
    kit.await_condition(lambda: not running["short"].is_running()
                        or running["short"].status() == psutil.STATUS_ZOMBIE,
                        TIMEOUT, message="the short task to end")

    # 5. The agent comes back on the same work directory.
    daemons.start("agent-2", agent_args)
    lines.expect(lambda line: line.startswith("UPDATE short TASK_FINISHED"),
                 "the short task's TASK_FINISHED")
    state = kit.await_condition(
        lambda: (lambda s: s if s["activated_slaves"] == 1 else None)(
            kit.get_json(f"http://{master}/master/state")),
        TIMEOUT, message="the agent to reregister")
    assert [s["id"] for s in state["slaves"]] == [slave["id"]]

    def master_tasks() -> list[tuple[str, str]]:
        [framework_state] = kit.get_json(f"http://{master}/master/state")["frameworks"]
        return sorted((t["id"], t["state"]) for t in framework_state["tasks"])

    # The finished task leaves the master's tasks once the framework acknowledged it.
    kit.await_condition(lambda: len(master_tasks()) == 3, TIMEOUT,
                        message="the short task to complete at the master")
    assert master_tasks() == [("long-0", "TASK_RUNNING"), ("long-1", "TASK_RUNNING"),
                              ("long-2", "TASK_RUNNING")]
    for task in ("long-0", "long-1", "long-2"):
        assert running[task].is_running()
    updates = lines.updates()
    for task in tasks:
        # Delivery is at least once: the master's UpdateFrameworkMessage at reregistration
        # makes the agent resend its pending updates at once, as in Mesos.
        states = [u[1] for u in updates if u[0] == task]
        states = [s for i, s in enumerate(states) if i == 0 or states[i - 1] != s]
        expected = ["TASK_STARTING", "TASK_RUNNING"]
        if task == "short":
            expected.append("TASK_FINISHED")
        assert states == expected, (task, updates)
    assert "AGENT_LOST" not in " ".join(lines.seen)

    # 6. The framework stops; the agent shuts its executors down.
    assert framework.stdin is not None
    framework.stdin.close()
    lines.expect(lambda line: line == "STOPPED", "the framework to stop")
    kit.await_condition(lambda: not kit.task_processes(work_dir), TIMEOUT,
                        message="the tasks to be killed")
    log.close()
