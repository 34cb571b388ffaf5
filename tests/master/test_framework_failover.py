"""Framework failover on the master's side (mesos-behaviour.md §2.10), as actor scenarios:
the failover timeout to the millisecond, what a disconnection and the timer's expiry do,
a forced takeover, fencing of the stale scheduler, immutable fields, a master failover
(MESOS-4659), and a driver's `stop(failover=True)` against its `stop()` and `abort()`.

The basics (registration, a refused new pid without `force`, a forced failover's
registration, the failover timeout keeping a framework) live in test_frameworks.py.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest

import libprocess
from libprocess.testing import expect_no_message, future_message, inject_exited, settle
from mesos.common.resources import Resources
from mesos.detector import StandaloneMasterContender, StandaloneMasterDetector
from mesos.interface import Scheduler
from mesos.master import FrameworkState, Master, MasterFlags
from mesos.native import MesosSchedulerDriver
from mesos.protos.mesos import mesos_pb2
from mesos.protos.messages import messages_pb2
from mesos.registrar import Registrar, RegistrarOptions
from mesos.sched.detector import StandaloneMasterDetector as SchedulerDetector
from mesos.state import InMemoryStorage
from mesos.state import State as StateVariables


def _offers(kit, master, scheduler_fn):
    """Starts a scheduler (`scheduler_fn()`) and returns it with the offers of its first
    allocation (one per registered agent)."""
    scheduler = scheduler_fn()
    settle()
    offers = kit.on(scheduler, lambda: list(scheduler.offers))
    assert offers, "the scheduler got no offer"
    return scheduler, offers


def _launch(kit, master, agent, scheduler, offer, task_id="t1", resources="cpus:1;mem:128"):
    """Launches one task on `offer` and reports it RUNNING (acknowledged)."""
    run = future_message(messages_pb2.RunTaskMessage, master, agent)
    libprocess.dispatch(scheduler, scheduler.call, kit.accept_call(
        [offer.id.value], [kit.task_info(task_id, agent.slave_id, resources)]))
    run.get(kit.TIMEOUT)
    uuid = libprocess.dispatch(agent, agent.update, scheduler.framework_id, task_id,
                               mesos_pb2.TASK_RUNNING).get(kit.TIMEOUT)
    settle()
    libprocess.dispatch(scheduler, scheduler.call,
                        kit.acknowledge_call(agent.slave_id, task_id, uuid))
    settle()


def _refusal(kit, master, scheduler, info, force=False):
    """The FrameworkErrorMessage's text with which the master refuses `scheduler`'s
    SUBSCRIBE of `info` (with `force`)."""
    error = future_message(messages_pb2.FrameworkErrorMessage, master, scheduler)
    libprocess.dispatch(scheduler, scheduler.call, kit.subscribe_call(info, force=force))
    return error.get(kit.TIMEOUT).message


def _framework(kit, master, framework_id):
    return kit.on(master, lambda: master.frameworks.get(framework_id))


# -- the failover timeout ---------------------------------------------------------------------


@pytest.mark.parametrize("timeout", [0.0, 10.0, 7 * 24 * 3600.0])
def test_failover_timeout_is_honoured_exactly(kit, clock, master, start_scheduler, timeout):
    """This test ensures that a disconnected framework is kept for exactly its
    `failover_timeout`: still there (disconnected) a millisecond before it, removed (to the
    completed frameworks) when it expires, and removed at once when it is 0."""
    scheduler = start_scheduler(master, kit.framework_info(failover_timeout=timeout))
    framework_id = scheduler.framework_id
    disconnected_at = clock.now()

    # 1. The scheduler's link breaks.
    inject_exited(scheduler, master)
    settle()

    if timeout > 0:
        # 2. A millisecond before the timeout the framework is still there.
        clock.advance(timeout - 0.001)
        settle()
        framework = _framework(kit, master, framework_id)
        assert framework is not None and framework.state is FrameworkState.DISCONNECTED
        assert kit.on(master, lambda: framework_id not in master.completed_frameworks)
        # 3. At the timeout it is removed.
        clock.update(disconnected_at + timeout)
        settle()

    assert _framework(kit, master, framework_id) is None
    assert kit.on(master, lambda: framework_id in master.completed_frameworks)


def test_disconnection_deactivates_the_framework_and_rescinds_its_offers(
        kit, clock, master, start_agent, start_scheduler):
    """This test ensures that when a scheduler with a failover timeout disconnects, the
    master tells the old pid "Framework disconnected", deactivates the framework (no more
    offers), rescinds its outstanding offers (the resources go to others), and keeps it:
    its agents are not told to shut it down."""
    agent = start_agent(master)
    scheduler, (offer,) = _offers(kit, master, lambda: start_scheduler(
        master, kit.framework_info(failover_timeout=60.0)))
    framework_id = scheduler.framework_id
    error = future_message(messages_pb2.FrameworkErrorMessage, master, scheduler)
    rescinded = future_message(messages_pb2.RescindResourceOfferMessage, master, scheduler)
    expect_no_message(messages_pb2.ShutdownFrameworkMessage, master, agent)

    # 1. A one-way partition: the master sees the link break, the scheduler lives on.
    inject_exited(scheduler, master)

    assert error.get(kit.TIMEOUT).message == "Framework disconnected"
    assert rescinded.get(kit.TIMEOUT).offer_id == offer.id
    settle()
    framework = _framework(kit, master, framework_id)
    assert framework.state is FrameworkState.DISCONNECTED
    assert kit.on(master, lambda: (dict(master.offers), set(framework.offers))) == ({}, set())

    # 2. Deactivated: no offer reaches it, while another framework gets the whole agent.
    expect_no_message(messages_pb2.ResourceOffersMessage, master, scheduler)
    other = kit.TestScheduler(master.upid)
    libprocess.spawn(other)
    offers = future_message(messages_pb2.ResourceOffersMessage, master, other)
    libprocess.dispatch(other, other.call, kit.subscribe_call(kit.framework_info("other")))
    (offered,) = offers.get(kit.TIMEOUT).offers
    assert offered.slave_id.value == agent.slave_id
    cpus = [r.scalar.value for r in offered.resources if r.name == "cpus"]
    assert cpus == [2.0]
    clock.advance(30.0)
    settle()
    assert _framework(kit, master, framework_id) is not None


def test_failover_timeout_expiry_removes_the_framework_silently(
        kit, clock, master, start_agent, start_scheduler):
    """This test ensures that when the failover timeout expires the master removes the
    framework: its agents get ShutdownFrameworkMessage, its tasks become TASK_KILLED with
    REASON_FRAMEWORK_REMOVED (resources freed), it moves to the completed frameworks, and
    nothing at all is sent to the (partitioned) scheduler."""
    agent = start_agent(master)
    scheduler, (offer,) = _offers(kit, master, lambda: start_scheduler(
        master, kit.framework_info(failover_timeout=60.0)))
    framework_id = scheduler.framework_id
    _launch(kit, master, agent, scheduler, offer)
    inject_exited(scheduler, master)
    settle()

    # From here on the master must not say anything to the scheduler.
    for message in (messages_pb2.FrameworkErrorMessage, messages_pb2.StatusUpdateMessage,
                    messages_pb2.RescindResourceOfferMessage,
                    messages_pb2.ResourceOffersMessage, messages_pb2.LostSlaveMessage,
                    messages_pb2.FrameworkRegisteredMessage):
        expect_no_message(message, master, scheduler)
    shutdown = future_message(messages_pb2.ShutdownFrameworkMessage, master, agent)

    clock.advance(60.0)

    assert shutdown.get(kit.TIMEOUT).framework_id.value == framework_id
    settle()
    assert _framework(kit, master, framework_id) is None
    framework = kit.on(master, lambda: master.completed_frameworks[framework_id])
    (task,) = kit.on(master, lambda: list(framework.completed_tasks))
    assert task.task_id.value == "t1"
    assert task.state == mesos_pb2.TASK_KILLED
    assert task.statuses[-1].reason == mesos_pb2.TaskStatus.REASON_FRAMEWORK_REMOVED
    assert task.statuses[-1].source == mesos_pb2.TaskStatus.SOURCE_MASTER
    slave = kit.on(master, lambda: master.slaves[agent.slave_id])
    assert kit.on(master, lambda: (slave.tasks, bool(slave.total_used_resources()))) == (
        {}, False)
    assert master.metrics.tasks_killed.value == 1


def test_resubscribing_a_torn_down_framework_is_refused(kit, clock, master, start_scheduler):
    """This test ensures that a framework id that is completed (here torn down) cannot be
    used again: its own pid, and a new pid with `force`, are told "Framework has been
    removed" and no framework is added."""
    scheduler = start_scheduler(master)
    framework_id = scheduler.framework_id
    libprocess.dispatch(scheduler, scheduler.call, kit.Call(type=kit.Call.TEARDOWN))
    settle()
    info = kit.framework_info(framework_id=framework_id)

    assert _refusal(kit, master, scheduler, info) == "Framework has been removed"

    new = kit.TestScheduler(master.upid)
    libprocess.spawn(new)
    assert _refusal(kit, master, new, info, force=True) == "Framework has been removed"

    settle()
    assert kit.on(master, lambda: (dict(master.frameworks), list(master.completed_frameworks))
                  ) == ({}, [framework_id])


