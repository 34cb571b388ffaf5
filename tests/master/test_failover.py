"""Master high availability as actor scenarios (src/tests/master_tests.cpp and
fault_tolerance_tests.cpp in spirit): election through a standalone contender and detector
(`appoint` stages who leads), registry recovery, agents and frameworks coming back to a new
leader, the re-registration timeout, and the master's suicide when it may no longer lead.

A failover in one OS process: the first master is terminated and a second one (the process
`master` again, so at the same UPID) starts on the same registry storage, as Mesos's tests
restart their master on the same replicated log.
"""

from __future__ import annotations

import json
import types
from collections.abc import Callable, Iterable
from typing import Any

import pytest

import libprocess
from libprocess import Future
from libprocess.testing import (
    await_condition,
    expect_no_message,
    future_dispatch,
    future_exit,
    future_message,
    settle,
)
from mesos.agent.agent import Agent, State
from mesos.agent.flags import AgentFlags
from mesos.common.resources import Resources
from mesos.detector import StandaloneMasterContender, StandaloneMasterDetector
from mesos.master import Master, MasterFlags
from mesos.protos.master import registry_pb2
from mesos.protos.mesos import mesos_pb2
from mesos.protos.messages import messages_pb2
from mesos.registrar import Registrar, RegistrarOptions
from mesos.sched.detector import master_info_from_pid
from mesos.state import InMemoryStorage
from mesos.state import State as StateVariables

TEN_MINUTES = 600.0


class FailingStorage(InMemoryStorage):
    """An in-memory storage whose writes fail once `failing` is set (a broken disk)."""

    def __init__(self) -> None:
        super().__init__()
        self.failing = False

    def set(self, entry: Any, uuid: bytes) -> Future[bool]:
        if self.failing:
            return Future.failed("I/O error: the disk is on fire")
        return super().set(entry, uuid)


def agent_info(slave_id: str, hostname: str = "agent.example.org") -> Any:
    info = mesos_pb2.SlaveInfo(hostname=hostname, port=5051)
    info.id.value = slave_id
    info.resources.extend(Resources.parse("cpus:2;mem:1024;disk:1024;ports:[31000-32000]")
                          .to_protobuf_list())
    return info


def write_registry(storage: Any, registry: Any) -> None:
    """Stores `registry` as the one state variable a registrar recovers."""
    state = StateVariables(storage)
    variable = state.fetch("registry").get(10)
    assert state.store(variable.mutate(registry.SerializeToString())).get(10) is not None


def registry_of(slaves: Iterable[Any] = (), unreachable: Iterable[tuple[str, float]] = ()
                ) -> Any:
    registry = registry_pb2.Registry()
    for info in slaves:
        registry.slaves.slaves.add().info.CopyFrom(info)
    for slave_id, seconds in unreachable:
        entry = registry.unreachable.slaves.add()
        entry.id.value = slave_id
        entry.timestamp.nanoseconds = int(seconds * 1e9)
    return registry


def stored_registry(storage: Any) -> Any:
    registry = registry_pb2.Registry()
    registry.ParseFromString(StateVariables(storage).fetch("registry").get(10).value)
    return registry


class HaMaster(types.SimpleNamespace):
    """A master with the contender, detector and registrar a test controls."""

    master: Master
    contender: StandaloneMasterContender
    detector: StandaloneMasterDetector
    registrar: Registrar

    def elect(self) -> None:
        """Appoints this master and waits until it has recovered the registry."""
        self.detector.appoint(self.master.info)
        self.master.recovery.get(10)

    def stop(self) -> None:
        """Kills this master (and its registrar), as a failover does."""
        libprocess.terminate(self.master)
        libprocess.wait(self.master, 10)
        self.registrar.close()


