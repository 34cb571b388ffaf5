"""The v1 operator HTTP API (`POST /master/api/v1`, docs/operator-http-api.md;
mesos-behaviour.md §5.1 and, for MARK_AGENT_GONE, §2.5), as actor scenarios: the real
`Master` with `TestAgent`s and `TestScheduler`s and a paused clock, and a small HTTP client
in the test's thread that posts `mesos.v1.master.Call`s (JSON or protobuf) as the Mesos CLI
and operator tools do.

What each call answers is checked against the master's own books and against the JSON
endpoints (`/master/state`, `/master/flags`, `/master/roles`, `/metrics/snapshot`), so the
two views of the cluster cannot drift apart.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from typing import Any

import pytest

import libprocess
from libprocess import Future
from libprocess.testing import (
    await_condition,
    expect_no_message,
    future_message,
    inject_exited,
    settle,
)
from mesos.common.json_model import model_resources, parse_mesos_json_list, to_mesos_json
from mesos.common.resources import Resources
from mesos.detector import StandaloneMasterContender, StandaloneMasterDetector
from mesos.master import Master, MasterFlags
from mesos.protos.master import registry_pb2
from mesos.protos.mesos import mesos_pb2
from mesos.protos.mesos.v1.master import master_pb2 as v1_master_pb2
from mesos.protos.messages import messages_pb2
from mesos.registrar import Registrar, RegistrarOptions
from mesos.sched.detector import master_info_from_pid
from mesos.state import InMemoryStorage
from mesos.state import State as StateVariables
from mesos.testing import v1_http as v1
from mesos.testing.simulated_agent import status_update

PATH = "/master/api/v1"
JSON = "application/json"
PROTOBUF = "application/x-protobuf"
GONE = "Agent has been marked gone"
PING = 15.0  # --agent_ping_timeout
TaskStatus = mesos_pb2.TaskStatus

PA = pytest.mark.parametrize("partition_aware", [True, False], ids=["PA", "non-PA"])


# -- a small operator client ----------------------------------------------------------------


def post(body: dict[str, Any] | bytes, *, content_type: str | None = JSON,
         accept: str | None = JSON, method: str = "POST", path: str = PATH
         ) -> tuple[int, dict[str, str], bytes]:
    """One request to the operator API: (status, headers, body)."""
    conn = http.client.HTTPConnection(*libprocess.http_address(), timeout=10)
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {}
    if content_type is not None:
        headers["Content-Type"] = content_type
    if accept is not None:
        headers["Accept"] = accept
    try:
        conn.request(method, path, body=data, headers=headers)
        response = conn.getresponse()
        return response.status, dict(response.headers), response.read()
    finally:
        conn.close()


def call(kind: str, **fields: Any) -> dict[str, Any]:
    """A call answered 200 with a JSON `Response` of the same type; its payload."""
    status, headers, body = post({"type": kind, **fields})
    assert status == 200, body
    assert headers["Content-Type"] == JSON
    response = json.loads(body)
    assert response["type"] == kind
    return response


def mark_gone(slave_id: str) -> tuple[int, bytes]:
    status, _, body = post({"type": "MARK_AGENT_GONE",
                            "mark_agent_gone": {"agent_id": {"value": slave_id}}})
    return status, body


def _nanos(seconds: float) -> int:
    return int(seconds * 1e9)


def _resources(resources: list[dict[str, Any]]) -> dict[str, Any]:
    """v1 resources (JSON) in the `/state` model, to compare with it."""
    return model_resources(Resources(parse_mesos_json_list(resources, mesos_pb2.Resource)))


def _tasks(tasks: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    return sorted((t["task_id"]["value"], t["agent_id"]["value"], t["state"]) for t in tasks)


def _state_tasks(frameworks: list[dict[str, Any]], key: str) -> list[tuple[str, str, str]]:
    return sorted((t["id"], t["slave_id"], t["state"]) for f in frameworks for t in f[key])


# -- cluster helpers --------------------------------------------------------------------------


def _launch(kit, master, agent, scheduler, task_id="t1", executor_id=None):
    """Launches a task from the scheduler's offer for `agent` (with its own executor if
    `executor_id`), and has the agent report it RUNNING."""
    offer = next(o for o in kit.on(scheduler, lambda: list(scheduler.offers))
                 if o.slave_id.value == agent.slave_id)
    task = kit.task_info(task_id, agent.slave_id, "cpus:1;mem:64",
                         command=None if executor_id else "sleep 1000")
    if executor_id:
        task.executor.executor_id.value = executor_id
        task.executor.command.value = "my-executor"
    run = future_message(messages_pb2.RunTaskMessage, master, agent)
    libprocess.dispatch(scheduler, scheduler.call, kit.accept_call([offer.id.value], [task]))
    run.get(kit.TIMEOUT)
    libprocess.dispatch(agent, agent.update, scheduler.framework_id, task_id,
                        mesos_pb2.TASK_RUNNING, "", executor_id).get(kit.TIMEOUT)
    settle()


def _scheduler(kit, master, start_scheduler, agents, *, partition_aware=False,
               name="framework"):
    """A subscribed scheduler holding an offer of each of `agents`."""
    offers = future_message(messages_pb2.ResourceOffersMessage, master)
    scheduler = start_scheduler(master, kit.framework_info(name,
                                                           partition_aware=partition_aware))
    if agents:
        offers.get(kit.TIMEOUT)
    settle()
    offered = {o.slave_id.value for o in kit.on(scheduler, lambda: list(scheduler.offers))}
    assert offered >= {a.slave_id for a in agents}
    return scheduler


def _registry(kit, master) -> Any:
    return master.registrar.registry().get(kit.TIMEOUT)


def _ids(entries) -> list[str]:
    return [e.id.value for e in entries]


@pytest.fixture
def recovered_master(kit) -> Iterator[Master]:
    """A master elected over a registry that admitted `a-S0` and `a-S1`: both are recovered
    agents until they reregister."""
    registry = registry_pb2.Registry()
    for slave_id in ("a-S0", "a-S1"):
        info = registry.slaves.slaves.add().info
        info.hostname = f"{slave_id}.example.org"
        info.port = 5051
        info.id.value = slave_id
        info.resources.extend(Resources.parse("cpus:2;mem:1024").to_protobuf_list())
    state = StateVariables(InMemoryStorage())
    variable = state.fetch("registry").get(kit.TIMEOUT)
    assert state.store(variable.mutate(registry.SerializeToString())).get(kit.TIMEOUT)
    registrar = Registrar(RegistrarOptions(), state)
    detector = StandaloneMasterDetector()
    master = Master(MasterFlags(hostname="master.example.org"), registrar=registrar,
                    contender=StandaloneMasterContender(), detector=detector)
    libprocess.spawn(master)
    libprocess.dispatch(master, lambda: None).get(kit.TIMEOUT)
    detector.appoint(master.info)
    master.recovery.get(kit.TIMEOUT)
    try:
        yield master
    finally:
        libprocess.terminate(master)
        libprocess.wait(master, kit.TIMEOUT)
        registrar.close()


# -- the state calls --------------------------------------------------------------------------


def test_get_state_matches_master_state(kit, clock, master, start_agent, start_scheduler):
    """This test ensures that GET_STATE shows what `/master/state` shows: the agents (id,
    hostname, pid, activity, version, times, total/used/offered resources), the frameworks
    (registered and completed, their activity, times, offers and resources), their live and
    completed tasks with their states, and their executors; and that GET_AGENTS,
    GET_FRAMEWORKS, GET_TASKS and GET_EXECUTORS answer exactly the parts of GET_STATE."""
    # 1. Two agents, a framework with a command task and an executor task, and a
    #    framework that was torn down after its task finished.
    first = start_agent(master, hostname="first.example.org")
    second = start_agent(master, hostname="second.example.org")
    scheduler = _scheduler(kit, master, start_scheduler, [first, second])
    _launch(kit, master, first, scheduler, "command")
    _launch(kit, master, second, scheduler, "executor-task", executor_id="exec")
    finished = libprocess.dispatch(second, second.update, scheduler.framework_id,
                                   "executor-task", mesos_pb2.TASK_FINISHED, "",
                                   "exec").get(kit.TIMEOUT)
    settle()
    libprocess.dispatch(scheduler, scheduler.call, kit.acknowledge_call(
        second.slave_id, "executor-task", finished))
    settle()
    done = _scheduler(kit, master, start_scheduler, [], name="done")
    assert post({"type": "TEARDOWN",
                 "teardown": {"framework_id": {"value": done.framework_id}}})[0] == 200
    settle()

    state = kit.http_json("/master/state")
    get_state = call("GET_STATE")["get_state"]

    # 2. Agents.
    agents = get_state["get_agents"]["agents"]
    assert [a["agent_info"]["id"]["value"] for a in agents] == [s["id"] for s in
                                                                 state["slaves"]]
    assert get_state["get_agents"]["recovered_agents"] == []
    for agent, shown in zip(agents, state["slaves"], strict=True):
        assert agent["agent_info"]["hostname"] == shown["hostname"]
        assert agent["pid"] == shown["pid"]
        assert agent["active"] is shown["active"] is True
        assert agent["deactivated"] is shown["deactivated"] is False
        assert agent["version"] == shown["version"]
        assert agent["registered_time"]["nanoseconds"] == _nanos(shown["registered_time"])
        assert _resources(agent["total_resources"]) == shown["resources"]
        assert _resources(agent.get("allocated_resources", [])) == shown["used_resources"]
        assert _resources(agent.get("offered_resources", [])) == shown["offered_resources"]
        assert [c["type"] for c in agent["capabilities"]] == shown["capabilities"]

    # 3. Frameworks.
    frameworks = get_state["get_frameworks"]
    for key in ("frameworks", "completed_frameworks"):
        assert [f["framework_info"]["id"]["value"] for f in frameworks[key]] == [
            f["id"] for f in state[key]]
        for framework, shown in zip(frameworks[key], state[key], strict=True):
            assert framework["framework_info"]["name"] == shown["name"]
            for flag in ("active", "connected", "recovered"):
                assert framework[flag] is shown[flag]
            assert framework["registered_time"]["nanoseconds"] == _nanos(
                shown["registered_time"])
            assert _resources(framework.get("allocated_resources", [])) == \
                shown["used_resources"]
            assert _resources(framework.get("offered_resources", [])) == \
                shown["offered_resources"]
            assert sorted(o["id"]["value"] for o in framework.get("offers", [])) == sorted(
                o["id"] for o in shown["offers"])
    assert [f["framework_info"]["name"] for f in frameworks["completed_frameworks"]] == [
        "done"]
    assert frameworks["completed_frameworks"][0]["unregistered_time"]["nanoseconds"] > 0
    assert frameworks["frameworks"][0]["offers"]  # The rest of the agents is offered.

    # 4. Tasks and executors.
    tasks = get_state["get_tasks"]
    all_frameworks = state["frameworks"] + state["completed_frameworks"]
    assert _tasks(tasks["tasks"]) == _state_tasks(all_frameworks, "tasks") == [
        ("command", first.slave_id, "TASK_RUNNING")]
    assert _tasks(tasks["completed_tasks"]) == _state_tasks(all_frameworks,
                                                            "completed_tasks") == [
        ("executor-task", second.slave_id, "TASK_FINISHED")]
    assert tasks["unreachable_tasks"] == []
    executors = get_state["get_executors"]["executors"]
    assert [(e["executor_info"]["executor_id"]["value"], e["agent_id"]["value"])
            for e in executors] == [(e["executor_id"], e["slave_id"])
                                    for f in all_frameworks for e in f["executors"]] == [
        ("exec", second.slave_id)]

    # 5. The single calls answer the parts of GET_STATE.
    for kind, key in (("GET_AGENTS", "get_agents"), ("GET_FRAMEWORKS", "get_frameworks"),
                      ("GET_TASKS", "get_tasks"), ("GET_EXECUTORS", "get_executors")):
        assert call(kind) == {"type": kind, key: get_state[key]}


def test_protobuf_calls_and_answers(kit, clock, master, start_agent, start_scheduler):
    """This test ensures that a protobuf `Call` is understood and that `Accept:
    application/x-protobuf` gets a protobuf `Response` holding what the JSON answer holds;
    without an `Accept` header the answer is JSON."""
    agent = start_agent(master)
    scheduler = _scheduler(kit, master, start_scheduler, [agent])
    _launch(kit, master, agent, scheduler)
    request = v1_master_pb2.Call(type=v1_master_pb2.Call.GET_STATE).SerializeToString()

    status, headers, body = post(request, content_type=PROTOBUF, accept=PROTOBUF)

    assert status == 200
    assert headers["Content-Type"] == PROTOBUF
    response = v1_master_pb2.Response.FromString(body)
    assert response.type == v1_master_pb2.Response.GET_STATE
    assert [t.task_id.value for t in response.get_state.get_tasks.tasks] == ["t1"]
    as_json = call("GET_STATE")
    assert to_mesos_json(response)["get_state"]["get_agents"]["agents"] == \
        as_json["get_state"]["get_agents"]["agents"]
    assert to_mesos_json(response)["get_state"]["get_tasks"]["tasks"] == \
        as_json["get_state"]["get_tasks"]["tasks"]

    status, headers, body = post(request, content_type=PROTOBUF, accept=None)
    assert (status, headers["Content-Type"]) == (200, JSON)
    assert json.loads(body)["type"] == "GET_STATE"


def test_recovered_agents_are_listed_until_they_reregister(kit, clock, recovered_master):
    """This test ensures that after a master failover GET_AGENTS lists the registry's
    agents as `recovered_agents` (their AgentInfo), as `/master/state` lists
    `recovered_slaves`, and no longer once one reregistered."""
    master = recovered_master

    agents = call("GET_AGENTS")["get_agents"]

    assert agents["agents"] == []
    assert sorted(a["id"]["value"] for a in agents["recovered_agents"]) == ["a-S0", "a-S1"]
    assert sorted(s["id"] for s in kit.http_json("/master/state")["recovered_slaves"]) == [
        "a-S0", "a-S1"]

    agent = kit.TestAgent(master.upid, hostname="a-S0.example.org",
                          resources="cpus:2;mem:1024")
    agent.info.id.value = agent.slave_id = "a-S0"
    libprocess.spawn(agent)
    reregistered = future_message(messages_pb2.SlaveReregisteredMessage, master, agent)
    libprocess.dispatch(agent, agent.reregister)
    reregistered.get(kit.TIMEOUT)
    settle()

    agents = call("GET_AGENTS")["get_agents"]
    assert [a["agent_info"]["id"]["value"] for a in agents["agents"]] == ["a-S0"]
    assert [a["id"]["value"] for a in agents["recovered_agents"]] == ["a-S1"]


# -- the other read calls ---------------------------------------------------------------------


def test_master_health_flags_version_and_logging_level(kit, clock, start_master):
    """This test ensures that GET_HEALTH says healthy, GET_FLAGS lists every flag with
    the value `/master/flags` shows, GET_VERSION the version `/version` shows, GET_MASTER
    the master's info and its start and election times as `/master/state`, and
    GET_LOGGING_LEVEL glog's default verbosity 0."""
    master = start_master(weights="prod=2.5", cluster="test-cluster")

    assert call("GET_HEALTH")["get_health"] == {"healthy": True}

    flags = call("GET_FLAGS")["get_flags"]["flags"]
    assert {f["name"]: f["value"] for f in flags} == kit.http_json("/master/flags")["flags"]
    assert {"name": "cluster", "value": "test-cluster"} in flags

    version = call("GET_VERSION")["get_version"]["version_info"]
    assert version["version"] == kit.http_json("/version")["version"] == "1.12.0"

    get_master = call("GET_MASTER")["get_master"]
    state = kit.http_json("/master/state")
    assert get_master["master_info"]["id"] == master.info.id == state["id"]
    assert get_master["master_info"]["hostname"] == "master.example.org"
    assert get_master["master_info"]["pid"] == str(master.upid) == state["pid"]
    assert get_master["master_info"]["port"] == master.info.port
    assert get_master["start_time"] == state["start_time"]
    assert get_master["elected_time"] == state["elected_time"]

    assert call("GET_LOGGING_LEVEL")["get_logging_level"] == {"level": 0}
    assert call("GET_WEIGHTS")["get_weights"] == {
        "weight_infos": [{"weight": 2.5, "role": "prod"}]}


