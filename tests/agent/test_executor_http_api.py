"""The v1 executor HTTP API (`POST /slave(1)/api/v1/executor`, docs/executor-http-api.md;
`Slave::Http::executor` and `Slave::subscribe`), as actor scenarios: the real `Agent`
against the `FakeMaster` with a paused clock. The executor's container is a real OS process
(`exec sleep 1000`, as in the other agent scenarios), on whose behalf a small HTTP executor
in the test's thread speaks the protocol as pymesos does (`mesos.testing.v1_http.Executor`: a
raw-socket SUBSCRIBE whose chunked RecordIO stream it decodes, JSON calls answered 202, the
books of unacknowledged tasks and updates it sends again when it subscribes again).

Events on one stream keep their order, so "nothing came before X" is checked by making the
agent send a known event (a framework message from the master) and reading it next.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import signal
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import libprocess
from libprocess.clock import Clock
from libprocess.testing import (
    await_condition,
    drop_dispatch,
    expect_no_message,
    future_dispatch,
    future_message,
    settle,
)
from mesos.agent import executor_api, paths, state
from mesos.agent.agent import Agent, ExecutorState, StandaloneMasterDetector, State
from mesos.protos.mesos import mesos_pb2
from mesos.protos.mesos.v1.executor import executor_pb2 as v1_executor_pb2
from mesos.protos.messages import messages_pb2
from mesos.testing import v1_http as v1

TaskStatus = mesos_pb2.TaskStatus
Event = v1_executor_pb2.Event


def _path(agent: Agent) -> str:
    return f"/{agent.upid.id}/api/v1/executor"


@pytest.fixture
def http_executor() -> Iterator[Callable[..., Any]]:
    """`http_executor(agent, framework_id, executor_id)`: a pymesos-like HTTP executor of
    this OS process's HTTP server, calling `agent`'s endpoint; all are closed at the end."""
    made: list[Any] = []

    def make(agent: Agent, framework_id: str, executor_id: str = "e1") -> Any:
        client = v1.Executor(libprocess.http_address(), framework_id, executor_id,
                             _path(agent))
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


def _executor(agent: Agent, kit: SimpleNamespace, executor_id: str = "e1",
              framework_id: str | None = None) -> Any:
    return kit.read_agent(agent, lambda: kit.agent_executor(
        agent, framework_id or kit.FRAMEWORK_ID, executor_id))


def _run(master: Any, agent: Agent, kit: SimpleNamespace, task_id: str = "t1",
         executor_id: str = "e1", framework: Any = None) -> None:
    """The master runs a custom-executor task; the agent launches (or reuses) its
    executor's container."""
    framework = framework if framework is not None else kit.framework_info()
    task = kit.executor_task(task_id, executor_id, framework_id=framework.id.value)
    master.post(agent.upid, kit.run_task_message(task, framework))
    settle()


def _subscribed(executor: Any) -> dict[str, Any]:
    """Subscribes; checks the answer is a JSON stream whose first event is SUBSCRIBED."""
    subscription = executor.subscribe()
    assert subscription.status == 200, subscription.body
    assert subscription.chunked
    assert subscription.headers["content-type"] == "application/json"
    assert subscription.first["type"] == "SUBSCRIBED", subscription.first
    return subscription.first["subscribed"]  # type: ignore[no-any-return]


def _launched(master: Any, agent: Agent, kit: SimpleNamespace, http_executor: Any) -> Any:
    """A subscribed HTTP executor e1 (of `kit.FRAMEWORK_ID`) that has been given task t1
    (LAUNCH read, not updated yet)."""
    _run(master, agent, kit)
    executor = http_executor(agent, kit.FRAMEWORK_ID)
    _subscribed(executor)
    executor.next("LAUNCH", skip=())
    return executor


def _acknowledged(master: Any, agent: Agent, executor: Any, task_id: str, state: str,
                  kit: SimpleNamespace, master_acks: bool = True) -> Any:
    """The executor's UPDATE: 202, ACKNOWLEDGED on its stream once recorded, forwarded to
    the master (who acknowledges it unless told not to). Returns the forwarded update."""
    forwarded = future_message(messages_pb2.StatusUpdateMessage, from_=agent, to=master)
    code, sent = executor.update(task_id, state)
    assert code == 202
    acknowledged = executor.next("ACKNOWLEDGED")["acknowledged"]
    assert acknowledged == {"task_id": {"value": task_id}, "uuid": sent}
    update = forwarded.get(kit.TIMEOUT).update
    assert update.uuid == base64.b64decode(sent)
    if master_acks:
        master.acknowledge(agent, update)
        settle()
    return update


