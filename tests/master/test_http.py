"""The master's endpoints and metrics, read over real HTTP from the test's thread."""

from __future__ import annotations

import json

import pytest

import libprocess
from libprocess.testing import future_message, settle
from mesos.protos.mesos import mesos_pb2
from mesos.protos.messages import messages_pb2


@pytest.fixture
def delegate():
    """Makes `master` this OS process's HTTP delegate (as `mesos-master` does)."""
    manager = libprocess.manager()
    old, manager.delegate = manager.delegate, "master"
    yield
    manager.delegate = old


@pytest.fixture
def running(kit, clock, master, start_agent, start_scheduler):
    """A master with one agent and one framework running one task (RUNNING)."""
    attribute = mesos_pb2.Attribute(name="rack", type=mesos_pb2.Value.SCALAR)
    attribute.scalar.value = 3
    agent = start_agent(master, attributes=[attribute])
    offers = future_message(messages_pb2.ResourceOffersMessage, master)
    scheduler = start_scheduler(master, kit.framework_info("web", roles=["web"]))
    offer = offers.get(kit.TIMEOUT).offers[0]
    run = future_message(messages_pb2.RunTaskMessage, master, agent)
    libprocess.dispatch(scheduler, scheduler.call, kit.accept_call(
        [offer.id.value], [kit.task_info("t1", agent.slave_id, "cpus:1;mem:256")]))
    run.get(kit.TIMEOUT)
    libprocess.dispatch(agent, agent.update, scheduler.framework_id, "t1",
                        mesos_pb2.TASK_RUNNING)
    settle()
    return master, agent, scheduler


def test_state(kit, running, delegate):
    """This test ensures that `/master/state` (and `/state` through the delegate) shows the
    master, the agent and the framework with its running task in Mesos's JSON shape."""
    master, agent, scheduler = running

    state = kit.http_json("/master/state")

    assert state == kit.http_json("/state") | {"start_time": state["start_time"]}
    assert state["id"] == master.info.id
    assert state["pid"] == str(master.upid)
    assert state["leader"] == str(master.upid)
    assert state["leader_info"]["port"] == libprocess.http_address()[1]
    assert state["hostname"] == "master.example.org"
    assert state["version"] == "1.12.0"
    assert state["activated_slaves"] == 1
    assert state["deactivated_slaves"] == 0
    assert state["flags"]["port"] == "5050"
    assert state["orphan_tasks"] == [] and state["unregistered_frameworks"] == []

    (slave,) = state["slaves"]
    assert slave["id"] == agent.slave_id
    assert slave["pid"] == str(agent.upid)
    assert slave["hostname"] == "agent.example.org"
    assert slave["active"] is True
    assert slave["attributes"] == {"rack": 3.0}
    assert slave["resources"]["cpus"] == 2.0
    assert slave["resources"]["ports"] == "[31000-32000]"
    assert slave["used_resources"]["cpus"] == 1.0
    assert slave["used_resources"]["mem"] == 256.0
    assert slave["unreserved_resources"]["mem"] == 1024.0

    (framework,) = state["frameworks"]
    assert framework["id"] == scheduler.framework_id
    assert framework["name"] == "web"
    assert framework["roles"] == ["web"]
    assert framework["active"] is True and framework["connected"] is True
    assert framework["recovered"] is False
    assert framework["pid"] == str(scheduler.upid)
    assert framework["capabilities"] == ["RESERVATION_REFINEMENT", "MULTI_ROLE"]
    (task,) = framework["tasks"]
    assert task["id"] == "t1"
    assert task["state"] == "TASK_RUNNING"
    assert task["slave_id"] == agent.slave_id
    assert task["framework_id"] == scheduler.framework_id
    assert task["role"] == "web"
    assert task["resources"]["cpus"] == 1.0
    assert [s["state"] for s in task["statuses"]] == ["TASK_RUNNING"]
    assert framework["used_resources"]["cpus"] == 1.0
    assert state["completed_frameworks"] == []


def test_state_summary_frameworks_slaves(kit, running):
    """This test ensures `/master/state-summary`, `/master/frameworks` and
    `/master/slaves` show the cluster, with per-state task counts in the summary."""
    _master, agent, scheduler = running

    summary = kit.http_json("/master/state-summary")
    assert summary["hostname"] == "master.example.org"
    assert summary["slaves"][0]["TASK_RUNNING"] == 1
    assert summary["slaves"][0]["framework_ids"] == [scheduler.framework_id]
    assert summary["frameworks"][0]["TASK_RUNNING"] == 1
    assert summary["frameworks"][0]["slave_ids"] == [agent.slave_id]

    frameworks = kit.http_json(f"/master/frameworks?framework_id={scheduler.framework_id}")
    assert [f["id"] for f in frameworks["frameworks"]] == [scheduler.framework_id]
    assert kit.http_json("/master/frameworks?framework_id=nope")["frameworks"] == []

    slaves = kit.http_json("/master/slaves")
    assert [s["id"] for s in slaves["slaves"]] == [agent.slave_id]
    assert slaves["slaves"][0]["used_resources_full"][0]["allocation_info"]["role"] == "web"


