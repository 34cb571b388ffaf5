"""Bad input from frameworks: invalid offers, invalid tasks, forged pids, unknown
frameworks. Each gets Mesos's answer (TASK_LOST/TASK_DROPPED, TASK_ERROR, or ignored and
counted) and never breaks the master."""

from __future__ import annotations

import pytest

import libprocess
from libprocess.testing import expect_no_message, future_message, settle
from mesos.protos.mesos import mesos_pb2
from mesos.protos.messages import messages_pb2


@pytest.fixture
def cluster(kit, clock, master, start_agent, start_scheduler):
    agent = start_agent(master)
    offers = future_message(messages_pb2.ResourceOffersMessage, master)
    scheduler = start_scheduler(master)
    offer = offers.get(kit.TIMEOUT).offers[0]
    return master, agent, scheduler, offer


def _accept(kit, scheduler, offer_ids, tasks):
    update = future_message(messages_pb2.StatusUpdateMessage, None, scheduler)
    libprocess.dispatch(scheduler, scheduler.call, kit.accept_call(offer_ids, tasks))
    return update.get(kit.TIMEOUT).update.status


def test_launch_on_a_rescinded_offer_is_lost(kit, clock, start_master, start_agent,
                                             start_scheduler):
    """This test ensures that a launch on an offer that was rescinded gets TASK_LOST with
    REASON_INVALID_OFFERS and Mesos's message, and nothing is launched."""
    master = start_master(offer_timeout=10.0)
    agent = start_agent(master)
    offers = future_message(messages_pb2.ResourceOffersMessage, master)
    scheduler = start_scheduler(master)
    offer = offers.get(kit.TIMEOUT).offers[0]
    rescinded = future_message(messages_pb2.RescindResourceOfferMessage, master, scheduler)
    clock.advance(11)
    rescinded.get(kit.TIMEOUT)
    settle()
    expect_no_message(messages_pb2.RunTaskMessage, master, agent)

    status = _accept(kit, scheduler, [offer.id.value], [kit.task_info("t1", agent.slave_id)])

    assert status.state == mesos_pb2.TASK_LOST
    assert status.reason == mesos_pb2.TaskStatus.REASON_INVALID_OFFERS
    assert status.source == mesos_pb2.TaskStatus.SOURCE_MASTER
    assert status.message == (f"Task launched with invalid offers: Offer {offer.id.value}"
                              " is no longer valid")
    assert master.metrics.tasks_lost.value == 1


def test_partition_aware_framework_gets_task_dropped(kit, clock, master, start_agent,
                                                     start_scheduler):
    """This test ensures that a partition-aware framework's launch on an unknown offer gets
    TASK_DROPPED instead of TASK_LOST."""
    agent = start_agent(master)
    scheduler = start_scheduler(master, kit.framework_info(partition_aware=True))
    settle()

    status = _accept(kit, scheduler, ["no-such-offer"], [kit.task_info("t1", agent.slave_id)])

    assert status.state == mesos_pb2.TASK_DROPPED
    assert status.reason == mesos_pb2.TaskStatus.REASON_INVALID_OFFERS
    assert master.metrics.tasks_dropped.value == 1


def test_launch_on_another_frameworks_offer_is_lost(kit, clock, master, start_agent,
                                                    start_scheduler):
    """This test ensures that a framework cannot use another framework's offer: TASK_LOST
    naming the owner, and the owner's offer stays valid."""
    agent = start_agent(master)
    offers = future_message(messages_pb2.ResourceOffersMessage, master)
    owner = start_scheduler(master, kit.framework_info("owner"))
    offer = offers.get(kit.TIMEOUT).offers[0]
    thief = start_scheduler(master, kit.framework_info("thief"))
    expect_no_message(messages_pb2.RunTaskMessage, master, agent)

    status = _accept(kit, thief, [offer.id.value], [kit.task_info("t1", agent.slave_id)])

    assert status.state == mesos_pb2.TASK_LOST
    assert f"has invalid framework {owner.framework_id}" in status.message
    settle()
    assert offer.id.value in kit.on(master, lambda: list(master.offers))


