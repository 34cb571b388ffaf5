"""End to end with real OS processes: `mesos-master`, a scripted agent process, and a
framework written only against `mesos.interface` / `mesos.native`."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

pytestmark = pytest.mark.integration


def test_framework_launches_tasks_through_a_real_master(daemons: Any, kit: Any) -> None:
    """This test ensures that a framework using only the official Python API registers with
    a real `mesos-master`, gets offers of a (scripted) agent, launches tasks that run to
    TASK_FINISHED with every update acknowledged, and that `/master/state` and `/metrics`
    show the framework, the agent and the finished tasks."""
    # 1. A master, and an agent process that registers with it.
    master = daemons.master()
    agent = daemons.start("agent", [kit.scripted_agent, master], stdout=subprocess.PIPE)
    assert agent.stdout.readline().startswith("REGISTERED ")
    state = kit.get_json(f"http://{master}/master/state")
    assert state["activated_slaves"] == 1
    assert state["slaves"][0]["hostname"] == "scripted-agent"

    # 2. The sample framework launches 5 tasks and exits 0 once all finished.
    result = subprocess.run([sys.executable, "-m", "mesos.examples.test_framework", master,
                             "--tasks", "5"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr + daemons.log("agent")
    assert "5 of 5 tasks finished" in result.stdout
    for n in range(1, 6):
        assert f"Task task-{n} is in state TASK_RUNNING" in result.stdout
        assert f"Task task-{n} is in state TASK_FINISHED" in result.stdout

    # 3. The master's view: the framework (stopped, so completed) and its finished tasks.
    state = kit.get_json(f"http://{master}/master/state")
    frameworks = state["frameworks"] + state["completed_frameworks"]
    assert [f["name"] for f in frameworks] == ["Test Framework (Python)"]
    finished = [t for f in frameworks for t in f["tasks"] + f["completed_tasks"]
                if t["state"] == "TASK_FINISHED"]
    assert sorted(t["id"] for t in finished) == [f"task-{n}" for n in range(1, 6)]
    metrics = kit.get_json(f"http://{master}/metrics/snapshot")
    assert metrics["master/tasks_finished"] == 5
    assert metrics["master/slaves_active"] == 1
    with __import__("urllib.request").request.urlopen(f"http://{master}/metrics") as r:
        assert "master_tasks_finished 5.0" in r.read().decode()
