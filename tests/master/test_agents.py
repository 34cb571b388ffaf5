"""Agent registration, re-registration, removal and health checking (master scenarios)."""

from __future__ import annotations

import libprocess
from libprocess.testing import expect_no_message, future_message, settle
from mesos.master import SlaveState
from mesos.protos.mesos import mesos_pb2
from mesos.protos.messages import messages_pb2


def test_agent_registers(kit, clock, master):
    """This test ensures that a new agent gets the id `<masterId>-S0` and the total ping
    timeout (15 s x 5) in its SlaveRegisteredMessage, and is active with its resources."""
    agent = kit.TestAgent(master.upid)
    libprocess.spawn(agent)
    registered = future_message(messages_pb2.SlaveRegisteredMessage, master, agent)

    libprocess.dispatch(agent, agent.register)

    message = registered.get(kit.TIMEOUT)
    assert message.slave_id.value == f"{master.info.id}-S0"
    assert message.connection.total_ping_timeout_seconds == 75.0
    slave = kit.on(master, lambda: master.slaves[message.slave_id.value])
    assert slave.state is SlaveState.ACTIVE
    assert slave.pid == agent.upid
    assert slave.total_resources.cpus() == 2.0
    assert master.metrics.slave_registrations.value == 1
    assert master.metrics.messages_register_slave.value == 1


def test_registration_retry_gets_the_same_id(kit, clock, master, start_agent):
    """This test ensures that an agent registering again from the same pid (its reply was
    lost) is sent its id again rather than admitted twice."""
    agent = start_agent(master)
    registered = future_message(messages_pb2.SlaveRegisteredMessage, master, agent)

    libprocess.dispatch(agent, agent.register)

    assert registered.get(kit.TIMEOUT).slave_id.value == agent.slave_id
    assert kit.on(master, lambda: list(master.slaves)) == [agent.slave_id]
    assert master.metrics.slave_registrations.value == 1


def test_old_agents_are_ignored(kit, clock, master):
    """This test ensures that an agent older than 1.0.0 (or with a version that is not
    SemVer) is ignored and counted as a dropped message."""
    agent = kit.TestAgent(master.upid, version="0.28.2")
    libprocess.spawn(agent)
    expect_no_message(messages_pb2.SlaveRegisteredMessage, master, agent)

    libprocess.dispatch(agent, agent.register)
    settle()

    assert kit.on(master, lambda: master.slaves) == {}
    assert master.metrics.dropped_messages.value == 1


def test_invalid_registration_is_dropped(kit, clock, master):
    """This test ensures that a registration with invalid resources is dropped."""
    agent = kit.TestAgent(master.upid)
    bad = agent.info.resources.add(name="cpus", type=mesos_pb2.Value.SCALAR)
    bad.scalar.value = -1
    libprocess.spawn(agent)
    expect_no_message(messages_pb2.SlaveRegisteredMessage, master, agent)

    libprocess.dispatch(agent, agent.register)
    settle()

    assert kit.on(master, lambda: master.slaves) == {}


def test_unknown_agent_reregisters_with_its_tasks(kit, clock, master):
    """This test ensures that an agent the master does not know (as after a master
    failover) is re-admitted with its id; its tasks are recorded, and the framework it
    reports is recovered (known, not connected) until its scheduler resubscribes."""
    agent = kit.TestAgent(master.upid)
    agent.info.id.value = "old-master-S3"
    agent.slave_id = "old-master-S3"
    libprocess.spawn(agent)
    framework = kit.framework_info("recovered", framework_id="old-master-0001")
    reregistered = future_message(messages_pb2.SlaveReregisteredMessage, master, agent)

    libprocess.dispatch(agent, agent.reregister,
                        [kit.agent_task("old-master-0001", "old-master-S3", "t1")],
                        [framework])

    assert reregistered.get(kit.TIMEOUT).slave_id.value == "old-master-S3"
    settle()
    slave = kit.on(master, lambda: master.slaves["old-master-S3"])
    assert slave.get_task("old-master-0001", "t1").state == mesos_pb2.TASK_RUNNING
    assert slave.total_used_resources().cpus() == 1.0
    recovered = kit.on(master, lambda: master.frameworks["old-master-0001"])
    assert recovered.recovered() and not recovered.connected()
    assert "t1" in recovered.tasks
    assert master.metrics.slave_reregistrations.value == 1

    # The scheduler comes back: it is told `reregistered` and owns the task again.
    scheduler = kit.TestScheduler(master.upid)
    libprocess.spawn(scheduler)
    registered = future_message(messages_pb2.FrameworkReregisteredMessage, master, scheduler)
    libprocess.dispatch(scheduler, scheduler.call, kit.subscribe_call(framework))
    assert registered.get(kit.TIMEOUT).framework_id.value == "old-master-0001"
    assert kit.on(master, lambda: master.frameworks["old-master-0001"].active())