def test_get_roles_matches_master_roles(kit, clock, start_master, start_agent,
                                        start_scheduler):
    """This test ensures that GET_ROLES lists the roles `/master/roles` lists, with the
    same weights, frameworks, and cpus/mem/disk allocated or offered to each."""
    master = start_master(weights="prod=3")
    agent = start_agent(master)
    offers = future_message(messages_pb2.ResourceOffersMessage, master)
    scheduler = start_scheduler(master, kit.framework_info(roles=["prod/web"]))
    offers.get(kit.TIMEOUT)
    settle()
    _launch(kit, master, agent, scheduler)

    roles = call("GET_ROLES")["get_roles"]["roles"]

    shown = kit.http_json("/master/roles")["roles"]
    assert [r["name"] for r in roles] == [r["name"] for r in shown] == ["prod", "prod/web"]
    for role, expected in zip(roles, shown, strict=True):
        assert role["weight"] == expected["weight"]
        assert [f["value"] for f in role.get("frameworks", [])] == expected["frameworks"]
        quantities = {r["name"]: r["scalar"]["value"] for r in role.get("resources", [])}
        assert quantities == {k: v for k, v in expected["resources"].items()
                              if k in ("cpus", "mem", "disk", "gpus")}
    assert roles[1]["frameworks"] == [{"value": scheduler.framework_id}]
    assert roles[0]["weight"] == 3.0