@pytest.fixture
def start_ha_master() -> Callable[..., HaMaster]:
    """`start_ha_master(storage, **flags)`: a spawned master on `storage`, not yet elected."""

    def start(storage: Any, **flags: Any) -> HaMaster:
        flags.setdefault("hostname", "master.example.org")
        ha = HaMaster(contender=StandaloneMasterContender(),
                      detector=StandaloneMasterDetector(),
                      registrar=Registrar(RegistrarOptions(), StateVariables(storage)))
        ha.master = Master(MasterFlags(**flags), registrar=ha.registrar,
                           contender=ha.contender, detector=ha.detector)
        libprocess.spawn(ha.master)
        libprocess.dispatch(ha.master, lambda: None).get(10)  # `initialize()` has run.
        return ha

    return start


def snapshot(kit: Any) -> dict[str, Any]:
    return kit.http_json("/metrics/snapshot")  # type: ignore[no-any-return]


def test_master_not_elected_drops_and_counts_messages(kit, clock, start_ha_master):
    """This test ensures that a master that does not lead handles no message: an agent's
    registration is dropped and counted in `master/dropped_messages`, and `master/elected`
    is 0; once elected (and recovered) the agent's next attempt registers it."""
    ha = start_ha_master(InMemoryStorage())
    master = ha.master
    agent = kit.TestAgent(master.upid)
    libprocess.spawn(agent)

    # 1. Nobody leads: the registration is dropped.
    attempt = future_message(messages_pb2.RegisterSlaveMessage, agent, master)
    libprocess.dispatch(agent, agent.register)
    attempt.get(kit.TIMEOUT)
    settle()
    assert master.metrics.dropped_messages.value == 1
    assert master.metrics.messages_register_slave.value == 0
    assert snapshot(kit)["master/elected"] == 0.0

    # 2. Another master leads: still dropped.
    other = master_info_from_pid("master@10.0.0.9:5050", id="other", hostname="other")
    ha.detector.appoint(other)
    await_condition(lambda: kit.on(master, lambda: master.leader is not None),
                    message="the other leader to be detected")
    attempt = future_message(messages_pb2.RegisterSlaveMessage, agent, master)
    libprocess.dispatch(agent, agent.register)
    attempt.get(kit.TIMEOUT)
    settle()
    assert master.metrics.dropped_messages.value == 2
    assert kit.on(master, lambda: master.slaves) == {}
    assert kit.on(agent, lambda: agent.slave_id) is None

    # 3. This master is elected: the agent's retry registers.
    ha.elect()
    assert snapshot(kit)["master/elected"] == 1.0
    registered = future_message(messages_pb2.SlaveRegisteredMessage, master, agent)
    libprocess.dispatch(agent, agent.register)
    assert registered.get(kit.TIMEOUT).slave_id.value == f"{master.info.id}-S0"
    assert master.metrics.dropped_messages.value == 2


def test_master_not_elected_redirects_http_to_the_leader(kit, clock, start_ha_master):
    """This test ensures that a master that does not lead answers the endpoints that need
    the leader with 503 while nobody leads and 307 to the leader (its hostname and HTTP port,
    path and query kept) once one does, while `/health` and `/flags` still answer."""
    ha = start_ha_master(InMemoryStorage())
    master = ha.master

    # 1. Nobody leads.
    status, _, body = kit.http_get("/master/state")
    assert (status, body) == (503, b"No leader elected")
    assert kit.http_get("/master/redirect")[0] == 503
    assert kit.http_get("/master/health")[0] == 200
    assert kit.http_get("/master/flags")[0] == 200

    # 2. Another master leads: redirects to it.
    other = master_info_from_pid("master@10.0.0.9:7000", id="other",
                                 hostname="leader.example.org", http_port=5050)
    ha.detector.appoint(other)
    await_condition(lambda: kit.on(master, lambda: master.leader is not None),
                    message="the leader to be detected")
    status, headers, _ = kit.http_get("/master/state?jsonp=cb")
    assert status == 307
    assert headers["Location"] == "//leader.example.org:5050/master/state?jsonp=cb"
    status, headers, _ = kit.http_get("/master/slaves")
    assert (status, headers["Location"]) == (307, "//leader.example.org:5050/master/slaves")
    status, headers, _ = kit.http_get("/master/redirect")
    assert (status, headers["Location"]) == (307, "//leader.example.org:5050")
    assert kit.http_get("/master/teardown", "POST", b"frameworkId=x")[0] == 307
    assert kit.http_get("/master/health")[0] == 200