def test_known_agent_reregisters_and_learns_of_lost_tasks(kit, clock, master, start_agent,
                                                          start_scheduler):
    """This test ensures that a registered agent reregistering without a task the master
    launched on it is asked to reconcile that task in SlaveReregisteredMessage."""
    agent = start_agent(master)
    offers = future_message(messages_pb2.ResourceOffersMessage, master)
    scheduler = start_scheduler(master)
    offer = offers.get(kit.TIMEOUT).offers[0]
    run = future_message(messages_pb2.RunTaskMessage, master, agent)
    libprocess.dispatch(scheduler, scheduler.call, kit.accept_call(
        [offer.id.value], [kit.task_info("t1", agent.slave_id)]))
    run.get(kit.TIMEOUT)

    reregistered = future_message(messages_pb2.SlaveReregisteredMessage, master, agent)
    libprocess.dispatch(agent, agent.reregister, [], [], [])

    reconciliations = reregistered.get(kit.TIMEOUT).reconciliations
    assert len(reconciliations) == 1
    assert reconciliations[0].framework_id.value == scheduler.framework_id
    assert [s.task_id.value for s in reconciliations[0].statuses] == ["t1"]
    assert reconciliations[0].statuses[0].reason == \
        mesos_pb2.TaskStatus.REASON_RECONCILIATION


def test_unregistered_agent_loses_its_tasks(kit, clock, master, start_agent, start_scheduler):
    """This test ensures that an agent that unregisters is removed: its tasks become
    TASK_LOST (REASON_SLAVE_REMOVED) at the framework, which is told `slaveLost`."""
    agent = start_agent(master)
    offers = future_message(messages_pb2.ResourceOffersMessage, master)
    scheduler = start_scheduler(master)
    offer = offers.get(kit.TIMEOUT).offers[0]
    run = future_message(messages_pb2.RunTaskMessage, master, agent)
    libprocess.dispatch(scheduler, scheduler.call, kit.accept_call(
        [offer.id.value], [kit.task_info("t1", agent.slave_id)]))
    run.get(kit.TIMEOUT)
    update = future_message(messages_pb2.StatusUpdateMessage, master, scheduler)
    lost = future_message(messages_pb2.LostSlaveMessage, master, scheduler)

    libprocess.dispatch(agent, agent.unregister)

    status = update.get(kit.TIMEOUT).update.status
    assert status.task_id.value == "t1"
    assert status.state == mesos_pb2.TASK_LOST
    assert status.reason == mesos_pb2.TaskStatus.REASON_SLAVE_REMOVED
    assert lost.get(kit.TIMEOUT).slave_id.value == agent.slave_id
    settle()
    assert kit.on(master, lambda: master.slaves) == {}
    assert master.metrics.slave_removals.value == 1
    assert master.metrics.slave_removals_reason_unregistered.value == 1
    assert master.metrics.tasks_lost.value == 1

    # Late updates from the removed agent are dropped.
    libprocess.dispatch(agent, agent.update, scheduler.framework_id, "t1",
                        mesos_pb2.TASK_RUNNING)
    settle()
    assert master.metrics.invalid_status_updates.value == 1


def test_disconnected_agent_loses_non_checkpointing_tasks(kit, clock, master, start_agent,
                                                          start_scheduler):
    """This test ensures that when an agent's link breaks it is disconnected (no offers),
    tasks of non-checkpointing frameworks become TASK_LOST (REASON_SLAVE_DISCONNECTED), and
    the agent is marked unreachable if it does not reregister within
    `--agent_reregister_timeout`."""
    agent = start_agent(master)
    offers = future_message(messages_pb2.ResourceOffersMessage, master)
    scheduler = start_scheduler(master)
    offer = offers.get(kit.TIMEOUT).offers[0]
    run = future_message(messages_pb2.RunTaskMessage, master, agent)
    libprocess.dispatch(scheduler, scheduler.call, kit.accept_call(
        [offer.id.value], [kit.task_info("t1", agent.slave_id, "cpus:1;mem:64")]))
    run.get(kit.TIMEOUT)
    update = future_message(messages_pb2.StatusUpdateMessage, master, scheduler)

    libprocess.testing.inject_exited(agent, master)

    status = update.get(kit.TIMEOUT).update.status
    assert status.state == mesos_pb2.TASK_LOST
    assert status.reason == mesos_pb2.TaskStatus.REASON_SLAVE_DISCONNECTED
    settle()
    slave = kit.on(master, lambda: master.slaves[agent.slave_id])
    assert slave.state is SlaveState.DISCONNECTED

    lost = future_message(messages_pb2.LostSlaveMessage, master, scheduler)
    clock.advance(600)
    assert lost.get(kit.TIMEOUT).slave_id.value == agent.slave_id
    settle()
    assert kit.on(master, lambda: agent.slave_id in master.slaves_unreachable)
    assert master.metrics.slave_removals_reason_unhealthy.value == 1