def test_get_metrics_snapshot(kit, clock, master, start_agent):
    """This test ensures that GET_METRICS answers every metric of `/metrics/snapshot`, with
    the master's values, with or without a timeout."""
    start_agent(master)

    metrics = call("GET_METRICS", get_metrics={})["get_metrics"]["metrics"]
    values = {m["name"]: m["value"] for m in metrics}
    assert set(values) == set(kit.http_json("/metrics/snapshot"))
    assert values["master/elected"] == 1.0
    assert values["master/slave_registrations"] == 1.0
    assert values["master/slaves_active"] == 1.0

    timed = call("GET_METRICS", get_metrics={"timeout": {"nanoseconds": 2 * 10**9}})
    assert {m["name"] for m in timed["get_metrics"]["metrics"]} == set(values)


def test_maintenance_calls_answer_an_empty_schedule(kit, clock, master):
    """This test ensures that GET_MAINTENANCE_STATUS and GET_MAINTENANCE_SCHEDULE answer
    an empty status and schedule (this master keeps no maintenance schedule), and that a
    call that changes one is not implemented."""
    assert call("GET_MAINTENANCE_STATUS")["get_maintenance_status"] == {"status": {}}
    assert call("GET_MAINTENANCE_SCHEDULE")["get_maintenance_schedule"] == {"schedule": {}}
    status, _, body = post({"type": "UPDATE_MAINTENANCE_SCHEDULE",
                            "update_maintenance_schedule": {"schedule": {}}})
    assert (status, body) == (501, b"UPDATE_MAINTENANCE_SCHEDULE calls are not supported"
                                   b" by this master\n")


