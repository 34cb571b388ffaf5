"""Partitions between the master and its agents (mesos-behaviour.md §2.3 to §2.5), as actor
scenarios with a paused clock: the health checker and its rate limit, what frameworks hear
when an agent becomes unreachable, what is dropped while it is, how it is readmitted, the
registry GC that forgets it, and the one-way partition repaired by `connected=false`.

The scenarios of `partition_tests.cpp` and `slave_tests.cpp` (PingTimeout*) in spirit.
"""

from __future__ import annotations

import libprocess
from libprocess.testing import expect_no_message, future_message, settle
from mesos.protos.mesos import mesos_pb2
from mesos.protos.messages import messages_pb2

PING = 15.0  # --agent_ping_timeout
UNHEALTHY = 5 * PING  # --max_agent_ping_timeouts x --agent_ping_timeout


def _scheduler_with_task(kit, master, agent, start_scheduler, *, partition_aware: bool):
    offers = future_message(messages_pb2.ResourceOffersMessage, master)
    scheduler = start_scheduler(master, kit.framework_info(partition_aware=partition_aware))
    offers.get(kit.TIMEOUT)
    settle()
    kit.launch(master, agent, scheduler)
    return scheduler


# -- the health checker and its rate limit ------------------------------------------------


def test_unreachable_agent_tasks_are_lost_for_non_partition_aware_frameworks(
        kit, clock, master, start_agent, start_scheduler):
    """This test ensures that when an agent misses `--max_agent_ping_timeouts` pings, a
    framework that is not partition-aware gets TASK_LOST with REASON_SLAVE_REMOVED and an
    `unreachable_time`, with no uuid (nothing to acknowledge), then `slaveLost`; the offers
    on the agent are rescinded and the removal is counted as `reason_unhealthy`."""
    agent = start_agent(master)
    spare = start_agent(master)
    scheduler = _scheduler_with_task(kit, master, agent, start_scheduler,
                                     partition_aware=False)
    held = [o.id.value for o in kit.on(scheduler, lambda: list(scheduler.offers))
            if o.slave_id.value == agent.slave_id]
    update = future_message(messages_pb2.StatusUpdateMessage, master, scheduler)
    lost = future_message(messages_pb2.LostSlaveMessage, master, scheduler)

    kit.partition(clock, agent)

    message = update.get(kit.TIMEOUT)
    status = message.update.status
    assert status.state == mesos_pb2.TASK_LOST
    assert status.reason == mesos_pb2.TaskStatus.REASON_SLAVE_REMOVED
    assert status.source == mesos_pb2.TaskStatus.SOURCE_MASTER
    assert status.unreachable_time.nanoseconds > 0
    assert not message.update.uuid and not status.uuid
    assert lost.get(kit.TIMEOUT).slave_id.value == agent.slave_id
    settle()
    assert not set(held) & {o.id.value for o in kit.on(master, lambda: list(
        master.offers.values()))}
    assert master.metrics.slave_removals_reason_unhealthy.value == 1
    assert master.metrics.slave_unreachable_scheduled.value == 1
    assert master.metrics.slave_unreachable_completed.value == 1
    assert kit.on(master, lambda: spare.slave_id in master.slaves)


def test_removal_rate_limit_spaces_unreachable_transitions(kit, clock, start_master,
                                                           start_agent):
    """This test ensures that `--agent_removal_rate_limit=1/1mins` lets one unhealthy agent be
    marked unreachable at once and the next one only a minute later, not before."""
    master = start_master(agent_removal_rate_limit="1/1mins")
    first = start_agent(master, answer_pings=False)
    second = start_agent(master, answer_pings=False)

    kit.advance(clock, UNHEALTHY)
    assert len(kit.on(master, lambda: list(master.slaves_unreachable))) == 1
    assert master.metrics.slave_unreachable_scheduled.value == 2

    kit.advance(clock, 59.0, step=59.0)
    assert len(kit.on(master, lambda: list(master.slaves_unreachable))) == 1

    kit.advance(clock, 1.0, step=1.0)
    assert sorted(kit.on(master, lambda: list(master.slaves_unreachable))) == sorted(
        [first.slave_id, second.slave_id])
    assert master.metrics.slave_unreachable_completed.value == 2


