"""Task reconciliation (mesos-behaviour.md §2.12, `Master::reconcile`) as actor scenarios:
every row of the explicit table for partition-aware (PA) and other frameworks, implicit
reconciliation, the kill of an unknown task, and `healthy` (§2.13) as the master stores it,
answers it and shows it in `/master/state` and `/master/tasks`.

Agents in the unreachable and gone lists of the registry, and agents still to reregister
after a master failover, come from a registry that a freshly elected master recovers.
Reconciliation of an agent gone by a live MARK_AGENT_GONE is in `test_operator_api.py`.
"""

from __future__ import annotations

import uuid as uuid_module
from typing import Any

import pytest

import libprocess
from libprocess.testing import future_message, inject_exited, settle
from mesos.common.resources import Resources
from mesos.detector import StandaloneMasterContender, StandaloneMasterDetector
from mesos.master import Master, MasterFlags
from mesos.protos.master import registry_pb2
from mesos.protos.mesos import mesos_pb2
from mesos.protos.messages import messages_pb2
from mesos.registrar import Registrar, RegistrarOptions
from mesos.state import InMemoryStorage
from mesos.state import State as StateVariables

TaskStatus = mesos_pb2.TaskStatus
TEN_MINUTES = 600.0
UNREACHABLE_SINCE = 1_000_000.0

PA = pytest.mark.parametrize("partition_aware", [True, False], ids=["PA", "non-PA"])


def _expect(partition_aware: bool, pa_state: int) -> int:
    """The state a PA framework gets, or TASK_LOST for the others."""
    return pa_state if partition_aware else mesos_pb2.TASK_LOST


def _kill_call(kit, task_id, slave_id=None):
    call = kit.Call(type=kit.Call.KILL)
    call.kill.task_id.value = task_id
    if slave_id is not None:
        call.kill.slave_id.value = slave_id
    return call


def _replies(kit, scheduler, call):
    """Sends `call` and returns the status updates the scheduler got for it."""
    seen = kit.on(scheduler, lambda: len(scheduler.updates))
    libprocess.dispatch(scheduler, scheduler.call, call)
    settle()
    return kit.on(scheduler, lambda: scheduler.updates[seen:])


def _check_reply(update: Any) -> None:
    """What every reconciliation reply is: from the master, for reconciliation, no uuid
    (so the driver never acknowledges it)."""
    status = update.status
    assert status.reason == TaskStatus.REASON_RECONCILIATION
    assert status.source == TaskStatus.SOURCE_MASTER
    assert not update.HasField("uuid") and not status.HasField("uuid")


def _send_update(kit, agent, framework_id, task_id, state, *, latest_state=None,
                 healthy=None):
    """Sends a status update as an agent's status update manager does: `state` is the
    oldest unacknowledged update, `latest_state` the task's newest state; returns the uuid."""
    update_uuid = uuid_module.uuid4().bytes

    def send() -> None:
        now = libprocess.clock.now()
        update = messages_pb2.StatusUpdate(
            timestamp=now, uuid=update_uuid,
            latest_state=latest_state if latest_state is not None else state)
        update.framework_id.value = framework_id
        update.slave_id.value = agent.slave_id
        status = update.status
        status.task_id.value = task_id
        status.state = state
        status.source = TaskStatus.SOURCE_EXECUTOR
        status.uuid = update_uuid
        status.timestamp = now
        status.slave_id.value = agent.slave_id
        if healthy is not None:
            status.healthy = healthy
            status.reason = TaskStatus.REASON_TASK_HEALTH_CHECK_STATUS_UPDATED
        agent.send(agent.master, messages_pb2.StatusUpdateMessage(update=update,
                                                                  pid=str(agent.upid)))

    libprocess.dispatch(agent, send).get(kit.TIMEOUT)
    settle()
    return update_uuid


def _acknowledge(kit, scheduler, agent, task_id, update_uuid):
    libprocess.dispatch(scheduler, scheduler.call,
                        kit.acknowledge_call(agent.slave_id, task_id, update_uuid))
    settle()


def _launch(kit, master, agent, scheduler, offer, tasks):
    """Launches `tasks` ((task id, resources) pairs) on `offer`."""
    run = future_message(messages_pb2.RunTaskMessage, master, agent)
    libprocess.dispatch(scheduler, scheduler.call, kit.accept_call(
        [offer.id.value], [kit.task_info(t, agent.slave_id, r) for t, r in tasks]))
    run.get(kit.TIMEOUT)
    settle()


