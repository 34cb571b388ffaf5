"""Agent scenarios: registration, pings, shutdown (src/tests/slave_tests.cpp in spirit).

The agent runs in the test's OS process against a `FakeMaster`, with a paused clock.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import libprocess
from libprocess.clock import Clock
from libprocess.testing import await_condition, drop_message, future_message, settle
from mesos.agent.agent import (
    MESOS_VERSION,
    Agent,
    StandaloneMasterDetector,
    State,
)
from mesos.common.resources import Resources
from mesos.protos.mesos import mesos_pb2
from mesos.protos.messages import messages_pb2


def test_agent_registers_with_its_resources(clock: Clock, master: Any, tmp_path: Any,
                                            kit: SimpleNamespace) -> None:
    """This test ensures that an agent registers with the master with a SlaveInfo without
    id, its version and capabilities, and keeps the id the master gives it."""
    # 1. Expect the registration before the agent starts.
    flags = kit.make_flags(str(tmp_path), str(master.upid), attributes="rack:3;zone:a")
    agent = Agent(flags, StandaloneMasterDetector(master.upid))
    register = future_message(messages_pb2.RegisterSlaveMessage, from_=agent, to=master)
    registered = future_message(messages_pb2.SlaveRegisteredMessage, to=agent)
    libprocess.spawn(agent)
    settle()

    # 2. The first attempt waits a random time within the backoff factor (1 sec).
    clock.advance(1.0)
    message = register.get(kit.TIMEOUT)
    assert not message.slave.HasField("id")
    assert message.slave.hostname == "localhost"
    assert Resources(message.slave.resources) == Resources.parse(kit.AGENT_RESOURCES)
    assert {a.name for a in message.slave.attributes} == {"rack", "zone"}
    assert message.version == MESOS_VERSION
    assert mesos_pb2.SlaveInfo.Capability.MULTI_ROLE in {
        c.type for c in message.agent_capabilities}

    # 3. The agent is registered with the id it was given.
    registered.get(kit.TIMEOUT)
    settle()
    assert kit.read_agent(agent, lambda: (agent.state, agent.info.id.value)) == (
        State.RUNNING, kit.SLAVE_ID)


def test_registration_retried_when_dropped(clock: Clock, master: Any, tmp_path: Any,
                                           kit: SimpleNamespace) -> None:
    """This test ensures that an agent whose RegisterSlaveMessage is lost registers again
    after its backoff (a random delay within twice the backoff factor)."""
    flags = kit.make_flags(str(tmp_path), str(master.upid))
    agent = Agent(flags, StandaloneMasterDetector(master.upid))
    dropped = drop_message(messages_pb2.RegisterSlaveMessage, from_=agent, to=master)
    libprocess.spawn(agent)
    settle()
    clock.advance(1.0)
    dropped.get(kit.TIMEOUT)
    settle()

    retried = future_message(messages_pb2.RegisterSlaveMessage, from_=agent, to=master)
    registered = future_message(messages_pb2.SlaveRegisteredMessage, to=agent)
    clock.advance(2.0)
    retried.get(kit.TIMEOUT)
    registered.get(kit.TIMEOUT)
    settle()
    assert kit.read_agent(agent, lambda: agent.state) is State.RUNNING


def test_registration_backoff_keeps_retrying(clock: Clock, master: Any, tmp_path: Any,
                                             kit: SimpleNamespace) -> None:
    """This test ensures that an agent keeps retrying registration while the master does
    not answer, each retry within the doubled backoff, capped at one minute."""
    master.answer_registration = False
    flags = kit.make_flags(str(tmp_path), str(master.upid))
    agent = Agent(flags, StandaloneMasterDetector(master.upid))
    libprocess.spawn(agent)
    settle()
    for bound in (1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0):
        attempt = future_message(messages_pb2.RegisterSlaveMessage, from_=agent, to=master)
        clock.advance(bound)
        attempt.get(kit.TIMEOUT)
        settle()
    assert len(master.messages(messages_pb2.RegisterSlaveMessage)) == 8


def test_ping_answered_with_pong(clock: Clock, master: Any, tmp_path: Any,
                                 kit: SimpleNamespace) -> None:
    """This test ensures that the agent answers a PingSlaveMessage with a PongSlaveMessage
    to the pinging process (the master's slave observer)."""
    agent = kit.start_agent(clock, master, str(tmp_path))
    pong = future_message(messages_pb2.PongSlaveMessage, from_=agent, to=master)
    master.post(agent.upid, messages_pb2.PingSlaveMessage(connected=True))
    pong.get(kit.TIMEOUT)


def test_ping_disconnected_forces_reregistration(clock: Clock, master: Any, tmp_path: Any,
                                                 kit: SimpleNamespace) -> None:
    """This test ensures that a ping saying the master considers the agent disconnected
    (a one-way partition) makes the agent reregister, with the id it has."""
    agent = kit.start_agent(clock, master, str(tmp_path))
    reregister = future_message(messages_pb2.ReregisterSlaveMessage, from_=agent, to=master)
    pong = future_message(messages_pb2.PongSlaveMessage, from_=agent, to=master)
    master.post(agent.upid, messages_pb2.PingSlaveMessage(connected=False))
    pong.get(kit.TIMEOUT)
    settle()
    clock.advance(1.0)
    message = reregister.get(kit.TIMEOUT)
    assert message.slave.id.value == kit.SLAVE_ID
    settle()
    assert kit.read_agent(agent, lambda: agent.state) is State.RUNNING


def test_no_pings_makes_agent_reregister(clock: Clock, master: Any, tmp_path: Any,
                                         kit: SimpleNamespace) -> None:
    """This test ensures that an agent that hears no ping within the master's total ping
    timeout (75 secs here) detects the master again and reregisters."""
    agent = kit.start_agent(clock, master, str(tmp_path))
    reregister = future_message(messages_pb2.ReregisterSlaveMessage, from_=agent, to=master)
    # A ping at 60 secs resets the timer: nothing happens at 75 secs.
    clock.advance(60.0)
    master.post(agent.upid, messages_pb2.PingSlaveMessage(connected=True))
    settle()
    clock.advance(20.0)
    settle()
    assert not master.messages(messages_pb2.ReregisterSlaveMessage)
    # 75 secs after the last ping the agent gives up on this master and reregisters.
    clock.advance(56.0)
    settle()
    clock.advance(1.0)
    reregister.get(kit.TIMEOUT)


def test_messages_from_another_master_ignored(clock: Clock, master: Any, tmp_path: Any,
                                              kit: SimpleNamespace) -> None:
    """This test ensures that the agent ignores the master's messages when they come from a
    process that is not its master."""
    agent = kit.start_agent(clock, master, str(tmp_path))
    impostor = kit.FakeMaster()
    libprocess.spawn(impostor)
    impostor.post(agent.upid, messages_pb2.ShutdownMessage(message="go away"))
    impostor.post(agent.upid, kit.run_task_message(kit.command_task("t1", "true")))
    settle()
    assert kit.read_agent(agent, lambda: (agent.state, len(agent.frameworks))) == (
        State.RUNNING, 0)


def test_shutdown_message_terminates_agent(clock: Clock, master: Any, tmp_path: Any,
                                           kit: SimpleNamespace) -> None:
    """This test ensures that a ShutdownMessage from the master makes an agent without
    executors terminate at once."""
    agent = kit.start_agent(clock, master, str(tmp_path))
    master.post(agent.upid, messages_pb2.ShutdownMessage(message="Agent removed"))
    assert libprocess.wait(agent, kit.TIMEOUT)
    assert agent.exit_status == 0


def test_reregistration_reconciles_unknown_tasks(clock: Clock, master: Any, tmp_path: Any,
                                                 kit: SimpleNamespace) -> None:
    """This test ensures that when the master, answering a reregistration, asks about a task
    the agent does not know, the agent answers with TASK_LOST (REASON_RECONCILIATION), or
    TASK_DROPPED for a partition-aware framework, through its status update manager."""
    agent = kit.start_agent(clock, master, str(tmp_path))
    master.answer_registration = False
    reregister = future_message(messages_pb2.ReregisterSlaveMessage, from_=agent, to=master)
    master.post(agent.upid, messages_pb2.PingSlaveMessage(connected=False))
    settle()
    clock.advance(1.0)
    reregister.get(kit.TIMEOUT)

    reregistered = messages_pb2.SlaveReregisteredMessage()
    reregistered.slave_id.value = kit.SLAVE_ID
    for framework_id, capabilities in (("fw-old", []), ("fw-pa", [
            mesos_pb2.FrameworkInfo.Capability.PARTITION_AWARE])):
        reconcile = reregistered.reconciliations.add()
        reconcile.framework_id.value = framework_id
        reconcile.framework.CopyFrom(kit.framework_info(framework_id))
        for capability in capabilities:
            reconcile.framework.capabilities.add().type = capability
        status = reconcile.statuses.add()
        status.task_id.value = f"{framework_id}-task"
        status.state = mesos_pb2.TASK_RUNNING

    first = future_message(messages_pb2.StatusUpdateMessage, from_=agent, to=master)
    second = future_message(messages_pb2.StatusUpdateMessage, from_=agent, to=master)
    master.post(agent.upid, reregistered)
    updates = {m.update.status.task_id.value: m.update.status
               for m in (first.get(kit.TIMEOUT), second.get(kit.TIMEOUT))}
    assert updates["fw-old-task"].state == mesos_pb2.TASK_LOST
    assert updates["fw-pa-task"].state == mesos_pb2.TASK_DROPPED
    assert {s.reason for s in updates.values()} == {
        mesos_pb2.TaskStatus.REASON_RECONCILIATION}


def test_master_found_from_its_http_address(clock: Clock, tmp_path: Any,
                                            kit: SimpleNamespace) -> None:
    """This test ensures that an agent given the master's HTTP address reads the master's
    pid from `/master/state`, retrying while the address does not answer."""
    ip, port = libprocess.http_address()

    # 1. No master serves `/master/state` at that address yet: the resolution fails and is
    #    retried (in 1 sec).
    agent = Agent(kit.make_flags(str(tmp_path), f"{ip}:{port}"))
    libprocess.spawn(agent)
    await_condition(lambda: kit.read_agent(agent, lambda: agent.detector) is not None,
                    timeout=kit.TIMEOUT, message="the agent's detector")
    detector = kit.read_agent(agent, lambda: agent.detector).process
    await_condition(
        lambda: libprocess.dispatch(
            detector, lambda: detector.resolution_timer is not None).get(kit.TIMEOUT),
        timeout=kit.TIMEOUT, message="a failed resolution")
    assert kit.read_agent(agent, lambda: agent.master) is None

    # 2. Once the master is there, the next attempt (1 sec later) finds it; it registers.
    master = kit.FakeMaster(id="master")
    libprocess.spawn(master)
    registered = future_message(messages_pb2.SlaveRegisteredMessage, to=agent)
    clock.advance(1.0)
    await_condition(
        lambda: kit.read_agent(agent, lambda: agent.master is not None),
        timeout=kit.TIMEOUT, message="the master to be found")
    assert kit.read_agent(agent, lambda: agent.master) == master.upid
    settle()
    clock.advance(1.0)
    registered.get(kit.TIMEOUT)