def _framework_message(master: Any, agent: Agent, data: bytes, kit: SimpleNamespace,
                       framework_id: str | None = None) -> None:
    message = messages_pb2.FrameworkToExecutorMessage(data=data)
    message.slave_id.value = kit.SLAVE_ID
    message.framework_id.value = framework_id or kit.FRAMEWORK_ID
    message.executor_id.value = "e1"
    master.post(agent.upid, message)


def _next_is_marker(master: Any, agent: Agent, executor: Any, kit: SimpleNamespace,
                    framework_id: str | None = None) -> None:
    """Nothing came on the stream before a framework message sent now (not even a
    HEARTBEAT)."""
    _framework_message(master, agent, b"marker", kit, framework_id)
    event = executor.event()
    assert event == {"type": "MESSAGE", "message": {"data": v1.encode(b"marker")}}, event


# -- subscription, tasks and acknowledgements --------------------------------------------------


def test_http_executor_subscribes_runs_its_task_and_is_acknowledged(
        clock: Clock, master: Any, tmp_path: Path, kit: SimpleNamespace,
        http_executor: Any) -> None:
    """This test ensures that an HTTP executor's SUBSCRIBE is answered 200 with a chunked
    RecordIO stream (no `Mesos-Stream-Id`) whose first event is SUBSCRIBED (executor,
    framework and agent infos, container id), then LAUNCH of its queued task; that its
    UPDATEs are answered 202, acknowledged with ACKNOWLEDGED {task_id, uuid} once the status
    update manager recorded them, and forwarded to the master as the executor's; and that
    the master's acknowledgement of TASK_FINISHED completes the task."""
    agent = kit.start_agent(clock, master, str(tmp_path))
    _run(master, agent, kit)
    executor = http_executor(agent, kit.FRAMEWORK_ID)

    # 1. SUBSCRIBED, then the task.
    subscribed = _subscribed(executor)
    assert "mesos-stream-id" not in executor.subscription.headers
    container_id = _executor(agent, kit).container_id
    assert subscribed["executor_info"]["executor_id"] == {"value": "e1"}
    assert subscribed["framework_info"]["id"] == {"value": kit.FRAMEWORK_ID}
    assert subscribed["agent_info"]["id"] == {"value": kit.SLAVE_ID}
    assert subscribed["agent_info"]["hostname"] == "localhost"
    assert subscribed["container_id"] == {"value": container_id}
    task = executor.next("LAUNCH", skip=())["launch"]["task"]
    assert (task["task_id"], task["agent_id"]) == ({"value": "t1"}, {"value": kit.SLAVE_ID})
    assert list(executor.tasks) == ["t1"]
    books = kit.read_agent(agent, lambda: (
        (e := kit.agent_executor(agent, kit.FRAMEWORK_ID, "e1")).state, e.pid,
        e.http is not None, list(e.launched_tasks)))
    assert books == (ExecutorState.RUNNING, None, True, ["t1"])

    # 2. TASK_RUNNING: recorded, acknowledged on the stream, forwarded as the executor's.
    update = _acknowledged(master, agent, executor, "t1", "TASK_RUNNING", kit)
    assert update.status.state == mesos_pb2.TASK_RUNNING
    assert update.status.source == TaskStatus.SOURCE_EXECUTOR
    assert update.slave_id.value == kit.SLAVE_ID
    assert update.status.slave_id.value == kit.SLAVE_ID
    assert executor.tasks == {} and executor.updates == {}
    assert kit.read_agent(agent, lambda: agent._count_tasks(mesos_pb2.TASK_RUNNING)) == 1

    # 3. TASK_FINISHED, acknowledged by the master: the task is complete.
    _acknowledged(master, agent, executor, "t1", "TASK_FINISHED", kit)
    completed = kit.read_agent(agent, lambda: [
        t.task_id.value for t in kit.agent_executor(agent, kit.FRAMEWORK_ID, "e1")
        .completed_tasks])
    assert completed == ["t1"]
    assert kit.read_agent(agent, lambda: agent.metrics.valid_status_updates.value) == 2
    # A framework that does not checkpoint gets no HTTP marker.
    assert not (tmp_path / "meta" / "slaves" / kit.SLAVE_ID / "frameworks").exists()


