"""The agent's endpoints: `/state`, `/flags`, `/health`, `/monitor/statistics`, `/files/*`
and the `slave/*` metrics, read over HTTP from this OS process's server."""

from __future__ import annotations

import os
from types import SimpleNamespace
from typing import Any

from libprocess.clock import Clock
from libprocess.testing import future_message, settle
from mesos.protos.mesos import mesos_pb2
from mesos.protos.messages import messages_pb2


def _running_task(clock: Clock, master: Any, tmp_path: Any, kit: SimpleNamespace) -> Any:
    """An agent with task t1 RUNNING in executor e1 (a `FakeExecutor` for a `sleep`)."""
    agent = kit.start_agent(clock, master, str(tmp_path), attributes="rack:3;zone:a")
    executor = kit.launch_fake_executor(master, agent)
    forwarded = future_message(messages_pb2.StatusUpdateMessage, from_=agent, to=master)
    executor.update("t1", mesos_pb2.TASK_RUNNING)
    forwarded.get(kit.TIMEOUT)
    settle()
    return agent


def test_state_endpoint(clock: Clock, master: Any, tmp_path: Any, kit: SimpleNamespace) -> None:
    """This test ensures that `/slave(N)/state` describes the agent in Mesos's JSON shape:
    its id, pid, resources and attributes, and each framework's executors with their
    running, queued and completed tasks."""
    agent = _running_task(clock, master, tmp_path, kit)
    status, state = kit.http_get(f"/{agent.id}/state")
    assert status == 200
    assert state["id"] == kit.SLAVE_ID
    assert state["pid"] == str(agent.upid)
    assert state["hostname"] == "localhost"
    assert state["resources"]["cpus"] == 2.0 and state["resources"]["mem"] == 1024.0
    assert state["resources"]["ports"] == "[31000-32000]"
    assert state["attributes"] == {"rack": 3.0, "zone": "a"}
    assert state["master_hostname"]
    assert state["flags"]["work_dir"] == str(tmp_path)
    assert state["version"] == "1.12.0"

    [framework] = state["frameworks"]
    assert framework["id"] == kit.FRAMEWORK_ID and framework["name"] == "agent-tests"
    [executor] = framework["executors"]
    assert executor["id"] == "e1"
    assert executor["directory"].startswith(str(tmp_path))
    assert executor["container"]
    assert executor["resources"]["cpus"] == 0.6
    [task] = executor["tasks"]
    assert task["id"] == "t1" and task["state"] == "TASK_RUNNING"
    assert task["executor_id"] == "e1" and task["slave_id"] == kit.SLAVE_ID
    assert [s["state"] for s in task["statuses"]] == ["TASK_RUNNING"]
    assert executor["queued_tasks"] == [] and executor["completed_tasks"] == []
    assert state["completed_frameworks"] == []


def test_state_shows_queued_tasks(clock: Clock, master: Any, tmp_path: Any,
                                  kit: SimpleNamespace) -> None:
    """This test ensures that a task waiting for its executor to register is shown as a
    queued TASK_STAGING task."""
    agent = kit.start_agent(clock, master, str(tmp_path))
    master.post(agent.upid, kit.run_task_message(kit.executor_task("t1", "e1")))
    settle()
    _, state = kit.http_get(f"/{agent.id}/state")
    [executor] = state["frameworks"][0]["executors"]
    assert [(t["id"], t["state"]) for t in executor["queued_tasks"]] == [("t1", "TASK_STAGING")]
    assert executor["tasks"] == []


def test_flags_and_health(clock: Clock, master: Any, tmp_path: Any,
                          kit: SimpleNamespace) -> None:
    """This test ensures that `/flags` lists the agent's flags and `/health` answers 200."""
    agent = kit.start_agent(clock, master, str(tmp_path))
    status, body = kit.http_get(f"/{agent.id}/flags")
    assert status == 200
    assert body["flags"]["resources"] == kit.AGENT_RESOURCES
    assert body["flags"]["executor_registration_timeout"] == "1mins"
    status, _ = kit.http_get(f"/{agent.id}/health")
    assert status == 200


def test_monitor_statistics(clock: Clock, master: Any, tmp_path: Any,
                            kit: SimpleNamespace) -> None:
    """This test ensures that `/monitor/statistics` reports each executor's resource usage,
    measured on its real process."""
    agent = _running_task(clock, master, tmp_path, kit)
    status, body = kit.http_get(f"/{agent.id}/monitor/statistics")
    assert status == 200
    [entry] = body
    assert entry["executor_id"] == "e1" and entry["framework_id"] == kit.FRAMEWORK_ID
    statistics = entry["statistics"]
    assert statistics["mem_rss_bytes"] > 0
    assert statistics["processes"] >= 1
    assert "cpus_user_time_secs" in statistics and "timestamp" in statistics
    assert statistics["cpus_limit"] == 0.6


