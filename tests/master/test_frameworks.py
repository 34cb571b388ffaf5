"""Framework subscription, failover, disconnection and teardown (master scenarios)."""

from __future__ import annotations

import libprocess
from libprocess.testing import drop_message, expect_no_message, future_message, inject_exited
from mesos.master import FrameworkState
from mesos.protos.messages import messages_pb2


def test_framework_registers(kit, clock, master):
    """This test ensures that a new framework gets an id `<masterId>-0000` and the
    MasterInfo in a FrameworkRegisteredMessage, and is active at the master."""
    scheduler = kit.TestScheduler(master.upid)
    libprocess.spawn(scheduler)
    registered = future_message(messages_pb2.FrameworkRegisteredMessage, master, scheduler)

    libprocess.dispatch(scheduler, scheduler.call, kit.subscribe_call(kit.framework_info("first")))

    message = registered.get(kit.TIMEOUT)
    assert message.framework_id.value == f"{master.info.id}-0000"
    assert message.master_info.id == master.info.id
    assert message.master_info.pid == str(master.upid)
    assert message.master_info.version == "1.12.0"
    framework = kit.on(master, lambda: master.frameworks[message.framework_id.value])
    assert framework.state is FrameworkState.ACTIVE
    assert framework.pid == scheduler.upid
    assert master.metrics.messages_register_framework.value == 1


def test_registration_retry_gets_the_same_id(kit, clock, master):
    """This test ensures that a scheduler whose FrameworkRegisteredMessage was lost and
    which subscribes again from the same pid gets the same framework id back (and the
    master keeps one framework)."""
    scheduler = kit.TestScheduler(master.upid)
    libprocess.spawn(scheduler)
    call = kit.subscribe_call(kit.framework_info())

    # 1. The first reply is lost.
    dropped = drop_message(messages_pb2.FrameworkRegisteredMessage, master, scheduler)
    libprocess.dispatch(scheduler, scheduler.call, call)
    first = dropped.get(kit.TIMEOUT)

    # 2. The scheduler retries, as the driver does after its backoff.
    registered = future_message(messages_pb2.FrameworkRegisteredMessage, master, scheduler)
    libprocess.dispatch(scheduler, scheduler.call, call)

    assert registered.get(kit.TIMEOUT).framework_id == first.framework_id
    assert kit.on(master, lambda: list(master.frameworks)) == [first.framework_id.value]


def test_resubscribe_from_same_pid_is_reregistration(kit, clock, master, start_scheduler):
    """This test ensures that a framework resubscribing with its id from its own pid
    without `force` gets FrameworkReregisteredMessage."""
    scheduler = start_scheduler(master)
    info = kit.framework_info(framework_id=scheduler.framework_id)
    reregistered = future_message(messages_pb2.FrameworkReregisteredMessage, master, scheduler)

    libprocess.dispatch(scheduler, scheduler.call, kit.subscribe_call(info))

    assert reregistered.get(kit.TIMEOUT).framework_id.value == scheduler.framework_id
    assert master.metrics.messages_reregister_framework.value == 1


def test_failover_with_force_fences_the_old_scheduler(kit, clock, master, start_scheduler):
    """This test ensures that a new scheduler instance subscribing with the framework's id
    and `force` takes over: the old pid gets "Framework failed over", the new one
    FrameworkRegisteredMessage with the same id."""
    old = start_scheduler(master)
    new = kit.TestScheduler(master.upid)
    libprocess.spawn(new)
    error = future_message(messages_pb2.FrameworkErrorMessage, master, old)
    registered = future_message(messages_pb2.FrameworkRegisteredMessage, master, new)

    libprocess.dispatch(new, new.call, kit.subscribe_call(
        kit.framework_info(framework_id=old.framework_id), force=True))

    assert error.get(kit.TIMEOUT).message == "Framework failed over"
    assert registered.get(kit.TIMEOUT).framework_id.value == old.framework_id
    assert kit.on(master, lambda: master.frameworks[old.framework_id].pid) == new.upid


