"""The master's pure validation functions and bookkeeping classes (no actors)."""

from __future__ import annotations

import pytest

from mesos.common.resources import Resources
from mesos.master.flags import parse_weights
from mesos.master.framework import Framework, FrameworkState
from mesos.master.slave import Slave
from mesos.master.validation import (
    parse_version,
    validate_framework_info,
    validate_framework_update,
    validate_id,
    validate_offers,
    validate_register_slave,
    validate_scheduler_call,
    validate_task,
)
from mesos.protos.mesos import mesos_pb2
from mesos.protos.mesos.scheduler import scheduler_pb2
from mesos.protos.messages import messages_pb2

Call = scheduler_pb2.Call
MULTI_ROLE = mesos_pb2.FrameworkInfo.Capability.MULTI_ROLE


def _framework(**kwargs) -> Framework:
    info = mesos_pb2.FrameworkInfo(user="u", name="f", **kwargs)
    info.id.value = "fw"
    return Framework(info, None, 0.0)


def _slave() -> Slave:
    info = mesos_pb2.SlaveInfo(hostname="h")
    info.id.value = "s1"
    info.resources.extend(Resources.parse("cpus:4;mem:1024").to_protobuf_list())
    from libprocess import UPID

    return Slave(info, UPID("slave(1)@127.0.0.1:1"), "1.12.0", [], 0.0)


def _task(task_id: str = "t", resources: str = "cpus:1;mem:32") -> mesos_pb2.TaskInfo:
    task = mesos_pb2.TaskInfo(name="t")
    task.task_id.value = task_id
    task.slave_id.value = "s1"
    task.resources.extend(Resources.parse(resources).allocate("*").to_protobuf_list())
    task.command.value = "true"
    return task


@pytest.mark.parametrize("value, error", [
    ("ok-id_1.2", None),
    ("", "ID must not be empty"),
    (".", "'.' is disallowed"),
    ("a/b", "'a/b' contains invalid characters"),
    ("tab\there", "contains invalid characters"),
    ("x" * 256, "ID must not be greater than 255 characters"),
])
def test_validate_id(value, error):
    """This test ensures that ids follow Mesos's path-component rules."""
    result = validate_id(value)
    if error is None:
        assert result is None
    else:
        assert result is not None and error in result


def test_scheduler_call_validation():
    """This test ensures that calls missing their type, framework id or payload are
    refused with Mesos's messages."""
    assert validate_scheduler_call(Call()) == "Expecting 'type' to be present"
    assert validate_scheduler_call(Call(type=Call.REVIVE)) == \
        "Expecting 'framework_id' to be present"
    call = Call(type=Call.KILL)
    call.framework_id.value = "fw"
    assert validate_scheduler_call(call) == "Expecting 'kill' to be present"
    call = Call(type=Call.ACKNOWLEDGE)
    call.framework_id.value = "fw"
    call.acknowledge.slave_id.value = "s"
    call.acknowledge.task_id.value = "t"
    call.acknowledge.uuid = b"x" * 15
    assert "Not a valid UUID" in validate_scheduler_call(call)
    call.acknowledge.uuid = b"x" * 16
    assert validate_scheduler_call(call) is None
    subscribe = Call(type=Call.SUBSCRIBE)
    subscribe.subscribe.framework_info.user = "u"
    subscribe.subscribe.framework_info.name = "n"
    subscribe.framework_id.value = "other"
    assert validate_scheduler_call(subscribe) == \
        "'framework_id' differs from 'subscribe.framework_info.id'"


def test_framework_info_validation():
    """This test ensures roles and the failover timeout are checked as Mesos does."""
    info = mesos_pb2.FrameworkInfo(user="u", name="n")
    assert validate_framework_info(info) is None
    info.roles.append("web")
    assert validate_framework_info(info) == \
        "'FrameworkInfo.roles' must not be set when the framework is not MULTI_ROLE capable"
    info.capabilities.add(type=MULTI_ROLE)
    info.roles.append("web")
    assert "duplicate items" in validate_framework_info(info)
    info = mesos_pb2.FrameworkInfo(user="u", name="n", failover_timeout=-1)
    assert validate_framework_info(info) == "The framework failover_timeout (-1) is invalid"


def test_framework_update_validation():
    """This test ensures that the principal, user and checkpoint cannot change."""
    old = mesos_pb2.FrameworkInfo(user="u", name="n", principal="p")
    new = mesos_pb2.FrameworkInfo(user="u", name="n2", principal="q")
    assert validate_framework_update(old, new) == "Changing framework's principal is not allowed."
    new.principal = "p"
    assert validate_framework_update(old, new) is None
    new.checkpoint = True
    assert "Updating 'FrameworkInfo.checkpoint' is unsupported" in \
        validate_framework_update(old, new)