def test_framework_messages_both_ways_and_heartbeats(clock: Clock, master: Any,
                                                    tmp_path: Path, kit: SimpleNamespace,
                                                    http_executor: Any) -> None:
    """This test ensures that a scheduler's framework message reaches the HTTP executor as
    MESSAGE, that the executor's MESSAGE call (202) reaches the framework (through the
    master, for a framework without a pid), and that HEARTBEAT comes on the stream every 30
    minutes of clock time (Mesos's `DEFAULT_EXECUTOR_HEARTBEAT_INTERVAL`), the first one
    only after that long."""
    # Re-registering takes no clock time: the agent, which hears no ping while the clock
    # jumps, is back with its master as soon as it notices.
    agent = kit.start_agent(clock, master, str(tmp_path), registration_backoff_factor=0.0)
    executor = _launched(master, agent, kit, http_executor)

    # 1. Scheduler to executor.
    _framework_message(master, agent, b"hello executor", kit)
    assert executor.next("MESSAGE", skip=())["message"] == {
        "data": v1.encode(b"hello executor")}

    # 2. Executor to scheduler.
    relayed = future_message(messages_pb2.ExecutorToFrameworkMessage, from_=agent, to=master)
    assert executor.message(b"hello framework")[0] == 202
    message = relayed.get(kit.TIMEOUT)
    assert (message.data, message.executor_id.value, message.slave_id.value,
            message.framework_id.value) == (b"hello framework", "e1", kit.SLAVE_ID,
                                            kit.FRAMEWORK_ID)
    assert kit.read_agent(agent, lambda: agent.metrics.valid_framework_messages.value) == 2

    # 3. No heartbeat before 30 minutes; one at 30 minutes, and again 30 minutes later.
    clock.advance(executor_api.EXECUTOR_HEARTBEAT_INTERVAL - 1)
    settle()
    _next_is_marker(master, agent, executor, kit)
    clock.advance(1)
    settle()
    assert executor.event() == {"type": "HEARTBEAT"}
    clock.advance(executor_api.EXECUTOR_HEARTBEAT_INTERVAL)
    settle()
    assert executor.event() == {"type": "HEARTBEAT"}
    _next_is_marker(master, agent, executor, kit)


def test_kill_and_shutdown_events(clock: Clock, master: Any, tmp_path: Path,
                                  kit: SimpleNamespace, http_executor: Any) -> None:
    """This test ensures that the master's kill of a task reaches the HTTP executor as KILL
    (with the kill policy), its ShutdownExecutorMessage as SHUTDOWN, that an executor
    subscribing while it is being shut down is answered SHUTDOWN and the end of its stream,
    and that once the grace period is over its container is destroyed, its stream ends
    and the master hears the executor exited."""
    agent = kit.start_agent(clock, master, str(tmp_path))
    executor = _launched(master, agent, kit, http_executor)
    _acknowledged(master, agent, executor, "t1", "TASK_RUNNING", kit)

    # 1. KILL, answered by the executor with TASK_KILLED.
    kill = messages_pb2.KillTaskMessage()
    kill.framework_id.value = kit.FRAMEWORK_ID
    kill.task_id.value = "t1"
    kill.kill_policy.grace_period.nanoseconds = 2_000_000_000
    master.post(agent.upid, kill)
    assert executor.next("KILL", skip=())["kill"] == {
        "task_id": {"value": "t1"},
        "kill_policy": {"grace_period": {"nanoseconds": 2_000_000_000}}}
    killed = _acknowledged(master, agent, executor, "t1", "TASK_KILLED", kit)
    assert killed.status.state == mesos_pb2.TASK_KILLED

    # 2. SHUTDOWN.
    shutdown = messages_pb2.ShutdownExecutorMessage()
    shutdown.framework_id.value = kit.FRAMEWORK_ID
    shutdown.executor_id.value = "e1"
    master.post(agent.upid, shutdown)
    assert executor.next("SHUTDOWN", skip=()) == {"type": "SHUTDOWN"}
    assert _executor(agent, kit).state is ExecutorState.TERMINATING
    first = executor.subscription

    # 3. Subscribing now: SHUTDOWN, and the stream ends.
    again = executor.subscribe()
    assert again.status == 200
    assert again.first == {"type": "SHUTDOWN"}
    assert again.remaining() == []

    # 4. After the grace period the container is destroyed: the first stream ends too.
    exited = future_message(messages_pb2.ExitedExecutorMessage, from_=agent, to=master)
    clock.advance(5.0)
    assert exited.get(kit.TIMEOUT).executor_id.value == "e1"
    assert first.remaining() == []
    assert _executor(agent, kit) is None


def test_executor_without_tasks_is_shut_down_when_it_subscribes(
        clock: Clock, master: Any, tmp_path: Path, kit: SimpleNamespace,
        http_executor: Any) -> None:
    """This test ensures that an HTTP executor whose only task was killed before it
    subscribed is told SHUTDOWN instead of SUBSCRIBED (MESOS-8411), as a PID executor is
    told to shut down when it registers."""
    agent = kit.start_agent(clock, master, str(tmp_path))
    _run(master, agent, kit)
    killed = future_message(messages_pb2.StatusUpdateMessage, from_=agent, to=master)
    kill = messages_pb2.KillTaskMessage()
    kill.framework_id.value = kit.FRAMEWORK_ID
    kill.task_id.value = "t1"
    master.post(agent.upid, kill)
    assert killed.get(kit.TIMEOUT).update.status.state == mesos_pb2.TASK_KILLED

    executor = http_executor(agent, kit.FRAMEWORK_ID)
    subscription = executor.subscribe()
    assert subscription.status == 200
    assert subscription.first == {"type": "SHUTDOWN"}
    assert _executor(agent, kit).state is ExecutorState.TERMINATING