def test_new_pid_without_force_is_refused(kit, clock, master, start_scheduler):
    """This test ensures that a second scheduler subscribing with a known id from a new
    pid without `force` is told "Framework failed over" and does not take over."""
    current = start_scheduler(master)
    stale = kit.TestScheduler(master.upid)
    libprocess.spawn(stale)
    error = future_message(messages_pb2.FrameworkErrorMessage, master, stale)
    expect_no_message(messages_pb2.FrameworkErrorMessage, master, current)

    libprocess.dispatch(stale, stale.call, kit.subscribe_call(
        kit.framework_info(framework_id=current.framework_id)))

    assert error.get(kit.TIMEOUT).message == "Framework failed over"
    libprocess.testing.settle()
    assert kit.on(master, lambda: master.frameworks[current.framework_id].pid) == current.upid


def test_unknown_framework_id_is_readmitted(kit, clock, master):
    """This test ensures that a framework the master does not know (as after a master
    failover) is admitted again with its own id and told `reregistered`, or `registered`
    when it subscribes with `force` (a failed-over scheduler)."""
    scheduler = kit.TestScheduler(master.upid)
    libprocess.spawn(scheduler)
    reregistered = future_message(messages_pb2.FrameworkReregisteredMessage, master,
                                  scheduler)

    libprocess.dispatch(scheduler, scheduler.call,
                        kit.subscribe_call(kit.framework_info(framework_id="old-master-0007")))

    assert reregistered.get(kit.TIMEOUT).framework_id.value == "old-master-0007"
    framework = kit.on(master, lambda: master.frameworks["old-master-0007"])
    assert framework.active()

    # A failed-over scheduler of another unknown framework says `force`.
    failed_over = kit.TestScheduler(master.upid)
    libprocess.spawn(failed_over)
    registered = future_message(messages_pb2.FrameworkRegisteredMessage, master, failed_over)
    libprocess.dispatch(failed_over, failed_over.call, kit.subscribe_call(
        kit.framework_info(framework_id="old-master-0008"), force=True))
    assert registered.get(kit.TIMEOUT).framework_id.value == "old-master-0008"


def test_legacy_register_and_reregister_messages(kit, clock, master):
    """This test ensures that the legacy RegisterFrameworkMessage subscribes and that the
    legacy messages with a wrong id presence are refused with Mesos's errors."""
    scheduler = kit.TestScheduler(master.upid)
    libprocess.spawn(scheduler)
    registered = future_message(messages_pb2.FrameworkRegisteredMessage, master, scheduler)
    libprocess.dispatch(scheduler, scheduler.send_to_master,
                        messages_pb2.RegisterFrameworkMessage(framework=kit.framework_info()))
    framework_id = registered.get(kit.TIMEOUT).framework_id.value

    error = future_message(messages_pb2.FrameworkErrorMessage, master, scheduler)
    libprocess.dispatch(scheduler, scheduler.send_to_master,
                        messages_pb2.RegisterFrameworkMessage(
                            framework=kit.framework_info(framework_id=framework_id)))
    assert error.get(kit.TIMEOUT).message == "Registering with 'id' already set"

    error = future_message(messages_pb2.FrameworkErrorMessage, master, scheduler)
    libprocess.dispatch(scheduler, scheduler.send_to_master,
                        messages_pb2.ReregisterFrameworkMessage(framework=kit.framework_info(),
                                                                    failover=False))
    assert error.get(kit.TIMEOUT).message == "Re-registering without an 'id'"


def test_invalid_framework_info_is_refused(kit, clock, master):
    """This test ensures that a FrameworkInfo with an invalid role is refused with a
    FrameworkErrorMessage naming the problem, and no framework is added."""
    scheduler = kit.TestScheduler(master.upid)
    libprocess.spawn(scheduler)
    error = future_message(messages_pb2.FrameworkErrorMessage, master, scheduler)

    libprocess.dispatch(scheduler, scheduler.call,
                        kit.subscribe_call(kit.framework_info(roles=["good", "bad role"])))

    assert "'FrameworkInfo.roles' contains invalid role" in error.get(kit.TIMEOUT).message
    assert kit.on(master, lambda: len(master.frameworks)) == 0


def test_disconnected_framework_is_removed_at_once_by_default(kit, clock, master, start_scheduler,
                                                              start_agent):
    """This test ensures that when a scheduler's link breaks, a framework with the default
    failover timeout (0) is removed at once: agents are told to shut it down and it is
    moved to the completed frameworks."""
    agent = start_agent(master)
    scheduler = start_scheduler(master)
    shutdown = future_message(messages_pb2.ShutdownFrameworkMessage, master, agent)

    libprocess.terminate(scheduler)

    assert shutdown.get(kit.TIMEOUT).framework_id.value == scheduler.framework_id
    libprocess.testing.settle()
    assert kit.on(master, lambda: list(master.completed_frameworks)) == [scheduler.framework_id]
    assert kit.on(master, lambda: master.frameworks) == {}