def test_pong_while_waiting_for_a_removal_permit_cancels_the_transition(
        kit, clock, start_master, start_agent):
    """This test ensures that an agent whose removal waits for the rate limiter's permit and
    that answers a ping meanwhile is not marked unreachable: the transition is canceled and
    counted in `slave_unreachable_canceled`, even after the permit would have come."""
    master = start_master(agent_removal_rate_limit="1/10mins")
    first = start_agent(master, answer_pings=False)
    second = start_agent(master, answer_pings=False)
    kit.advance(clock, UNHEALTHY)
    unreachable = kit.on(master, lambda: list(master.slaves_unreachable))
    assert len(unreachable) == 1
    waiting = second if unreachable == [first.slave_id] else first

    kit.answer_pings(waiting, True)
    kit.advance(clock, PING)
    assert master.metrics.slave_unreachable_canceled.value == 1

    kit.advance(clock, 600.0, step=60.0)
    assert kit.on(master, lambda: master.slaves[waiting.slave_id].active)
    assert waiting.slave_id not in kit.on(master, lambda: list(master.slaves_unreachable))
    assert master.metrics.slave_unreachable_completed.value == 1


def test_removal_rate_limit_applies_to_agents_that_do_not_reregister(kit, clock, start_master,
                                                                     start_agent):
    """This test ensures that agents that disconnected and did not reregister within
    `--agent_reregister_timeout` are marked unreachable no faster than
    `--agent_removal_rate_limit` either."""
    master = start_master(agent_removal_rate_limit="1/1mins")
    agents = [start_agent(master), start_agent(master)]
    for agent in agents:
        libprocess.testing.inject_exited(agent, master)
    settle()

    kit.advance(clock, 600.0, step=600.0)
    assert len(kit.on(master, lambda: list(master.slaves_unreachable))) == 1
    kit.advance(clock, 60.0, step=60.0)
    assert sorted(kit.on(master, lambda: list(master.slaves_unreachable))) == sorted(
        a.slave_id for a in agents)
    assert master.metrics.slave_unreachable_completed.value == 2


def test_missed_pings_during_a_slow_registry_write_cause_one_transition(
        kit, clock, gated_master, start_agent):
    """This test ensures that the observer keeps pinging while the registry write that marks
    its agent unreachable is slow, and that further missed pings start no second registry
    operation: one write, one removal."""
    master, storage = gated_master
    agent = start_agent(master, answer_pings=False)
    settle()
    storage.close_gate()
    writes = storage.writes

    # A 6th missed ping while the write waits (within --registry_store_timeout).
    kit.advance(clock, UNHEALTHY + PING)
    assert kit.on(master, lambda: agent.slave_id in master.slaves_marking_unreachable)
    assert storage.writes == writes + 1
    assert master.metrics.slave_unreachable_scheduled.value == 2
    assert kit.on(agent, lambda: agent.pings) >= 7

    storage.open_gate()
    settle()
    assert kit.on(master, lambda: list(master.slaves_unreachable)) == [agent.slave_id]
    assert master.metrics.slave_removals.value == 1
    assert storage.writes == writes + 1


# -- while unreachable ----------------------------------------------------------------------