def test_resubscription_cancels_the_failover_timer(kit, clock, master, start_scheduler):
    """This test ensures that a scheduler resubscribing within its failover timeout cancels
    the pending timer: after a second disconnection, the first timer's expiry does not
    remove the framework; only the second, a full timeout after the second disconnection,
    does."""
    scheduler = start_scheduler(master, kit.framework_info(failover_timeout=10.0))
    framework_id = scheduler.framework_id
    info = kit.framework_info(framework_id=framework_id, failover_timeout=10.0)

    # 1. t=0: disconnected; the first timer would fire at t=10.
    inject_exited(scheduler, master)
    settle()

    # 2. t=5: the driver reconnects from the same pid (no `force`): reregistered.
    clock.advance(5.0)
    reregistered = future_message(messages_pb2.FrameworkReregisteredMessage, master,
                                  scheduler)
    libprocess.dispatch(scheduler, scheduler.call, kit.subscribe_call(info))
    reregistered.get(kit.TIMEOUT)
    settle()
    assert _framework(kit, master, framework_id).active()

    # 3. t=6: disconnected again; the second timer fires at t=16.
    clock.advance(1.0)
    inject_exited(scheduler, master)
    settle()

    # 4. t=11: past the first timer: still there.
    clock.advance(5.0)
    settle()
    framework = _framework(kit, master, framework_id)
    assert framework is not None and framework.state is FrameworkState.DISCONNECTED

    # 5. t=16: the second timer removes it.
    clock.advance(5.0)
    settle()
    assert _framework(kit, master, framework_id) is None
    assert kit.on(master, lambda: framework_id in master.completed_frameworks)