def test_protobuf_calls_and_events(clock: Clock, master: Any, tmp_path: Path,
                                   kit: SimpleNamespace, http_executor: Any) -> None:
    """This test ensures that an executor may speak protobuf: a protobuf SUBSCRIBE asking
    `Accept: application/x-protobuf` gets a protobuf RecordIO stream, and a protobuf UPDATE
    is handled as the JSON one (202, ACKNOWLEDGED)."""
    agent = kit.start_agent(clock, master, str(tmp_path))
    _run(master, agent, kit)
    executor = http_executor(agent, kit.FRAMEWORK_ID)
    call = v1_executor_pb2.Call(type=v1_executor_pb2.Call.SUBSCRIBE)
    call.framework_id.value = kit.FRAMEWORK_ID
    call.executor_id.value = "e1"
    call.subscribe.SetInParent()
    subscription = v1.Subscription(executor.address, call.SerializeToString(),
                                   path=executor.path, content_type="application/x-protobuf",
                                   accept="application/x-protobuf")
    try:
        assert subscription.status == 200
        assert subscription.headers["content-type"] == "application/x-protobuf"
        subscribed = Event.FromString(subscription.record())
        assert subscribed.type == Event.SUBSCRIBED
        assert subscribed.subscribed.agent_info.id.value == kit.SLAVE_ID
        launch = Event.FromString(subscription.record())
        assert (launch.type, launch.launch.task.task_id.value) == (Event.LAUNCH, "t1")

        update = v1_executor_pb2.Call(type=v1_executor_pb2.Call.UPDATE)
        update.framework_id.value = kit.FRAMEWORK_ID
        update.executor_id.value = "e1"
        status = update.update.status
        status.task_id.value = "t1"
        status.state = mesos_pb2.TASK_RUNNING
        status.source = TaskStatus.SOURCE_EXECUTOR
        status.uuid = uuid.uuid4().bytes
        assert executor.post(update.SerializeToString(),
                             content_type="application/x-protobuf")[0] == 202
        acknowledged = Event.FromString(subscription.record())
        assert acknowledged.type == Event.ACKNOWLEDGED
        assert (acknowledged.acknowledged.task_id.value,
                acknowledged.acknowledged.uuid) == ("t1", status.uuid)
    finally:
        subscription.close()


# -- a broken stream ---------------------------------------------------------------------------


def test_closed_stream_is_a_broken_link_and_the_exit_fails_the_tasks(
        clock: Clock, master: Any, tmp_path: Path, kit: SimpleNamespace,
        http_executor: Any) -> None:
    """This test ensures that an HTTP executor closing its stream is what a PID executor's
    broken link is to Mesos's agent: the executor stays RUNNING with its tasks and may
    subscribe again (getting SUBSCRIBED, and no task twice), and only the end of its
    process fails its live tasks (TASK_FAILED, REASON_EXECUTOR_TERMINATED) and tells the
    master the executor exited."""
    agent = kit.start_agent(clock, master, str(tmp_path))
    executor = _launched(master, agent, kit, http_executor)
    _acknowledged(master, agent, executor, "t1", "TASK_RUNNING", kit)
    forwarded = len(master.messages(messages_pb2.StatusUpdateMessage))

    # 1. The executor goes away from its stream: the agent notices, and nothing else.
    noticed = future_dispatch(agent, "_executor_stream_closed")
    executor.close()
    noticed.get(kit.TIMEOUT)
    settle()
    books = kit.read_agent(agent, lambda: (
        (e := kit.agent_executor(agent, kit.FRAMEWORK_ID, "e1")).state,
        [(t.task_id.value, t.state) for t in e.launched_tasks.values()]))
    assert books == (ExecutorState.RUNNING, [("t1", mesos_pb2.TASK_RUNNING)])
    assert len(master.messages(messages_pb2.StatusUpdateMessage)) == forwarded
    assert not master.messages(messages_pb2.ExitedExecutorMessage)

    # 2. It subscribes again: SUBSCRIBED, no LAUNCH of its task again.
    _subscribed(executor)
    _next_is_marker(master, agent, executor, kit)

    # 3. Its process ends: its task fails, the master hears it, and the stream ends.
    failed = future_message(messages_pb2.StatusUpdateMessage, from_=agent, to=master)
    exited = future_message(messages_pb2.ExitedExecutorMessage, from_=agent, to=master)
    os.kill(kit.container_pid(agent), signal.SIGKILL)
    status = failed.get(kit.TIMEOUT).update.status
    assert (status.task_id.value, status.state, status.reason, status.source) == (
        "t1", mesos_pb2.TASK_FAILED, TaskStatus.REASON_EXECUTOR_TERMINATED,
        TaskStatus.SOURCE_SLAVE)
    assert exited.get(kit.TIMEOUT).executor_id.value == "e1"
    assert executor.remaining() == []


