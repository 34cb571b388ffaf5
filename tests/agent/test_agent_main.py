"""`mesos-agent` (`python -m mesos.agent.main`): flags, and a real agent OS process."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import urllib.request
from types import SimpleNamespace
from typing import Any

import psutil
import pytest

import libprocess
from libprocess.testing import await_condition, future_message
from mesos.agent.agent import StandaloneMasterDetector, create_master_detector
from mesos.agent.main import main
from mesos.protos.mesos import mesos_pb2
from mesos.protos.messages import messages_pb2


def _get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=30.0) as response:
        return json.loads(response.read())


def _run_main(args: list[str], capsys: Any) -> tuple[int, str, str]:
    try:
        code = main(["mesos-agent", *args])
    except SystemExit as e:
        code = int(e.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("args, expected", [
    (["--work_dir=/tmp/agent"], "Missing required flag 'master'"),
    (["--master=localhost:5050"], "Missing required flag 'work_dir'"),
    (["--master=zk://localhost:2181", "--work_dir=/tmp/agent"],
     "expecting a (chroot) path for ZooKeeper"),
    (["--master=zk://localhost:x/mesos", "--work_dir=/tmp/agent"],
     "Bad port in server 'localhost:x'"),
    (["--master=localhost", "--work_dir=/tmp/agent"], "invalid master 'localhost'"),
    (["--master=localhost:5050", "--work_dir=/tmp/agent", "--resources=cpus:many"],
     "Invalid value for flag 'resources'"),
    (["--master=localhost:5050", "--work_dir=/tmp/agent", "--port=70000"],
     "is not a port number"),
    (["--master=localhost:5050", "--work_dir=/tmp/agent", "--recover=maybe"],
     "unknown option 'maybe'"),
    (["--master=localhost:5050", "--work_dir=/tmp/agent",
      "--registration_backoff_factor=2mins"], "must be less than 1mins"),
    (["--master=localhost:5050", "--work_dir=/tmp/agent", "--bogus=1"],
     "unknown flag 'bogus'"),
])
def test_bad_flags_exit_1(args: list[str], expected: str, capsys: Any) -> None:
    """This test ensures that a bad or missing flag makes `mesos-agent` exit 1 with a line
    naming the problem, before anything starts."""
    code, out, err = _run_main(args, capsys)
    assert code == 1
    assert expected in err.splitlines()[0]
    assert out == ""


def test_help_exits_0(capsys: Any) -> None:
    """This test ensures that `--help` prints the usage with the agent's flags."""
    code, out, _ = _run_main(["--help"], capsys)
    assert code == 0
    assert "--master=VALUE" in out and "--executor_registration_timeout=VALUE" in out


def test_master_flag_forms() -> None:
    """This test ensures that `--master` takes the master's HTTP address (host:port or
    http://host:port), which is resolved over HTTP, or its pid (master@ip:port)."""
    detectors = [create_master_detector(text) for text in
                 ("127.0.0.1:1", "http://127.0.0.1:2/", "master@10.0.0.1:5050")]
    try:
        assert all(isinstance(d, StandaloneMasterDetector) for d in detectors)
        assert [d.process.address for d in detectors] == [
            ("127.0.0.1", 1), ("127.0.0.1", 2), None]
        assert detectors[2].detect().get(1.0).pid == "master@10.0.0.1:5050"
    finally:
        for detector in detectors:
            detector.terminate()


@pytest.mark.integration
def test_agent_process_runs_a_task_and_exits_on_sigusr1(tmp_path: Any,
                                                        kit: SimpleNamespace) -> None:
    """This test ensures that `mesos-agent`, a real OS process, finds the master from its
    HTTP address, registers, runs a command task in a command executor, and on SIGUSR1
    unregisters, shuts its executors down and exits 0."""
    # 1. A fake master named `master`, so that `/master/state` gives the agent its pid.
    master = kit.FakeMaster(id="master")
    libprocess.spawn(master)
    ip, http_port = libprocess.http_address()
    registered = future_message(messages_pb2.RegisterSlaveMessage, to=master)

    work_dir = tmp_path / "agent"
    env = dict(os.environ)
    env.pop("LIBPROCESS_PORT", None)
    log = open(tmp_path / "agent.log", "wb")
    agent = subprocess.Popen(
        [sys.executable, "-m", "mesos.agent.main", f"--master={ip}:{http_port}",
         f"--work_dir={work_dir}", "--port=0", "--ip=127.0.0.1", "--hostname=localhost",
         f"--resources={kit.AGENT_RESOURCES}", "--registration_backoff_factor=10ms",
         "--executor_shutdown_grace_period=2secs"],
        env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True)
    try:
        # 2. It registers.
        from_agent = registered.get(kit.TIMEOUT)
        assert from_agent.slave.hostname == "localhost"
        agent_pid = next(f for f, m in master.received
                         if isinstance(m, messages_pb2.RegisterSlaveMessage))

        # 3. A command task runs to TASK_RUNNING in a real command executor.
        updates: list[Any] = []
        for _ in range(2):
            forwarded = future_message(messages_pb2.StatusUpdateMessage, to=master)
            if updates:
                master.acknowledge(SimpleNamespace(upid=agent_pid), updates[-1])
            else:
                master.post(agent_pid, kit.run_task_message(
                    kit.command_task("task-1", "sleep 1000")))
            updates.append(forwarded.get(kit.TIMEOUT).update)
        assert [u.status.state for u in updates] == [mesos_pb2.TASK_STARTING,
                                                     mesos_pb2.TASK_RUNNING]
        executors = [p for p in psutil.Process(agent.pid).children(recursive=True)
                     if "mesos.exec.command_executor" in " ".join(p.cmdline())]
        assert len(executors) == 1

        # 4. The agent is the HTTP delegate: `/state` is `/slave(1)/state`, and `/files`
        #    shows the task's sandbox by its virtual path.
        address = re.search(r"HTTP http://([0-9.]+:[0-9]+)/",
                            (tmp_path / "agent.log").read_text())
        assert address is not None
        states = [_get_json(f"http://{address.group(1)}{path}")
                  for path in ("/state", "/slave(1)/state")]
        assert states[0]["id"] == states[1]["id"] == kit.SLAVE_ID
        [executor] = states[0]["frameworks"][0]["executors"]
        assert executor["tasks"][0]["state"] == "TASK_RUNNING"
        listing = _get_json(f"http://{address.group(1)}/files/browse?path=/frameworks/"
                            f"{kit.FRAMEWORK_ID}/executors/task-1/runs/latest")
        assert {"stdout", "stderr"} <= {entry["path"].rsplit("/", 1)[1] for entry in listing}

        # 5. SIGUSR1 (shut down): the agent unregisters, its executor goes, it exits 0.
        unregistered = future_message(messages_pb2.UnregisterSlaveMessage, to=master)
        agent.send_signal(signal.SIGUSR1)
        assert unregistered.get(kit.TIMEOUT).slave_id.value == kit.SLAVE_ID
        assert agent.wait(kit.TIMEOUT) == 0
        await_condition(lambda: not executors[0].is_running()
                        or executors[0].status() == psutil.STATUS_ZOMBIE,
                        timeout=kit.TIMEOUT, message="the executor to exit")
    finally:
        if agent.poll() is None:
            os.killpg(agent.pid, signal.SIGKILL)
            agent.wait(10)
        log.close()