# -- TEARDOWN ---------------------------------------------------------------------------------


def test_teardown_removes_the_framework(kit, clock, master, start_agent, start_scheduler):
    """This test ensures that TEARDOWN removes the framework as `/teardown` does: 200, its
    agents are told to shut it down, its task is killed and it is completed; an unknown
    framework is 400."""
    agent = start_agent(master)
    scheduler = _scheduler(kit, master, start_scheduler, [agent])
    _launch(kit, master, agent, scheduler)
    shutdown = future_message(messages_pb2.ShutdownFrameworkMessage, master, agent)

    status, _, body = post({"type": "TEARDOWN",
                            "teardown": {"framework_id": {"value": scheduler.framework_id}}})

    assert (status, body) == (200, b"")
    assert shutdown.get(kit.TIMEOUT).framework_id.value == scheduler.framework_id
    frameworks = call("GET_FRAMEWORKS")["get_frameworks"]
    assert frameworks["frameworks"] == []
    assert [f["framework_info"]["id"]["value"] for f in frameworks["completed_frameworks"]
            ] == [scheduler.framework_id]
    assert _tasks(call("GET_TASKS")["get_tasks"]["completed_tasks"]) == [
        ("t1", agent.slave_id, "TASK_KILLED")]

    status, _, body = post({"type": "TEARDOWN",
                            "teardown": {"framework_id": {"value": "unknown"}}})
    assert (status, body) == (400, b"No framework found with specified ID\n")


# -- MARK_AGENT_GONE --------------------------------------------------------------------------


@PA
def test_mark_registered_agent_gone(kit, clock, master, start_agent, start_scheduler,
                                    partition_aware):
    """This test ensures that MARK_AGENT_GONE of a registered agent writes MarkSlaveGone to
    the registry, then: the agent gets ShutdownMessage("Agent has been marked gone"); its
    task becomes TASK_GONE_BY_OPERATOR with REASON_SLAVE_REMOVED_BY_OPERATOR (PA) or
    TASK_LOST with REASON_SLAVE_REMOVED, from the master and without a uuid, and is
    completed; the offers on it are rescinded; frameworks get LostSlaveMessage; the agent
    is listed as gone with a timestamp and no longer as registered."""
    agent = start_agent(master)
    spare = start_agent(master)
    scheduler = _scheduler(kit, master, start_scheduler, [agent, spare],
                           partition_aware=partition_aware)
    _launch(kit, master, agent, scheduler)
    # What the task left of the agent is offered again once the decline filter expires.
    clock.advance(6)
    settle()
    held = kit.on(master, lambda: [o.id.value for o in master.offers.values()
                                   if o.slave_id.value == agent.slave_id])
    assert held
    update = future_message(messages_pb2.StatusUpdateMessage, master, scheduler)
    rescinded = future_message(messages_pb2.RescindResourceOfferMessage, master, scheduler)
    lost = future_message(messages_pb2.LostSlaveMessage, master, scheduler)
    shutdown = future_message(messages_pb2.ShutdownMessage, master, agent)
    before = clock.now()

    assert mark_gone(agent.slave_id) == (200, b"")

    assert shutdown.get(kit.TIMEOUT).message == GONE
    status = update.get(kit.TIMEOUT).update.status
    if partition_aware:
        assert (status.state, status.reason) == (
            mesos_pb2.TASK_GONE_BY_OPERATOR, TaskStatus.REASON_SLAVE_REMOVED_BY_OPERATOR)
        assert master.metrics.tasks_gone_by_operator.value == 1
    else:
        assert (status.state, status.reason) == (mesos_pb2.TASK_LOST,
                                                 TaskStatus.REASON_SLAVE_REMOVED)
        assert master.metrics.tasks_lost.value == 1
    assert status.source == TaskStatus.SOURCE_MASTER
    assert status.message == GONE
    assert not status.HasField("uuid") and not status.HasField("unreachable_time")
    assert rescinded.get(kit.TIMEOUT).offer_id.value in held
    assert lost.get(kit.TIMEOUT).slave_id.value == agent.slave_id

    # The registry, then the books.
    registry = _registry(kit, master)
    assert _ids(registry.gone.slaves) == [agent.slave_id]
    assert registry.gone.slaves[0].timestamp.nanoseconds == _nanos(before)
    assert [s.info.id.value for s in registry.slaves.slaves] == [spare.slave_id]
    assert kit.on(master, lambda: (agent.slave_id in master.slaves,
                                   list(master.slaves_gone),
                                   set(master.slaves_marking_gone))) == (
        False, [agent.slave_id], set())
    agents = call("GET_AGENTS")["get_agents"]["agents"]
    assert [a["agent_info"]["id"]["value"] for a in agents] == [spare.slave_id]
    expected = "TASK_GONE_BY_OPERATOR" if partition_aware else "TASK_LOST"
    tasks = call("GET_TASKS")["get_tasks"]
    assert (tasks["tasks"], _tasks(tasks["completed_tasks"])) == (
        [], [("t1", agent.slave_id, expected)])
    assert [s["id"] for s in kit.http_json("/master/state")["slaves"]] == [spare.slave_id]
    assert kit.on(master, lambda: [o.slave_id.value for o in master.offers.values()]) \
        in ([], [spare.slave_id])