# -- a forced failover --------------------------------------------------------------------------


def test_forced_failover_hands_the_framework_to_the_new_scheduler(
        kit, clock, master, start_agent, start_scheduler):
    """This test ensures that a new scheduler subscribing with `force` takes the framework
    over: the old pid gets "Framework failed over", the offers made to the old scheduler
    are withdrawn (their resources are offered to the new one), every agent gets
    UpdateFrameworkMessage with the new pid (the one running the framework's task too),
    and the new scheduler gets FrameworkRegisteredMessage."""
    first = start_agent(master)
    second = start_agent(master, hostname="second.example.org")
    old, offers = _offers(kit, master, lambda: start_scheduler(
        master, kit.framework_info(failover_timeout=60.0)))
    framework_id = old.framework_id
    by_agent = {o.slave_id.value: o for o in offers}
    assert set(by_agent) == {first.slave_id, second.slave_id}
    _launch(kit, master, first, old, by_agent[first.slave_id])
    held = by_agent[second.slave_id].id.value
    assert kit.on(master, lambda: held in master.offers)

    new = kit.TestScheduler(master.upid)
    libprocess.spawn(new)
    error = future_message(messages_pb2.FrameworkErrorMessage, master, old)
    updates = [future_message(messages_pb2.UpdateFrameworkMessage, master, agent)
               for agent in (first, second)]
    registered = future_message(messages_pb2.FrameworkRegisteredMessage, master, new)
    reoffered = future_message(messages_pb2.ResourceOffersMessage, master, new)

    libprocess.dispatch(new, new.call, kit.subscribe_call(
        kit.framework_info(framework_id=framework_id, failover_timeout=60.0), force=True))

    assert error.get(kit.TIMEOUT).message == "Framework failed over"
    for update in updates:
        message = update.get(kit.TIMEOUT)
        assert message.framework_id.value == framework_id
        assert message.pid == str(new.upid)
    assert registered.get(kit.TIMEOUT).framework_id.value == framework_id
    assert kit.on(master, lambda: held not in master.offers)
    assert second.slave_id in [o.slave_id.value for o in reoffered.get(kit.TIMEOUT).offers]
    settle()
    framework = _framework(kit, master, framework_id)
    assert framework.pid == new.upid and framework.active()
    assert kit.on(master, lambda: (master.framework_pids.get(new.upid),
                                   old.upid in master.framework_pids)) == (framework_id, False)
    assert kit.on(master, lambda: list(framework.tasks)) == ["t1"]