def test_updates_and_executor_exits_from_an_unreachable_agent_are_dropped(
        kit, clock, master, start_agent, start_scheduler):
    """This test ensures that once an agent is marked unreachable its status updates and
    ExitedExecutor messages are dropped (counted as invalid updates), reach no framework,
    and the master sends the agent no ShutdownMessage (Mesos >= 1.1)."""
    agent = start_agent(master)
    scheduler = _scheduler_with_task(kit, master, agent, start_scheduler,
                                     partition_aware=True)
    kit.partition(clock, agent)
    assert kit.on(master, lambda: agent.slave_id in master.slaves_unreachable)
    kit.on(scheduler, lambda: scheduler.updates.clear())
    invalid = master.metrics.invalid_status_updates.value
    expect_no_message(messages_pb2.StatusUpdateMessage, master, scheduler)
    expect_no_message(messages_pb2.ExitedExecutorMessage, master, scheduler)
    expect_no_message(messages_pb2.ShutdownMessage, master, agent)

    libprocess.dispatch(agent, agent.update, scheduler.framework_id, "t1",
                        mesos_pb2.TASK_FINISHED)
    libprocess.dispatch(agent, agent.executor_exited, scheduler.framework_id, "t1")
    settle()

    assert master.metrics.invalid_status_updates.value == invalid + 1
    framework = kit.on(master, lambda: master.frameworks[scheduler.framework_id])
    assert kit.on(master, lambda: framework.unreachable_tasks["t1"].state) == \
        mesos_pb2.TASK_UNREACHABLE


def test_one_way_partition_pings_say_disconnected(kit, clock, master, start_agent):
    """This test ensures that after the master loses its socket to an agent (a one-way
    partition: the agent still hears the master), its pings carry `connected=false`, which
    is how the agent learns that it must reregister."""
    agent = start_agent(master)
    first = future_message(messages_pb2.PingSlaveMessage, None, agent)
    clock.advance(PING)
    assert first.get(kit.TIMEOUT).connected is True
    settle()

    libprocess.testing.inject_exited(agent, master)
    settle()
    ping = future_message(messages_pb2.PingSlaveMessage, None, agent)
    clock.advance(PING)
    assert ping.get(kit.TIMEOUT).connected is False


# -- coming back ------------------------------------------------------------------------


def test_unreachable_agent_readmitted_for_non_partition_aware_framework(
        kit, clock, master, start_agent, start_scheduler):
    """This test ensures that a non-partition-aware framework's task, reported TASK_LOST when
    its agent became unreachable, is not killed when the agent comes back: the master
    reports it again with its current state (here TASK_FINISHED, as it ended meanwhile) and
    REASON_SLAVE_REREGISTERED, and the agent gets no kill."""
    agent = start_agent(master)
    scheduler = _scheduler_with_task(kit, master, agent, start_scheduler,
                                     partition_aware=False)
    kit.partition(clock, agent)
    assert kit.on(master, lambda: agent.slave_id in master.slaves_unreachable)
    kit.answer_pings(agent, True)

    update = future_message(messages_pb2.StatusUpdateMessage, master, scheduler)
    reregistered = future_message(messages_pb2.SlaveReregisteredMessage, master, agent)
    expect_no_message(messages_pb2.KillTaskMessage, master, agent)
    libprocess.dispatch(agent, agent.reregister,
                        [kit.agent_task(scheduler.framework_id, agent.slave_id, "t1",
                               mesos_pb2.TASK_FINISHED)],
                        [kit.framework_info(framework_id=scheduler.framework_id)])

    reregistered.get(kit.TIMEOUT)
    status = update.get(kit.TIMEOUT).update.status
    assert status.task_id.value == "t1"
    assert status.state == mesos_pb2.TASK_FINISHED
    assert status.reason == mesos_pb2.TaskStatus.REASON_SLAVE_REREGISTERED
    settle()
    assert kit.on(master, lambda: master.slaves[agent.slave_id].active)
    assert kit.on(master, lambda: master.metrics.slave_reregistrations.value) == 1


