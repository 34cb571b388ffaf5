"""The v1 scheduler HTTP API (`POST /master/api/v1/scheduler`, docs/scheduler-http-api.md;
mesos-behaviour.md §1.6 and §2.10), as actor scenarios: the real `Master` and `TestAgent`
with a paused clock, and a small HTTP scheduler in the test's thread that speaks the
protocol as pymesos does (`mesos.testing.v1_http.Scheduler`: a raw-socket SUBSCRIBE whose chunked
RecordIO stream it decodes, JSON calls carrying `Mesos-Stream-Id`).

Events on one stream keep their order, so "nothing happened before X" is checked by making
the master send a known event (an UPDATE answering a RECONCILE) and reading it next.
"""

from __future__ import annotations

import base64
import http.client
import json
import socket
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import libprocess
from libprocess.testing import await_condition, future_dispatch, future_message, settle
from mesos.detector import StandaloneMasterContender, StandaloneMasterDetector
from mesos.master import FrameworkState, Master, MasterFlags, scheduler_api
from mesos.protos.mesos import mesos_pb2
from mesos.protos.mesos.v1.scheduler import scheduler_pb2 as v1_scheduler_pb2
from mesos.protos.messages import messages_pb2
from mesos.sched.detector import master_info_from_pid
from mesos.testing import v1_http as v1

PATH = "/master/api/v1/scheduler"


def framework(name: str = "http framework", **fields: Any) -> dict[str, Any]:
    """A FrameworkInfo as pymesos sends it (JSON, v1 field names)."""
    return {"user": "test", "name": name, **fields}


@pytest.fixture
def http_scheduler() -> Iterator[Callable[..., Any]]:
    """`http_scheduler(path=PATH)`: a new pymesos-like client of this OS process's HTTP
    server; all are closed at the end of the test."""
    made: list[Any] = []

    def make(path: str = PATH) -> Any:
        client = v1.Scheduler(libprocess.http_address(), path)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


def _subscribe(scheduler: Any, info: dict[str, Any] | None = None, **kwargs: Any) -> Any:
    """Subscribes; checks SUBSCRIBED then the first HEARTBEAT, which Mesos sends at once."""
    subscription = scheduler.subscribe(info or framework(), **kwargs)
    assert subscription.status == 200, subscription.body
    assert subscription.first["type"] == "SUBSCRIBED", subscription.first
    assert scheduler.event() == {"type": "HEARTBEAT"}
    return subscription


def _offer(scheduler: Any) -> dict[str, Any]:
    settle()
    offers = scheduler.next("OFFERS")["offers"]["offers"]
    assert len(offers) == 1
    return offers[0]  # type: ignore[no-any-return]


def _task(task_id: str, offer: dict[str, Any], command: str = "sleep 1000") -> dict[str, Any]:
    return {"name": f"task {task_id}", "task_id": {"value": task_id},
            "agent_id": offer["agent_id"],
            "resources": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 1}},
                          {"name": "mem", "type": "SCALAR", "scalar": {"value": 128}}],
            "command": {"value": command}}


def _launch(kit: Any, master: Master, agent: Any, scheduler: Any, task_id: str = "t1") -> Any:
    """Accepts the next offer with one task; returns the RunTaskMessage the agent got."""
    offer = _offer(scheduler)
    run = future_message(messages_pb2.RunTaskMessage, master, agent)
    status, _ = scheduler.call("ACCEPT", accept={
        "offer_ids": [offer["id"]],
        "operations": [{"type": "LAUNCH", "launch": {"task_infos": [_task(task_id, offer)]}}]})
    assert status == 202
    return run.get(kit.TIMEOUT)


def _known_event(scheduler: Any, skip: tuple[str, ...] = ("HEARTBEAT",)) -> None:
    """Asks for an answer the master gives at once (explicit reconciliation of an unknown
    task: TASK_LOST) and checks it is the next event: nothing else (but `skip`) came
    before it."""
    assert scheduler.call("RECONCILE", reconcile={"tasks": [{"task_id": {"value": "marker"}}]}
                          )[0] == 202
    status = scheduler.next("UPDATE", skip=skip)["update"]["status"]
    assert (status["task_id"]["value"], status["state"]) == ("marker", "TASK_LOST")


def _framework(kit: Any, master: Master, framework_id: str) -> Any:
    return kit.on(master, lambda: master.frameworks.get(framework_id))


# -- subscription ------------------------------------------------------------------------------