def test_agent_that_reregisters_in_time_stays(kit, clock, master, start_agent):
    """This test ensures that a disconnected agent that reregisters before
    `--agent_reregister_timeout` is active again and not marked unreachable."""
    agent = start_agent(master)
    libprocess.testing.inject_exited(agent, master)
    settle()
    reregistered = future_message(messages_pb2.SlaveReregisteredMessage, master, agent)
    libprocess.dispatch(agent, agent.reregister)
    reregistered.get(kit.TIMEOUT)
    settle()

    clock.advance(601)
    settle()
    slave = kit.on(master, lambda: master.slaves[agent.slave_id])
    assert slave.state is SlaveState.ACTIVE
    assert kit.on(master, lambda: master.slaves_unreachable) == {}


def test_agent_that_misses_pings_is_marked_unreachable(kit, clock, master, start_agent,
                                                       start_scheduler):
    """This test ensures that the agent's observer (`slave-observer(N)`) pings every
    `--agent_ping_timeout`, and that after `--max_agent_ping_timeouts` pings without a pong
    the agent is marked unreachable: partition-aware frameworks see TASK_UNREACHABLE."""
    agent = start_agent(master, answer_pings=False)
    offers = future_message(messages_pb2.ResourceOffersMessage, master)
    scheduler = start_scheduler(master, kit.framework_info(partition_aware=True))
    offer = offers.get(kit.TIMEOUT).offers[0]
    run = future_message(messages_pb2.RunTaskMessage, master, agent)
    libprocess.dispatch(scheduler, scheduler.call, kit.accept_call(
        [offer.id.value], [kit.task_info("t1", agent.slave_id)]))
    run.get(kit.TIMEOUT)
    update = future_message(messages_pb2.StatusUpdateMessage, master, scheduler)

    settle()  # The agent's observer (spawned off the master's thread) pings.
    for _ in range(4):
        clock.advance(15)
        settle()
    assert kit.on(master, lambda: agent.slave_id in master.slaves)
    clock.advance(15)

    status = update.get(kit.TIMEOUT).update.status
    assert status.state == mesos_pb2.TASK_UNREACHABLE
    assert status.HasField("unreachable_time")
    settle()
    assert kit.on(agent, lambda: agent.pings) >= 5
    assert kit.on(master, lambda: list(master.slaves_unreachable)) == [agent.slave_id]
    framework = kit.on(master, lambda: master.frameworks[scheduler.framework_id])
    assert list(framework.unreachable_tasks) == ["t1"]


def test_agent_answering_pings_stays(kit, clock, master, start_agent):
    """This test ensures that an agent answering pings is never marked unreachable."""
    agent = start_agent(master)
    settle()  # The agent's observer (spawned off the master's thread) pings.
    for _ in range(8):
        clock.advance(15)
        settle()
    assert kit.on(master, lambda: master.slaves[agent.slave_id].active)
    assert kit.on(agent, lambda: agent.pings) >= 8


def test_unreachable_agent_comes_back(kit, clock, master, start_agent, start_scheduler):
    """This test ensures that an agent marked unreachable that reregisters is re-admitted
    and its still-running tasks are reported again (REASON_SLAVE_REREGISTERED)."""
    agent = start_agent(master, answer_pings=False)
    offers = future_message(messages_pb2.ResourceOffersMessage, master)
    scheduler = start_scheduler(master, kit.framework_info(partition_aware=True))
    offer = offers.get(kit.TIMEOUT).offers[0]
    run = future_message(messages_pb2.RunTaskMessage, master, agent)
    libprocess.dispatch(scheduler, scheduler.call, kit.accept_call(
        [offer.id.value], [kit.task_info("t1", agent.slave_id)]))
    run.get(kit.TIMEOUT)
    settle()  # The agent's observer (spawned off the master's thread) pings.
    for _ in range(5):
        clock.advance(15)
        settle()
    assert kit.on(master, lambda: agent.slave_id in master.slaves_unreachable)

    update = future_message(messages_pb2.StatusUpdateMessage, master, scheduler)
    reregistered = future_message(messages_pb2.SlaveReregisteredMessage, master, agent)
    framework = kit.framework_info(partition_aware=True, framework_id=scheduler.framework_id)
    libprocess.dispatch(agent, agent.reregister,
                        [kit.agent_task(scheduler.framework_id, agent.slave_id, "t1")],
                        [framework])

    reregistered.get(kit.TIMEOUT)
    status = update.get(kit.TIMEOUT).update.status
    assert status.state == mesos_pb2.TASK_RUNNING
    assert status.reason == mesos_pb2.TaskStatus.REASON_SLAVE_REREGISTERED
    settle()
    assert kit.on(master, lambda: master.slaves_unreachable) == {}
    assert kit.on(master, lambda: "t1" in master.frameworks[scheduler.framework_id].tasks)
