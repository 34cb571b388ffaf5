"""Bad input and faults at the executor driver (issue 6): acknowledgements that match no
update, or that come from a process other than the agent (mesos-behaviour.md §2.8;
`src/exec/exec.cpp`).

The driver keeps every update until the agent acknowledges that update's uuid; an
acknowledgement that names no kept update, or that another process sends, must change
nothing, or an update the agent never recorded would be forgotten.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from libprocess import spawn, terminate, wait
from libprocess.testing import settle
from mesos.interface import mesos_pb2
from mesos.protos.messages import messages_pb2


def _ack(kit: Any, update: Any, **fields: Any) -> Any:
    ack = kit.FakeAgent().acknowledgement(update)
    ack.task_id.value = fields.pop("task_id", update.status.task_id.value)
    ack.uuid = fields.pop("uuid", update.uuid)
    assert not fields
    return ack


def test_acknowledgements_that_match_no_update_change_nothing(
        clock: Any, kit: Any, start_driver: Any, caplog: pytest.LogCaptureFixture) -> None:
    """This test ensures that acknowledgements for an unknown uuid, for an unknown task, with
    a malformed uuid, or for a kept update but sent by a process other than the agent, are
    each ignored with a log line and counted; that the update stays kept (with its task)
    and is handed to a restarted agent in the reregistration; and that the agent's own
    acknowledgement then releases it, a repeat of it being ignored."""
    old = kit.FakeAgent(auto_acknowledge=False)
    spawn(old)
    executor = kit.RecordingExecutor()
    driver = start_driver(old, executor, MESOS_CHECKPOINT="1", MESOS_RECOVERY_TIMEOUT="1mins")
    executor.next("registered")
    old.run_task(kit.task_info("t1", "sleep 1"))
    executor.next("launchTask")
    driver.sendStatusUpdate(kit.task_status("t1", mesos_pb2.TASK_RUNNING))
    update = old.next(messages_pb2.StatusUpdateMessage).update
    acknowledged = driver.awaitAcknowledgements()

    # 1. Acknowledgements from the agent that match no kept update.
    for ack in (_ack(kit, update, uuid=uuid.uuid4().bytes),
                _ack(kit, update, task_id="t-unknown", uuid=uuid.uuid4().bytes),
                _ack(kit, update, uuid=b"short")):
        old.tell(None, ack)
    # 2. The right acknowledgement, but from another process.
    impostor = kit.FakeAgent()
    spawn(impostor)
    impostor.tell(driver.process.upid, _ack(kit, update))
    settle()

    assert driver.process.ignored_messages == 4
    logged = [r.getMessage() for r in caplog.records if "Ignoring status update "
              "acknowledgement" in r.getMessage()]
    assert sum("because the update is unknown" in line for line in logged) == 2
    assert sum("its uuid is not 16 bytes" in line for line in logged) == 1
    assert sum(f"from {impostor.upid} because it was not sent from the agent" in line
               for line in logged) == 1
    assert list(driver.process.updates) == [update.uuid]
    assert list(driver.process.tasks) == ["t1"]
    assert acknowledged.is_pending()

    # 3. The agent restarts: the update and its task go to the new agent.
    terminate(old)
    wait(old, 10)
    executor.next("disconnected")
    new = kit.FakeAgent(auto_acknowledge=False)
    spawn(new)
    reconnect = messages_pb2.ReconnectExecutorMessage()
    reconnect.slave_id.value = kit.SLAVE_ID
    new.tell(driver.process.upid, reconnect)
    reregister = new.next(messages_pb2.ReregisterExecutorMessage)
    assert [u.uuid for u in reregister.updates] == [update.uuid]
    assert [t.task_id.value for t in reregister.tasks] == ["t1"]
    reregistered = messages_pb2.ExecutorReregisteredMessage()
    reregistered.slave_id.value = kit.SLAVE_ID
    reregistered.slave_info.CopyFrom(new.slave_info)
    new.tell(driver.process.upid, reregistered)
    executor.next("reregistered")

    # 4. The new agent's acknowledgement releases it; a repeat changes nothing.
    new.acknowledge(update)
    acknowledged.get(timeout=kit.TIMEOUT)
    assert driver.process.updates == {} and driver.process.tasks == {}
    new.acknowledge(update)
    settle()
    assert driver.process.ignored_messages == 5