def test_subscribe_streams_subscribed_and_heartbeats(kit, clock, master, http_scheduler):
    """This test ensures that SUBSCRIBE answers 200 with a fresh `Mesos-Stream-Id` and a
    chunked `application/json` RecordIO stream whose first event is SUBSCRIBED (the new
    framework id, `heartbeat_interval_seconds` 15, the master's info), then a HEARTBEAT at
    once and one every 15 s of the master's clock, not before."""
    scheduler = http_scheduler()

    subscription = scheduler.subscribe(framework())

    assert subscription.status == 200
    assert subscription.chunked
    assert subscription.headers["content-type"] == "application/json"
    assert str(uuid.UUID(subscription.stream_id)) == subscription.stream_id
    subscribed = subscription.first["subscribed"]
    assert subscribed["framework_id"]["value"] == f"{master.info.id}-0000"
    assert subscribed["heartbeat_interval_seconds"] == 15
    assert subscribed["master_info"]["id"] == master.info.id
    assert subscribed["master_info"]["hostname"] == "master.example.org"
    assert scheduler.event() == {"type": "HEARTBEAT"}
    assert master.metrics.messages_register_framework.value == 1

    # 1. Not a millisecond early.
    clock.advance(14.999)
    settle()
    _known_event(scheduler, skip=())

    # 2. On time, and again 15 s later.
    clock.advance(0.001)
    settle()
    assert scheduler.event() == {"type": "HEARTBEAT"}
    clock.advance(15)
    settle()
    assert scheduler.event() == {"type": "HEARTBEAT"}


def test_framework_lifecycle_over_http(kit, clock, master, start_agent, http_scheduler):
    """This test ensures that an HTTP framework gets OFFERS (v1 spelling: `agent_id`),
    launches a task with ACCEPT (the agent gets RunTaskMessage without a scheduler pid),
    gets the agent's update as UPDATE carrying its uuid (base64), and that its
    ACKNOWLEDGE reaches the agent with the same uuid; `/master/state` shows the framework
    without a pid, and the calls are counted as for PID frameworks."""
    agent = start_agent(master)
    scheduler = http_scheduler()
    _subscribe(scheduler)

    run = _launch(kit, master, agent, scheduler)

    assert run.task.task_id.value == "t1"
    assert run.pid == ""
    assert run.framework.id.value == scheduler.framework_id
    assert master.metrics.messages_launch_tasks.value == 1

    # 1. The agent's update, with the uuid the scheduler must acknowledge.
    update_uuid = libprocess.dispatch(agent, agent.update, scheduler.framework_id, "t1",
                                      mesos_pb2.TASK_RUNNING).get(kit.TIMEOUT)
    settle()
    status = scheduler.next("UPDATE")["update"]["status"]
    assert status["state"] == "TASK_RUNNING"
    assert status["agent_id"]["value"] == agent.slave_id
    assert base64.b64decode(status["uuid"]) == update_uuid

    # 2. Acknowledged as pymesos does: the status's own agent_id, task_id and uuid.
    acknowledged = future_message(messages_pb2.StatusUpdateAcknowledgementMessage, master,
                                  agent)
    assert scheduler.acknowledge(status)[0] == 202
    acknowledgement = acknowledged.get(kit.TIMEOUT)
    assert acknowledgement.uuid == update_uuid
    assert acknowledgement.framework_id.value == scheduler.framework_id
    assert master.metrics.messages_status_update_acknowledgement.value == 1
    assert master.metrics.valid_status_update_acknowledgements.value == 1

    # 3. The master's view.
    state = kit.http_json("/master/state")
    [shown] = state["frameworks"]
    assert shown["id"] == scheduler.framework_id
    assert "pid" not in shown
    assert shown["active"] and shown["connected"]
    assert [t["state"] for t in shown["tasks"]] == ["TASK_RUNNING"]