def test_new_subscription_replaces_the_old_stream(clock: Clock, master: Any, tmp_path: Path,
                                                  kit: SimpleNamespace,
                                                  http_executor: Any) -> None:
    """This test ensures that a second SUBSCRIBE of a subscribed executor (a retry) closes
    its earlier stream, and that events go to the new one only."""
    agent = kit.start_agent(clock, master, str(tmp_path))
    old = _launched(master, agent, kit, http_executor)

    new = http_executor(agent, kit.FRAMEWORK_ID)
    new.tasks = dict(old.tasks)
    _subscribed(new)
    assert old.remaining() == []
    _next_is_marker(master, agent, new, kit)


# -- agent restart -----------------------------------------------------------------------------


def _restart(master: Any, agent: Agent, tmp_path: Path, kit: SimpleNamespace,
             **overrides: Any) -> Agent:
    """Ends `agent` as a restart would and spawns a new one on the same work directory."""
    libprocess.terminate(agent)
    assert libprocess.wait(agent, kit.TIMEOUT)
    flags = kit.make_flags(str(tmp_path), str(master.upid), **overrides)
    agent = Agent(flags, StandaloneMasterDetector(master.upid))
    libprocess.spawn(agent)
    await_condition(lambda: kit.read_agent(agent, lambda: agent.recovery_reconnect),
                    kit.TIMEOUT, message="the agent to recover its containers")
    return agent


def test_checkpointed_http_executor_resubscribes_after_agent_restart(
        clock: Clock, master: Any, tmp_path: Path, kit: SimpleNamespace,
        http_executor: Any, leftovers: Any) -> None:
    """This test ensures that a checkpointing framework's HTTP executor gets an
    `http.marker` (and no `libprocess.pid`), that a restarted agent sends it no
    ReconnectExecutorMessage but waits for it to subscribe again (other calls are 503
    meanwhile), and that its SUBSCRIBE during recovery is a reregistration: the
    unacknowledged update it carries is recorded, acknowledged and forwarded; the STAGING
    task it carries stays; the STAGING task it never got is TASK_LOST
    (REASON_SLAVE_RESTARTED); and recovery ends, so the agent reregisters with the master
    with the executor's tasks."""
    framework = kit.checkpointing_framework()
    agent = kit.start_agent(clock, master, str(tmp_path))
    _run(master, agent, kit, "t1", framework=framework)
    executor = http_executor(agent, kit.FRAMEWORK_ID)
    _subscribed(executor)
    executor.next("LAUNCH", skip=())

    # 1. The marker, not a pid.
    meta = paths.get_meta_root_dir(str(tmp_path))
    container_id = _executor(agent, kit).container_id
    marker = paths.get_executor_http_marker_path(meta, kit.SLAVE_ID, kit.FRAMEWORK_ID, "e1",
                                                 container_id)
    assert os.path.exists(marker)
    assert not os.path.exists(paths.get_libprocess_pid_path(
        meta, kit.SLAVE_ID, kit.FRAMEWORK_ID, "e1", container_id))
    pid = kit.container_pid(agent)

    # 2. t1 runs; t2 and t3 are sent, and the executor will say it never got t2.
    _acknowledged(master, agent, executor, "t1", "TASK_RUNNING", kit)
    _run(master, agent, kit, "t2", framework=framework)
    _run(master, agent, kit, "t3", framework=framework)
    assert executor.next("LAUNCH", skip=())["launch"]["task"]["task_id"]["value"] == "t2"
    assert executor.next("LAUNCH", skip=())["launch"]["task"]["task_id"]["value"] == "t3"
    del executor.tasks["t2"]

    # 3. t1 finishes, but the agent never records that update before it goes.
    blocked = drop_dispatch(agent.status_update_manager.process, "update")
    code, finished = executor.update("t1", "TASK_FINISHED")
    assert code == 202
    blocked.get(kit.TIMEOUT)
    expect_no_message(messages_pb2.ReconnectExecutorMessage)
    agent = _restart(master, agent, tmp_path, kit)
    assert executor.remaining() == []
    assert executor.updates.keys() == {finished} and executor.tasks.keys() == {"t3"}
    books = kit.read_agent(agent, lambda: (
        agent.state, (e := kit.agent_executor(agent, kit.FRAMEWORK_ID, "e1")).state, e.pid,
        e.http_marker))
    assert books == (State.RECOVERING, ExecutorState.REGISTERING, None, True)

    # 4. Only SUBSCRIBE is served while the agent waits for its executors.
    executor.path = _path(agent)
    assert executor.post({"type": "MESSAGE", **executor.ids(),
                          "message": {"data": v1.encode(b"early")}}) == (
        503, "Agent has not finished recovery")

    # 5. It subscribes again with what it has no acknowledgement for.
    reregister = future_message(messages_pb2.ReregisterSlaveMessage, from_=agent, to=master)
    subscribed = _subscribed(executor)
    assert subscribed["container_id"] == {"value": container_id}
    assert executor.next("ACKNOWLEDGED", skip=())["acknowledged"] == {
        "task_id": {"value": "t1"}, "uuid": finished}
    assert executor.updates == {}

    # 6. Recovery is over: the agent reregisters with the executor's tasks, then forwards
    #    the update the executor kept and t2's loss.
    settle()
    clock.advance(kit.make_flags(str(tmp_path)).registration_backoff_factor)
    message = reregister.get(kit.TIMEOUT)
    assert sorted((t.task_id.value, t.state) for t in message.tasks) == [
        ("t1", mesos_pb2.TASK_FINISHED), ("t2", mesos_pb2.TASK_LOST),
        ("t3", mesos_pb2.TASK_STAGING)]
    settle()

    def forwarded() -> dict[str, Any]:
        return {m.update.status.task_id.value: m.update for m in
                master.messages(messages_pb2.StatusUpdateMessage)
                if m.update.status.task_id.value in ("t1", "t2")
                and m.update.status.state != mesos_pb2.TASK_RUNNING}

    updates = await_condition(lambda: len(forwarded()) == 2 and forwarded(), kit.TIMEOUT,
                              message="the kept update and the loss to be forwarded")
    assert updates["t1"].uuid == base64.b64decode(finished)
    assert updates["t1"].status.state == mesos_pb2.TASK_FINISHED
    assert (updates["t2"].status.state, updates["t2"].status.reason) == (
        mesos_pb2.TASK_LOST, TaskStatus.REASON_SLAVE_RESTARTED)
    assert kit.read_agent(agent, lambda: agent.state) is State.RUNNING
    assert kit.read_agent(agent, lambda: kit.agent_executor(
        agent, kit.FRAMEWORK_ID, "e1").state) is ExecutorState.RUNNING
    assert kit.alive(pid)  # The executor's process outlived the agent.