def test_elected_master_recovers_the_registry(kit, clock, start_ha_master):
    """This test ensures that an elected master recovers the registry: it records itself as
    the leader there, and the admitted agents are listed as recovered (not registered) in
    `/master/state` and `/master/slaves`, as are the unreachable ones in its books."""
    storage = InMemoryStorage()
    write_registry(storage, registry_of([agent_info("old-S0"), agent_info("old-S1", "b")],
                                        unreachable=[("old-S2", 1000.0)]))
    ha = start_ha_master(storage)

    ha.elect()

    master = ha.master
    state = kit.http_json("/master/state")
    assert state["leader"] == str(master.upid)
    assert state["leader_info"]["id"] == master.info.id
    assert "elected_time" in state
    assert sorted(s["id"] for s in state["recovered_slaves"]) == ["old-S0", "old-S1"]
    assert state["slaves"] == []
    assert state["unreachable_slaves"] == 1.0
    assert [s["id"] for s in kit.http_json("/master/slaves")["recovered_slaves"]] == [
        "old-S0", "old-S1"]
    assert stored_registry(storage).master.info.id == master.info.id
    assert snapshot(kit)["master/elected"] == 1.0


def test_agent_and_framework_come_back_after_failover(kit, clock, start_ha_master):
    """This test ensures that after a master failover an agent reregisters with its running
    task and is re-admitted with it: the framework it reports is shown `recovered` (with the
    task) until its scheduler resubscribes with its id, which gets `reregistered`; no task
    update is sent on the way (the task stays RUNNING)."""
    storage = InMemoryStorage()
    first = start_ha_master(storage)
    first.elect()

    # 1. An agent runs a task of a checkpointing framework on the first master.
    agent = kit.TestAgent(first.master.upid)
    libprocess.spawn(agent)
    registered = future_message(messages_pb2.SlaveRegisteredMessage, first.master, agent)
    libprocess.dispatch(agent, agent.register)
    slave_id = registered.get(kit.TIMEOUT).slave_id.value
    scheduler = kit.TestScheduler(first.master.upid)
    libprocess.spawn(scheduler)
    offers = future_message(messages_pb2.ResourceOffersMessage, first.master, scheduler)
    info = kit.framework_info("web", checkpoint=True, failover_timeout=3600.0)
    libprocess.dispatch(scheduler, scheduler.call, kit.subscribe_call(info))
    offer = offers.get(kit.TIMEOUT).offers[0]
    framework_id = kit.on(scheduler, lambda: scheduler.framework_id)
    run = future_message(messages_pb2.RunTaskMessage, first.master, agent)
    libprocess.dispatch(scheduler, scheduler.call, kit.accept_call(
        [offer.id.value], [kit.task_info("t1", slave_id)]))
    run.get(kit.TIMEOUT)
    libprocess.dispatch(agent, agent.update, framework_id, "t1", mesos_pb2.TASK_RUNNING)
    settle()
    updates = [u.status.state for u in kit.on(scheduler, lambda: list(scheduler.updates))]
    assert updates == [mesos_pb2.TASK_RUNNING]

    # 2. The master fails over: the new one knows the agent only from the registry.
    first.stop()
    second = start_ha_master(storage)
    second.elect()
    state = kit.http_json("/master/state")
    assert [s["id"] for s in state["recovered_slaves"]] == [slave_id]
    assert state["frameworks"] == []

    # 3. The agent reregisters with its task and framework.
    expect_no_message(messages_pb2.StatusUpdateMessage, second.master, scheduler)
    reregistered = future_message(messages_pb2.SlaveReregisteredMessage, second.master, agent)
    info.id.value = framework_id
    libprocess.dispatch(agent, agent.reregister,
                        [kit.agent_task(framework_id, slave_id, "t1")], [info])
    assert reregistered.get(kit.TIMEOUT).slave_id.value == slave_id
    settle()
    state = kit.http_json("/master/state")
    assert state["recovered_slaves"] == []
    assert [s["id"] for s in state["slaves"]] == [slave_id]
    [framework] = state["frameworks"]
    assert (framework["id"], framework["recovered"], framework["connected"],
            framework["active"]) == (framework_id, True, False, False)
    assert [(t["id"], t["state"]) for t in framework["tasks"]] == [("t1", "TASK_RUNNING")]

    # 4. The scheduler resubscribes with its id: `reregistered`, and it owns the task again.
    resubscribed = future_message(messages_pb2.FrameworkReregisteredMessage, second.master,
                                  scheduler)
    libprocess.dispatch(scheduler, scheduler.call, kit.subscribe_call(info))
    assert resubscribed.get(kit.TIMEOUT).framework_id.value == framework_id
    settle()
    [framework] = kit.http_json("/master/state")["frameworks"]
    assert (framework["recovered"], framework["connected"], framework["active"]) == (
        False, True, True)
    assert [(t["id"], t["state"]) for t in framework["tasks"]] == [("t1", "TASK_RUNNING")]
    assert second.master.metrics.slave_reregistrations.value == 1
    assert len(kit.on(scheduler, lambda: list(scheduler.updates))) == len(updates)


