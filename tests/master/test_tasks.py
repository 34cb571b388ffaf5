"""Tasks: launch, status updates and acknowledgements, kill, reconciliation, relays."""

from __future__ import annotations

import pytest

import libprocess
from libprocess.testing import future_message, settle
from mesos.protos.mesos import mesos_pb2
from mesos.protos.messages import messages_pb2


@pytest.fixture
def cluster(kit, clock, master, start_agent, start_scheduler):
    """A master, one agent and one subscribed framework holding the agent's offer."""
    agent = start_agent(master)
    offers = future_message(messages_pb2.ResourceOffersMessage, master)
    scheduler = start_scheduler(master)
    offer = offers.get(kit.TIMEOUT).offers[0]
    return master, agent, scheduler, offer


def _launch(kit, cluster, task_id="t1", resources="cpus:1;mem:128"):
    """Launches one task on the cluster's offer; returns the RunTaskMessage."""
    master, agent, scheduler, offer = cluster
    run = future_message(messages_pb2.RunTaskMessage, master, agent)
    libprocess.dispatch(scheduler, scheduler.call, kit.accept_call(
        [offer.id.value], [kit.task_info(task_id, agent.slave_id, resources)]))
    message = run.get(kit.TIMEOUT)
    settle()
    return message


def test_launch_sends_run_task_to_the_agent(kit, cluster):
    """This test ensures that an accepted LAUNCH sends RunTaskMessage to the agent (task,
    framework info, scheduler pid) and that the master records the task as STAGING with
    its resources used and the rest declined."""
    master, agent, scheduler, _offer = cluster

    message = _launch(kit, cluster)

    assert message.task.task_id.value == "t1"
    assert message.framework.id.value == scheduler.framework_id
    assert message.framework_id.value == scheduler.framework_id
    assert message.pid == str(scheduler.upid)
    assert message.launch_executor
    # Resources of a pre-MULTI_ROLE scheduler get the offer's allocation role.
    assert all(r.allocation_info.role == "*" for r in message.task.resources)
    task = kit.on(master, lambda: master.frameworks[scheduler.framework_id].tasks["t1"])
    assert task.state == mesos_pb2.TASK_STAGING
    slave = kit.on(master, lambda: master.slaves[agent.slave_id])
    assert slave.total_used_resources().cpus() == 1.0
    assert kit.on(master, lambda: master.offers) == {}
    assert master.metrics.messages_launch_tasks.value == 1


def test_legacy_launch_tasks_message(kit, cluster):
    """This test ensures that the legacy LaunchTasksMessage launches like ACCEPT."""
    master, agent, scheduler, offer = cluster
    run = future_message(messages_pb2.RunTaskMessage, master, agent)
    message = messages_pb2.LaunchTasksMessage(
        framework_id=mesos_pb2.FrameworkID(value=scheduler.framework_id),
        filters=mesos_pb2.Filters())
    message.offer_ids.add().CopyFrom(offer.id)
    message.tasks.add().CopyFrom(kit.task_info("legacy", agent.slave_id))

    libprocess.dispatch(scheduler, scheduler.send_to_master, message)

    assert run.get(kit.TIMEOUT).task.task_id.value == "legacy"


def test_launch_with_an_executor(kit, cluster):
    """This test ensures that a task with an executor launches it on the agent once: the
    second task on the same executor reuses it."""
    master, agent, scheduler, offer = cluster
    executor = mesos_pb2.ExecutorInfo()
    executor.executor_id.value = "exec"
    executor.command.value = "my-executor"
    tasks = []
    for task_id in ("a", "b"):
        task = kit.task_info(task_id, agent.slave_id, "cpus:0.5;mem:64", command=None)
        task.executor.CopyFrom(executor)
        tasks.append(task)

    libprocess.dispatch(scheduler, scheduler.call,
                        kit.accept_call([offer.id.value], tasks))
    settle()

    first, second = kit.on(agent, lambda: list(agent.run_tasks))
    assert first.launch_executor and not second.launch_executor
    assert first.task.executor.framework_id.value == scheduler.framework_id
    settle()
    framework = kit.on(master, lambda: master.frameworks[scheduler.framework_id])
    assert framework.has_executor(agent.slave_id, "exec")


