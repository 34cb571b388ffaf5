"""Validation of what frameworks and agents send the master (port of the parts of
`src/master/validation.cpp` and `src/common/validation.cpp` this port serves).

Pure functions: each returns the error string Mesos would give, or `None` when the input is
valid. They read the master's books (`Framework`, `Slave`, offers) but never change them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from mesos.common.resources import Resources, validate_role
from mesos.common.resources import validate_resources as _validate_each
from mesos.master.framework import Framework, framework_roles, has_capability
from mesos.master.slave import Slave
from mesos.protos.mesos import mesos_pb2
from mesos.protos.mesos.scheduler import scheduler_pb2

__all__ = [
    "MINIMUM_AGENT_VERSION",
    "parse_version",
    "preserve_immutable_fields",
    "validate_framework_info",
    "validate_framework_update",
    "validate_id",
    "validate_offers",
    "validate_register_slave",
    "validate_reregister_slave",
    "validate_scheduler_call",
    "validate_suppressed_roles",
    "validate_task",
    "validate_task_group",
    "validate_uuid",
]

Call = scheduler_pb2.Call
Capability = mesos_pb2.FrameworkInfo.Capability

# Agents older than this are ignored at (re-)registration, as in Mesos 1.12.
MINIMUM_AGENT_VERSION = (1, 0, 0)

# `NAME_MAX` on Linux: ids become directory names on agents.
_NAME_MAX = 255

_SEMVER = re.compile(r"^(\d+)\.(\d+)\.(\d+)(?:[-+].*)?$")

# Characters an id may not hold: control characters, DEL and path separators.
_BAD_ID_CHARACTERS = re.compile(r"[\x00-\x1f\x7f/\\]")


# Resources found valid, by their serialized form: agents reregistering after a failover
# report thousands of tasks whose resources are mostly alike.
_VALID_RESOURCES: dict[bytes, None] = {}
_VALID_RESOURCES_MAX = 100_000


def validate_resources(resources: Iterable[Any]) -> str | None:
    """`Resources::validate` of each resource (the error names the first invalid one),
    remembering the valid ones."""
    for resource in resources:
        key = resource.SerializePartialToString()
        if key in _VALID_RESOURCES:
            continue
        error = _validate_each((resource,))
        if error is not None:
            return error
        if len(_VALID_RESOURCES) >= _VALID_RESOURCES_MAX:
            _VALID_RESOURCES.clear()
        _VALID_RESOURCES[key] = None
    return None


def _join(items: Iterable[str]) -> str:
    return "{ " + ", ".join(sorted(items)) + " }"


# -- ids and versions ----------------------------------------------------------------------


def validate_id(value: str) -> str | None:
    """Port of `common::validation::validateID`: ids become path components."""
    if not value:
        return "ID must not be empty"
    if len(value) > _NAME_MAX:
        return f"ID must not be greater than {_NAME_MAX} characters"
    if value in (".", ".."):
        return f"'{value}' is disallowed"
    if _BAD_ID_CHARACTERS.search(value) is not None:
        return f"'{value}' contains invalid characters"
    return None


def validate_uuid(value: bytes) -> str | None:
    """`id::UUID::fromBytes`: a status update uuid is exactly 16 bytes."""
    if len(value) != 16:
        return f"Not a valid UUID: expected 16 bytes, got {len(value)}"
    return None


def parse_version(text: str) -> tuple[int, int, int] | None:
    """The (major, minor, patch) of a SemVer string, or None if it is not one."""
    match = _SEMVER.match(text.strip())
    if match is None:
        return None
    return (int(match.group(1)), int(match.group(2)), int(match.group(3)))


# -- frameworks ----------------------------------------------------------------------------


def _validate_roles(info: Any) -> str | None:
    multi_role = has_capability(info, Capability.MULTI_ROLE)
    if multi_role:
        if info.HasField("role"):
            return "'FrameworkInfo.role' must not be set when the framework is MULTI_ROLE capable"
        seen: set[str] = set()
        duplicates: set[str] = set()
        for role in info.roles:
            (duplicates if role in seen else seen).add(role)
        if duplicates:
            return f"'FrameworkInfo.roles' contains duplicate items: {_join(duplicates)}"
        for role in info.roles:
            error = validate_role(role)
            if error is not None:
                return f"'FrameworkInfo.roles' contains invalid role: {error}"
        return None
    if len(info.roles) > 0:
        return "'FrameworkInfo.roles' must not be set when the framework is not MULTI_ROLE capable"
    error = validate_role(info.role)
    if error is not None:
        return f"'FrameworkInfo.role' is not a valid role: {error}"
    return None


def validate_framework_info(info: Any) -> str | None:
    """Port of `validation::framework::validate`: roles, id and failover timeout."""
    error = _validate_roles(info)
    if error is not None:
        return error
    if info.HasField("id") and info.id.value:
        error = validate_id(info.id.value)
        if error is not None:
            return error
    timeout = info.failover_timeout
    if not (timeout >= 0 and timeout * 1e9 < 2**63):
        return f"The framework failover_timeout ({timeout:g}) is invalid"
    return None


def preserve_immutable_fields(old: Any, new: Any) -> None:
    """Keeps `user` and `checkpoint` from the old info (MESOS-703); changes `new`."""
    if new.user != old.user:
        new.user = old.user
    if new.checkpoint != old.checkpoint:
        new.checkpoint = old.checkpoint


def validate_framework_update(old: Any, new: Any) -> str | None:
    """Port of `validation::framework::validateUpdate`."""
    old_principal = old.principal if old.HasField("principal") else None
    new_principal = new.principal if new.HasField("principal") else None
    if old_principal != new_principal:
        return "Changing framework's principal is not allowed."
    if new.user != old.user:
        return (f"Updating 'FrameworkInfo.user' is unsupported; attempted to update from "
                f"'{old.user}' to '{new.user}'")
    if new.checkpoint != old.checkpoint:
        return (f"Updating 'FrameworkInfo.checkpoint' is unsupported; attempted to update "
                f"from '{str(old.checkpoint).lower()}' to '{str(new.checkpoint).lower()}'")
    return None


def validate_suppressed_roles(info: Any, suppressed: Iterable[str]) -> str | None:
    invalid = set(suppressed) - framework_roles(info)
    if invalid:
        return f"Suppressed roles {_join(invalid)} are not contained in the set of roles"
    return None


# -- scheduler calls -----------------------------------------------------------------------

# Call type -> the field it must carry (None: no payload needed).
_CALL_PAYLOADS: dict[int, str | None] = {
    Call.TEARDOWN: None,
    Call.ACCEPT: "accept",
    Call.DECLINE: "decline",
    Call.ACCEPT_INVERSE_OFFERS: "accept_inverse_offers",
    Call.DECLINE_INVERSE_OFFERS: "decline_inverse_offers",
    Call.REVIVE: None,
    Call.SUPPRESS: None,
    Call.KILL: "kill",
    Call.SHUTDOWN: "shutdown",
    Call.ACKNOWLEDGE: "acknowledge",
    Call.ACKNOWLEDGE_OPERATION_STATUS: "acknowledge_operation_status",
    Call.RECONCILE: "reconcile",
    Call.RECONCILE_OPERATIONS: "reconcile_operations",
    Call.MESSAGE: "message",
    Call.REQUEST: "request",
    Call.UPDATE_FRAMEWORK: "update_framework",
    Call.UNKNOWN: None,
}


def validate_scheduler_call(call: Any) -> str | None:
    """Port of `validation::scheduler::call::validate` (without authentication)."""
    if not call.IsInitialized():
        return "Not initialized: " + ", ".join(call.FindInitializationErrors())
    if not call.HasField("type"):
        return "Expecting 'type' to be present"
    if call.type == Call.SUBSCRIBE:
        if not call.HasField("subscribe"):
            return "Expecting 'subscribe' to be present"
        if call.subscribe.framework_info.id != call.framework_id:
            return "'framework_id' differs from 'subscribe.framework_info.id'"
        return None
    if not call.HasField("framework_id"):
        return "Expecting 'framework_id' to be present"
    if call.type not in _CALL_PAYLOADS:
        return f"Unknown call type {call.type}"
    payload = _CALL_PAYLOADS[call.type]
    if payload is not None and not call.HasField(payload):
        return f"Expecting '{payload}' to be present"
    if call.type == Call.ACKNOWLEDGE:
        return validate_uuid(call.acknowledge.uuid)
    if call.type == Call.UPDATE_FRAMEWORK:
        if call.framework_id != call.update_framework.framework_info.id:
            return "'framework_id' differs from 'update_framework.framework_info.id'"
    return None


# -- agents --------------------------------------------------------------------------------


def _validate_slave_info(info: Any) -> str | None:
    if info.HasField("id"):
        error = validate_id(info.id.value)
        if error is not None:
            return error
    return validate_resources(info.resources)


def validate_register_slave(message: Any) -> str | None:
    """Port of `validation::master::message::registerSlave`."""
    error = _validate_slave_info(message.slave)
    if error is not None:
        return error
    if len(message.checkpointed_resources) > 0 and not message.slave.checkpoint:
        return "Checkpointed resources provided when checkpointing is not enabled"
    return validate_resources(message.checkpointed_resources)


def validate_reregister_slave(message: Any) -> str | None:
    """Port of `validation::master::message::reregisterSlave`."""
    info = message.slave
    if not info.id.value:
        return "Expecting 'slave.id' to be present"
    error = _validate_slave_info(info)
    if error is not None:
        return error
    error = validate_resources(message.checkpointed_resources)
    if error is not None:
        return error
    framework_ids: set[str] = set()
    for framework in message.frameworks:
        error = validate_framework_info(framework)
        if error is not None:
            return error
        if not framework.id.value:
            return "Framework has no FrameworkID"
        if framework.id.value in framework_ids:
            return f"Framework has a duplicate FrameworkID: '{framework.id.value}'"
        framework_ids.add(framework.id.value)
    executor_ids: set[tuple[str, str]] = set()
    for executor in message.executor_infos:
        error = validate_id(executor.executor_id.value)
        if error is not None:
            return error
        error = validate_resources(executor.resources)
        if error is not None:
            return error
        if executor.framework_id.value not in framework_ids:
            return f"Executor has an invalid FrameworkID '{executor.framework_id.value}'"
        key = (executor.framework_id.value, executor.executor_id.value)
        if key in executor_ids:
            return (f"Framework '{key[0]}' has a duplicate ExecutorID '{key[1]}'")
        executor_ids.add(key)
    for task in message.tasks:
        error = validate_id(task.task_id.value)
        if error is not None:
            return f"Task has an invalid TaskID: {error}"
        if task.slave_id.value != info.id.value:
            return f"Task has an invalid SlaveID '{task.slave_id.value}'"
        if task.framework_id.value not in framework_ids:
            return f"Task has an invalid FrameworkID '{task.framework_id.value}'"
        if (task.HasField("executor_id") and task.state == mesos_pb2.TASK_RUNNING
                and (task.framework_id.value, task.executor_id.value) not in executor_ids):
            return f"Task has an invalid ExecutorID '{task.executor_id.value}'"
        error = validate_resources(task.resources)
        if error is not None:
            return f"Task uses invalid resources: {error}"
    return None


# -- offers --------------------------------------------------------------------------------


def validate_offers(offer_ids: Sequence[str], offers: Mapping[str, Any],
                    framework_id: str) -> str | None:
    """Port of `validation::offer::validate`: unique, current offers of this framework,
    allocated to one role and all on one agent. `offers` maps offer id -> `Offer`."""
    if len(set(offer_ids)) != len(offer_ids):
        seen: set[str] = set()
        for offer_id in offer_ids:
            if offer_id in seen:
                return f"Duplicate offer {offer_id} in offer list"
            seen.add(offer_id)
    for offer_id in offer_ids:
        if offer_id not in offers:
            return f"Offer {offer_id} is no longer valid"
    for offer_id in offer_ids:
        owner = offers[offer_id].framework_id.value
        if owner != framework_id:
            return (f"Offer {offer_id} has invalid framework {owner} while framework "
                    f"{framework_id} is expected")
    role: str | None = None
    for offer_id in offer_ids:
        offer_role = offers[offer_id].allocation_info.role
        if role is None:
            role = offer_role
        elif offer_role != role:
            return (f"Aggregated offers must be allocated to the same role. Offer {offer_id}"
                    f" uses role '{offer_role}' but another is using role '{role}'")
    slave_id: str | None = None
    for offer_id in offer_ids:
        offer_slave = offers[offer_id].slave_id.value
        if slave_id is None:
            slave_id = offer_slave
        elif offer_slave != slave_id:
            return (f"Aggregated offers must belong to one single agent. Offer {offer_id} "
                    f"uses agent {offer_slave} and agent {slave_id}")
    return None


# -- tasks ---------------------------------------------------------------------------------


def _validate_task_resources(task: Any) -> str | None:
    if len(task.resources) == 0:
        return "Task uses no resources"
    error = validate_resources(task.resources)
    if error is not None:
        return f"Task uses invalid resources: {error}"
    roles = set()
    for resource in task.resources:
        if not resource.allocation_info.HasField("role"):
            return "Invalid task resources: The resources are not allocated to a role"
        roles.add(resource.allocation_info.role)
    if len(roles) > 1:
        first, second = sorted(roles)[:2]
        return (f"Invalid task resources: The resources have multiple allocation roles "
                f"('{second}' and '{first}') but only one allocation role is allowed")
    error = _mixes_revocable(Resources(task.resources))
    if error is not None:
        return f"Task mixes revocable and non-revocable resources: {error}"
    return None


def _mixes_revocable(resources: Resources) -> str | None:
    for name in sorted(resources.names()):
        named = resources.get(name)
        revocable = named.revocable()
        if revocable and revocable != named:
            return f"Cannot use both revocable and non-revocable '{name}' at the same time"
    return None


def _validate_executor(executor: Any, framework: Framework, slave: Slave) -> str | None:
    error = validate_id(executor.executor_id.value)
    if error is not None:
        return error
    if executor.HasField("shutdown_grace_period") and \
            executor.shutdown_grace_period.nanoseconds < 0:
        return "ExecutorInfo's 'shutdown_grace_period' must be non-negative"
    if not executor.HasField("framework_id"):
        return "'ExecutorInfo.framework_id' must be set"
    if executor.framework_id.value != framework.id:
        return (f"ExecutorInfo has an invalid FrameworkID (Actual: "
                f"{executor.framework_id.value} vs Expected: {framework.id})")
    error = validate_resources(executor.resources)
    if error is not None:
        return f"Executor uses invalid resources: {error}"
    existing = slave.executors.get(framework.id, {}).get(executor.executor_id.value)
    if existing is not None and existing != executor:
        return ("ExecutorInfo is not compatible with existing ExecutorInfo with same "
                f"ExecutorID '{executor.executor_id.value}'")
    if executor.HasField("type") and executor.type != mesos_pb2.ExecutorInfo.CUSTOM:
        return "'ExecutorInfo.type' must be 'CUSTOM'"
    if not executor.HasField("command"):
        return "'ExecutorInfo.command' must be set"
    return None


def _validate_task_common(task: Any, framework: Framework, slave: Slave) -> str | None:
    """The checks of a task shared by LAUNCH and LAUNCH_GROUP (`task::internal::validateTask`)."""
    task_id = task.task_id.value
    error = validate_id(task_id)
    if error is not None:
        return error
    if task_id in framework.tasks:
        return f"Task has duplicate ID: {task_id}"
    if task_id in framework.unreachable_tasks:
        return f"Task reuses the ID of an unreachable task: {task_id}"
    if task.slave_id.value != slave.id:
        return (f"Task uses invalid agent {task.slave_id.value} while agent {slave.id} is "
                "expected")
    if task.HasField("kill_policy") and task.kill_policy.HasField("grace_period") and \
            task.kill_policy.grace_period.nanoseconds < 0:
        return "Task's 'kill_policy.grace_period' must be non-negative"
    if task.HasField("max_completion_time") and task.max_completion_time.nanoseconds < 0:
        return "Task's `max_completion_time` must be non-negative"
    return _validate_task_resources(task)


def validate_task(task: Any, framework: Framework, slave: Slave,
                  offered: Resources) -> str | None:
    """Port of `validation::task::validate` for a LAUNCH operation.

    `task` has its resources already allocated to the offer's role (the master injects the
    allocation info first, as Mesos does); `offered` is what is left of the offers.
    """
    error = _validate_task_common(task, framework, slave)
    if error is not None:
        return error
    if task.HasField("executor") == task.HasField("command"):
        return ("Task should have at least one (but not both) of CommandInfo or "
                "ExecutorInfo present")
    total = Resources(task.resources)
    if task.HasField("executor"):
        error = _validate_executor(task.executor, framework, slave)
        if error is not None:
            return error
        if not slave.has_executor(framework.id, task.executor.executor_id.value):
            total = total + Resources(task.executor.resources)
        error = _mixes_revocable(total)
        if error is not None:
            return f"Task and its executor mix revocable and non-revocable resources: {error}"
    if not offered.contains(total):
        return (f"Total resources {total} required by task and its executor is more than "
                f"available {offered}")
    return None


# The smallest executor a task group may run under (Mesos's `MIN_CPUS`, `MIN_MEM`).
MIN_CPUS = 0.01
MIN_MEM = 32.0


def validate_task_group(tasks: Sequence[Any], executor: Any, framework: Framework,
                        slave: Slave, offered: Resources) -> str | None:
    """Port of `validation::task::group::validate` for a LAUNCH_GROUP operation; every
    task already carries the group's executor (the master copies it in first)."""
    if len(tasks) == 0:
        return "Task group is empty"
    seen: set[str] = set()
    for task in tasks:
        task_id = task.task_id.value
        error = _validate_task_common(task, framework, slave)
        if error is None and task_id in seen:
            error = f"Task has duplicate ID: {task_id}"
        if error is None and not task.HasField("executor"):
            error = "'TaskInfo.executor' must be set"
        if error is None and task.HasField("container") and \
                task.container.type == mesos_pb2.ContainerInfo.DOCKER:
            error = "Docker ContainerInfo is not supported on the task"
        if error is not None:
            return f"Task '{task_id}' is invalid: {error}"
        seen.add(task_id)

    executor_id = executor.executor_id.value
    error = validate_id(executor_id)
    if error is not None:
        return error
    if not executor.HasField("framework_id"):
        return "'ExecutorInfo.framework_id' must be set"
    if executor.framework_id.value != framework.id:
        return (f"ExecutorInfo has an invalid FrameworkID (Actual: "
                f"{executor.framework_id.value} vs Expected: {framework.id})")
    if not executor.HasField("type"):
        return "'ExecutorInfo.type' must be set"
    if executor.type == mesos_pb2.ExecutorInfo.UNKNOWN:
        return "Unknown executor type"
    if executor.type == mesos_pb2.ExecutorInfo.DEFAULT and executor.HasField("command"):
        return "'ExecutorInfo.command' must not be set for 'DEFAULT' executor"
    if executor.type == mesos_pb2.ExecutorInfo.CUSTOM and not executor.HasField("command"):
        return "'ExecutorInfo.command' must be set for 'CUSTOM' executor"
    if executor.HasField("container") and \
            executor.container.type == mesos_pb2.ContainerInfo.DOCKER:
        return "Docker ContainerInfo is not supported on the executor"
    error = validate_resources(executor.resources)
    if error is not None:
        return f"Executor uses invalid resources: {error}"
    existing = slave.executors.get(framework.id, {}).get(executor_id)
    if existing is not None and existing != executor:
        return ("ExecutorInfo is not compatible with existing ExecutorInfo with same "
                f"ExecutorID '{executor_id}'")
    for task in tasks:
        if task.executor != executor:
            return (f"The `ExecutorInfo` of task '{task.task_id.value}' is different from "
                    f"executor '{executor_id}'")
    executor_resources = Resources(executor.resources)
    cpus = executor_resources.cpus()
    if cpus is None or cpus < MIN_CPUS:
        cpus_text = "None" if cpus is None else f"{cpus:g}"
        return (f"Executor '{executor_id}' uses less CPUs ({cpus_text}) than the minimum "
                f"required ({MIN_CPUS:g})")
    mem = executor_resources.mem()
    if mem is None or mem < MIN_MEM:
        return (f"Executor '{executor_id}' uses less memory ("
                f"{'None' if mem is None else f'{mem:g}MB'}) than the minimum required "
                f"({MIN_MEM:g}MB)")
    if executor_resources.disk() is None:
        return f"Executor '{executor_id}' uses no disk"

    total = Resources()
    for task in tasks:
        total = total + Resources(task.resources)
    error = _mixes_revocable(total + executor_resources)
    if error is not None:
        return f"Task group and executor mix revocable and non-revocable resources: {error}"
    if not slave.has_executor(framework.id, executor_id):
        total = total + executor_resources
    if not offered.contains(total):
        return (f"Total resources {total} required by task group and its executor are more "
                f"than available {offered}")
    return None