def test_launch_without_offers_is_lost(kit, cluster):
    """This test ensures that an ACCEPT naming no offers gets "No offers specified"."""
    _master, agent, scheduler, _ = cluster
    status = _accept(kit, scheduler, [], [kit.task_info("t1", agent.slave_id)])
    assert status.state == mesos_pb2.TASK_LOST
    assert status.message == "Task launched with invalid offers: No offers specified"


def test_duplicate_task_ids_in_one_launch(kit, cluster):
    """This test ensures that of two tasks with one id in a launch, the first runs and the
    second gets TASK_ERROR (REASON_TASK_INVALID, "Task has duplicate ID")."""
    master, agent, scheduler, offer = cluster
    run = future_message(messages_pb2.RunTaskMessage, master, agent)

    status = _accept(kit, scheduler, [offer.id.value], [
        kit.task_info("same", agent.slave_id), kit.task_info("same", agent.slave_id)])

    assert run.get(kit.TIMEOUT).task.task_id.value == "same"
    assert status.state == mesos_pb2.TASK_ERROR
    assert status.reason == mesos_pb2.TaskStatus.REASON_TASK_INVALID
    assert status.message == "Task has duplicate ID: same"
    settle()
    assert kit.on(agent, lambda: len(agent.run_tasks)) == 1
    assert master.metrics.tasks_error.value == 1


def test_task_id_already_in_use_by_the_framework(kit, cluster):
    """This test ensures that a task id already used by a live task of the framework is
    refused in a later launch."""
    master, agent, scheduler, offer = cluster
    run = future_message(messages_pb2.RunTaskMessage, master, agent)
    # The rest of the offer comes back at once (no refusal filter).
    offers = future_message(messages_pb2.ResourceOffersMessage, master, scheduler)
    libprocess.dispatch(scheduler, scheduler.call, kit.accept_call(
        [offer.id.value], [kit.task_info("t1", agent.slave_id)], refuse_seconds=0))
    run.get(kit.TIMEOUT)
    second_offer = offers.get(kit.TIMEOUT).offers[0]

    status = _accept(kit, scheduler, [second_offer.id.value],
                     [kit.task_info("t1", agent.slave_id)])

    assert status.state == mesos_pb2.TASK_ERROR
    assert status.message == "Task has duplicate ID: t1"


def test_resources_beyond_the_offer(kit, clock, cluster):
    """This test ensures that a task asking for more than the offer holds gets TASK_ERROR
    saying so, and the offer's resources are given back (offered again after the filter)."""
    master, agent, scheduler, offer = cluster

    status = _accept(kit, scheduler, [offer.id.value],
                     [kit.task_info("big", agent.slave_id, "cpus:3;mem:128")])

    assert status.state == mesos_pb2.TASK_ERROR
    assert status.reason == mesos_pb2.TaskStatus.REASON_TASK_INVALID
    assert "required by task and its executor is more than available" in status.message
    settle()
    slave = kit.on(master, lambda: master.slaves[agent.slave_id])
    assert not slave.total_used_resources()
    assert not kit.on(master, lambda: master.offers)
    offers = future_message(messages_pb2.ResourceOffersMessage, master, scheduler)
    clock.advance(6)
    assert offers.get(kit.TIMEOUT).offers[0].slave_id.value == agent.slave_id


@pytest.mark.parametrize("mutate, reason", [
    (lambda t: t.ClearField("command"),
     "Task should have at least one (but not both) of CommandInfo or ExecutorInfo present"),
    (lambda t: t.ClearField("resources"), "Task uses no resources"),
    (lambda t: setattr(t.task_id, "value", "a/b"), "'a/b' contains invalid characters"),
    (lambda t: setattr(t.slave_id, "value", "other-agent"),
     "Task uses invalid agent other-agent while agent"),
])
def test_invalid_task_gets_task_error(kit, cluster, mutate, reason):
    """This test ensures that a malformed task gets TASK_ERROR with the validation error."""
    master, agent, scheduler, offer = cluster
    task = kit.task_info("t1", agent.slave_id)
    mutate(task)
    expect_no_message(messages_pb2.RunTaskMessage, master, agent)

    status = _accept(kit, scheduler, [offer.id.value], [task])

    assert status.state == mesos_pb2.TASK_ERROR
    assert status.message.startswith(reason)