def test_status_update_is_forwarded_and_acknowledgement_routed(kit, cluster):
    """This test ensures that an agent's status update reaches the framework with the
    agent's pid (so the driver acknowledges it), updates the master's view of the task,
    and that the framework's ACKNOWLEDGE reaches the agent with the update's uuid."""
    master, agent, scheduler, _ = cluster
    _launch(kit, cluster)
    forwarded = future_message(messages_pb2.StatusUpdateMessage, master, scheduler)

    uuid = libprocess.dispatch(agent, agent.update, scheduler.framework_id, "t1",
                               mesos_pb2.TASK_RUNNING).get(kit.TIMEOUT)

    message = forwarded.get(kit.TIMEOUT)
    assert message.pid == str(agent.upid)
    assert message.update.uuid == uuid
    assert message.update.status.state == mesos_pb2.TASK_RUNNING
    settle()
    task = kit.on(master, lambda: master.frameworks[scheduler.framework_id].tasks["t1"])
    assert task.state == mesos_pb2.TASK_RUNNING
    assert task.status_update_uuid == uuid
    assert master.metrics.valid_status_updates.value == 1

    acknowledged = future_message(messages_pb2.StatusUpdateAcknowledgementMessage, master,
                                  agent)
    libprocess.dispatch(scheduler, scheduler.call,
                        kit.acknowledge_call(agent.slave_id, "t1", uuid))
    ack = acknowledged.get(kit.TIMEOUT)
    assert ack.uuid == uuid
    assert ack.task_id.value == "t1"
    assert ack.framework_id.value == scheduler.framework_id
    assert master.metrics.valid_status_update_acknowledgements.value == 1


def test_terminal_task_frees_resources_and_completes_on_acknowledgement(kit, cluster):
    """This test ensures that a task's terminal update gives its resources back at once
    (they are offered again), while the task stays live until its update is acknowledged
    and then moves to the completed tasks."""
    master, agent, scheduler, _ = cluster
    _launch(kit, cluster, resources="cpus:2;mem:1024;disk:1024")
    forwarded = future_message(messages_pb2.StatusUpdateMessage, master, scheduler)
    offers = future_message(messages_pb2.ResourceOffersMessage, master, scheduler)

    uuid = libprocess.dispatch(agent, agent.update, scheduler.framework_id, "t1",
                               mesos_pb2.TASK_FINISHED).get(kit.TIMEOUT)

    forwarded.get(kit.TIMEOUT)
    assert offers.get(kit.TIMEOUT).offers[0].slave_id.value == agent.slave_id
    settle()
    framework = kit.on(master, lambda: master.frameworks[scheduler.framework_id])
    assert kit.on(master, lambda: list(framework.tasks)) == ["t1"]
    assert master.metrics.tasks_finished.value == 1

    libprocess.dispatch(scheduler, scheduler.call,
                        kit.acknowledge_call(agent.slave_id, "t1", uuid))
    settle()

    assert kit.on(master, lambda: list(framework.tasks)) == []
    completed = kit.on(master, lambda: list(framework.completed_tasks))
    assert [t.task_id.value for t in completed] == ["t1"]
    assert completed[0].state == mesos_pb2.TASK_FINISHED


def test_completed_tasks_are_bounded(kit, clock, start_master, start_agent, start_scheduler):
    """This test ensures that only `--max_completed_tasks_per_framework` completed tasks
    are kept per framework."""
    master = start_master(max_completed_tasks_per_framework=2)
    agent = start_agent(master)
    offers = future_message(messages_pb2.ResourceOffersMessage, master)
    scheduler = start_scheduler(master)
    offer = offers.get(kit.TIMEOUT).offers[0]
    tasks = [kit.task_info(f"t{i}", agent.slave_id, "cpus:0.5;mem:64") for i in range(3)]
    libprocess.dispatch(scheduler, scheduler.call, kit.accept_call([offer.id.value], tasks))
    settle()
    for i in range(3):
        uuid = libprocess.dispatch(agent, agent.update, scheduler.framework_id, f"t{i}",
                                   mesos_pb2.TASK_FAILED).get(kit.TIMEOUT)
        settle()
        libprocess.dispatch(scheduler, scheduler.call,
                            kit.acknowledge_call(agent.slave_id, f"t{i}", uuid))
        settle()

    framework = kit.on(master, lambda: master.frameworks[scheduler.framework_id])
    completed = kit.on(master, lambda: [t.task_id.value for t in framework.completed_tasks])
    assert completed == ["t1", "t2"]
    assert master.metrics.tasks_failed.value == 3