def test_reconcile_kill_decline_and_revive(kit, clock, master, start_agent, http_scheduler):
    """This test ensures that RECONCILE (implicit: the master's view without a uuid;
    explicit: TASK_LOST for an unknown task), KILL (forwarded to the agent), DECLINE (the
    resources are refused for `refuse_seconds`) and REVIVE (offered again at once) behave
    over HTTP as for a PID framework."""
    agent = start_agent(master, resources="cpus:2;mem:256")
    scheduler = http_scheduler()
    _subscribe(scheduler)
    _launch(kit, master, agent, scheduler)
    libprocess.dispatch(agent, agent.update, scheduler.framework_id, "t1",
                        mesos_pb2.TASK_RUNNING).get(kit.TIMEOUT)
    settle()
    scheduler.next("UPDATE")

    # 1. Implicit reconciliation: the master's own update, nothing to acknowledge.
    assert scheduler.call("RECONCILE", reconcile={})[0] == 202
    status = scheduler.next("UPDATE")["update"]["status"]
    assert (status["task_id"]["value"], status["state"]) == ("t1", "TASK_RUNNING")
    assert status["reason"] == "REASON_RECONCILIATION"
    assert status["source"] == "SOURCE_MASTER"
    assert "uuid" not in status

    # 2. Explicit reconciliation of an unknown task.
    assert scheduler.call("RECONCILE", reconcile={"tasks": [
        {"task_id": {"value": "nope"}, "agent_id": {"value": agent.slave_id}}]})[0] == 202
    status = scheduler.next("UPDATE")["update"]["status"]
    assert (status["task_id"]["value"], status["state"]) == ("nope", "TASK_LOST")
    assert master.metrics.messages_reconcile_tasks.value == 2

    # 3. KILL reaches the agent.
    killed = future_message(messages_pb2.KillTaskMessage, master, agent)
    assert scheduler.call("KILL", kill={"task_id": {"value": "t1"}})[0] == 202
    assert killed.get(kit.TIMEOUT).task_id.value == "t1"
    assert master.metrics.messages_kill_task.value == 1

    # 4. The rest of the agent (refused for the default 5 s by the ACCEPT that left it
    # unused) is offered again; DECLINE it for 100 s.
    clock.advance(5 + master.flags.allocation_interval)
    offer = _offer(scheduler)
    assert scheduler.call("DECLINE", decline={"offer_ids": [offer["id"]],
                                              "filters": {"refuse_seconds": 100}})[0] == 202
    settle()
    assert kit.on(master, lambda: master.offers) == {}
    assert master.metrics.messages_decline_offers.value == 1
    clock.advance(50)
    settle()
    _known_event(scheduler)

    # 5. REVIVE: offered again at once.
    assert scheduler.call("REVIVE")[0] == 202
    assert _offer(scheduler)["agent_id"] == offer["agent_id"]
    assert master.metrics.messages_revive_offers.value == 1


def test_teardown_removes_the_framework_and_ends_the_stream(kit, clock, master, start_agent,
                                                            http_scheduler):
    """This test ensures that TEARDOWN answers 202, removes the framework (its agents are
    told to shut it down, it becomes a completed framework) and ends its stream; a later
    call names a framework the master no longer has (400)."""
    agent = start_agent(master)
    scheduler = http_scheduler()
    _subscribe(scheduler)
    shutdown = future_message(messages_pb2.ShutdownFrameworkMessage, master, agent)

    assert scheduler.call("TEARDOWN")[0] == 202

    assert shutdown.get(kit.TIMEOUT).framework_id.value == scheduler.framework_id
    assert [e["type"] for e in scheduler.subscription.remaining()] == ["OFFERS"]
    assert kit.on(master, lambda: list(master.completed_frameworks)) == [
        scheduler.framework_id]
    assert master.metrics.messages_unregister_framework.value == 1
    assert scheduler.call("REVIVE") == (400, "Framework cannot be found\n")


def test_events_of_every_kind(kit, clock, start_master, start_agent, http_scheduler):
    """This test ensures that what a PID framework would hear reaches an HTTP framework as
    Mesos's `evolve` makes it: RescindResourceOffer -> RESCIND, ExitedExecutor -> FAILURE
    with agent, executor and status, ExecutorToFramework -> MESSAGE (data in base64),
    LostSlave -> FAILURE with the agent only; and that MESSAGE reaches the executor's
    agent with the data decoded."""
    master = start_master(offer_timeout=30.0)
    agent = start_agent(master)
    scheduler = http_scheduler()
    _subscribe(scheduler)
    offer = _offer(scheduler)

    # 1. The offer times out.
    clock.advance(30)
    settle()
    assert scheduler.next("RESCIND")["rescind"]["offer_id"] == offer["id"]

    # 2. An executor's message, and the scheduler's message to it. (The rescinded
    # resources may be offered again meanwhile.)
    libprocess.dispatch(agent, agent.executor_message, scheduler.framework_id, "e1",
                        b"\x00hello")
    settle()
    message = scheduler.next("MESSAGE", skip=("HEARTBEAT", "OFFERS"))["message"]
    assert message["agent_id"]["value"] == agent.slave_id
    assert message["executor_id"]["value"] == "e1"
    assert base64.b64decode(message["data"]) == b"\x00hello"

    delivered = future_message(messages_pb2.FrameworkToExecutorMessage, master, agent)
    assert scheduler.call("MESSAGE", message={
        "agent_id": {"value": agent.slave_id}, "executor_id": {"value": "e1"},
        "data": base64.b64encode(b"\xffbytes").decode()})[0] == 202
    assert delivered.get(kit.TIMEOUT).data == b"\xffbytes"

    # 3. The agent goes away: its offer is rescinded and the framework hears FAILURE.
    clock.advance(master.flags.allocation_interval)
    settle()
    outstanding = kit.on(master, lambda: list(master.offers))
    assert len(outstanding) == 1
    libprocess.dispatch(agent, agent.unregister)
    settle()
    assert scheduler.next("RESCIND", skip=("HEARTBEAT", "OFFERS"))["rescind"] == {
        "offer_id": {"value": outstanding[0]}}
    assert scheduler.next("FAILURE")["failure"] == {"agent_id": {"value": agent.slave_id}}