def test_calls_from_the_stale_scheduler_are_dropped(kit, clock, master, start_agent,
                                                    start_scheduler):
    """This test ensures that after a forced failover the old scheduler's calls are
    dropped: its kill (as a call and as the legacy message) never reaches the agent, and
    its accept or launch of an offer the framework holds launches nothing and leaves the
    offer outstanding; the same calls from the new scheduler work."""
    agent = start_agent(master)
    old, (offer,) = _offers(kit, master, lambda: start_scheduler(
        master, kit.framework_info(failover_timeout=60.0)))
    framework_id = old.framework_id
    _launch(kit, master, agent, old, offer)
    new = kit.TestScheduler(master.upid)
    libprocess.spawn(new)
    libprocess.dispatch(new, new.call, kit.subscribe_call(
        kit.framework_info(framework_id=framework_id, failover_timeout=60.0), force=True))
    clock.advance(5.0)  # Past the refusal filter of the remainder of the first offer.
    settle()
    (fresh,) = kit.on(new, lambda: list(new.offers))
    dropped = master.metrics.dropped_messages.value

    # 1. The stale scheduler kills the task and launches on the framework's offer.
    kill = kit.Call(type=kit.Call.KILL)
    kill.kill.task_id.value = "t1"
    libprocess.dispatch(old, old.call, kill)
    libprocess.dispatch(old, old.send_to_master, messages_pb2.KillTaskMessage(
        framework_id=mesos_pb2.FrameworkID(value=framework_id),
        task_id=mesos_pb2.TaskID(value="t1")))
    task = kit.task_info("t2", agent.slave_id, "cpus:0.5;mem:64")
    libprocess.dispatch(old, old.call, kit.accept_call([fresh.id.value], [task]))
    launch = messages_pb2.LaunchTasksMessage(
        framework_id=mesos_pb2.FrameworkID(value=framework_id))
    launch.filters.SetInParent()
    launch.offer_ids.add().CopyFrom(fresh.id)
    launch.tasks.add().CopyFrom(task)
    libprocess.dispatch(old, old.send_to_master, launch)
    settle()

    assert kit.on(agent, lambda: (list(agent.kills), len(agent.run_tasks))) == ([], 1)
    assert kit.on(master, lambda: fresh.id.value in master.offers)
    assert kit.on(master, lambda: sorted(master.frameworks[framework_id].tasks)) == ["t1"]
    assert master.metrics.dropped_messages.value == dropped + 4

    # 2. The same calls from the current scheduler work.
    killed = future_message(messages_pb2.KillTaskMessage, master, agent)
    run = future_message(messages_pb2.RunTaskMessage, master, agent)
    libprocess.dispatch(new, new.call, kill)
    libprocess.dispatch(new, new.call, kit.accept_call([fresh.id.value], [task]))
    assert killed.get(kit.TIMEOUT).task_id.value == "t1"
    assert run.get(kit.TIMEOUT).task.task_id.value == "t2"