@pytest.fixture
def cluster(request, kit, clock, master, start_agent, start_scheduler):
    """A master, an agent and a (PA or non-PA, checkpointing) framework with a failover
    timeout of a minute, and its task `t1` launched (STAGING)."""
    partition_aware = request.param
    agent = start_agent(master)
    offers = future_message(messages_pb2.ResourceOffersMessage, master)
    scheduler = start_scheduler(master, kit.framework_info(
        checkpoint=True, partition_aware=partition_aware, failover_timeout=60.0))
    offer = offers.get(kit.TIMEOUT).offers[0]
    _launch(kit, master, agent, scheduler, offer, [("t1", "cpus:1;mem:128")])
    return master, agent, scheduler, partition_aware


# -- a master that recovered a registry ----------------------------------------------------


def _agent_info(slave_id: str) -> Any:
    info = mesos_pb2.SlaveInfo(hostname=f"{slave_id}.example.org", port=5051)
    info.id.value = slave_id
    info.resources.extend(Resources.parse("cpus:2;mem:1024;disk:1024").to_protobuf_list())
    return info


def _recovered_master(registered=(), unreachable=(), gone=()) -> Master:
    """An elected master that recovered a registry with these agents (admitted ones are
    recovered until they reregister; unreachable and gone ones since UNREACHABLE_SINCE)."""
    registry = registry_pb2.Registry()
    for slave_id in registered:
        registry.slaves.slaves.add().info.CopyFrom(_agent_info(slave_id))
    for slave_id in unreachable:
        entry = registry.unreachable.slaves.add()
        entry.id.value = slave_id
        entry.timestamp.nanoseconds = int(UNREACHABLE_SINCE * 1e9)
    for slave_id in gone:
        entry = registry.gone.slaves.add()
        entry.id.value = slave_id
        entry.timestamp.nanoseconds = int(UNREACHABLE_SINCE * 1e9)
    storage = InMemoryStorage()
    state = StateVariables(storage)
    variable = state.fetch("registry").get(10)
    assert state.store(variable.mutate(registry.SerializeToString())).get(10) is not None

    detector = StandaloneMasterDetector()
    master = Master(MasterFlags(hostname="master.example.org"),
                    registrar=Registrar(RegistrarOptions(), state),
                    contender=StandaloneMasterContender(), detector=detector)
    libprocess.spawn(master)
    libprocess.dispatch(master, lambda: None).get(10)
    detector.appoint(master.info)
    master.recovery.get(10)
    return master


def _reregister(kit, master, slave_id, tasks=(), frameworks=()):
    agent = kit.TestAgent(master.upid)
    agent.info.CopyFrom(_agent_info(slave_id))
    agent.slave_id = slave_id
    libprocess.spawn(agent)
    reregistered = future_message(messages_pb2.SlaveReregisteredMessage, master, agent)
    libprocess.dispatch(agent, agent.reregister, list(tasks), list(frameworks))
    reregistered.get(kit.TIMEOUT)
    settle()
    return agent


def _subscribe(kit, master, partition_aware):
    scheduler = kit.TestScheduler(master.upid)
    libprocess.spawn(scheduler)
    registered = future_message(messages_pb2.FrameworkRegisteredMessage, master, scheduler)
    info = kit.framework_info(checkpoint=True, partition_aware=partition_aware)
    libprocess.dispatch(scheduler, scheduler.call, kit.subscribe_call(info))
    info.id.value = registered.get(kit.TIMEOUT).framework_id.value
    settle()
    return scheduler, info


# -- explicit reconciliation ---------------------------------------------------------------


