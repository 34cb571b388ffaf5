"""End to end with real OS processes: `mesos-master`, two `mesos-agent`s, executors as real
processes, and frameworks written only against `mesos.interface` / `mesos.native`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from typing import Any

import pytest

pytestmark = pytest.mark.integration


def test_twenty_short_tasks_reach_the_right_terminal_states(daemons: Any, kit: Any) -> None:
    """This test ensures that 20 short command tasks (`echo`, `sleep 0.1`, `false`) spread
    over two agents each reach the right terminal state at the framework, and that both the
    master's and the agents' `/state` show them."""
    # 1. A master and two agents.
    master = daemons.master()
    agents = [daemons.agent(master)[0] for _ in range(2)]
    # 2. Twenty tasks.
    commands = {}
    for i in range(20):
        kind = ("echo hello", "sleep 0.1", "false")[i % 3]
        commands[f"t{i:02d}-{kind.split()[0]}"] = kind
    framework = daemons.framework(master, {"tasks": commands})
    framework.wait_for(lambda e: e["event"] == "stopped", 120)
    # 3. Every task's final state at the framework.
    final = {e["task"]: e for e in framework.updates()}
    assert sorted(final) == sorted(commands)
    for task_id, event in final.items():
        expected = "TASK_FAILED" if task_id.endswith("false") else "TASK_FINISHED"
        assert event["state"] == expected, event
        if expected == "TASK_FAILED":
            assert event["message"] == "Command exited with status 1"
    for task_id in commands:
        states = [e["state"] for e in framework.updates() if e["task"] == task_id]
        assert states.index("TASK_RUNNING") < len(states) - 1, states
    # 4. The master's view, and the agents' views add up to the twenty tasks.
    state = kit.get_json(f"http://{master}/master/state")
    frameworks = state["frameworks"] + state["completed_frameworks"]
    master_tasks = {t["id"]: t["state"] for f in frameworks
                    for t in f["tasks"] + f["completed_tasks"]}
    assert master_tasks == {t: e["state"] for t, e in final.items()}
    used_agents = {e["agent"] for e in final.values()}
    seen = {}
    for agent in agents:
        agent_state = kit.get_json(f"http://{agent}/state")
        for f in agent_state["frameworks"] + agent_state["completed_frameworks"]:
            for executor in f["executors"] + f["completed_executors"]:
                for task in executor["tasks"] + executor["completed_tasks"]:
                    seen[task["id"]] = task["state"]
    assert seen == master_tasks
    assert len(used_agents) == 2, "the tasks should spread over both agents"


def test_kill_9_of_an_executor_fails_its_task_and_reports_executor_lost(daemons: Any,
                                                                         kit: Any) -> None:
    """This test ensures that when a custom executor (written against `mesos.native`) is
    killed with `kill -9`, its task ends TASK_FAILED (REASON_EXECUTOR_TERMINATED) and the
    framework gets `executorLost`."""
    master = daemons.master()
    daemons.agent(master)
    framework = daemons.framework(master, {"tasks": {"long": {"executor": kit.pid_executor}}})
    framework.wait_for(lambda e: e["event"] == "update" and e["state"] == "TASK_RUNNING")
    pid = int(framework.wait_for(lambda e: e["event"] == "message")["data"])
    os.kill(pid, signal.SIGKILL)
    failed = framework.wait_for(lambda e: e["event"] == "update" and e["state"] != "TASK_RUNNING")
    assert failed["state"] == "TASK_FAILED"
    assert failed["reason"] == "REASON_EXECUTOR_TERMINATED"
    lost = framework.wait_for(lambda e: e["event"] == "executor_lost")
    assert lost["executor"] == "executor-long"


def test_mesos_execute_exit_codes(daemons: Any) -> None:
    """This test ensures that `mesos-execute` runs one task and exits 0 on TASK_FINISHED and
    1 on TASK_FAILED, printing the updates, and that a garbage `--resources` exits 1 with a
    one-line message naming the bad token."""
    master = daemons.master()
    daemons.agent(master)
    ok = subprocess.run([sys.executable, "-m", "mesos.cli.execute", f"--master={master}",
                         "--name=hello", "--command=echo hi", "--resources=cpus:0.1;mem:32"],
                        capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "Received status update TASK_FINISHED for task 'hello'" in ok.stdout
    bad = subprocess.run([sys.executable, "-m", "mesos.cli.execute", f"--master={master}",
                          "--name=boom", "--command=exit 3", "--resources=cpus:0.1;mem:32"],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 1
    assert "TASK_FAILED" in bad.stdout and "Command exited with status 3" in bad.stdout
    garbage = subprocess.run([sys.executable, "-m", "mesos.cli.execute", f"--master={master}",
                              "--name=x", "--command=true", "--resources=cpus:lots"],
                             capture_output=True, text=True, timeout=60)
    assert garbage.returncode == 1
    assert "'cpus'" in garbage.stderr and "lots" in garbage.stderr


def test_run_local_main_job(kit: Any) -> None:
    """This test ensures that the README's main job (`tools/run-local`'s program) starts a
    local cluster, runs the sample framework to completion and prints the cluster's URLs."""
    result = subprocess.run([sys.executable, "-m", "mesos.cli.run_local", "--tasks", "3"],
                            capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 of 3 tasks finished" in result.stdout
    assert "/master/state" in result.stdout and "/metrics" in result.stdout