def test_call_from_a_forged_pid_is_ignored(kit, cluster):
    """This test ensures that calls naming a framework from a pid that is not its
    scheduler's are ignored and counted: no launch, no kill, the framework untouched."""
    master, agent, scheduler, offer = cluster
    forger = kit.TestScheduler(master.upid)
    libprocess.spawn(forger)
    expect_no_message(messages_pb2.RunTaskMessage, master, agent)
    expect_no_message(messages_pb2.KillTaskMessage, master, agent)
    expect_no_message(messages_pb2.StatusUpdateMessage, master, forger)
    accept = kit.accept_call([offer.id.value], [kit.task_info("t1", agent.slave_id)])
    accept.framework_id.value = scheduler.framework_id
    teardown = kit.Call(type=kit.Call.TEARDOWN)
    teardown.framework_id.value = scheduler.framework_id

    libprocess.dispatch(forger, forger.call, accept)
    libprocess.dispatch(forger, forger.call, teardown)
    libprocess.dispatch(forger, forger.send_to_master, messages_pb2.KillTaskMessage(
        framework_id=mesos_pb2.FrameworkID(value=scheduler.framework_id),
        task_id=mesos_pb2.TaskID(value="t1")))
    settle()

    assert master.metrics.dropped_messages.value == 3
    assert kit.on(master, lambda: master.frameworks[scheduler.framework_id].active())
    assert offer.id.value in kit.on(master, lambda: list(master.offers))


def test_call_for_an_unknown_framework_is_ignored(kit, clock, master):
    """This test ensures that a call naming a framework the master does not know is
    ignored and counted."""
    stranger = kit.TestScheduler(master.upid)
    libprocess.spawn(stranger)
    call = kit.Call(type=kit.Call.REVIVE)
    call.framework_id.value = "nobody"

    libprocess.dispatch(stranger, stranger.call, call)
    settle()

    assert master.metrics.dropped_messages.value == 1


def test_malformed_call_is_ignored(kit, clock, master):
    """This test ensures that a call missing what its type needs (ACCEPT without `accept`)
    is ignored and counted, and that an unparsable message does not break the master."""
    sender = kit.TestScheduler(master.upid)
    libprocess.spawn(sender)
    call = kit.Call(type=kit.Call.ACCEPT)
    call.framework_id.value = "whatever"

    libprocess.dispatch(sender, sender.call, call)
    libprocess.dispatch(sender, lambda: sender.send(master.upid, "mesos.scheduler.Call",
                                                    b"\xff\xff\xff"))
    settle()

    assert master.metrics.dropped_messages.value == 1
    assert kit.on(master, lambda: master.elected())


def test_acknowledgement_with_a_bad_uuid_is_invalid(kit, cluster):
    """This test ensures that an acknowledgement whose uuid is not 16 bytes is refused and
    counted as invalid, and never reaches the agent."""
    master, agent, scheduler, _ = cluster
    expect_no_message(messages_pb2.StatusUpdateAcknowledgementMessage, master, agent)

    libprocess.dispatch(scheduler, scheduler.send_to_master,
                        messages_pb2.StatusUpdateAcknowledgementMessage(
                            slave_id=mesos_pb2.SlaveID(value=agent.slave_id),
                            framework_id=mesos_pb2.FrameworkID(value=scheduler.framework_id),
                            task_id=mesos_pb2.TaskID(value="t1"), uuid=b"short"))
    settle()

    assert master.metrics.invalid_status_update_acknowledgements.value == 1


def test_status_update_from_an_unknown_agent_is_invalid(kit, clock, master):
    """This test ensures that a status update naming an agent the master does not know is
    ignored and counted as invalid."""
    agent = kit.TestAgent(master.upid)
    agent.slave_id = "stranger"
    libprocess.spawn(agent)

    libprocess.dispatch(agent, agent.update, "fw", "t1", mesos_pb2.TASK_RUNNING)
    settle()

    assert master.metrics.invalid_status_updates.value == 1
    assert master.metrics.messages_status_update.value == 1