def test_failover_timeout_keeps_a_disconnected_framework(kit, clock, master, start_scheduler):
    """This test ensures that a disconnected framework with a failover timeout is told
    "Framework disconnected", kept (inactive, disconnected) until the timeout expires,
    then removed; a call it makes meanwhile is answered "Framework disconnected"."""
    scheduler = start_scheduler(master, kit.framework_info(failover_timeout=60.0))
    framework_id = scheduler.framework_id
    error = future_message(messages_pb2.FrameworkErrorMessage, master, scheduler)

    # 1. The master sees the link break (a one-way partition: the scheduler lives kit.on).
    inject_exited(scheduler, master)
    assert error.get(kit.TIMEOUT).message == "Framework disconnected"
    libprocess.testing.settle()
    framework = kit.on(master, lambda: master.frameworks[framework_id])
    assert framework.state is FrameworkState.DISCONNECTED

    # 2. A call from the partitioned scheduler is refused so its driver aborts.
    error = future_message(messages_pb2.FrameworkErrorMessage, master, scheduler)
    libprocess.dispatch(scheduler, scheduler.call, kit.Call(type=kit.Call.REVIVE))
    assert error.get(kit.TIMEOUT).message == "Framework disconnected"

    # 3. Within the timeout the framework stays; after it, it is removed.
    clock.advance(59)
    libprocess.testing.settle()
    assert kit.on(master, lambda: framework_id in master.frameworks)
    clock.advance(2)
    libprocess.testing.settle()
    assert kit.on(master, lambda: framework_id in master.completed_frameworks)

    # 4. It cannot come back.
    error = future_message(messages_pb2.FrameworkErrorMessage, master, scheduler)
    libprocess.dispatch(scheduler, scheduler.call, kit.subscribe_call(
        kit.framework_info(framework_id=framework_id), force=True))
    assert error.get(kit.TIMEOUT).message == "Framework has been removed"


def test_resubscription_within_failover_timeout_reconnects(kit, clock, master, start_scheduler):
    """This test ensures that a scheduler failing over within the failover timeout keeps
    its framework: the stale timer does not remove it later."""
    scheduler = start_scheduler(master, kit.framework_info(failover_timeout=10.0))
    framework_id = scheduler.framework_id
    inject_exited(scheduler, master)
    libprocess.testing.settle()

    new = kit.TestScheduler(master.upid)
    libprocess.spawn(new)
    registered = future_message(messages_pb2.FrameworkRegisteredMessage, master, new)
    libprocess.dispatch(new, new.call, kit.subscribe_call(
        kit.framework_info(framework_id=framework_id, failover_timeout=10.0), force=True))
    registered.get(kit.TIMEOUT)

    clock.advance(11)
    libprocess.testing.settle()
    framework = kit.on(master, lambda: master.frameworks.get(framework_id))
    assert framework is not None and framework.active()


def test_teardown_removes_the_framework(kit, clock, master, start_scheduler, start_agent):
    """This test ensures that a TEARDOWN call removes the framework: agents get
    ShutdownFrameworkMessage and the framework is completed."""
    agent = start_agent(master)
    scheduler = start_scheduler(master)
    shutdown = future_message(messages_pb2.ShutdownFrameworkMessage, master, agent)

    libprocess.dispatch(scheduler, scheduler.call, kit.Call(type=kit.Call.TEARDOWN))

    assert shutdown.get(kit.TIMEOUT).framework_id.value == scheduler.framework_id
    libprocess.testing.settle()
    assert kit.on(master, lambda: scheduler.framework_id in master.completed_frameworks)
    assert master.metrics.messages_unregister_framework.value == 1


def test_completed_frameworks_are_bounded(kit, clock, start_master, start_scheduler):
    """This test ensures that only `--max_completed_frameworks` completed frameworks are
    kept, the oldest forgotten first."""
    master = start_master(max_completed_frameworks=2)
    ids = []
    for _ in range(3):
        scheduler = start_scheduler(master)
        ids.append(scheduler.framework_id)
        libprocess.dispatch(scheduler, scheduler.call, kit.Call(type=kit.Call.TEARDOWN))
        libprocess.testing.settle()

    assert kit.on(master, lambda: list(master.completed_frameworks)) == ids[1:]