@PA
def test_gone_agent_is_refused_and_reconciled_as_gone(kit, clock, master, start_agent,
                                                      start_scheduler, partition_aware):
    """This test ensures that after a live MARK_AGENT_GONE the agent's re-registration is
    refused with ShutdownMessage("Agent has been marked gone"), its late status updates are
    dropped, a second MARK_AGENT_GONE is a 200 no-op (no second shutdown, the registry
    unchanged), and explicit reconciliation of its task answers TASK_GONE_BY_OPERATOR (PA)
    or TASK_LOST, "Reconciliation: Task is gone"."""
    agent = start_agent(master)
    scheduler = _scheduler(kit, master, start_scheduler, [agent],
                           partition_aware=partition_aware)
    _launch(kit, master, agent, scheduler)
    assert mark_gone(agent.slave_id) == (200, b"")
    settle()
    registry = _registry(kit, master)

    # 1. A second call changes nothing: no second shutdown, the same registry.
    shutdown = future_message(messages_pb2.ShutdownMessage, master, agent)
    assert mark_gone(agent.slave_id) == (200, b"")
    settle()
    assert shutdown.is_pending()
    assert _registry(kit, master) == registry

    # 2. Re-registration is refused the same way.
    expect_no_message(messages_pb2.SlaveReregisteredMessage, master, agent)
    libprocess.dispatch(agent, agent.reregister, [kit.agent_task(
        scheduler.framework_id, agent.slave_id, "t1")], [kit.framework_info(
            partition_aware=partition_aware, framework_id=scheduler.framework_id)])
    assert shutdown.get(kit.TIMEOUT).message == GONE
    settle()
    assert kit.on(master, lambda: agent.slave_id in master.slaves) is False

    # 3. Its late updates reach nobody.
    seen = kit.on(scheduler, lambda: len(scheduler.updates))
    invalid = master.metrics.invalid_status_updates.value
    libprocess.dispatch(agent, agent.update, scheduler.framework_id, "t1",
                        mesos_pb2.TASK_FINISHED).get(kit.TIMEOUT)
    settle()
    assert master.metrics.invalid_status_updates.value == invalid + 1

    # 4. Reconciliation says gone.
    libprocess.dispatch(scheduler, scheduler.call,
                        kit.reconcile_call([("t1", agent.slave_id)]))
    settle()
    [reply] = kit.on(scheduler, lambda: scheduler.updates[seen:])
    expected = mesos_pb2.TASK_GONE_BY_OPERATOR if partition_aware else mesos_pb2.TASK_LOST
    assert (reply.status.task_id.value, reply.status.state, reply.status.message,
            reply.status.reason) == ("t1", expected, "Reconciliation: Task is gone",
                                     TaskStatus.REASON_RECONCILIATION)


@PA
def test_mark_unreachable_agent_gone(kit, clock, master, start_agent, start_scheduler,
                                     partition_aware):
    """This test ensures that MARK_AGENT_GONE of an unreachable agent moves it from the
    registry's unreachable list to the gone list and turns the tasks it had (kept as
    unreachable) into TASK_GONE_BY_OPERATOR with REASON_SLAVE_REMOVED_BY_OPERATOR (PA) or
    TASK_LOST with REASON_SLAVE_REMOVED, completed; nothing is sent to the agent, and when
    it comes back its re-registration is refused."""
    agent = start_agent(master)
    scheduler = _scheduler(kit, master, start_scheduler, [agent],
                           partition_aware=partition_aware)
    _launch(kit, master, agent, scheduler)
    lost = future_message(messages_pb2.LostSlaveMessage, master, scheduler)
    kit.partition(clock, agent)
    lost.get(kit.TIMEOUT)
    unreachable = "TASK_UNREACHABLE" if partition_aware else "TASK_LOST"
    assert _tasks(call("GET_TASKS")["get_tasks"]["unreachable_tasks"]) == [
        ("t1", agent.slave_id, unreachable)]
    update = future_message(messages_pb2.StatusUpdateMessage, master, scheduler)
    shutdown = future_message(messages_pb2.ShutdownMessage, master, agent)

    assert mark_gone(agent.slave_id) == (200, b"")

    status = update.get(kit.TIMEOUT).update.status
    if partition_aware:
        assert (status.state, status.reason) == (
            mesos_pb2.TASK_GONE_BY_OPERATOR, TaskStatus.REASON_SLAVE_REMOVED_BY_OPERATOR)
    else:
        assert (status.state, status.reason) == (mesos_pb2.TASK_LOST,
                                                 TaskStatus.REASON_SLAVE_REMOVED)
    assert (status.message, status.source) == (GONE, TaskStatus.SOURCE_MASTER)
    registry = _registry(kit, master)
    assert (_ids(registry.unreachable.slaves), _ids(registry.gone.slaves)) == (
        [], [agent.slave_id])
    tasks = call("GET_TASKS")["get_tasks"]
    expected = "TASK_GONE_BY_OPERATOR" if partition_aware else "TASK_LOST"
    assert (tasks["unreachable_tasks"], _tasks(tasks["completed_tasks"])) == (
        [], [("t1", agent.slave_id, expected)])
    assert kit.on(master, lambda: (list(master.slaves_unreachable),
                                   dict(master.unreachable_tasks))) == ([], {})
    settle()
    assert shutdown.is_pending()

    libprocess.dispatch(agent, agent.reregister)
    assert shutdown.get(kit.TIMEOUT).message == GONE