def test_executor_exit_is_a_failure_event(kit, clock, master, start_agent, http_scheduler):
    """This test ensures that an executor's exit reaches an HTTP framework as FAILURE with
    the agent, the executor and its exit status (pymesos calls `executorLost`)."""
    agent = start_agent(master)
    scheduler = http_scheduler()
    _subscribe(scheduler)
    offer = _offer(scheduler)
    task = _task("t1", offer)
    del task["command"]
    task["executor"] = {"executor_id": {"value": "e1"}, "command": {"value": "executor"},
                        "resources": [{"name": "cpus", "type": "SCALAR",
                                       "scalar": {"value": 0.1}}]}
    run = future_message(messages_pb2.RunTaskMessage, master, agent)
    assert scheduler.call("ACCEPT", accept={"offer_ids": [offer["id"]], "operations": [
        {"type": "LAUNCH", "launch": {"task_infos": [task]}}]})[0] == 202
    run.get(kit.TIMEOUT)

    libprocess.dispatch(agent, agent.executor_exited, scheduler.framework_id, "e1", 9)
    settle()

    assert scheduler.next("FAILURE")["failure"] == {
        "agent_id": {"value": agent.slave_id}, "executor_id": {"value": "e1"}, "status": 9}


def test_protobuf_calls_and_events(kit, clock, master, start_agent, http_scheduler):
    """This test ensures that a scheduler speaking protobuf (`application/x-protobuf` for
    its calls and in `Accept`) gets a protobuf RecordIO stream of `mesos.v1.scheduler.Event`
    and may call in protobuf."""
    start_agent(master)
    scheduler = http_scheduler()
    call = v1_scheduler_pb2.Call(type=v1_scheduler_pb2.Call.SUBSCRIBE)
    call.subscribe.framework_info.user = "test"
    call.subscribe.framework_info.name = "protobuf framework"

    subscription = v1.Subscription(libprocess.http_address(), call.SerializeToString(),
                                   path=PATH, content_type="application/x-protobuf",
                                   accept="application/x-protobuf")

    assert subscription.status == 200
    assert subscription.headers["content-type"] == "application/x-protobuf"
    event = v1_scheduler_pb2.Event.FromString(subscription.record())
    assert event.type == v1_scheduler_pb2.Event.SUBSCRIBED
    assert event.subscribed.heartbeat_interval_seconds == 15
    framework_id = event.subscribed.framework_id.value
    assert v1_scheduler_pb2.Event.FromString(subscription.record()).type == \
        v1_scheduler_pb2.Event.HEARTBEAT
    settle()
    offers = v1_scheduler_pb2.Event.FromString(subscription.record())
    assert offers.type == v1_scheduler_pb2.Event.OFFERS

    decline = v1_scheduler_pb2.Call(type=v1_scheduler_pb2.Call.DECLINE)
    decline.framework_id.value = framework_id
    decline.decline.offer_ids.add().CopyFrom(offers.offers.offers[0].id)
    status, _ = scheduler.post(decline.SerializeToString(),
                               content_type="application/x-protobuf",
                               stream_id=subscription.stream_id)
    assert status == 202
    settle()
    assert kit.on(master, lambda: master.offers) == {}
    subscription.close()


def test_delegate_serves_the_mesos_path(kit, clock, master, http_scheduler):
    """This test ensures that `/api/v1/scheduler`, the path pymesos posts to, reaches the
    master when it is the HTTP delegate (as in `mesos-master`)."""
    manager = libprocess.manager()
    old, manager.delegate = manager.delegate, "master"
    try:
        scheduler = http_scheduler("/api/v1/scheduler")
        _subscribe(scheduler)
        assert scheduler.call("SUPPRESS")[0] == 202
        settle()
        assert master.metrics.messages_suppress_offers.value == 1
    finally:
        manager.delegate = old


# -- disconnection and failover ----------------------------------------------------------------