def test_changing_the_principal_on_resubscription_is_refused(kit, clock, master,
                                                             start_scheduler):
    """This test ensures that resubscribing with another principal is refused with "Changing
    framework's principal is not allowed." (from the same pid, or from a new pid with
    `force`, which then takes nothing over), while a changed `user` or `checkpoint` is
    ignored: the master keeps the first ones (MESOS-703)."""
    info = kit.framework_info(failover_timeout=60.0)
    info.principal = "alice"
    current = start_scheduler(master, info)
    framework_id = current.framework_id
    info.id.value = framework_id
    other = mesos_pb2.FrameworkInfo()
    other.CopyFrom(info)
    other.principal = "mallory"

    # 1. From the framework's own pid.
    assert _refusal(kit, master, current, other) == (
        "Changing framework's principal is not allowed.")

    # 2. From a new pid with `force`: refused, and the current scheduler is not fenced.
    intruder = kit.TestScheduler(master.upid)
    libprocess.spawn(intruder)
    expect_no_message(messages_pb2.FrameworkErrorMessage, master, current)
    assert _refusal(kit, master, intruder, other, force=True) == (
        "Changing framework's principal is not allowed.")
    settle()
    framework = _framework(kit, master, framework_id)
    assert (framework.pid, framework.info.principal) == (current.upid, "alice")
    assert framework.active()

    # 3. A new user and checkpointing are not taken (MESOS-703): no error.
    changed = mesos_pb2.FrameworkInfo()
    changed.CopyFrom(info)
    changed.user = "root-wannabe"
    changed.checkpoint = True
    changed.name = "renamed"
    reregistered = future_message(messages_pb2.FrameworkReregisteredMessage, master, current)
    libprocess.dispatch(current, current.call, kit.subscribe_call(changed))
    reregistered.get(kit.TIMEOUT)
    settle()
    assert kit.on(master, lambda: (framework.info.user, framework.info.checkpoint,
                                   framework.info.name)) == ("test", False, "renamed")


# -- master failover ------------------------------------------------------------------------------


def _ha_master(storage: Any) -> tuple[Master, Registrar]:
    """A master on `storage` with its own standalone contender and detector, elected."""
    registrar = Registrar(RegistrarOptions(), StateVariables(storage))
    detector = StandaloneMasterDetector()
    master = Master(MasterFlags(hostname="master.example.org"), registrar=registrar,
                    contender=StandaloneMasterContender(), detector=detector)
    libprocess.spawn(master)
    libprocess.dispatch(master, lambda: None).get(10)
    detector.appoint(master.info)
    master.recovery.get(10)
    return master, registrar