def test_offer_validation():
    """This test ensures offers must be current, the caller's, unique, of one role and one
    agent."""
    def offer(offer_id, framework_id="fw", slave_id="s1", role="*"):
        result = mesos_pb2.Offer(hostname="h")
        result.id.value = offer_id
        result.framework_id.value = framework_id
        result.slave_id.value = slave_id
        result.allocation_info.role = role
        return result

    offers = {"o1": offer("o1"), "o2": offer("o2", slave_id="s2"),
              "o3": offer("o3", framework_id="other"), "o4": offer("o4", role="web")}
    assert validate_offers(["o1"], offers, "fw") is None
    assert validate_offers(["o1", "o1"], offers, "fw") == "Duplicate offer o1 in offer list"
    assert validate_offers(["gone"], offers, "fw") == "Offer gone is no longer valid"
    assert validate_offers(["o3"], offers, "fw") == \
        "Offer o3 has invalid framework other while framework fw is expected"
    assert "must be allocated to the same role" in validate_offers(["o1", "o4"], offers, "fw")
    assert "must belong to one single agent" in validate_offers(["o1", "o2"], offers, "fw")


def test_task_validation():
    """This test ensures the task checks of a LAUNCH: resources within the offer, unique
    id, the offer's agent, a command or an executor."""
    framework, slave = _framework(), _slave()
    offered = Resources.parse("cpus:2;mem:64").allocate("*")
    assert validate_task(_task(), framework, slave, offered) is None
    error = validate_task(_task(resources="cpus:3"), framework, slave, offered)
    assert error.startswith("Total resources cpus(allocated: *):3 required by task")
    task = _task()
    task.ClearField("resources")
    assert validate_task(task, framework, slave, offered) == "Task uses no resources"
    unallocated = _task()
    unallocated.ClearField("resources")
    unallocated.resources.extend(Resources.parse("cpus:1").to_protobuf_list())
    assert "not allocated to a role" in validate_task(unallocated, framework, slave, offered)
    executor_task = _task()
    executor_task.executor.executor_id.value = "e"
    assert "(but not both)" in validate_task(executor_task, framework, slave, offered)
    executor_task.ClearField("command")
    assert validate_task(executor_task, framework, slave, offered) == \
        "'ExecutorInfo.framework_id' must be set"


def test_register_slave_validation():
    """This test ensures that checkpointed resources need a checkpointing agent."""
    message = messages_pb2.RegisterSlaveMessage(version="1.12.0")
    message.slave.hostname = "h"
    message.slave.resources.extend(Resources.parse("cpus:1").to_protobuf_list())
    assert validate_register_slave(message) is None
    message.checkpointed_resources.extend(Resources.parse("disk:1").to_protobuf_list())
    assert validate_register_slave(message) == \
        "Checkpointed resources provided when checkpointing is not enabled"


def test_parse_version_and_weights():
    """This test ensures agent versions and `--weights` parse, and bad ones are refused."""
    assert parse_version("1.12.0") == (1, 12, 0)
    assert parse_version("1.0.0-rc1") == (1, 0, 0)
    assert parse_version("one") is None
    assert parse_weights("a=2,b/c=0.5") == {"a": 2.0, "b/c": 0.5}
    with pytest.raises(ValueError, match="invalid weight 'a'"):
        parse_weights("a")
    with pytest.raises(ValueError, match="weights must be positive"):
        parse_weights("a=0")


def test_framework_bookkeeping():
    """This test ensures a framework's state transitions are checked and its used
    resources follow its tasks and executors."""
    framework = _framework()
    assert framework.state is FrameworkState.RECOVERED
    with pytest.raises(RuntimeError):
        framework.activate()
    from libprocess import UPID

    framework.update_connection(UPID("scheduler(1)@127.0.0.1:1"))
    assert framework.activate() and not framework.activate()
    with pytest.raises(RuntimeError):
        framework.disconnect()
    task = mesos_pb2.Task(name="t", state=mesos_pb2.TASK_RUNNING)
    task.task_id.value = "t"
    task.framework_id.value = "fw"
    task.slave_id.value = "s1"
    task.resources.extend(Resources.parse("cpus:1").allocate("*").to_protobuf_list())
    framework.add_task(task)
    assert framework.total_used_resources.cpus() == 1.0
    task.state = mesos_pb2.TASK_FINISHED
    framework.recover_resources(task)
    framework.remove_task(task)
    assert not framework.total_used_resources
    assert list(framework.completed_tasks) == [task]