def test_closed_stream_disconnects_and_failover_timeout_is_honoured(
        kit, clock, master, start_agent, http_scheduler):
    """This test ensures that a scheduler closing its stream is a disconnection, as a
    PID scheduler's broken link: the framework is deactivated (its offer goes back),
    calls are refused with 403 ("Framework is not subscribed"), and it is removed exactly
    when its `failover_timeout` expires (its agents told to shut it down)."""
    agent = start_agent(master)
    scheduler = http_scheduler()
    _subscribe(scheduler, framework(failover_timeout=10))
    _offer(scheduler)
    framework_id = scheduler.framework_id
    exited = future_dispatch(master, "_http_exited")

    # 1. The scheduler goes away.
    scheduler.subscription.close()
    exited.get(kit.TIMEOUT)
    settle()
    state = kit.on(master, lambda: (master.frameworks[framework_id].state,
                                    master.frameworks[framework_id].http,
                                    dict(master.offers)))
    assert state == (FrameworkState.DISCONNECTED, None, {})
    assert scheduler.call("REVIVE") == (403, "Framework is not subscribed\n")

    # 2. A millisecond before the timeout it is still there; then it is removed.
    clock.advance(9.999)
    settle()
    assert _framework(kit, master, framework_id) is not None
    assert kit.on(agent, lambda: list(agent.shutdown_frameworks)) == []
    shutdown = future_message(messages_pb2.ShutdownFrameworkMessage, master, agent)
    clock.advance(0.001)
    assert shutdown.get(kit.TIMEOUT).framework_id.value == framework_id
    settle()
    assert _framework(kit, master, framework_id) is None
    assert framework_id in kit.on(master, lambda: list(master.completed_frameworks))


def test_resubscribe_within_failover_timeout_keeps_the_framework(
        kit, clock, master, start_agent, http_scheduler):
    """This test ensures that a scheduler that comes back with its framework id within the
    failover timeout gets SUBSCRIBED with the same id and keeps its tasks, and that the
    timer armed at the disconnection does not remove it later."""
    agent = start_agent(master)
    first = http_scheduler()
    _subscribe(first, framework(failover_timeout=10))
    _launch(kit, master, agent, first)
    framework_id = first.framework_id
    exited = future_dispatch(master, "_http_exited")
    first.subscription.close()
    exited.get(kit.TIMEOUT)
    settle()
    clock.advance(5)
    settle()

    second = http_scheduler()
    _subscribe(second, framework(failover_timeout=10, id={"value": framework_id}))

    assert second.framework_id == framework_id
    clock.advance(10)
    settle()
    kept = _framework(kit, master, framework_id)
    assert kept is not None and kept.active()
    assert list(kept.tasks) == ["t1"]


def test_resubscribe_takes_over_and_ends_the_old_stream(kit, clock, master, start_agent,
                                                        http_scheduler):
    """This test ensures that a SUBSCRIBE with the framework's id while its stream is open
    takes over (MESOS-4712, with or without `force`): the old stream gets ERROR "Framework
    failed over" and ends, its stream id is refused (400), the new one works, and the end
    of the old stream does not disconnect the framework."""
    start_agent(master)
    old = http_scheduler()
    _subscribe(old, framework(failover_timeout=60))
    framework_id = old.framework_id
    _offer(old)
    old_closed = future_dispatch(master, "_http_exited")

    new = http_scheduler()
    _subscribe(new, framework(failover_timeout=60, id={"value": framework_id}))

    assert new.framework_id == framework_id
    assert old.event() == {"type": "ERROR", "error": {"message": "Framework failed over"}}
    assert old.subscription.remaining() == []
    old_closed.get(kit.TIMEOUT)
    settle()
    status, body = old.call("REVIVE")
    assert status == 400 and "didn't match the stream ID" in body
    assert new.call("REVIVE")[0] == 202
    kept = _framework(kit, master, framework_id)
    assert kept.active() and kept.http.stream_id == new.subscription.stream_id
    # The offers made to the old stream were withdrawn: the new one is offered afresh.
    clock.advance(master.flags.allocation_interval)
    assert _offer(new)
    assert master.metrics.messages_reregister_framework.value == 1


def test_pid_framework_upgrades_to_http(kit, clock, master, start_agent, start_scheduler,
                                        http_scheduler):
    """This test ensures that an HTTP SUBSCRIBE with the id of a PID framework takes it
    over: the driver gets FrameworkErrorMessage "Framework failed over", the agents learn
    the framework has no pid any more, and its later calls from the old pid are ignored."""
    agent = start_agent(master)
    driver = start_scheduler(master, kit.framework_info(failover_timeout=60))
    framework_id = driver.framework_id
    error = future_message(messages_pb2.FrameworkErrorMessage, master, driver)
    updated = future_message(messages_pb2.UpdateFrameworkMessage, master, agent)

    scheduler = http_scheduler()
    _subscribe(scheduler, framework("framework", failover_timeout=60,
                                    id={"value": framework_id},
                                    capabilities=[{"type": "RESERVATION_REFINEMENT"}]))

    assert error.get(kit.TIMEOUT).message == "Framework failed over"
    assert updated.get(kit.TIMEOUT).pid == ""
    settle()
    upgraded = _framework(kit, master, framework_id)
    assert upgraded.pid is None and upgraded.http is not None and upgraded.active()
    assert "pid" not in kit.http_json("/master/state")["frameworks"][0]
    libprocess.dispatch(driver, driver.call, kit.Call(type=kit.Call.SUPPRESS))
    settle()
    assert master.metrics.messages_suppress_offers.value == 0