@PA
def test_explicit_reconciliation_table(kit, clock, partition_aware):
    """This test ensures that explicit reconciliation answers each row of Mesos's table:
    a known task its state; an unknown task on a registered agent TASK_GONE (PA) or
    TASK_LOST; on an unreachable agent TASK_UNREACHABLE (PA) or TASK_LOST, both with the
    agent's unreachable time; on a gone agent TASK_GONE_BY_OPERATOR (PA) or TASK_LOST; on an
    unknown agent, or with no agent named (none recovering), TASK_UNKNOWN (PA) or TASK_LOST.
    Every reply comes from the master, for reconciliation, without a uuid."""
    master = _recovered_master(registered=["a-S0"], unreachable=["a-S1"], gone=["a-S2"])
    scheduler, info = _subscribe(kit, master, partition_aware)
    framework_id = info.id.value
    _reregister(kit, master, "a-S0", [kit.agent_task(framework_id, "a-S0", "known")], [info])

    replies = _replies(kit, scheduler, kit.reconcile_call([
        ("known", None), ("ghost", "a-S0"), ("partitioned", "a-S1"), ("removed", "a-S2"),
        ("stranger", "a-S9"), ("nowhere", None)]))

    expected = [
        ("known", "a-S0", mesos_pb2.TASK_RUNNING, "Reconciliation: Latest task state"),
        ("ghost", "a-S0", _expect(partition_aware, mesos_pb2.TASK_GONE),
         "Reconciliation: Task is unknown to the agent"),
        ("partitioned", "a-S1", _expect(partition_aware, mesos_pb2.TASK_UNREACHABLE),
         "Reconciliation: Task is unreachable"),
        ("removed", "a-S2", _expect(partition_aware, mesos_pb2.TASK_GONE_BY_OPERATOR),
         "Reconciliation: Task is gone"),
        ("stranger", "a-S9", _expect(partition_aware, mesos_pb2.TASK_UNKNOWN),
         "Reconciliation: Task is unknown"),
        ("nowhere", "", _expect(partition_aware, mesos_pb2.TASK_UNKNOWN),
         "Reconciliation: Task is unknown"),
    ]
    assert [(u.status.task_id.value, u.status.slave_id.value, u.status.state,
             u.status.message) for u in replies] == expected
    for update in replies:
        _check_reply(update)
        assert update.framework_id.value == framework_id
        has_time = update.status.task_id.value == "partitioned"
        assert update.status.HasField("unreachable_time") is has_time
    assert replies[2].status.unreachable_time.nanoseconds == int(UNREACHABLE_SINCE * 1e9)
    assert master.metrics.messages_reconcile_tasks.value == 1


@PA
def test_unknown_tasks_get_no_reply_while_agents_are_recovering(kit, clock, partition_aware):
    """This test ensures that after a master failover, an unknown task whose agent has not
    reregistered yet gets no reply (nor does one named without an agent while any agent is
    still recovering, nor the kill of an unknown task); once the agent is back the reply is
    TASK_GONE (PA) or TASK_LOST, and once no agent is recovering any more (the missing one
    is unreachable) the others are answered too: the kill like reconciliation."""
    master = _recovered_master(registered=["r-S0", "r-S1"])
    scheduler, _info = _subscribe(kit, master, partition_aware)
    reconcile = kit.reconcile_call([("t1", "r-S0"), ("t2", None)])

    # 1. Both agents are recovering: silence.
    assert _replies(kit, scheduler, reconcile) == []
    assert _replies(kit, scheduler, _kill_call(kit, "t3")) == []
    assert _replies(kit, scheduler, _kill_call(kit, "t4", "r-S0")) == []

    # 2. One agent is back: its unknown task is answered, the task without an agent not.
    _reregister(kit, master, "r-S0")
    replies = _replies(kit, scheduler, reconcile)
    assert [(u.status.task_id.value, u.status.state) for u in replies] == [
        ("t1", _expect(partition_aware, mesos_pb2.TASK_GONE))]
    assert _replies(kit, scheduler, _kill_call(kit, "t3")) == []
    replies += _replies(kit, scheduler, _kill_call(kit, "t4", "r-S0"))
    assert [(u.status.task_id.value, u.status.state) for u in replies[1:]] == [
        ("t4", _expect(partition_aware, mesos_pb2.TASK_GONE))]

    # 3. The other agent missed its reregistration timeout: nobody is recovering.
    clock.advance(TEN_MINUTES)
    settle()
    assert kit.on(master, lambda: (dict(master.slaves_recovered),
                                   "r-S1" in master.slaves_unreachable)) == ({}, True)
    more = _replies(kit, scheduler, kit.reconcile_call([("t2", None), ("t5", "r-S1")]))
    more += _replies(kit, scheduler, _kill_call(kit, "t3"))
    assert [(u.status.task_id.value, u.status.state) for u in more] == [
        ("t2", _expect(partition_aware, mesos_pb2.TASK_UNKNOWN)),
        ("t5", _expect(partition_aware, mesos_pb2.TASK_UNREACHABLE)),
        ("t3", _expect(partition_aware, mesos_pb2.TASK_UNKNOWN)),
    ]
    for update in replies + more:
        _check_reply(update)
    # A kill is counted as a kill, not as a reconciliation request.
    assert master.metrics.messages_reconcile_tasks.value == 3
    assert master.metrics.messages_kill_task.value == 5