def test_http_executor_not_resubscribing_is_destroyed(clock: Clock, master: Any,
                                                      tmp_path: Path, kit: SimpleNamespace,
                                                      http_executor: Any,
                                                      leftovers: Any) -> None:
    """This test ensures that a restarted agent destroys a recovered HTTP executor that
    does not subscribe again within `--executor_reregistration_timeout`, its task ending
    TASK_LOST (REASON_EXECUTOR_REREGISTRATION_TIMEOUT), as it does a PID executor that
    does not reregister."""
    agent = kit.start_agent(clock, master, str(tmp_path))
    _run(master, agent, kit, framework=kit.checkpointing_framework())
    executor = http_executor(agent, kit.FRAMEWORK_ID)
    _subscribed(executor)
    executor.next("LAUNCH", skip=())
    _acknowledged(master, agent, executor, "t1", "TASK_RUNNING", kit)
    pid = kit.container_pid(agent)

    agent = _restart(master, agent, tmp_path, kit)
    lost = future_message(messages_pb2.StatusUpdateMessage, from_=agent, to=master)
    clock.advance(kit.make_flags(str(tmp_path)).executor_reregistration_timeout)
    settle()
    clock.advance(kit.make_flags(str(tmp_path)).registration_backoff_factor)
    status = lost.get(kit.TIMEOUT).update.status
    assert (status.state, status.reason) == (mesos_pb2.TASK_LOST,
                                             TaskStatus.REASON_EXECUTOR_REREGISTRATION_TIMEOUT)
    await_condition(lambda: not kit.alive(pid), kit.TIMEOUT, message="the executor to be killed")


# -- bad input ---------------------------------------------------------------------------------


