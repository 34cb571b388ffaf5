"""End to end with real OS processes: `mesos-master`, a `mesos-agent`, and a custom executor
that is a real OS process launched by the agent from its `ExecutorInfo` command and speaks
the v1 executor HTTP API as pymesos does (`http_executor.py`, on `mesos.testing.v1_http.Executor`),
driven by a v1 HTTP scheduler in the test's process (`mesos.testing.v1_http.Scheduler`)."""

from __future__ import annotations

import base64
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.integration

# The executor starts as a real OS process (a Python interpreter): give every wait room.
WAIT = 60.0
HERE = Path(__file__).parent


def test_http_executor_runs_a_task_to_finished_on_a_real_cluster(
        daemons: Any, kit: Any, http_scheduler: Any) -> None:
    """This test ensures that a custom executor speaking the v1 executor HTTP API, launched
    by a real `mesos-agent` as an OS process from its `ExecutorInfo` command, subscribes at
    `MESOS_AGENT_ENDPOINT` (`/api/v1/executor`), gets its task, and that its TASK_RUNNING and
    TASK_FINISHED reach the scheduler (each acknowledged), framework messages pass both
    ways (scheduler MESSAGE -> executor, executor MESSAGE -> scheduler), and that the
    framework's teardown reaches the executor as SHUTDOWN, with every update it sent
    acknowledged by the agent."""
    # 1. A master, an agent, an HTTP scheduler.
    master = daemons.master()
    agent, work_dir = daemons.agent(master)
    scheduler = http_scheduler(master, "http executor framework")
    framework_id = scheduler.framework_id

    # 2. A task on a custom executor whose command is the HTTP executor script.
    offer = scheduler.next("OFFERS", timeout=WAIT)["offers"]["offers"][0]
    executor_info = {
        "executor_id": {"value": "http-executor"},
        "name": "v1 HTTP executor",
        "command": {"value": f"{sys.executable} {HERE / 'http_executor.py'}"},
        "resources": kit.v1_resources(0.1, 32)}
    task = {"name": "task", "task_id": {"value": "task-1"}, "agent_id": offer["agent_id"],
            "resources": kit.v1_resources(0.5, 64), "executor": executor_info}
    assert scheduler.call("ACCEPT", accept={
        "offer_ids": [offer["id"]],
        "operations": [{"type": "LAUNCH", "launch": {"task_infos": [task]}}],
    })[0] == 202

    def acknowledged(status: dict[str, Any]) -> None:
        assert len(base64.b64decode(status["uuid"])) == 16
        assert scheduler.acknowledge(status)[0] == 202

    # 3. TASK_RUNNING, from the executor.
    status = scheduler.next("UPDATE", skip=("HEARTBEAT", "OFFERS"),
                            timeout=WAIT)["update"]["status"]
    assert (status["task_id"]["value"], status["state"], status["source"]) == (
        "task-1", "TASK_RUNNING", "SOURCE_EXECUTOR"), status
    acknowledged(status)

    # 4. "ping" to the executor: "pong" back, then TASK_FINISHED.
    assert scheduler.call("MESSAGE", message={
        "agent_id": offer["agent_id"], "executor_id": {"value": "http-executor"},
        "data": base64.b64encode(b"ping").decode()})[0] == 202
    pong = scheduler.next("MESSAGE", skip=("HEARTBEAT", "OFFERS"), timeout=WAIT)
    assert base64.b64decode(pong["message"]["data"]) == b"pong"
    assert pong["message"]["executor_id"] == {"value": "http-executor"}
    status = scheduler.next("UPDATE", skip=("HEARTBEAT", "OFFERS"),
                            timeout=WAIT)["update"]["status"]
    assert (status["state"], status["source"]) == ("TASK_FINISHED", "SOURCE_EXECUTOR")
    acknowledged(status)

    # 5. The agent's view: the executor ran over HTTP, its task completed.
    def agent_framework() -> Any:
        state = kit.get_json(f"http://{agent}/state")
        return next((f for f in state["frameworks"] if f["id"] == framework_id), None)

    framework = kit.await_condition(
        lambda: (f := agent_framework()) and f["executors"]
        and f["executors"][0]["completed_tasks"] and f, WAIT,
        message="the agent to complete the task")
    [executor] = framework["executors"]
    assert executor["id"] == "http-executor"
    assert [t["state"] for t in executor["completed_tasks"]] == ["TASK_FINISHED"]

    # 6. TEARDOWN: the executor hears SHUTDOWN, with nothing left unacknowledged.
    assert scheduler.call("TEARDOWN")[0] == 202
    marker = Path(executor["directory"]) / "shutdown"
    kit.await_condition(marker.exists, WAIT, message="the executor to get SHUTDOWN")
    assert marker.read_text() == "unacknowledged updates: 0\n"
    assert str(marker).startswith(str(work_dir))