@pytest.mark.parametrize("cluster", [True, False], ids=["PA", "non-PA"], indirect=True)
def test_known_task_reports_the_status_update_state(kit, cluster):
    """This test ensures that reconciliation of a known task answers its status update
    state (the oldest unacknowledged update the agent sent), not its latest state: a task
    that finished while its TASK_RUNNING is unacknowledged is reported RUNNING (explicitly,
    with or without its agent, and implicitly), then FINISHED once that update arrives, and
    not at all (implicitly) once its terminal update is acknowledged."""
    master, agent, scheduler, _partition_aware = cluster
    framework_id = kit.on(scheduler, lambda: scheduler.framework_id)

    # 1. TASK_RUNNING is unacknowledged while the task already finished on the agent.
    running = _send_update(kit, agent, framework_id, "t1", mesos_pb2.TASK_RUNNING,
                           latest_state=mesos_pb2.TASK_FINISHED)
    task = kit.on(master, lambda: master.frameworks[framework_id].tasks["t1"])
    assert kit.on(master, lambda: (task.state, task.status_update_state)) == (
        mesos_pb2.TASK_FINISHED, mesos_pb2.TASK_RUNNING)
    replies = _replies(kit, scheduler, kit.reconcile_call([("t1", None),
                                                             ("t1", agent.slave_id)]))
    replies += _replies(kit, scheduler, kit.reconcile_call([]))
    assert [u.status.state for u in replies] == [mesos_pb2.TASK_RUNNING] * 3
    for update in replies:
        _check_reply(update)
        assert update.status.slave_id.value == agent.slave_id
        assert update.status.message == "Reconciliation: Latest task state"

    # 2. Acknowledged, the agent sends TASK_FINISHED: now that is reported.
    _acknowledge(kit, scheduler, agent, "t1", running)
    finished = _send_update(kit, agent, framework_id, "t1", mesos_pb2.TASK_FINISHED)
    replies = _replies(kit, scheduler, kit.reconcile_call([]))
    assert [u.status.state for u in replies] == [mesos_pb2.TASK_FINISHED]

    # 3. Its terminal update acknowledged, the task is forgotten: implicit reconciliation
    #    says nothing, explicit says the agent does not know it.
    _acknowledge(kit, scheduler, agent, "t1", finished)
    assert _replies(kit, scheduler, kit.reconcile_call([])) == []
    (reply,) = _replies(kit, scheduler, kit.reconcile_call([("t1", agent.slave_id)]))
    assert reply.status.state == _expect(_partition_aware, mesos_pb2.TASK_GONE)


@pytest.mark.parametrize("cluster", [True, False], ids=["PA", "non-PA"], indirect=True)
def test_update_received_while_disconnected_sets_the_reconciled_state(kit, clock, cluster):
    """This test ensures that an update the master receives while the framework is
    disconnected (so it is not forwarded) still becomes the task's status update state, as
    in `Master::updateTask`: after the scheduler reconnects, reconciliation reports it."""
    master, agent, scheduler, _partition_aware = cluster
    framework_id = kit.on(scheduler, lambda: scheduler.framework_id)
    running = _send_update(kit, agent, framework_id, "t1", mesos_pb2.TASK_RUNNING)
    _acknowledge(kit, scheduler, agent, "t1", running)

    # 1. The scheduler's link breaks (it has a failover timeout); the task fails meanwhile.
    inject_exited(scheduler, master)
    settle()
    _send_update(kit, agent, framework_id, "t1", mesos_pb2.TASK_FAILED)
    assert kit.on(scheduler, lambda: [u.status.state for u in scheduler.updates]) == [
        mesos_pb2.TASK_RUNNING]

    # 2. It reconnects and reconciles: the task failed.
    info = kit.framework_info(checkpoint=True, partition_aware=_partition_aware,
                              framework_id=framework_id, failover_timeout=60.0)
    reregistered = future_message(messages_pb2.FrameworkReregisteredMessage, master,
                                  scheduler)
    libprocess.dispatch(scheduler, scheduler.call, kit.subscribe_call(info))
    reregistered.get(kit.TIMEOUT)
    settle()
    replies = _replies(kit, scheduler, kit.reconcile_call([]))
    assert [u.status.state for u in replies] == [mesos_pb2.TASK_FAILED]
    _check_reply(replies[0])


# -- implicit reconciliation ----------------------------------------------------------------