def test_agent_follows_its_detector_to_the_new_leader(kit, clock, tmp_path, start_ha_master):
    """This test ensures that a real agent told of a new leading master by its detector
    reregisters with it (after its random backoff) with the id the first master gave it, and
    is RUNNING again."""
    storage = InMemoryStorage()
    first = start_ha_master(storage)
    first.elect()
    detector = StandaloneMasterDetector(first.master.info)
    flags = AgentFlags(master=str(first.master.upid), work_dir=str(tmp_path),
                       resources="cpus:2;mem:1024;disk:1024", hostname="localhost")
    agent = Agent(flags, detector)
    registered = future_message(messages_pb2.SlaveRegisteredMessage, first.master, agent)
    libprocess.spawn(agent)
    settle()
    clock.advance(1.0)
    slave_id = registered.get(kit.TIMEOUT).slave_id.value
    settle()

    # The master fails over; the detector reports the new leader.
    first.stop()
    second = start_ha_master(storage)
    second.elect()
    reregister = future_message(messages_pb2.ReregisterSlaveMessage, agent, second.master)
    reregistered = future_message(messages_pb2.SlaveReregisteredMessage, second.master, agent)
    detector.appoint(second.master.info)
    settle()
    assert libprocess.dispatch(agent, lambda: agent.state).get(kit.TIMEOUT) is State.DISCONNECTED
    clock.advance(1.0)
    assert reregister.get(kit.TIMEOUT).slave.id.value == slave_id
    reregistered.get(kit.TIMEOUT)
    settle()
    assert libprocess.dispatch(agent, lambda: agent.state).get(kit.TIMEOUT) is State.RUNNING
    state = kit.http_json("/master/state")
    assert [s["id"] for s in state["slaves"]] == [slave_id]
    assert state["recovered_slaves"] == []