def test_master_failover_drops_pending_failover_timers(kit, clock):
    """This test ensures MESOS-4659's behaviour: a framework whose failover timer was
    running when the master failed over is not removed by the new master when that timeout
    passes (the timer died with the old master): its agent is not told to shut it down and
    its task stays RUNNING, orphaned until the scheduler comes back."""
    storage = InMemoryStorage()
    first, registrar = _ha_master(storage)

    # 1. A checkpointing framework runs a task; then its scheduler disconnects.
    agent = kit.TestAgent(first.upid)
    libprocess.spawn(agent)
    registered = future_message(messages_pb2.SlaveRegisteredMessage, first, agent)
    libprocess.dispatch(agent, agent.register)
    slave_id = registered.get(kit.TIMEOUT).slave_id.value
    info = kit.framework_info("web", checkpoint=True, failover_timeout=60.0)
    scheduler = kit.TestScheduler(first.upid)
    libprocess.spawn(scheduler)
    offers = future_message(messages_pb2.ResourceOffersMessage, first, scheduler)
    libprocess.dispatch(scheduler, scheduler.call, kit.subscribe_call(info))
    offer = offers.get(kit.TIMEOUT).offers[0]
    framework_id = kit.on(scheduler, lambda: scheduler.framework_id)
    _launch(kit, first, agent, scheduler, offer)
    inject_exited(scheduler, first)
    settle()
    assert _framework(kit, first, framework_id).state is FrameworkState.DISCONNECTED

    # 2. The master fails over within the failover timeout.
    clock.advance(10.0)
    libprocess.terminate(first)
    assert libprocess.wait(first, kit.TIMEOUT)
    registrar.close()
    second, _ = _ha_master(storage)

    # 3. The agent reregisters with the task: the framework is known again, recovered.
    task = mesos_pb2.Task(name="t1", state=mesos_pb2.TASK_RUNNING)
    task.task_id.value = "t1"
    task.framework_id.value = framework_id
    task.slave_id.value = slave_id
    task.resources.extend(Resources.parse("cpus:1;mem:128").allocate("*").to_protobuf_list())
    info.id.value = framework_id
    reregistered = future_message(messages_pb2.SlaveReregisteredMessage, second, agent)
    libprocess.dispatch(agent, agent.reregister, [task], [info])
    reregistered.get(kit.TIMEOUT)
    settle()
    assert _framework(kit, second, framework_id).recovered()

    # 4. Well past the old timeout: nothing removes the framework or its task.
    expect_no_message(messages_pb2.ShutdownFrameworkMessage, second, agent)
    expect_no_message(messages_pb2.KillTaskMessage, second, agent)
    clock.advance(120.0)
    settle()
    framework = _framework(kit, second, framework_id)
    assert framework is not None and framework.recovered()
    assert kit.on(second, lambda: [(t.task_id.value, t.state)
                                   for t in framework.tasks.values()]) == [
        ("t1", mesos_pb2.TASK_RUNNING)]
    assert kit.on(second, lambda: list(second.completed_frameworks)) == []


# -- the driver: stop() against stop(failover=True) and abort() -------------------------------


class _Registered(Scheduler):
    """Records the framework id the driver registered with."""

    def __init__(self) -> None:
        self.registered_event = threading.Event()
        self.framework_id: str | None = None

    def registered(self, driver: Any, frameworkId: Any, masterInfo: Any) -> None:
        self.framework_id = frameworkId.value
        self.registered_event.set()


@pytest.mark.parametrize("how", ["stop", "stop(failover=True)", "abort"])
def test_driver_stop_tears_down_but_failover_and_abort_keep_the_framework(
        kit, clock, master, start_agent, how):
    """This test ensures that a real scheduler driver's `stop()` tears the framework down
    at once (agents told to shut it down, completed), while `stop(failover=True)` only
    disconnects it (kept until its failover timeout) and `abort()` only deactivates it."""
    agent = start_agent(master)
    scheduler = _Registered()
    driver = MesosSchedulerDriver(scheduler, kit.framework_info(failover_timeout=60.0), "",
                                  detector=SchedulerDetector(master.upid))
    assert driver.start() == mesos_pb2.DRIVER_RUNNING
    assert scheduler.registered_event.wait(kit.TIMEOUT)
    framework_id = scheduler.framework_id
    settle()

    if how == "stop":
        shutdown = future_message(messages_pb2.ShutdownFrameworkMessage, master, agent)
        driver.stop()
        assert shutdown.get(kit.TIMEOUT).framework_id.value == framework_id
        settle()
        assert _framework(kit, master, framework_id) is None
        assert kit.on(master, lambda: framework_id in master.completed_frameworks)
    else:
        expect_no_message(messages_pb2.ShutdownFrameworkMessage, master, agent)
        if how == "abort":
            driver.abort()
        else:
            driver.stop(failover=True)
        settle()
        clock.advance(30.0)
        settle()
        framework = _framework(kit, master, framework_id)
        assert framework is not None
        assert framework.state is (FrameworkState.INACTIVE if how == "abort"
                                   else FrameworkState.DISCONNECTED)
        if how == "abort":
            driver.stop(failover=True)
    assert driver.join() in (mesos_pb2.DRIVER_STOPPED, mesos_pb2.DRIVER_ABORTED)