def test_mark_recovered_agent_gone(kit, clock, recovered_master):
    """This test ensures that MARK_AGENT_GONE of an agent recovered from the registry (not
    back yet after a master failover) moves it to the registry's gone list, that it is no
    longer listed as recovered, that its re-registration is refused, and that the agents
    still recovered are untouched (the recovery timeout does not mark a gone agent
    unreachable)."""
    master = recovered_master

    assert mark_gone("a-S0") == (200, b"")

    registry = _registry(kit, master)
    assert [s.info.id.value for s in registry.slaves.slaves] == ["a-S1"]
    assert _ids(registry.gone.slaves) == ["a-S0"]
    assert [a["id"]["value"] for a in call("GET_AGENTS")["get_agents"]["recovered_agents"]
            ] == ["a-S1"]

    agent = kit.TestAgent(master.upid, hostname="a-S0.example.org")
    agent.info.id.value = agent.slave_id = "a-S0"
    libprocess.spawn(agent)
    refused = future_message(messages_pb2.ShutdownMessage, master, agent)
    libprocess.dispatch(agent, agent.reregister)
    assert refused.get(kit.TIMEOUT).message == GONE

    # The recovery timeout marks only the other one unreachable.
    clock.advance(master.flags.agent_reregister_timeout)
    settle()
    registry = _registry(kit, master)
    assert (_ids(registry.unreachable.slaves), _ids(registry.gone.slaves)) == (
        ["a-S1"], ["a-S0"])


def test_registry_gc_forgets_gone_agents(kit, clock, start_master, start_agent,
                                        start_scheduler):
    """This test ensures that the registry GC (every `--registry_gc_interval`) prunes an
    agent gone for longer than `--registry_max_agent_age` from the registry's gone list and
    the master's, not before; after which reconciliation of its task answers TASK_UNKNOWN
    to a partition-aware framework (the agent is unknown)."""
    master = start_master(registry_gc_interval=3600.0, registry_max_agent_age=5400.0)
    agent = start_agent(master)
    scheduler = _scheduler(kit, master, start_scheduler, [agent], partition_aware=True)
    assert mark_gone(agent.slave_id) == (200, b"")

    # 1. At the first GC the agent has been gone for an hour only.
    clock.advance(3600)
    settle()
    assert _ids(_registry(kit, master).gone.slaves) == [agent.slave_id]

    # 2. At the second, for two hours: pruned.
    clock.advance(3600)
    settle()
    assert _ids(_registry(kit, master).gone.slaves) == []
    assert kit.on(master, lambda: dict(master.slaves_gone)) == {}

    seen = kit.on(scheduler, lambda: len(scheduler.updates))
    libprocess.dispatch(scheduler, scheduler.call,
                        kit.reconcile_call([("t1", agent.slave_id)]))
    settle()
    [reply] = kit.on(scheduler, lambda: scheduler.updates[seen:])
    assert (reply.status.state, reply.status.message) == (mesos_pb2.TASK_UNKNOWN,
                                                          "Reconciliation: Task is unknown")


def test_mark_agent_gone_refusals(kit, clock, gated_master, start_agent):
    """This test ensures that MARK_AGENT_GONE of an unknown agent is 404, that while the
    registry is marking an agent gone another MARK_AGENT_GONE of it is 503 and its
    re-registration is ignored, that while it is being marked unreachable the call is 503,
    and that the master goes on serving."""
    master, storage = gated_master
    first = start_agent(master)
    second = start_agent(master, answer_pings=False)

    # 1. Unknown.
    assert mark_gone("no-such-agent") == (404, b"Agent 'no-such-agent' not found")

    # 2. Being marked gone (as the operator API starts it): the registry write waits.
    storage.close_gate()
    marking: list[Future[None]] = []
    libprocess.dispatch(master, lambda: marking.append(
        master.mark_agent_gone(first.slave_id))).get(kit.TIMEOUT)
    assert mark_gone(first.slave_id) == (
        503, f"Agent '{first.slave_id}' is already being transitioned to gone".encode())
    expect_no_message(messages_pb2.SlaveReregisteredMessage, master, first)
    shutdown = future_message(messages_pb2.ShutdownMessage, master, first)
    libprocess.dispatch(first, first.reregister)
    settle()
    assert shutdown.is_pending()
    storage.open_gate()
    marking[0].get(kit.TIMEOUT)
    assert shutdown.get(kit.TIMEOUT).message == GONE

    # 3. Being marked unreachable: the registry write waits again.
    storage.close_gate()
    kit.advance(clock, 6 * PING)
    assert kit.on(master, lambda: second.slave_id in master.slaves_marking_unreachable)
    assert mark_gone(second.slave_id) == (
        503, f"Agent '{second.slave_id}' is being transitioned to unreachable".encode())
    storage.open_gate()
    settle()
    assert kit.on(master, lambda: list(master.slaves_unreachable)) == [second.slave_id]
    assert mark_gone(second.slave_id) == (200, b"")
    assert kit.http_get("/master/health")[0] == 200


# -- bad input and leadership -----------------------------------------------------------------