def test_bad_requests_are_refused_as_mesos_does(clock: Clock, master: Any, tmp_path: Path,
                                                kit: SimpleNamespace,
                                                http_executor: Any) -> None:
    """This test ensures that the endpoint answers what `Slave::Http::executor` answers:
    405 for another method, 400 without a Content-Type, 415 for another media type, 400
    for a body that does not parse or a call that does not validate (an UPDATE without a
    16-byte uuid, of another executor, not from the executor, or TASK_STAGING), 406 when
    SUBSCRIBE's `Accept` allows neither encoding, 400 for an unknown framework or executor,
    403 for a call of an executor that has not subscribed, 202 for HEARTBEAT whatever its
    ids, and 501 for an UNKNOWN call; that nothing of it reaches the master or the
    executor; and that the agent keeps serving."""
    agent = kit.start_agent(clock, master, str(tmp_path))
    _run(master, agent, kit)
    executor = http_executor(agent, kit.FRAMEWORK_ID)
    ids = executor.ids()
    expect_no_message(messages_pb2.StatusUpdateMessage, from_=agent, to=master)
    expect_no_message(messages_pb2.ExecutorToFrameworkMessage, from_=agent, to=master)

    def update(without: str = "", **status: Any) -> dict[str, Any]:
        fields = {"task_id": {"value": "t1"}, "state": "TASK_RUNNING",
                  "source": "SOURCE_EXECUTOR", "uuid": v1.encode(uuid.uuid4().bytes),
                  **status}
        fields.pop(without, None)
        return {"type": "UPDATE", **ids, "update": {"status": fields}}

    message = {"type": "MESSAGE", **ids, "message": {"data": v1.encode(b"x")}}
    subscribe = {"type": "SUBSCRIBE", **ids, "subscribe": {}}
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"body": message, "method": "GET"}, 405,
         "Expecting one of { 'POST' }, but received 'GET'"),
        ({"body": message, "content_type": "text/plain"}, 415,
         "Expecting 'Content-Type' of application/json or application/x-protobuf"),
        ({"body": b"{not json"}, 400, "Failed to parse body into JSON"),
        ({"body": {"type": "MESSAGE", "message": {"data": ""}}}, 400,
         "Failed to convert JSON into Call protobuf: Missing required fields"),
        # An unknown enum value leaves the field unset, as stout's JSON parsing does.
        ({"body": {**message, "type": "NO_SUCH_CALL"}}, 400,
         "Failed to validate Executor::Call: Expecting 'type' to be present"),
        ({"body": b"\xff\xff\xff", "content_type": "application/x-protobuf"}, 400,
         "Failed to parse body into Call protobuf"),
        ({"body": b"", "content_type": "application/x-protobuf"}, 400,
         "Failed to parse body into Call protobuf"),
        ({"body": {**ids}}, 400,
         "Failed to validate Executor::Call: Expecting 'type' to be present"),
        ({"body": {"type": "SUBSCRIBE", **ids}}, 400,
         "Failed to validate Executor::Call: Expecting 'subscribe' to be present"),
        ({"body": {"type": "UPDATE", **ids}}, 400,
         "Failed to validate Executor::Call: Expecting 'update' to be present"),
        ({"body": {"type": "MESSAGE", **ids}}, 400,
         "Failed to validate Executor::Call: Expecting 'message' to be present"),
        ({"body": update(without="uuid")}, 400,
         "Failed to validate Executor::Call: Expecting 'uuid' to be present"),
        ({"body": update(uuid=v1.encode(b"short"))}, 400,
         "Failed to validate Executor::Call: Invalid UUID"),
        ({"body": update(executor_id={"value": "other"})}, 400,
         "Failed to validate Executor::Call: ExecutorID in Call: e1 does not match"),
        ({"body": update(source="SOURCE_SLAVE")}, 400,
         "Failed to validate Executor::Call: Received Call from executor e1 of framework"
         f" {kit.FRAMEWORK_ID} with invalid source, expecting 'SOURCE_EXECUTOR'"),
        ({"body": update(state="TASK_STAGING")}, 400,
         "Failed to validate Executor::Call: Received TASK_STAGING from executor e1"),
        ({"body": subscribe, "headers": {"Accept": "text/html"}}, 406,
         "Expecting 'Accept' to allow 'application/x-protobuf' or 'application/json'"),
        ({"body": {**message, "framework_id": {"value": "unknown"}}}, 400,
         "Framework cannot be found"),
        ({"body": {**message, "executor_id": {"value": "unknown"}}}, 400,
         "Executor cannot be found"),
        ({"body": message}, 403, "Executor is not subscribed"),
        ({"body": update()}, 403, "Executor is not subscribed"),
        ({"body": {"type": "HEARTBEAT", "framework_id": {"value": "dummy"},
                   "executor_id": {"value": "dummy"}}}, 202, ""),
    ]
    for request, expected_status, expected_text in cases:
        status, text = executor.post(**request)
        assert (status, text[:len(expected_text)]) == (expected_status, expected_text), \
            (request, text)

    # A request without any Content-Type.
    conn = http.client.HTTPConnection(*executor.address, timeout=kit.TIMEOUT)
    conn.request("POST", executor.path, body=json.dumps(message).encode())
    response = conn.getresponse()
    assert (response.status, response.read()) == (
        400, b"Expecting 'Content-Type' to be present\n")
    conn.close()

    # The agent still serves: the executor subscribes, then an UNKNOWN call is 501.
    _subscribed(executor)
    executor.next("LAUNCH", skip=())
    assert executor.post({"type": "UNKNOWN", **ids})[0] == 501
    assert kit.http_get(f"/{agent.upid.id}/health")[0] == 200
    settle()
    assert kit.read_agent(agent, lambda: (agent.metrics.valid_status_updates.value,
                                          agent.metrics.invalid_status_updates.value)) == (0, 0)
    _next_is_marker(master, agent, executor, kit)