def test_kill_reaches_the_agent(kit, cluster):
    """This test ensures that KILL of a known task sends KillTaskMessage to its agent, and
    the agent's TASK_KILLED is forwarded."""
    master, agent, scheduler, _ = cluster
    _launch(kit, cluster)
    kill = future_message(messages_pb2.KillTaskMessage, master, agent)
    call = kit.Call(type=kit.Call.KILL)
    call.kill.task_id.value = "t1"

    libprocess.dispatch(scheduler, scheduler.call, call)

    message = kill.get(kit.TIMEOUT)
    assert message.task_id.value == "t1"
    assert message.framework_id.value == scheduler.framework_id
    forwarded = future_message(messages_pb2.StatusUpdateMessage, master, scheduler)
    libprocess.dispatch(agent, agent.update, scheduler.framework_id, "t1",
                        mesos_pb2.TASK_KILLED)
    assert forwarded.get(kit.TIMEOUT).update.status.state == mesos_pb2.TASK_KILLED
    assert master.metrics.messages_kill_task.value == 1


def test_legacy_kill_task_message(kit, cluster):
    """This test ensures that the legacy KillTaskMessage from the framework kills too."""
    master, agent, scheduler, _ = cluster
    _launch(kit, cluster)
    kill = future_message(messages_pb2.KillTaskMessage, master, agent)

    libprocess.dispatch(scheduler, scheduler.send_to_master, messages_pb2.KillTaskMessage(
        framework_id=mesos_pb2.FrameworkID(value=scheduler.framework_id),
        task_id=mesos_pb2.TaskID(value="t1")))

    assert kill.get(kit.TIMEOUT).task_id.value == "t1"


def test_kill_of_an_unknown_task_is_answered_like_reconciliation(kit, cluster):
    """This test ensures that killing a task the master does not know answers TASK_LOST
    with REASON_RECONCILIATION (as reconciliation of an unknown task does)."""
    master, _agent, scheduler, _ = cluster
    update = future_message(messages_pb2.StatusUpdateMessage, master, scheduler)
    call = kit.Call(type=kit.Call.KILL)
    call.kill.task_id.value = "nope"

    libprocess.dispatch(scheduler, scheduler.call, call)

    status = update.get(kit.TIMEOUT).update.status
    assert status.task_id.value == "nope"
    assert status.state == mesos_pb2.TASK_LOST
    assert status.reason == mesos_pb2.TaskStatus.REASON_RECONCILIATION
    assert status.source == mesos_pb2.TaskStatus.SOURCE_MASTER


def test_explicit_reconciliation(kit, cluster):
    """This test ensures explicit reconciliation answers as Mesos's table says for a
    non-partition-aware framework: the known task's latest state, TASK_LOST for an unknown
    task on a registered agent and for an unknown agent; no uuid, REASON_RECONCILIATION."""
    master, agent, scheduler, _ = cluster
    _launch(kit, cluster)

    libprocess.dispatch(scheduler, scheduler.call, kit.reconcile_call([
        ("t1", None), ("ghost", agent.slave_id), ("ghost2", "unknown-agent")]))
    settle()

    statuses = kit.on(scheduler, lambda: list(scheduler.updates))
    assert [(s.status.task_id.value, s.status.state) for s in statuses] == [
        ("t1", mesos_pb2.TASK_STAGING),
        ("ghost", mesos_pb2.TASK_LOST),
        ("ghost2", mesos_pb2.TASK_LOST),
    ]
    assert all(s.status.reason == mesos_pb2.TaskStatus.REASON_RECONCILIATION
               for s in statuses)
    assert all(not s.HasField("uuid") for s in statuses)
    assert master.metrics.messages_reconcile_tasks.value == 1