def test_bad_requests_get_their_status(kit, clock, master):
    """This test ensures that every malformed request gets Mesos's status and a message
    saying what was wrong: 405 for a method other than POST, 415 for another media type,
    400 without a Content-Type, for a body that does not parse or a call that does not
    validate, 406 when neither JSON nor protobuf is acceptable, 501 for the calls this
    master does not implement; and that the master goes on serving."""
    gone = {"type": "MARK_AGENT_GONE"}
    cases: list[tuple[dict[str, Any], int, str]] = [
        (dict(body=b"", method="GET"), 405, "Expecting one of { 'POST' }, but received"
                                            " 'GET'"),
        (dict(body=b"{}", content_type="text/plain"), 415,
         "Expecting 'Content-Type' of application/json or application/x-protobuf"),
        (dict(body=b"{}", content_type=None), 400, "Expecting 'Content-Type' to be present"),
        (dict(body=b"{not json"), 400, "Failed to parse body into JSON"),
        (dict(body=b"[1, 2]"), 400, "Failed to convert JSON into Call protobuf"),
        (dict(body={"type": "MARK_AGENT_GONE", "mark_agent_gone": {}}), 400,
         "Failed to convert JSON into Call protobuf"),
        (dict(body=b"\xff\xff\xff garbage", content_type=PROTOBUF), 400,
         "Failed to parse body into Call protobuf"),
        (dict(body=v1_master_pb2.Call(type=v1_master_pb2.Call.MARK_AGENT_GONE,
                                      mark_agent_gone=v1_master_pb2.Call.MarkAgentGone()
                                      ).SerializePartialToString(),
              content_type=PROTOBUF), 400, "Failed to parse body into Call protobuf"),
        (dict(body={}), 400, "Failed to validate master::Call: Expecting 'type' to be"
                             " present"),
        (dict(body={"type": "NO_SUCH_CALL"}), 400,
         "Failed to validate master::Call: Expecting 'type' to be present"),
        (dict(body=gone), 400,
         "Failed to validate master::Call: Expecting 'mark_agent_gone' to be present"),
        (dict(body={"type": "TEARDOWN"}), 400,
         "Failed to validate master::Call: Expecting 'teardown' to be present"),
        (dict(body={"type": "GET_METRICS"}), 400,
         "Failed to validate master::Call: Expecting 'get_metrics' to be present"),
        (dict(body={"type": "GET_HEALTH"}, accept="text/html"), 406,
         "Expecting 'Accept' to allow 'application/x-protobuf' or 'application/json'"),
        (dict(body={"type": "UNKNOWN"}), 501, "UNKNOWN calls are not supported"),
        (dict(body={"type": "GET_OPERATIONS"}), 501,
         "GET_OPERATIONS calls are not supported by this master"),
        (dict(body={"type": "LIST_FILES", "list_files": {"path": "/"}}), 501,
         "LIST_FILES calls are not supported by this master"),
    ]
    for request, expected_status, expected_text in cases:
        status, _, body = post(**request)
        text = body.decode()
        assert (status, text[:len(expected_text)]) == (expected_status, expected_text), \
            request

    assert kit.http_get("/master/health")[0] == 200
    assert call("GET_HEALTH")["get_health"] == {"healthy": True}


def test_not_leading_master_redirects_or_is_unavailable(kit, clock):
    """This test ensures that a master that does not lead answers 503 while nobody leads
    and 307 to the leader once one does, as its other endpoints."""
    detector = StandaloneMasterDetector()
    master = Master(MasterFlags(hostname="master.example.org", registry="in_memory"),
                    contender=StandaloneMasterContender(), detector=detector)
    libprocess.spawn(master)
    libprocess.dispatch(master, lambda: None).get(kit.TIMEOUT)

    assert post({"type": "GET_HEALTH"})[::2] == (503, b"No leader elected")

    detector.appoint(master_info_from_pid("master@10.0.0.9:7000", id="other",
                                          hostname="leader.example.org", http_port=5050))
    await_condition(lambda: kit.on(master, lambda: master.leader),
                    message="the leader to be detected")
    status, headers, _ = post({"type": "GET_HEALTH"})
    assert (status, headers["Location"]) == (307, f"//leader.example.org:5050{PATH}")


def test_delegate_serves_the_operator_path(kit, clock, master):
    """This test ensures that `/api/v1`, the path the Mesos CLI posts to, reaches the
    master when it is the HTTP delegate (as in `mesos-master`)."""
    manager = libprocess.manager()
    old, manager.delegate = manager.delegate, "master"
    try:
        status, _, body = post({"type": "GET_MASTER"}, path="/api/v1")
        assert status == 200
        assert json.loads(body)["get_master"]["master_info"]["id"] == master.info.id
    finally:
        manager.delegate = old


# -- SUBSCRIBE --------------------------------------------------------------------------------


def _subscribe(accept: str = JSON) -> Any:
    subscription = v1.Subscription(libprocess.http_address(), {"type": "SUBSCRIBE"},
                                   path=PATH, accept=accept)
    assert subscription.status == 200
    assert subscription.chunked
    assert subscription.headers["content-type"] == accept
    return subscription