def test_http_framework_downgrades_to_pid(kit, clock, master, start_agent, http_scheduler):
    """This test ensures that a driver subscribing with `force` and the id of an HTTP
    framework takes it over (the stream gets ERROR "Framework failed over" and ends), while
    one without `force` is told "Framework failed over" and fenced."""
    start_agent(master)
    scheduler = http_scheduler()
    _subscribe(scheduler, framework("framework", failover_timeout=60))
    framework_id = scheduler.framework_id
    info = kit.framework_info(failover_timeout=60, framework_id=framework_id)

    # 1. Without `force`: fenced, the HTTP scheduler keeps the framework.
    fenced = kit.TestScheduler(master.upid)
    libprocess.spawn(fenced)
    refused = future_message(messages_pb2.FrameworkErrorMessage, master, fenced)
    libprocess.dispatch(fenced, fenced.call, kit.subscribe_call(info))
    assert refused.get(kit.TIMEOUT).message == "Framework failed over"
    settle()
    assert _framework(kit, master, framework_id).http is not None

    # 2. With `force`: the driver takes over.
    driver = kit.TestScheduler(master.upid)
    libprocess.spawn(driver)
    registered = future_message(messages_pb2.FrameworkRegisteredMessage, master, driver)
    libprocess.dispatch(driver, driver.call, kit.subscribe_call(info, force=True))
    assert registered.get(kit.TIMEOUT).framework_id.value == framework_id
    assert scheduler.next("ERROR", skip=("HEARTBEAT", "OFFERS"))["error"] == {
        "message": "Framework failed over"}
    assert scheduler.subscription.remaining() == []
    settle()
    downgraded = _framework(kit, master, framework_id)
    assert downgraded.http is None and downgraded.pid == driver.upid and downgraded.active()
    status, _ = scheduler.call("REVIVE")
    assert (status, _) == (403, "Framework is not connected via HTTP\n")


# -- bad input --------------------------------------------------------------------------------


def test_bad_requests_get_their_status_and_the_master_keeps_serving(
        kit, clock, master, start_scheduler, http_scheduler):
    """This test ensures that every malformed or unauthorised request gets Mesos's status
    and a message saying what was wrong, and that the master goes on serving."""
    scheduler = http_scheduler()
    _subscribe(scheduler)
    framework_id = scheduler.framework_id
    stream_id = scheduler.subscription.stream_id
    driver = start_scheduler(master)
    subscribe = {"type": "SUBSCRIBE", "subscribe": {"framework_info": framework()}}
    revive = {"type": "REVIVE", "framework_id": {"value": framework_id}}

    cases: list[tuple[dict[str, Any], int, str]] = [
        (dict(body=b"", method="GET"), 405, "Expecting one of { 'POST' }"),
        (dict(body=b"{}", content_type="text/plain"), 415,
         "Expecting 'Content-Type' of application/json or application/x-protobuf"),
        (dict(body=b"{not json"), 400, "Failed to parse body into JSON"),
        (dict(body=b"[1, 2]"), 400, "Failed to convert JSON into Call protobuf"),
        (dict(body={"type": "SUBSCRIBE", "subscribe": {"framework_info": {"name": "x"}}}),
         400, "Failed to convert JSON into Call protobuf: Missing required fields"),
        (dict(body={"type": "NO_SUCH_CALL"}), 400,
         "Failed to validate scheduler::Call: Expecting 'type' to be present"),
        (dict(body=b"\xff\xff\xff garbage", content_type="application/x-protobuf"), 400,
         "Failed to parse body into Call protobuf"),
        (dict(body=subscribe, stream_id=stream_id), 400,
         "Subscribe calls should not include the 'Mesos-Stream-Id' header"),
        (dict(body=subscribe, headers={"Accept": "text/html"}), 406,
         "Expecting 'Accept' to allow 'application/x-protobuf' or 'application/json'"),
        (dict(body=revive), 400,
         "All non-subscribe calls should include the 'Mesos-Stream-Id' header"),
        (dict(body=revive, stream_id="not-the-stream"), 400,
         "The stream ID 'not-the-stream' included in this request didn't match"),
        (dict(body={"type": "REVIVE", "framework_id": {"value": "unknown"}},
              stream_id=stream_id), 400, "Framework cannot be found"),
        (dict(body={"type": "REVIVE", "framework_id": {"value": driver.framework_id}},
              stream_id=stream_id), 403, "Framework is not connected via HTTP"),
    ]
    for request, expected_status, expected_text in cases:
        status, text = scheduler.post(**request)
        assert (status, text[:len(expected_text)]) == (expected_status, expected_text), \
            request

    # A request without a Content-Type at all.
    conn = http.client.HTTPConnection(*libprocess.http_address(), timeout=kit.TIMEOUT)
    conn.request("POST", PATH, body=b"{}")
    response = conn.getresponse()
    assert (response.status, response.read()) == (400, b"Expecting 'Content-Type' to be"
                                                       b" present\n")
    conn.close()

    # The master still serves: the stream is alive and calls work.
    assert kit.http_get("/master/health")[0] == 200
    assert scheduler.call("REVIVE")[0] == 202
    _known_event(scheduler)