# -- the pure parts ----------------------------------------------------------------------------


def test_evolve_executor_messages() -> None:
    """This test ensures that what the agent sends a PID executor becomes the v1 event
    Mesos's `evolve` makes of it (the v0 `slave_*` fields read as the v1 `agent_*` ones),
    and that a message with no executor event is refused."""
    registered = messages_pb2.ExecutorRegisteredMessage()
    registered.executor_info.executor_id.value = "e1"
    registered.framework_info.name = "f"
    registered.slave_info.hostname = "h"
    registered.slave_info.id.value = "S0"
    subscribed = executor_api.subscribed_event(registered, "c1")
    assert subscribed.type == Event.SUBSCRIBED
    assert (subscribed.subscribed.executor_info.executor_id.value,
            subscribed.subscribed.framework_info.name, subscribed.subscribed.agent_info.id.value,
            subscribed.subscribed.container_id.value) == ("e1", "f", "S0", "c1")

    run = messages_pb2.RunTaskMessage()
    run.task.task_id.value = "t"
    run.task.slave_id.value = "S0"
    launch = executor_api.evolve(run)
    assert (launch.type, launch.launch.task.agent_id.value) == (Event.LAUNCH, "S0")

    ack = messages_pb2.StatusUpdateAcknowledgementMessage(uuid=b"u" * 16)
    ack.task_id.value = "t"
    acknowledged = executor_api.evolve(ack)
    assert (acknowledged.type, acknowledged.acknowledged.uuid) == (Event.ACKNOWLEDGED,
                                                                   b"u" * 16)
    assert executor_api.evolve(messages_pb2.ShutdownExecutorMessage()).type == Event.SHUTDOWN
    assert executor_api.evolve(messages_pb2.FrameworkToExecutorMessage(
        data=b"d")).message.data == b"d"
    with pytest.raises(TypeError):
        executor_api.evolve(messages_pb2.PingSlaveMessage())


def test_http_marker_recovery(tmp_path: Path) -> None:
    """This test ensures that a run's `http.marker` is read back as an HTTP executor
    (`RunState.http`, as Mesos's), a `libprocess.pid` as a PID executor, neither as an
    executor that never registered, and that a marker without the forked pid written
    before it (a run half deleted) is an error naming the marker."""
    meta = str(tmp_path / "meta")
    sid, fid, eid = "S0", "F0", "E0"
    info = mesos_pb2.SlaveInfo(hostname="h", checkpoint=True)
    info.id.value = sid
    state.checkpoint_slave_info(meta, info)
    framework = mesos_pb2.FrameworkInfo(user="u", name="f", checkpoint=True)
    framework.id.value = fid
    state.checkpoint_framework(meta, sid, framework, None)
    executor = mesos_pb2.ExecutorInfo()
    executor.executor_id.value = eid
    runs = {"http": "c-http", "pid": "c-pid", "none": "c-none"}
    for container_id in runs.values():
        state.checkpoint_executor(meta, sid, fid, executor, container_id)
        forked = paths.get_forked_pid_path(meta, sid, fid, eid, container_id)
        os.makedirs(os.path.dirname(forked), exist_ok=True)
        with open(forked, "w") as f:
            f.write("4242")
    state.checkpoint_http_marker(meta, sid, fid, eid, runs["http"])
    state.checkpoint_libprocess_pid(meta, sid, fid, eid, runs["pid"],
                                    libprocess.UPID("executor(1)@127.0.0.1:5000"))

    recovered = state.recover(meta, strict=True).slave
    assert recovered is not None
    found = recovered.frameworks[fid].executors[eid].runs
    assert (found[runs["http"]].http, found[runs["http"]].libprocess_pid) == (True, None)
    assert found[runs["pid"]].http is False
    assert found[runs["none"]].http is None

    os.unlink(paths.get_forked_pid_path(meta, sid, fid, eid, runs["http"]))
    with pytest.raises(state.RecoveryError, match=r"http\.marker"):
        state.recover(meta, strict=True)