@PA
def test_implicit_reconciliation_reports_live_and_unacknowledged_tasks(
        kit, clock, master, start_agent, partition_aware):
    """This test ensures that implicit reconciliation reports every live task with its
    state, including a terminal one whose update is unacknowledged, but not a task whose
    terminal update was acknowledged (completed) nor one on an unreachable agent, whose
    explicit reconciliation gives TASK_UNREACHABLE (PA) or TASK_LOST with the unreachable
    time."""
    first = start_agent(master)
    second = start_agent(master, hostname="second.example.org")
    scheduler = kit.TestScheduler(master.upid)
    libprocess.spawn(scheduler)
    libprocess.dispatch(scheduler, scheduler.call, kit.subscribe_call(kit.framework_info(
        checkpoint=True, partition_aware=partition_aware)))
    settle()
    framework_id = kit.on(scheduler, lambda: scheduler.framework_id)
    offers = {o.slave_id.value: o for o in kit.on(scheduler, lambda: list(scheduler.offers))}
    small = "cpus:0.5;mem:128"
    _launch(kit, master, first, scheduler, offers[first.slave_id],
            [("running", small), ("acknowledged", small), ("unacknowledged", small)])
    _launch(kit, master, second, scheduler, offers[second.slave_id], [("partitioned", small)])

    # 1. One task runs, one finished (acknowledged), one failed (unacknowledged).
    _send_update(kit, first, framework_id, "running", mesos_pb2.TASK_RUNNING)
    _acknowledge(kit, scheduler, first, "acknowledged", _send_update(
        kit, first, framework_id, "acknowledged", mesos_pb2.TASK_FINISHED))
    _send_update(kit, first, framework_id, "unacknowledged", mesos_pb2.TASK_FAILED)

    # 2. The second agent disconnects and does not come back: it becomes unreachable.
    _send_update(kit, second, framework_id, "partitioned", mesos_pb2.TASK_RUNNING)
    inject_exited(second, master)
    settle()
    clock.advance(TEN_MINUTES)
    settle()
    assert kit.on(master, lambda: second.slave_id in master.slaves_unreachable)

    replies = _replies(kit, scheduler, kit.reconcile_call([]))
    assert sorted((u.status.task_id.value, u.status.state) for u in replies) == [
        ("running", mesos_pb2.TASK_RUNNING), ("unacknowledged", mesos_pb2.TASK_FAILED)]
    for update in replies:
        _check_reply(update)

    (reply,) = _replies(kit, scheduler, kit.reconcile_call([("partitioned",
                                                               second.slave_id)]))
    assert reply.status.state == _expect(partition_aware, mesos_pb2.TASK_UNREACHABLE)
    assert reply.status.HasField("unreachable_time")
    _check_reply(reply)


# -- healthy -----------------------------------------------------------------------------------


@pytest.mark.parametrize("cluster", [False], ids=["non-PA"], indirect=True)
def test_healthy_is_stored_shown_and_reconciled(kit, cluster):
    """This test ensures that the master keeps the `healthy` of a task's latest update:
    `/master/state` and `/master/tasks` show it in the task's latest status, and both
    explicit and implicit reconciliation replies carry it (and no `healthy` before any
    health check reported)."""
    master, agent, scheduler, _ = cluster
    framework_id = kit.on(scheduler, lambda: scheduler.framework_id)

    def shown() -> tuple[Any, Any]:
        (framework,) = kit.http_json("/master/state")["frameworks"]
        (task,) = framework["tasks"]
        (listed,) = kit.http_json("/master/tasks")["tasks"]
        return task["statuses"][-1].get("healthy"), listed["statuses"][-1].get("healthy")

    def reconciled() -> list[Any]:
        replies = _replies(kit, scheduler, kit.reconcile_call([("t1", agent.slave_id)]))
        replies += _replies(kit, scheduler, kit.reconcile_call([]))
        for update in replies:
            _check_reply(update)
        return [u.status.healthy if u.status.HasField("healthy") else None for u in replies]

    # 1. Running, no health check result yet.
    _acknowledge(kit, scheduler, agent, "t1", _send_update(
        kit, agent, framework_id, "t1", mesos_pb2.TASK_RUNNING))
    assert shown() == (None, None)
    assert reconciled() == [None, None]

    # 2. Healthy.
    _acknowledge(kit, scheduler, agent, "t1", _send_update(
        kit, agent, framework_id, "t1", mesos_pb2.TASK_RUNNING, healthy=True))
    assert shown() == (True, True)
    assert reconciled() == [True, True]

    # 3. Unhealthy.
    _acknowledge(kit, scheduler, agent, "t1", _send_update(
        kit, agent, framework_id, "t1", mesos_pb2.TASK_RUNNING, healthy=False))
    assert shown() == (False, False)
    assert reconciled() == [False, False]
    task = kit.on(master, lambda: master.frameworks[framework_id].tasks["t1"])
    assert kit.on(master, lambda: [s.state for s in task.statuses]) == [mesos_pb2.TASK_RUNNING]