def test_subscription_refused_by_the_master_is_an_error_event(kit, clock, master,
                                                             http_scheduler):
    """This test ensures that a subscription the master refuses (a framework that was torn
    down) is answered 200 with one ERROR event ("Framework has been removed"), then the end
    of the stream, as Mesos does."""
    scheduler = http_scheduler()
    _subscribe(scheduler)
    framework_id = scheduler.framework_id
    assert scheduler.call("TEARDOWN")[0] == 202
    assert scheduler.subscription.remaining() == []

    again = http_scheduler()
    subscription = again.subscribe(framework(id={"value": framework_id}))

    assert subscription.status == 200
    assert subscription.first == {"type": "ERROR",
                                  "error": {"message": "Framework has been removed"}}
    assert subscription.remaining() == []


def test_not_leading_master_redirects_or_is_unavailable(kit, clock, http_scheduler):
    """This test ensures that a master that does not lead answers the endpoint with 503
    while nobody leads and with 307 to the leader once one does, as its other endpoints."""
    detector = StandaloneMasterDetector()
    master = Master(MasterFlags(hostname="master.example.org", registry="in_memory"),
                    contender=StandaloneMasterContender(), detector=detector)
    libprocess.spawn(master)
    libprocess.dispatch(master, lambda: None).get(kit.TIMEOUT)
    scheduler = http_scheduler()

    assert scheduler.post({"type": "SUBSCRIBE", "subscribe": {
        "framework_info": framework()}}) == (503, "No leader elected")

    detector.appoint(master_info_from_pid("master@10.0.0.9:7000", id="other",
                                          hostname="leader.example.org", http_port=5050))
    await_condition(lambda: kit.on(master, lambda: master.leader),
                    message="the leader to be detected")
    conn = http.client.HTTPConnection(*libprocess.http_address(), timeout=kit.TIMEOUT)
    conn.request("POST", PATH, body=json.dumps({"type": "SUBSCRIBE"}).encode(),
                 headers={"Content-Type": "application/json"})
    response = conn.getresponse()
    response.read()
    assert response.status == 307
    assert response.headers["Location"] == f"//leader.example.org:5050{PATH}"
    conn.close()


def test_master_terminating_ends_the_streams(kit, clock, master, http_scheduler):
    """This test ensures that a master that terminates ends its HTTP schedulers' streams,
    as a PID scheduler's link breaks, so none is left waiting on a dead master."""
    scheduler = http_scheduler()
    _subscribe(scheduler)

    libprocess.terminate(master)
    assert libprocess.wait(master, kit.TIMEOUT)

    assert scheduler.subscription.remaining() == []


# -- the pure parts ---------------------------------------------------------------------------


def test_operation_calls_are_answered_as_by_a_master_without_operations(
        kit, clock, master, start_agent, http_scheduler):
    """This test ensures that RECONCILE_OPERATIONS (which pymesos's
    `reconcileOperations()` sends) is answered 200 with a RECONCILE_OPERATIONS response: an
    operation on a registered or unknown agent is OPERATION_UNKNOWN (this master knows no
    operations), an implicit reconciliation lists none; and that ACKNOWLEDGE_OPERATION_STATUS
    is accepted (202) and changes nothing."""
    agent = start_agent(master)
    scheduler = http_scheduler()
    _subscribe(scheduler)

    status, text = scheduler.post({
        "type": "RECONCILE_OPERATIONS", "framework_id": {"value": scheduler.framework_id},
        "reconcile_operations": {"operations": [
            {"operation_id": {"value": "op1"}, "agent_id": {"value": agent.slave_id}},
            {"operation_id": {"value": "op2"}}]}}, stream_id=scheduler.subscription.stream_id)
    assert status == 200, text
    answer = json.loads(text)
    assert answer["type"] == "RECONCILE_OPERATIONS"
    assert answer["reconcile_operations"]["operation_statuses"] == [
        {"operation_id": {"value": "op1"}, "agent_id": {"value": agent.slave_id},
         "state": "OPERATION_UNKNOWN"},
        {"operation_id": {"value": "op2"}, "state": "OPERATION_UNKNOWN"}]

    status, text = scheduler.call("RECONCILE_OPERATIONS", reconcile_operations={})
    assert status == 200, text
    assert json.loads(text) == {"type": "RECONCILE_OPERATIONS", "reconcile_operations": {}}

    status, _ = scheduler.call("ACKNOWLEDGE_OPERATION_STATUS", acknowledge_operation_status={
        "agent_id": {"value": agent.slave_id}, "uuid": base64.b64encode(b"0" * 16).decode(),
        "operation_id": {"value": "op1"}})
    assert status == 202
    _known_event(scheduler, skip=("HEARTBEAT", "OFFERS"))