def test_framework_torn_down_while_agent_unreachable_is_shut_down_on_return(
        kit, clock, master, start_agent, start_scheduler):
    """This test ensures that a framework torn down while its agent was unreachable is not
    re-added when the agent comes back: the agent gets ShutdownFrameworkMessage and the
    master keeps no task of that framework."""
    agent = start_agent(master)
    scheduler = _scheduler_with_task(kit, master, agent, start_scheduler,
                                     partition_aware=True)
    framework_id = scheduler.framework_id
    kit.partition(clock, agent)
    libprocess.dispatch(scheduler, scheduler.call, kit.Call(type=kit.Call.TEARDOWN))
    settle()
    assert kit.on(master, lambda: framework_id not in master.frameworks)

    shutdown = future_message(messages_pb2.ShutdownFrameworkMessage, master, agent)
    libprocess.dispatch(agent, agent.reregister,
                        [kit.agent_task(framework_id, agent.slave_id, "t1")],
                        [kit.framework_info(framework_id=framework_id)])

    assert shutdown.get(kit.TIMEOUT).framework_id.value == framework_id
    settle()
    slave = kit.on(master, lambda: master.slaves[agent.slave_id])
    assert kit.on(master, lambda: slave.get_task(framework_id, "t1")) is None


def test_reregistration_while_being_marked_unreachable_is_ignored(kit, clock, gated_master,
                                                                  start_agent):
    """This test ensures that a re-registration arriving while the registry is marking the
    agent unreachable is ignored (no reply; the agent retries), and one after it readmits."""
    master, storage = gated_master
    agent = start_agent(master, answer_pings=False)
    settle()
    storage.close_gate()
    kit.advance(clock, UNHEALTHY)
    assert kit.on(master, lambda: agent.slave_id in master.slaves_marking_unreachable)

    reregistered = future_message(messages_pb2.SlaveReregisteredMessage, master, agent)
    libprocess.dispatch(agent, agent.reregister)
    settle()
    assert reregistered.is_pending()
    assert kit.on(master, lambda: agent.slave_id not in master.slaves_reregistering)

    storage.open_gate()
    settle()
    assert kit.on(master, lambda: agent.slave_id in master.slaves_unreachable)
    libprocess.dispatch(agent, agent.reregister)
    assert reregistered.get(kit.TIMEOUT).slave_id.value == agent.slave_id


# -- registry GC ------------------------------------------------------------------------


def test_registry_gc_forgets_old_unreachable_agents_and_reconciliation_says_unknown(
        kit, clock, start_master, start_agent, start_scheduler):
    """This test ensures that the registry GC (every `--registry_gc_interval`) drops
    unreachable agents older than `--registry_max_agent_age`, after which reconciliation of
    their tasks answers TASK_UNKNOWN to a partition-aware framework (TASK_UNREACHABLE before)
    and TASK_LOST to one that is not."""
    master = start_master(registry_gc_interval=3600.0, registry_max_agent_age=7200.0)
    agent = start_agent(master)
    aware = _scheduler_with_task(kit, master, agent, start_scheduler, partition_aware=True)
    settle()
    plain = start_scheduler(master, kit.framework_info("plain"))
    kit.partition(clock, agent)

    def reconcile(scheduler) -> int:
        answer = future_message(messages_pb2.StatusUpdateMessage, master, scheduler)
        libprocess.dispatch(scheduler, scheduler.call,
                            kit.reconcile_call([("t1", agent.slave_id)]))
        status = answer.get(kit.TIMEOUT).update.status
        assert status.reason == mesos_pb2.TaskStatus.REASON_RECONCILIATION
        return status.state

    assert reconcile(aware) == mesos_pb2.TASK_UNREACHABLE
    kit.advance(clock, 3600.0, step=3600.0)  # One GC: the agent is only an hour old.
    assert kit.on(master, lambda: agent.slave_id in master.slaves_unreachable)

    kit.advance(clock, 2 * 3600.0, step=3600.0)
    assert kit.on(master, lambda: agent.slave_id not in master.slaves_unreachable)
    assert reconcile(aware) == mesos_pb2.TASK_UNKNOWN
    assert reconcile(plain) == mesos_pb2.TASK_LOST