def test_tasks_endpoint(kit, clock, master, start_agent, start_scheduler):
    """This test ensures `/master/tasks` lists tasks newest first (or oldest with
    `order=asc`), honours `limit`, `offset`, `framework_id` and `task_id`, and refuses a
    bad parameter with 400 and one line."""
    agent = start_agent(master)
    offers = future_message(messages_pb2.ResourceOffersMessage, master)
    scheduler = start_scheduler(master)
    offer = offers.get(kit.TIMEOUT).offers[0]
    libprocess.dispatch(scheduler, scheduler.call, kit.accept_call(
        [offer.id.value], [kit.task_info(f"t{i}", agent.slave_id, "cpus:0.5;mem:64")
                           for i in range(3)]))
    settle()
    for i in range(3):
        clock.advance(1)
        libprocess.dispatch(agent, agent.update, scheduler.framework_id, f"t{i}",
                            mesos_pb2.TASK_RUNNING)
        settle()

    def ids(query: str) -> list[str]:
        return [t["id"] for t in kit.http_json(f"/master/tasks{query}")["tasks"]]

    assert ids("") == ["t2", "t1", "t0"]
    assert ids("?order=asc") == ["t0", "t1", "t2"]
    assert ids("?limit=1&offset=1") == ["t1"]
    assert ids("?task_id=t1") == ["t1"]
    assert ids(f"?framework_id={scheduler.framework_id}&order=asc&limit=2") == ["t0", "t1"]
    assert ids("?framework_id=other") == []

    for query in ("?limit=abc", "?offset=-1", "?order=sideways"):
        status, _, body = kit.http_get(f"/master/tasks{query}")
        assert status == 400
        assert body.decode().count("\n") == 1


def test_roles_endpoint(kit, running):
    """This test ensures `/master/roles` lists the frameworks' roles with their frameworks
    and allocation."""
    _master, _agent, scheduler = running
    roles = {r["name"]: r for r in kit.http_json("/master/roles")["roles"]}
    assert set(roles) == {"web"}
    assert roles["web"]["frameworks"] == [scheduler.framework_id]
    assert roles["web"]["allocated"]["cpus"] == 1.0
    assert roles["web"]["weight"] == 1.0


def test_health_redirect_flags(kit, clock, master):
    """This test ensures `/master/health` is 200 and empty, `/master/redirect` is a 307 to
    the leader's `//hostname:port`, and `/master/flags` lists the flags."""
    status, _, body = kit.http_get("/master/health")
    assert (status, body) == (200, b"")

    status, headers, _ = kit.http_get("/master/redirect")
    assert status == 307
    assert headers["Location"] == f"//master.example.org:{libprocess.http_address()[1]}"

    flags = kit.http_json("/master/flags")["flags"]
    assert flags["allocation_interval"] == "1secs"
    assert flags["registry"] == "in_memory"
    assert flags["hostname"] == "master.example.org"


def test_teardown_endpoint(kit, clock, master, start_scheduler):
    """This test ensures POST `/master/teardown` with `frameworkId` removes the framework
    (the scheduler is told nothing: its link breaks when it stops), while a GET is 405, a
    missing id 400 and an unknown id 400."""
    scheduler = start_scheduler(master)

    assert kit.http_get("/master/teardown")[0] == 405
    assert kit.http_get("/master/teardown", "POST", b"")[0] == 400
    status, _, body = kit.http_get("/master/teardown", "POST", b"frameworkId=nope")
    assert (status, body) == (400, b"No framework found with specified ID\n")

    status, _, _ = kit.http_get("/master/teardown", "POST",
                                f"frameworkId={scheduler.framework_id}".encode())

    assert status == 200
    assert kit.on(master, lambda: list(master.completed_frameworks)) == [scheduler.framework_id]


def test_metrics_snapshot(kit, running):
    """This test ensures `/metrics/snapshot` has the master's metrics with Mesos's names
    and values that follow the cluster, and `/metrics` has them in Prometheus form."""
    _master, _agent, _scheduler = running

    snapshot = kit.http_json("/metrics/snapshot")

    expected = {
        "master/elected": 1.0,
        "master/slaves_active": 1.0,
        "master/slaves_connected": 1.0,
        "master/slaves_inactive": 0.0,
        "master/frameworks_active": 1.0,
        "master/frameworks_connected": 1.0,
        "master/tasks_running": 1.0,
        "master/tasks_staging": 0.0,
        "master/tasks_finished": 0.0,
        "master/outstanding_offers": 0.0,
        "master/cpus_total": 2.0,
        "master/cpus_used": 1.0,
        "master/cpus_percent": 0.5,
        "master/mem_total": 1024.0,
        "master/mem_used": 256.0,
        "master/slave_registrations": 1.0,
        "master/messages_register_slave": 1.0,
        "master/messages_register_framework": 1.0,
        "master/messages_launch_tasks": 1.0,
        "master/messages_status_update": 1.0,
        "master/valid_status_updates": 1.0,
        "master/dropped_messages": 0.0,
    }
    assert {name: snapshot.get(name) for name in expected} == expected
    assert snapshot["master/uptime_secs"] >= 0
    assert "master/event_queue_messages" in snapshot

    status, _, body = kit.http_get("/metrics")
    assert status == 200
    assert "master_tasks_running 1.0" in body.decode()


def test_state_after_teardown_shows_completed(kit, running):
    """This test ensures a torn-down framework appears under `completed_frameworks` with
    its killed task among its completed tasks."""
    _master, _agent, scheduler = running
    libprocess.dispatch(scheduler, scheduler.call, kit.Call(type=kit.Call.TEARDOWN))
    settle()

    state = kit.http_json("/master/state")

    assert state["frameworks"] == []
    (completed,) = state["completed_frameworks"]
    assert completed["id"] == scheduler.framework_id
    assert completed["active"] is False
    assert [t["state"] for t in completed["completed_tasks"]] == ["TASK_KILLED"]
    assert json.dumps(state)