def test_http_1_0_subscription_streams_until_the_connection_closes(kit, clock, master):
    """This test ensures that a SUBSCRIBE over HTTP/1.0 (which has no chunked encoding) is
    streamed as a plain body that runs until the connection closes, with SUBSCRIBED first,
    instead of failing after the framework was added."""
    body = json.dumps({"type": "SUBSCRIBE",
                       "subscribe": {"framework_info": framework()}}).encode()
    head = (f"POST {PATH} HTTP/1.0\r\nContent-Type: application/json\r\n"
            f"Accept: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode()
    with socket.create_connection(libprocess.http_address(), timeout=kit.TIMEOUT) as sock:
        sock.sendall(head + body)
        received = b""
        while b"SUBSCRIBED" not in received:
            chunk = sock.recv(65536)
            assert chunk, received
            received += chunk
    status_line, _, rest = received.partition(b"\r\n")
    assert status_line.split()[1] == b"200", received
    headers, _, stream = rest.partition(b"\r\n\r\n")
    assert b"chunked" not in headers.lower()
    length, _, record = stream.partition(b"\n")
    assert json.loads(record[:int(length)])["type"] == "SUBSCRIBED"


def test_a_subscription_that_fails_leaves_no_connected_framework(kit, clock, master,
                                                                 http_scheduler,
                                                                 monkeypatch):
    """This test ensures that when the master fails part-way through a SUBSCRIBE (here a
    hook raising after the framework was added), the client gets 500 and the framework is
    not left connected and active on a stream nobody reads: it is disconnected as if the
    client had gone away (and, with no failover timeout, removed)."""
    def broken(framework: Any) -> None:
        raise RuntimeError("hook failed")

    monkeypatch.setattr(master.subscribers, "framework_added", broken)
    subscription = http_scheduler().subscribe(framework())
    assert subscription.status == 500
    settle()
    assert kit.on(master, lambda: [f for f in master.frameworks.values() if f.connected()]) \
        == []
    assert kit.http_json("/master/state")["frameworks"] == []


def test_accept_header_rules():
    """This test ensures that the `Accept` header is read as libprocess's
    `acceptsMediaType`: no header accepts anything, the most specific matching entry
    decides, and `q=0` refuses."""
    json_type, protobuf = scheduler_api.APPLICATION_JSON, scheduler_api.APPLICATION_PROTOBUF
    accepts = scheduler_api.accepts_media_type
    assert accepts(None, json_type) and accepts(None, protobuf)
    assert accepts("*/*", json_type)
    assert accepts("application/*", protobuf)
    assert accepts("text/html, application/x-protobuf;q=0.5", protobuf)
    assert not accepts("text/html, application/x-protobuf;q=0.5", json_type)
    assert not accepts("application/json;q=0, */*", json_type)
    assert accepts("application/json;q=0, */*", protobuf)
    assert not accepts("", json_type)


def test_evolve_and_recordio():
    """This test ensures that an update keeps its uuid in UPDATE only when an agent sent it
    (the master's own updates, with no `pid`, are not acknowledged), that the v0 `slave_id`
    becomes the v1 `agent_id`, and that a RecordIO record is its length, a newline, itself."""
    update = messages_pb2.StatusUpdate(timestamp=12.5, uuid=b"u" * 16)
    update.framework_id.value = "f"
    update.slave_id.value = "s"
    update.status.task_id.value = "t"
    update.status.state = mesos_pb2.TASK_RUNNING
    update.status.uuid = b"u" * 16

    from_agent = scheduler_api.evolve(messages_pb2.StatusUpdateMessage(
        update=update, pid="slave(1)@127.0.0.1:5051"))
    from_master = scheduler_api.evolve(messages_pb2.StatusUpdateMessage(update=update))

    assert from_agent.type == v1_scheduler_pb2.Event.UPDATE
    assert from_agent.update.status.uuid == b"u" * 16
    assert from_agent.update.status.agent_id.value == "s"
    assert from_agent.update.status.timestamp == 12.5
    assert not from_master.update.status.HasField("uuid")
    assert scheduler_api.recordio_encode(b"{}") == b"2\n{}"
    assert scheduler_api.recordio_encode(b"") == b"0\n"