def test_explicit_reconciliation_partition_aware(kit, clock, master, start_agent,
                                                 start_scheduler):
    """This test ensures that a partition-aware framework is told TASK_GONE for an unknown
    task on a registered agent and TASK_UNKNOWN for an unknown agent."""
    agent = start_agent(master)
    scheduler = start_scheduler(master, kit.framework_info(partition_aware=True))

    libprocess.dispatch(scheduler, scheduler.call, kit.reconcile_call([
        ("ghost", agent.slave_id), ("ghost2", "unknown-agent")]))
    settle()

    states = [u.status.state for u in kit.on(scheduler, lambda: list(scheduler.updates))]
    assert states == [mesos_pb2.TASK_GONE, mesos_pb2.TASK_UNKNOWN]


def test_implicit_reconciliation_reports_every_task(kit, cluster):
    """This test ensures that implicit reconciliation (no tasks named) reports each of the
    framework's tasks with its latest state, via the legacy message too."""
    _master, agent, scheduler, offer = cluster
    libprocess.dispatch(scheduler, scheduler.call, kit.accept_call(
        [offer.id.value], [kit.task_info("a", agent.slave_id),
                           kit.task_info("b", agent.slave_id)]))
    settle()
    libprocess.dispatch(agent, agent.update, scheduler.framework_id, "a",
                        mesos_pb2.TASK_RUNNING)
    settle()
    seen = kit.on(scheduler, lambda: len(scheduler.updates))

    libprocess.dispatch(scheduler, scheduler.send_to_master, messages_pb2.ReconcileTasksMessage(
        framework_id=mesos_pb2.FrameworkID(value=scheduler.framework_id)))
    settle()

    updates = kit.on(scheduler, lambda: scheduler.updates[seen:])
    assert {u.status.task_id.value: u.status.state for u in updates} == {
        "a": mesos_pb2.TASK_RUNNING, "b": mesos_pb2.TASK_STAGING}
    assert all(u.status.reason == mesos_pb2.TaskStatus.REASON_RECONCILIATION for u in updates)


def test_teardown_kills_tasks(kit, cluster):
    """This test ensures that TEARDOWN marks the framework's tasks TASK_KILLED
    (REASON_FRAMEWORK_REMOVED), tells the agent to shut the framework down and gives the
    resources back."""
    master, agent, scheduler, _ = cluster
    _launch(kit, cluster)
    shutdown = future_message(messages_pb2.ShutdownFrameworkMessage, master, agent)

    libprocess.dispatch(scheduler, scheduler.call, kit.Call(type=kit.Call.TEARDOWN))

    assert shutdown.get(kit.TIMEOUT).framework_id.value == scheduler.framework_id
    settle()
    framework = kit.on(master, lambda: master.completed_frameworks[scheduler.framework_id])
    (task,) = kit.on(master, lambda: list(framework.completed_tasks))
    assert task.state == mesos_pb2.TASK_KILLED
    assert task.statuses[-1].reason == mesos_pb2.TaskStatus.REASON_FRAMEWORK_REMOVED
    slave = kit.on(master, lambda: master.slaves[agent.slave_id])
    assert not slave.total_used_resources()
    assert master.metrics.tasks_killed.value == 1