def test_agents_missing_after_the_reregister_timeout_become_unreachable(
        kit, clock, start_ha_master):
    """This test ensures that the recovered agents that did not reregister within
    `--agent_reregister_timeout` are marked unreachable in the registry: frameworks hear
    `slaveLost`, reconciliation of their tasks (unanswered until then) answers TASK_LOST
    with the unreachable time, and the agents that came back are kept."""
    storage = InMemoryStorage()
    write_registry(storage, registry_of([agent_info("old-S0"), agent_info("old-S1")]))
    ha = start_ha_master(storage)
    ha.elect()
    master = ha.master
    scheduler = kit.TestScheduler(master.upid)
    libprocess.spawn(scheduler)
    subscribed = future_message(messages_pb2.FrameworkRegisteredMessage, master, scheduler)
    libprocess.dispatch(scheduler, scheduler.call, kit.subscribe_call(kit.framework_info()))
    subscribed.get(kit.TIMEOUT)

    # 1. One agent comes back.
    agent = kit.TestAgent(master.upid)
    agent.info.CopyFrom(agent_info("old-S0"))
    agent.slave_id = "old-S0"
    libprocess.spawn(agent)
    reregistered = future_message(messages_pb2.SlaveReregisteredMessage, master, agent)
    libprocess.dispatch(agent, agent.reregister)
    reregistered.get(kit.TIMEOUT)

    # 2. Until the timeout, a task of the missing agent is not reconciled (it may be back).
    reconcile = kit.Call(type=kit.Call.RECONCILE)
    task = reconcile.reconcile.tasks.add()
    task.task_id.value = "t-old"
    task.slave_id.value = "old-S1"
    libprocess.dispatch(scheduler, scheduler.call, reconcile)
    settle()
    assert kit.on(scheduler, lambda: list(scheduler.updates)) == []

    # 3. The timeout: the missing agent is marked unreachable.
    lost = future_message(messages_pb2.LostSlaveMessage, master, scheduler)
    clock.advance(TEN_MINUTES)
    assert lost.get(kit.TIMEOUT).slave_id.value == "old-S1"
    settle()
    registry = stored_registry(storage)
    assert [s.info.id.value for s in registry.slaves.slaves] == ["old-S0"]
    assert [s.id.value for s in registry.unreachable.slaves] == ["old-S1"]
    state = kit.http_json("/master/state")
    assert state["recovered_slaves"] == [] and state["unreachable_slaves"] == 1.0
    metrics = snapshot(kit)
    assert metrics["master/recovery_slave_removals"] == 1
    assert metrics["master/slave_unreachable_scheduled"] == 1
    assert metrics["master/slave_unreachable_completed"] == 1

    # 4. Reconciliation now answers for the task of the unreachable agent.
    update = future_message(messages_pb2.StatusUpdateMessage, master, scheduler)
    libprocess.dispatch(scheduler, scheduler.call, reconcile)
    status = update.get(kit.TIMEOUT).update.status
    assert status.state == mesos_pb2.TASK_LOST
    assert status.reason == mesos_pb2.TaskStatus.REASON_RECONCILIATION
    assert status.HasField("unreachable_time")


def test_removal_limit_exceeded_makes_the_master_exit(kit, clock, start_ha_master):
    """This test ensures that when more recovered agents than
    `--recovery_agent_removal_limit` are still missing at the re-registration timeout, the
    master exits (status 1) instead of removing them, leaving the registry as it was."""
    storage = InMemoryStorage()
    write_registry(storage, registry_of([agent_info("old-S0"), agent_info("old-S1")]))
    ha = start_ha_master(storage, recovery_agent_removal_limit="40%")
    ha.elect()
    agent = kit.TestAgent(ha.master.upid)
    agent.info.CopyFrom(agent_info("old-S0"))
    libprocess.spawn(agent)
    reregistered = future_message(messages_pb2.SlaveReregisteredMessage, ha.master, agent)
    libprocess.dispatch(agent, agent.reregister)
    reregistered.get(kit.TIMEOUT)

    # Half the agents (50% > 40%) are missing.
    exited = future_exit()
    clock.advance(TEN_MINUTES)
    assert exited.get(kit.TIMEOUT) == 1
    assert libprocess.wait(ha.master, kit.TIMEOUT)
    registry = stored_registry(storage)
    assert [s.info.id.value for s in registry.slaves.slaves] == ["old-S0", "old-S1"]
    assert len(registry.unreachable.slaves) == 0


def test_registrar_failure_during_recovery_makes_the_master_exit(kit, clock, start_ha_master):
    """This test ensures that an elected master whose registrar cannot store the registry
    (with its new leader) exits with status 1 and never serves."""
    storage = FailingStorage()
    storage.failing = True
    ha = start_ha_master(storage)
    exited = future_exit()

    ha.detector.appoint(ha.master.info)

    assert exited.get(kit.TIMEOUT) == 1
    assert libprocess.wait(ha.master, kit.TIMEOUT)
    assert ha.master.recovery.is_pending() or ha.master.recovery.is_discarded()


