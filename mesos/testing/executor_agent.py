"""`ExecutorAgent`: the agent side of the executor protocol, for executor tests.

Executor drivers, the command executor and its health checks are tested against an agent
that lives in the test's OS process: it answers the executor's registration, acknowledges
its status updates and records every message it receives, which the test reads in order;
it also sends what an agent sends (RunTask, KillTask, ShutdownExecutor, acknowledgements).
The executor under test may be in the same OS process or a real one (it finds this agent
through the `MESOS_*` environment `environment()` gives).
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

from libprocess import ID, UPID, Process, dispatch
from mesos.protos.mesos import mesos_pb2
from mesos.protos.messages import messages_pb2

__all__ = ["CommandExecutorOS", "ExecutorAgent"]

TIMEOUT = 10.0


class ExecutorAgent(Process):
    """Stands in for the agent (`slave(N)`) of one executor `executor_id` of framework
    `framework` (a `FrameworkInfo` with its id) on agent `slave_id`.

    Records every message an executor sends it (read with `next(MessageClass)`), answers
    `RegisterExecutorMessage` with `ExecutorRegisteredMessage` (unless `auto_register` is
    off) and acknowledges every status update to the update's `pid` (unless
    `auto_acknowledge` is off). Runs on its own thread; `next`, `pending`, `tell` and the
    senders are safe from the test's thread.
    """

    def __init__(self, framework: Any, executor_id: str, slave_id: str, *,
                 id: str | None = None, auto_register: bool = True,
                 auto_acknowledge: bool = True) -> None:
        super().__init__(id or ID.generate("slave"))
        self.framework = framework
        self.framework_id: str = framework.id.value
        self.executor_id = executor_id
        self.slave_id = slave_id
        self.auto_register = auto_register
        self.auto_acknowledge = auto_acknowledge
        self.executor_pid: UPID | None = None
        self._queues: defaultdict[str, queue.Queue[tuple[UPID, Any]]] = defaultdict(
            queue.Queue)

    def initialize(self) -> None:
        self.install(messages_pb2.RegisterExecutorMessage, self.register_executor)
        self.install(messages_pb2.ReregisterExecutorMessage, self.reregister_executor)
        self.install(messages_pb2.StatusUpdateMessage, self.status_update)
        self.install(messages_pb2.ExecutorToFrameworkMessage, self.record)

    # What the executor learns of its agent.

    @property
    def slave_info(self) -> Any:
        info = mesos_pb2.SlaveInfo(hostname="localhost")
        info.id.value = self.slave_id
        return info

    def executor_info(self) -> Any:
        info = mesos_pb2.ExecutorInfo()
        info.executor_id.value = self.executor_id
        info.framework_id.value = self.framework_id
        info.command.value = "mesos-executor"
        return info

    def registered_message(self) -> Any:
        message = messages_pb2.ExecutorRegisteredMessage()
        message.executor_info.CopyFrom(self.executor_info())
        message.framework_id.value = self.framework_id
        message.framework_info.CopyFrom(self.framework)
        message.slave_id.value = self.slave_id
        message.slave_info.CopyFrom(self.slave_info)
        return message

    def environment(self, directory: str, checkpoint: bool = False) -> dict[str, str]:
        """The `MESOS_*` variables an agent gives this executor (on top of its own)."""
        return {
            "MESOS_SLAVE_PID": str(self.upid),
            "MESOS_SLAVE_ID": self.slave_id,
            "MESOS_FRAMEWORK_ID": self.framework_id,
            "MESOS_EXECUTOR_ID": self.executor_id,
            "MESOS_DIRECTORY": directory,
            "MESOS_CHECKPOINT": "1" if checkpoint else "0",
        }

    # Handlers (on this process's thread).

    def register_executor(self, from_: UPID, message: Any) -> None:
        self.executor_pid = from_
        self.record(from_, message)
        if self.auto_register:
            self.send(from_, self.registered_message())

    def reregister_executor(self, from_: UPID, message: Any) -> None:
        self.executor_pid = from_
        self.record(from_, message)

    def status_update(self, from_: UPID, message: Any) -> None:
        self.record(from_, message)
        if self.auto_acknowledge:
            self.send(UPID(message.pid), self.acknowledgement(message.update))

    def record(self, from_: UPID, message: Any) -> None:
        self._queues[message.DESCRIPTOR.full_name].put((from_, message))

    def acknowledgement(self, update: Any) -> Any:
        ack = messages_pb2.StatusUpdateAcknowledgementMessage()
        ack.slave_id.value = self.slave_id
        ack.framework_id.CopyFrom(update.framework_id)
        ack.task_id.CopyFrom(update.status.task_id)
        ack.uuid = update.uuid
        return ack

    # The test's side.

    def next(self, kind: type[Any], timeout: float = TIMEOUT) -> Any:
        """The next message of type `kind` received (waits up to `timeout` seconds)."""
        try:
            return self._queues[kind.DESCRIPTOR.full_name].get(timeout=timeout)[1]
        except queue.Empty:
            raise AssertionError(f"No {kind.DESCRIPTOR.name} within {timeout} s") from None

    def next_status(self, timeout: float = TIMEOUT) -> Any:
        """The `TaskStatus` of the next status update received."""
        return self.next(messages_pb2.StatusUpdateMessage, timeout).update.status

    def pending(self, kind: type[Any]) -> int:
        """How many messages of type `kind` were received and not read by `next`."""
        return self._queues[kind.DESCRIPTOR.full_name].qsize()

    def tell(self, to: UPID | str | None, message: Any) -> None:
        """Sends `message` from this agent (on its own thread) to `to` (default: the
        executor that registered last)."""
        target = to if to is not None else self.executor_pid
        assert target is not None, "no executor has registered with this agent"
        dispatch(self, self.send, target, message).get(timeout=TIMEOUT)

    def acknowledge(self, update: Any) -> None:
        self.tell(self.executor_pid, self.acknowledgement(update))

    def run_task(self, task: Any) -> None:
        message = messages_pb2.RunTaskMessage()
        message.framework_id.value = self.framework_id
        message.framework.CopyFrom(self.framework)
        message.task.CopyFrom(task)
        self.tell(None, message)

    def kill_task(self, task_id: str) -> None:
        message = messages_pb2.KillTaskMessage()
        message.framework_id.value = self.framework_id
        message.task_id.value = task_id
        self.tell(None, message)

    def shutdown_executor(self) -> None:
        message = messages_pb2.ShutdownExecutorMessage()
        message.framework_id.value = self.framework_id
        message.executor_id.value = self.executor_id
        self.tell(None, message)


class CommandExecutorOS:
    """`python -m mesos.exec.command_executor` as a real OS process in its own session, as
    an agent's containerizer starts it (the executor's last resort kills its own process
    group, which must not be the test runner's), with `environment` on top of this
    process's and its stdout and stderr in `sandbox/stdout` and `sandbox/stderr`."""

    def __init__(self, sandbox: Path, environment: dict[str, str]) -> None:
        self.sandbox = sandbox
        env = dict(os.environ)
        env.update(environment)
        env["PYTHONUNBUFFERED"] = "1"
        self._stdout = open(sandbox / "stdout", "wb")
        self._stderr = open(sandbox / "stderr", "wb")
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "mesos.exec.command_executor"], cwd=sandbox, env=env,
            stdin=subprocess.DEVNULL, stdout=self._stdout, stderr=self._stderr,
            start_new_session=True)

    def wait(self, timeout: float = 30.0) -> int:
        return self.popen.wait(timeout)

    def output(self) -> tuple[str, str]:
        return ((self.sandbox / "stdout").read_text(errors="replace"),
                (self.sandbox / "stderr").read_text(errors="replace"))

    def close(self) -> None:
        """Kills what is left of the executor's session and closes its output files."""
        if self.popen.poll() is None:
            try:
                os.killpg(self.popen.pid, signal.SIGKILL)
            except OSError:
                pass
            self.popen.wait(10)
        self._stdout.close()
        self._stderr.close()
