"""Scheduler failover with real OS processes: `mesos-master`, `mesos-agent`, command
executors running `sleep`, and schedulers (`failover_framework.py`, written only against
`mesos.interface` / `mesos.native`) killed with `kill -9` and started again with the
framework id they had (mesos-behaviour.md §2.10, §2.11, §2.12)."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path
from typing import Any

import psutil
import pytest

pytestmark = pytest.mark.integration

HERE = Path(__file__).parent
TIMEOUT = 20.0
TASKS = ["task-0", "task-1"]


def scheduler(daemons: Any, kit: Any, master: str, name: str, *args: str) -> Any:
    """Starts `failover_framework.py` with `args`; the JSON events it prints
    (`FrameworkEvents`)."""
    child = daemons.start(name, [str(HERE / "failover_framework.py"), master, *args],
                          stdout=subprocess.PIPE)
    return kit.FrameworkEvents(child, timeout=TIMEOUT)


def alive(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def start_with_running_tasks(daemons: Any, kit: Any, work_dir: Path, failover_timeout: str
                             ) -> tuple[str, str, str, str, Any, dict[str, psutil.Process]]:
    """A master, an agent and a scheduler whose two `sleep 1000` tasks run; returns the
    master, the agent's address and id, the framework id, the scheduler and the tasks'
    processes."""
    master = daemons.master()
    agent, _ = daemons.agent(master, name=work_dir.name)
    agent_id = kit.get_json(f"http://{agent}/state")["id"]
    first = scheduler(daemons, kit, master, "scheduler-1", f"--failover-timeout={failover_timeout}",
                      f"--tasks={len(TASKS)}")
    framework_id = first.wait_for(lambda e: e["event"] == "registered")["framework_id"]
    for task in TASKS:
        first.wait_for(lambda e, t=task: e["event"] == "update" and e["task"] == t
                       and e["state"] == "TASK_RUNNING")
    processes = kit.await_condition(
        lambda: (lambda p: p if sorted(p) == TASKS else None)(kit.task_processes(work_dir)),
        TIMEOUT, message="the tasks' `sleep` processes")
    assert {u["agent"] for u in first.updates()} == {agent_id}
    return master, agent, agent_id, framework_id, first, processes


def master_framework(kit: Any, master: str, framework_id: str
                     ) -> tuple[str, dict[str, Any]] | None:
    """Where `/master/state` lists the framework ("frameworks" or "completed_frameworks"),
    and its entry."""
    state = kit.get_json(f"http://{master}/master/state")
    for key in ("frameworks", "completed_frameworks"):
        for framework in state[key]:
            if framework["id"] == framework_id:
                return key, framework
    return None


def test_scheduler_failover_within_the_timeout_keeps_tasks_running(
        daemons: Any, kit: Any, work_dir: Path, monkeypatch: Any) -> None:
    """This test ensures that a framework whose scheduler is killed with `kill -9` stays
    registered, disconnected and deactivated, with its tasks running, while its
    `failover_timeout` runs; and that a new scheduler process subscribing with the same
    FrameworkID within the timeout fails over (`registered()`, not `reregistered()`, with
    the same id) and finds the tasks still running: explicit reconciliation of the task ids
    and implicit reconciliation both answer TASK_RUNNING (REASON_RECONCILIATION,
    SOURCE_MASTER), and the master shows the framework connected and active again
    (§2.10, §2.11, §2.12)."""
    monkeypatch.setenv("MESOS_REGISTRATION_BACKOFF_FACTOR", "100ms")
    # 1. A scheduler with a failover timeout far beyond the test runs two long tasks.
    master, _, agent_id, framework_id, first, processes = start_with_running_tasks(
        daemons, kit, work_dir, "600")
    found = master_framework(kit, master, framework_id)
    assert found is not None and found[0] == "frameworks"
    before = found[1]
    assert before["connected"] and before["active"]

    # 2. `kill -9` of the scheduler: the master keeps the framework, disconnected and
    #    inactive, with its tasks running.
    os.kill(first.child.pid, signal.SIGKILL)
    assert first.child.wait(TIMEOUT) == -signal.SIGKILL

    def disconnected() -> dict[str, Any] | None:
        found = master_framework(kit, master, framework_id)
        assert found is not None and found[0] == "frameworks", found
        return found[1] if not found[1]["connected"] else None

    waiting = kit.await_condition(disconnected, TIMEOUT,
                                  message="the master to see the scheduler go")
    assert not waiting["active"]
    assert waiting["failover_timeout"] == 600
    assert {t["id"]: t["state"] for t in waiting["tasks"]} == dict.fromkeys(
        TASKS, "TASK_RUNNING")
    assert all(alive(p) for p in processes.values())

    # 3. A new scheduler process subscribes with the framework's id: it fails over.
    second = scheduler(daemons, kit, master, "scheduler-2", f"--framework-id={framework_id}",
                       "--failover-timeout=600",
                       "--reconcile=" + ",".join(f"{t}@{agent_id}" for t in TASKS))
    registered = second.wait_for(lambda e: e["event"] in ("registered", "reregistered",
                                                          "error"))
    assert registered["event"] == "registered", second.events
    assert registered["framework_id"] == framework_id

    # 4. Explicit, then implicit reconciliation: every task is running.
    def answers(phase: str) -> dict[str, dict[str, Any]]:
        replies: dict[str, dict[str, Any]] = {}
        while sorted(replies) != TASKS:
            reply = second.wait_for(lambda e: e["event"] == "update" and e["phase"] == phase
                                    and e["reason"] == "REASON_RECONCILIATION"
                                    and e["task"] not in replies)
            replies[reply["task"]] = reply
        return replies

    for phase in ("explicit", "implicit"):
        for reply in answers(phase).values():
            assert reply["state"] == "TASK_RUNNING", (phase, reply)
            assert reply["source"] == "SOURCE_MASTER", (phase, reply)
            assert reply["agent"] == agent_id, (phase, reply)
    assert second.wait_for(lambda e: e["event"] == "reconciling" and e["phase"] == "implicit")

    # 5. The master has the framework connected and active again, at the new scheduler,
    #    with the same tasks; the tasks' processes never stopped.
    after = kit.await_condition(
        lambda: (lambda f: f[1] if f and f[1]["connected"] else None)(
            master_framework(kit, master, framework_id)),
        TIMEOUT, message="the master to show the framework connected")
    assert after["active"]
    assert after["pid"] != before["pid"]
    assert {t["id"]: t["state"] for t in after["tasks"]} == dict.fromkeys(
        TASKS, "TASK_RUNNING")
    assert not after["completed_tasks"]
    assert kit.task_processes(work_dir) == processes
    assert all(alive(p) for p in processes.values())
    assert not [e for e in second.events if e["event"] in ("error", "reregistered")]
    assert not second.updates(state="TASK_KILLED") and not second.updates(state="TASK_LOST")


def test_scheduler_failover_past_the_timeout_finds_the_framework_removed(
        daemons: Any, kit: Any, work_dir: Path, monkeypatch: Any) -> None:
    """This test ensures that when a scheduler killed with `kill -9` does not come back
    within its framework's `failover_timeout`, the master removes the framework: the agent
    is told to shut it down (ShutdownFrameworkMessage) and kills its executors and tasks,
    the master's `/master/state` lists it among the completed frameworks with its tasks
    TASK_KILLED; and that a new scheduler subscribing afterwards with the same FrameworkID
    gets the error "Framework has been removed" (`error()`, the driver aborts) (§2.10,
    §2.11)."""
    monkeypatch.setenv("MESOS_REGISTRATION_BACKOFF_FACTOR", "100ms")
    # 1. A scheduler with a one-second failover timeout runs two long tasks.
    master, agent, agent_id, framework_id, first, processes = start_with_running_tasks(
        daemons, kit, work_dir, "1")
    # The command executors, the shells running the commands, and the `sleep`s.
    sandbox = kit.sandbox_processes(work_dir)
    assert len([p for p in sandbox if p.name().startswith("python")]) == len(TASKS), sandbox

    # 2. `kill -9` of the scheduler; the timeout expires and the master removes the
    #    framework.
    os.kill(first.child.pid, signal.SIGKILL)
    assert first.child.wait(TIMEOUT) == -signal.SIGKILL
    removed = kit.await_condition(
        lambda: (lambda f: f[1] if f and f[0] == "completed_frameworks" else None)(
            master_framework(kit, master, framework_id)),
        TIMEOUT, message="the master to remove the framework")
    assert not removed["connected"] and not removed["active"]
    assert removed["unregistered_time"]
    assert not removed["tasks"]
    killed = {t["id"]: t for t in removed["completed_tasks"]}
    assert {t: k["state"] for t, k in killed.items()} == dict.fromkeys(TASKS, "TASK_KILLED")
    for task in killed.values():
        assert task["statuses"][-1]["state"] == "TASK_KILLED", task

    # 3. The agent was told to shut the framework down: its executors and tasks are gone.
    kit.await_condition(lambda: not kit.sandbox_processes(work_dir), TIMEOUT,
                        message="the agent to kill the framework's executors and tasks")
    assert not any(alive(p) for p in [*processes.values(), *sandbox])
    agent_state = kit.await_condition(
        lambda: (lambda s: s if not s["frameworks"] else None)(
            kit.get_json(f"http://{agent}/state")),
        TIMEOUT, message="the agent to complete the framework")
    [completed] = agent_state["completed_frameworks"]
    assert completed["id"] == framework_id
    assert not completed["executors"]
    assert sorted(e["id"] for e in completed["completed_executors"]) == TASKS
    assert f"Shutting down framework {framework_id}" in daemons.log(work_dir.name)

    # 4. A new scheduler with the framework's id is refused: the framework was removed.
    second = scheduler(daemons, kit, master, "scheduler-2", f"--framework-id={framework_id}",
                       "--failover-timeout=1", f"--reconcile={TASKS[0]}@{agent_id}")
    error = second.wait_for(lambda e: e["event"] in ("registered", "reregistered", "error"))
    assert error == {"event": "error", "message": "Framework has been removed"}
    assert second.wait_for(lambda e: e["event"] == "stopped")["status"] == "DRIVER_ABORTED"
    assert second.wait_exit() == 1
    assert not second.updates()
    # The master still lists the framework only as completed.
    found = master_framework(kit, master, framework_id)
    assert found is not None and found[0] == "completed_frameworks"