def test_registrar_failure_after_recovery_makes_the_master_exit(kit, clock, start_ha_master):
    """This test ensures that a leading master whose registry write fails (admitting an
    agent) exits with status 1 and never tells the agent it is registered."""
    storage = FailingStorage()
    ha = start_ha_master(storage)
    ha.elect()
    storage.failing = True
    agent = kit.TestAgent(ha.master.upid)
    libprocess.spawn(agent)
    expect_no_message(messages_pb2.SlaveRegisteredMessage, ha.master, agent)
    exited = future_exit()

    libprocess.dispatch(agent, agent.register)

    assert exited.get(kit.TIMEOUT) == 1
    assert libprocess.wait(ha.master, kit.TIMEOUT)


def test_leader_exits_when_it_loses_its_candidacy(kit, clock, start_ha_master):
    """This test ensures that a leading master whose candidacy ends (a ZooKeeper session
    expiry, here a withdrawal) commits suicide at once."""
    ha = start_ha_master(InMemoryStorage())
    ha.elect()
    exited = future_exit()

    ha.contender.withdraw()

    assert exited.get(kit.TIMEOUT) == 1
    assert libprocess.wait(ha.master, kit.TIMEOUT)


@pytest.mark.parametrize("leader", ["another master", "nobody"])
def test_leader_exits_when_it_no_longer_leads(kit, clock, start_ha_master, leader):
    """This test ensures that a leading master that detects another leader, or no leader,
    commits suicide at once."""
    ha = start_ha_master(InMemoryStorage())
    ha.elect()
    exited = future_exit()

    ha.detector.appoint(master_info_from_pid("master@10.0.0.9:5050", id="other")
                        if leader == "another master" else None)

    assert exited.get(kit.TIMEOUT) == 1
    assert libprocess.wait(ha.master, kit.TIMEOUT)


def test_follower_contends_again_when_it_loses_its_candidacy(kit, clock, start_ha_master):
    """This test ensures that a master that does not lead and loses its candidacy does not
    exit: it contends again (a new candidacy is under way)."""
    ha = start_ha_master(InMemoryStorage())
    contended = future_dispatch(ha.master, "contended")

    ha.contender.withdraw()

    contended.get(kit.TIMEOUT)
    settle()
    assert not libprocess.wait(ha.master, 0)
    assert ha.contender._promise is not None and ha.contender._promise.future.is_pending()


def test_registry_gc_prunes_old_unreachable_agents(kit, clock, start_ha_master):
    """This test ensures that every `--registry_gc_interval` the leader prunes the oldest
    unreachable agents beyond `--registry_max_agent_count` from the registry and its books."""
    storage = InMemoryStorage()
    now = libprocess.clock.now()
    write_registry(storage, registry_of(unreachable=[("gone-S0", now - 60.0),
                                                     ("gone-S1", now - 30.0)]))
    ha = start_ha_master(storage, registry_max_agent_count=1)
    ha.elect()
    assert kit.http_json("/master/state")["unreachable_slaves"] == 2.0

    clock.advance(15 * 60.0)
    settle()

    assert [s.id.value for s in stored_registry(storage).unreachable.slaves] == ["gone-S1"]
    assert kit.on(ha.master, lambda: list(ha.master.slaves_unreachable)) == ["gone-S1"]


def test_flags_choose_the_registry(tmp_path):
    """This test ensures that `--registry` defaults to `zookeeper` with `--zk` and to
    `leveldb` without, and that the LevelDB registry needs `--work_dir`."""
    from mesos.master.flags import check_registry, registry_backend

    assert registry_backend(MasterFlags()) == "leveldb"
    assert registry_backend(MasterFlags(zk="zk://127.0.0.1:2181/mesos")) == "zookeeper"
    assert registry_backend(MasterFlags(zk="zk://127.0.0.1:2181/mesos",
                                        registry="in_memory")) == "in_memory"
    assert "--work_dir is required" in (check_registry(MasterFlags()) or "")
    assert check_registry(MasterFlags(work_dir=str(tmp_path))) is None
    assert "--zk is required" in (check_registry(MasterFlags(registry="zookeeper")) or "")
    assert json.dumps(MasterFlags().flags_json())  # The new flags serialize for `/flags`.