def test_metrics(clock: Clock, master: Any, tmp_path: Any, kit: SimpleNamespace) -> None:
    """This test ensures that the `slave/*` metrics describe the agent: registered, its
    tasks by state, its executors and resources."""
    _running_task(clock, master, tmp_path, kit)
    status, snapshot = kit.http_get("/metrics/snapshot")
    assert status == 200
    assert snapshot["slave/registered"] == 1.0
    assert snapshot["slave/tasks_running"] == 1.0
    assert snapshot["slave/tasks_staging"] == 0.0
    assert snapshot["slave/executors_running"] == 1.0
    assert snapshot["slave/frameworks_active"] == 1.0
    assert snapshot["slave/valid_status_updates"] == 1.0
    assert snapshot["slave/cpus_total"] == 2.0
    assert abs(snapshot["slave/cpus_used"] - 0.6) < 1e-9
    assert abs(snapshot["slave/mem_percent"] - 96.0 / 1024.0) < 1e-9
    assert snapshot["slave/uptime_secs"] >= 0.0


def test_files_browse_and_read(clock: Clock, master: Any, tmp_path: Any,
                               kit: SimpleNamespace) -> None:
    """This test ensures that `/files/browse` lists a sandbox and `/files/read` reads a file
    in it, by its real path or its virtual path
    `/frameworks/<fid>/executors/<eid>/runs/latest`."""
    agent = _running_task(clock, master, tmp_path, kit)
    _, state = kit.http_get(f"/{agent.id}/state")
    directory = state["frameworks"][0]["executors"][0]["directory"]
    with open(os.path.join(directory, "stdout"), "w") as f:
        f.write("hello, sandbox\n")

    status, listing = kit.http_get(f"/{agent.id}/files/browse", {"path": directory})
    assert status == 200
    entries = {e["path"]: e for e in listing}
    assert f"{directory}/stdout" in entries and f"{directory}/stderr" in entries
    stdout = entries[f"{directory}/stdout"]
    assert stdout["size"] == 15 and stdout["mode"].startswith("-rw")

    virtual = f"/frameworks/{kit.FRAMEWORK_ID}/executors/e1/runs/latest"
    status, listing = kit.http_get(f"/{agent.id}/files/browse", {"path": virtual})
    assert status == 200
    assert f"{virtual}/stdout" in {e["path"] for e in listing}

    status, read = kit.http_get(f"/{agent.id}/files/read",
                                {"path": f"{virtual}/stdout", "offset": "7", "length": "7"})
    assert status == 200 and read == {"offset": 7, "data": "sandbox"}
    status, read = kit.http_get(f"/{agent.id}/files/read", {"path": f"{directory}/stdout"})
    assert status == 200 and read == {"offset": 15, "data": ""}


def test_files_refuses_paths_outside_sandboxes(clock: Clock, master: Any, tmp_path: Any,
                                               kit: SimpleNamespace) -> None:
    """This test ensures that `/files` serves nothing outside the agent's sandboxes: a
    missing path is a 400, and paths elsewhere, or escaping through `..`, are 404."""
    agent = _running_task(clock, master, tmp_path, kit)
    _, state = kit.http_get(f"/{agent.id}/state")
    directory = state["frameworks"][0]["executors"][0]["directory"]

    assert kit.http_get(f"/{agent.id}/files/browse")[0] == 400
    assert kit.http_get(f"/{agent.id}/files/read", {"path": "relative/stdout"})[0] == 400
    assert kit.http_get(f"/{agent.id}/files/read",
                        {"path": f"{directory}/stdout", "offset": "-5"})[0] == 400
    for path in ("/etc/passwd", f"{directory}/../../../../../../../../etc/passwd",
                 str(tmp_path), f"{tmp_path}/meta", f"{directory}/no-such-file",
                 f"/frameworks/{kit.FRAMEWORK_ID}/executors/e1/runs/latest/../../../../../../../.."):
        assert kit.http_get(f"/{agent.id}/files/read", {"path": path})[0] == 404, path
        assert kit.http_get(f"/{agent.id}/files/browse", {"path": path})[0] == 404, path