def test_framework_and_executor_messages_are_relayed(kit, cluster):
    """This test ensures that a MESSAGE call reaches the agent as
    FrameworkToExecutorMessage, an ExecutorToFrameworkMessage from the agent reaches the
    framework, and an ExitedExecutorMessage is relayed."""
    master, agent, scheduler, offer = cluster
    executor = mesos_pb2.ExecutorInfo()
    executor.executor_id.value = "exec"
    executor.command.value = "my-executor"
    task = kit.task_info("t1", agent.slave_id, command=None)
    task.executor.CopyFrom(executor)
    run = future_message(messages_pb2.RunTaskMessage, master, agent)
    libprocess.dispatch(scheduler, scheduler.call, kit.accept_call([offer.id.value], [task]))
    run.get(kit.TIMEOUT)

    to_executor = future_message(messages_pb2.FrameworkToExecutorMessage, master, agent)
    call = kit.Call(type=kit.Call.MESSAGE)
    call.message.slave_id.value = agent.slave_id
    call.message.executor_id.value = "exec"
    call.message.data = b"hello"
    libprocess.dispatch(scheduler, scheduler.call, call)
    message = to_executor.get(kit.TIMEOUT)
    assert message.data == b"hello" and message.framework_id.value == scheduler.framework_id

    to_framework = future_message(messages_pb2.ExecutorToFrameworkMessage, master, scheduler)
    libprocess.dispatch(agent, agent.executor_message, scheduler.framework_id, "exec", b"hi")
    assert to_framework.get(kit.TIMEOUT).data == b"hi"

    exited = future_message(messages_pb2.ExitedExecutorMessage, master, scheduler)
    libprocess.dispatch(agent, agent.executor_exited, scheduler.framework_id, "exec", 9)
    assert exited.get(kit.TIMEOUT).status == 9
    settle()
    framework = kit.on(master, lambda: master.frameworks[scheduler.framework_id])
    assert not framework.has_executor(agent.slave_id, "exec")


def _group_call(kit, offer_id, slave_id, framework_id, executor_type=None):
    call = kit.Call(type=kit.Call.ACCEPT)
    call.accept.offer_ids.add().value = offer_id
    launch = call.accept.operations.add(type=mesos_pb2.Offer.Operation.LAUNCH_GROUP)
    executor = launch.launch_group.executor
    executor.executor_id.value = "default"
    executor.framework_id.value = framework_id
    if executor_type is not None:
        executor.type = executor_type
    executor.resources.extend(
        kit.task_info("x", slave_id, "cpus:0.1;mem:32;disk:32").resources)
    for task_id in ("g1", "g2"):
        launch.launch_group.task_group.tasks.add().CopyFrom(
            kit.task_info(task_id, slave_id, "cpus:0.5;mem:64"))
    return call


def test_launch_group_runs_all_tasks_under_one_executor(kit, cluster):
    """This test ensures that a LAUNCH_GROUP sends one RunTaskGroupMessage with every task
    (each naming the group's executor) and records the tasks and the executor."""
    master, agent, scheduler, offer = cluster
    run = future_message(messages_pb2.RunTaskGroupMessage, master, agent)

    libprocess.dispatch(scheduler, scheduler.call, _group_call(
        kit, offer.id.value, agent.slave_id, scheduler.framework_id,
        mesos_pb2.ExecutorInfo.DEFAULT))

    message = run.get(kit.TIMEOUT)
    assert [t.task_id.value for t in message.task_group.tasks] == ["g1", "g2"]
    assert all(t.executor.executor_id.value == "default" for t in message.task_group.tasks)
    assert message.launch_executor
    settle()
    framework = kit.on(master, lambda: master.frameworks[scheduler.framework_id])
    assert sorted(kit.on(master, lambda: list(framework.tasks))) == ["g1", "g2"]
    assert framework.has_executor(agent.slave_id, "default")
    assert kit.on(master, lambda: framework.total_used_resources.cpus()) == 1.1


def test_invalid_task_group_fails_every_task(kit, cluster):
    """This test ensures that an invalid task group (its executor has no type) launches
    nothing and gets TASK_ERROR (REASON_TASK_GROUP_INVALID) for each of its tasks."""
    _master, agent, scheduler, offer = cluster

    libprocess.dispatch(scheduler, scheduler.call, _group_call(
        kit, offer.id.value, agent.slave_id, scheduler.framework_id))
    settle()

    updates = kit.on(scheduler, lambda: list(scheduler.updates))
    assert [(u.status.task_id.value, u.status.state) for u in updates] == [
        ("g1", mesos_pb2.TASK_ERROR), ("g2", mesos_pb2.TASK_ERROR)]
    assert all(u.status.reason == mesos_pb2.TaskStatus.REASON_TASK_GROUP_INVALID and
               u.status.message == "'ExecutorInfo.type' must be set" for u in updates)
    assert kit.on(agent, lambda: agent.run_tasks) == []