def test_subscribe_streams_state_and_events(kit, clock, master, start_agent,
                                            start_scheduler):
    """This test ensures that SUBSCRIBE answers a RecordIO stream whose first event is
    SUBSCRIBED with the whole state (as GET_STATE) and `heartbeat_interval_seconds` 15,
    then, as they happen: AGENT_ADDED, FRAMEWORK_ADDED, TASK_ADDED, TASK_UPDATED with each
    new state, TASK_UPDATED and AGENT_REMOVED for MARK_AGENT_GONE, FRAMEWORK_UPDATED when
    a framework disconnects and FRAMEWORK_REMOVED when its failover timeout removes it;
    and a HEARTBEAT 15 s after SUBSCRIBED, not before, then every 15 s."""
    first = start_agent(master)
    subscription = _subscribe()
    try:
        subscribed = subscription.event()
        assert subscribed["type"] == "SUBSCRIBED"
        assert subscribed["subscribed"]["heartbeat_interval_seconds"] == 15
        assert subscribed["subscribed"]["get_state"] == call("GET_STATE")["get_state"]

        # 1. An agent and a framework arrive.
        second = start_agent(master)
        added = subscription.event()
        assert added["type"] == "AGENT_ADDED"
        assert added["agent_added"]["agent"]["agent_info"]["id"]["value"] == \
            second.slave_id
        scheduler = _scheduler(kit, master, start_scheduler, [first, second])
        event = subscription.event()
        assert event["type"] == "FRAMEWORK_ADDED"
        framework = event["framework_added"]["framework"]
        assert framework["framework_info"]["id"]["value"] == scheduler.framework_id
        assert framework["connected"] and framework["active"]

        # 2. A task is launched and runs.
        _launch(kit, master, first, scheduler)
        event = subscription.event()
        assert event["type"] == "TASK_ADDED"
        assert (event["task_added"]["task"]["task_id"]["value"],
                event["task_added"]["task"]["state"]) == ("t1", "TASK_STAGING")
        event = subscription.event()
        assert event["type"] == "TASK_UPDATED"
        assert (event["task_updated"]["state"], event["task_updated"]["status"]["state"],
                event["task_updated"]["framework_id"]["value"]) == (
            "TASK_RUNNING", "TASK_RUNNING", scheduler.framework_id)

        # 3. No heartbeat before 15 s; one at 15 s.
        clock.advance(14.9)
        settle()
        assert mark_gone(first.slave_id) == (200, b"")
        event = subscription.event()
        assert event["type"] == "TASK_UPDATED"
        assert event["task_updated"]["state"] == "TASK_LOST"
        assert subscription.event() == {"type": "AGENT_REMOVED", "agent_removed": {
            "agent_id": {"value": first.slave_id}}}
        clock.advance(0.1)
        settle()
        assert subscription.event() == {"type": "HEARTBEAT"}

        # 4. The framework disconnects; its failover timeout (0 s) removes it.
        inject_exited(scheduler, master)
        settle()
        event = subscription.event()
        assert event["type"] == "FRAMEWORK_UPDATED"
        assert event["framework_updated"]["framework"]["connected"] is False
        event = subscription.event()
        assert event["type"] == "FRAMEWORK_REMOVED"
        assert event["framework_removed"]["framework_info"]["id"]["value"] == \
            scheduler.framework_id
        clock.advance(15)
        settle()
        assert subscription.event() == {"type": "HEARTBEAT"}
    finally:
        subscription.close()


def test_subscribe_in_protobuf_and_stream_end(kit, clock, master, start_agent):
    """This test ensures that a protobuf subscription gets protobuf `Event`s, that a
    subscriber that goes away is forgotten, and that the master ending ends the
    remaining streams."""
    subscription = _subscribe(PROTOBUF)
    gone = _subscribe()
    assert v1_master_pb2.Event.FromString(subscription.event()).type == \
        v1_master_pb2.Event.SUBSCRIBED
    assert gone.event()["type"] == "SUBSCRIBED"
    assert kit.on(master, lambda: len(master.subscribers)) == 2

    gone.close()
    await_condition(lambda: kit.on(master, lambda: len(master.subscribers)) == 1,
                    message="the closed stream to be forgotten")
    agent = start_agent(master)
    event = v1_master_pb2.Event.FromString(subscription.event())
    assert event.type == v1_master_pb2.Event.AGENT_ADDED
    assert event.agent_added.agent.agent_info.id.value == agent.slave_id

    libprocess.terminate(master)
    assert libprocess.wait(master, kit.TIMEOUT)
    assert subscription.remaining() == []
    subscription.close()


def test_the_pymesos_operator_path_reaches_the_api(kit, clock, master):
    """This test ensures that `/master/api/v1/operator` and (through the delegate)
    `/api/v1/operator`, the path pymesos's operator drivers post to, are served by the
    operator API, as libprocess serves the longest route that prefixes a path."""
    assert json.loads(post({"type": "GET_HEALTH"}, path="/master/api/v1/operator")[2]) == {
        "type": "GET_HEALTH", "get_health": {"healthy": True}}
    manager = libprocess.manager()
    old, manager.delegate = manager.delegate, "master"
    try:
        status, _, body = post({"type": "GET_HEALTH"}, path="/api/v1/operator")
    finally:
        manager.delegate = old
    assert status == 200, body
    assert json.loads(body)["get_health"] == {"healthy": True}


def test_strings_that_are_not_utf8_reach_operator_subscribers(kit, clock, master,
                                                              start_agent, start_scheduler):
    """This test ensures that a status update whose message is not UTF-8 (a peer's bytes)
    neither stops the master half-way nor breaks its JSON: with an operator subscriber
    connected, the task still finishes and gives its resources back, and the subscriber
    gets TASK_UPDATED with the text shown with replacement characters."""
    agent = start_agent(master)
    offers = future_message(messages_pb2.ResourceOffersMessage, master)
    scheduler = start_scheduler(master)
    offers.get(kit.TIMEOUT)
    settle()
    kit.launch(master, agent, scheduler)
    subscription = _subscribe()
    try:
        assert subscription.event()["type"] == "SUBSCRIBED"
        update = future_message(messages_pb2.StatusUpdateMessage, master, scheduler)
        finished = status_update(mesos_pb2.FrameworkID(value=scheduler.framework_id),
                                 mesos_pb2.SlaveID(value=agent.slave_id),
                                 mesos_pb2.TaskID(value="t1"), mesos_pb2.TASK_FINISHED)
        finished.status.message = "cafX"
        body = messages_pb2.StatusUpdateMessage(update=finished, pid=str(agent.upid))
        # Python's protobuf refuses to set such a string: the bytes are changed on the wire.
        wire = body.SerializeToString().replace(b"cafX", b"caf\xe9")
        libprocess.dispatch(agent, lambda: agent.send(
            master.upid, "mesos.internal.StatusUpdateMessage", wire))
        assert update.get(kit.TIMEOUT).update.status.state == mesos_pb2.TASK_FINISHED
        settle()
        event = subscription.event()
        while event["type"] != "TASK_UPDATED":
            event = subscription.event()
        assert event["task_updated"]["status"]["message"] == "caf\ufffd"
        framework = kit.on(master, lambda: master.frameworks[scheduler.framework_id])
        assert not kit.on(master, lambda: bool(framework.total_used_resources))
    finally:
        subscription.close()
