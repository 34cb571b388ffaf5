"""End to end with real OS processes: `mesos-master`, a `mesos-agent` running real command
executors, and a v1 HTTP scheduler in the test's process that speaks the protocol as
pymesos does (`POST /api/v1/scheduler`, JSON, a chunked RecordIO stream, explicit
acknowledgements of every update that carries a uuid)."""

from __future__ import annotations

import base64
from typing import Any

import pytest

pytestmark = pytest.mark.integration

# Command executors start as real OS processes: give every wait room for that.
WAIT = 60.0


def test_http_scheduler_runs_command_tasks_on_a_real_cluster(
        daemons: Any, kit: Any, http_scheduler: Any) -> None:
    """This test ensures that an HTTP scheduler subscribes to a real `mesos-master` at the
    path pymesos uses, is offered a real agent's resources, launches `true` and `sleep`
    command tasks that each reach TASK_FINISHED through TASK_RUNNING (acknowledging every
    update), and that `/master/state` shows it (without a pid) until TEARDOWN removes it."""
    # 1. A master and an agent.
    master = daemons.master()
    agent, _ = daemons.agent(master)
    scheduler = http_scheduler(master, "http framework")
    framework_id = scheduler.framework_id

    # 2. The agent's offer: two tasks on it.
    offer = scheduler.next("OFFERS", timeout=WAIT)["offers"]["offers"][0]
    tasks = {"true": "true", "sleep": "sleep 0.2"}
    task_infos = [{"name": name, "task_id": {"value": name}, "agent_id": offer["agent_id"],
                   "resources": kit.v1_resources(0.5, 32), "command": {"value": command}}
                  for name, command in tasks.items()]
    assert scheduler.call("ACCEPT", accept={
        "offer_ids": [offer["id"]],
        "operations": [{"type": "LAUNCH", "launch": {"task_infos": task_infos}}],
    })[0] == 202

    # 3. Every update until both finished, each acknowledged as pymesos does.
    states: dict[str, list[str]] = {name: [] for name in tasks}
    while not all(s and s[-1] == "TASK_FINISHED" for s in states.values()):
        status = scheduler.next("UPDATE", skip=("HEARTBEAT", "OFFERS"),
                                timeout=WAIT)["update"]["status"]
        states[status["task_id"]["value"]].append(status["state"])
        assert status["state"] not in ("TASK_FAILED", "TASK_LOST", "TASK_ERROR"), status
        if "uuid" in status:
            assert len(base64.b64decode(status["uuid"])) == 16
            assert scheduler.acknowledge(status)[0] == 202
    for name, seen in states.items():
        assert "TASK_RUNNING" in seen[:-1], (name, seen)

    # 4. The master's view.
    def shown() -> Any:
        frameworks = kit.get_json(f"http://{master}/master/state")["frameworks"]
        return frameworks and frameworks[0]

    framework = kit.await_condition(
        lambda: (f := shown()) and len(f["completed_tasks"]) == 2 and f, WAIT,
        message="the master to complete both tasks")
    assert framework["id"] == framework_id and "pid" not in framework
    assert sorted(t["state"] for t in framework["completed_tasks"]) == [
        "TASK_FINISHED", "TASK_FINISHED"]
    agent_state = kit.get_json(f"http://{agent}/state")
    assert [f["id"] for f in agent_state["frameworks"] + agent_state["completed_frameworks"]
            ] == [framework_id]

    # 5. TEARDOWN: the stream ends and the framework is completed.
    assert scheduler.call("TEARDOWN")[0] == 202
    assert all(e["type"] in ("HEARTBEAT", "OFFERS")
               for e in scheduler.subscription.remaining(WAIT))
    state = kit.get_json(f"http://{master}/master/state")
    assert state["frameworks"] == []
    assert [f["id"] for f in state["completed_frameworks"]] == [framework_id]
