"""`mesos-master` (`python -m mesos.master.main`): flags, help, startup and shutdown."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import urllib.request

import pytest

from libprocess.testing import await_condition

MAIN = [sys.executable, "-m", "mesos.master.main"]


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*MAIN, *args], capture_output=True, text=True, timeout=60,
                          env={**os.environ, **(env or {})})


@pytest.mark.parametrize("args, env, message", [
    (["--port=abc"], {}, "mesos-master: Failed to load flag 'port': invalid integer 'abc'"),
    (["--registry=replicated_log"], {},
     "mesos-master: Invalid value for flag 'registry': registry 'replicated_log' is not"
     " supported by this port"),
    (["--zk=zk://127.0.0.1:2181"], {},
     "mesos-master: Invalid value for flag 'zk': expecting a (chroot) path"),
    (["--recovery_agent_removal_limit=150%"], {},
     "mesos-master: Invalid value for flag 'recovery_agent_removal_limit': invalid"
     " percentage '150%'"),
    (["--offer_timeout=-1secs"], {}, "mesos-master: Failed to load flag 'offer_timeout'"),
    (["--agent_removal_rate_limit=1/10parsecs"], {},
     "mesos-master: Invalid value for flag 'agent_removal_rate_limit': invalid rate"
     " '1/10parsecs'"),
    (["--slave_removal_rate_limit=0/1mins"], {},
     "mesos-master: Invalid value for flag 'agent_removal_rate_limit': invalid rate '0/1mins':"
     " permits and duration must be positive"),
    (["--weights=web"], {}, "mesos-master: Invalid value for flag 'weights': invalid weight"),
    (["--bogus=1"], {}, "mesos-master: Failed to load unknown flag 'bogus'"),
    (["--min_allocatable_resources=cpus;;mem"], {},
     "mesos-master: Invalid value for flag 'min_allocatable_resources': Bad min allocatable"
     " resources 'cpus'"),
    ([], {"MESOS_ALLOCATION_INTERVAL": "soon"},
     "mesos-master: Failed to load flag 'allocation_interval'"),
])
def test_bad_flags_exit_1_with_one_line(args, env, message):
    """This test ensures that a bad flag or `MESOS_*` variable makes `mesos-master` exit 1
    with a one-line message naming the flag (then the pointer to `--help`)."""
    result = _run(*args, env=env)
    assert result.returncode == 1
    first = result.stderr.splitlines()[0]
    assert first.startswith(message), result.stderr
    assert result.stderr.splitlines()[1:] == ["See 'mesos-master --help' for the list of flags."]


def test_help_exits_0():
    """This test ensures that `--help` prints the usage with the Mesos flags and exits 0."""
    result = _run("--help")
    assert result.returncode == 0
    assert result.stdout.startswith("Usage: mesos-master [options]")
    for flag in ("--port=VALUE", "--agent_ping_timeout=VALUE, --slave_ping_timeout=VALUE",
                 "--max_completed_tasks_per_framework=VALUE", "--registry=VALUE"):
        assert flag in result.stdout


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(port: int, path: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, response.read()
    except OSError:
        return 0, b""


def test_leveldb_registry_needs_a_work_dir():
    """This test ensures that the embedded default registry (LevelDB, without `--zk`) refuses
    to start without `--work_dir`, in one line saying what to give instead."""
    result = _run("--port=0")
    assert result.returncode == 1
    assert result.stderr.splitlines()[0].startswith(
        "mesos-master: --work_dir is required for the leveldb registry"), result.stderr


@pytest.mark.integration
def test_second_master_on_the_same_work_dir_exits_1(tmp_path):
    """This test ensures that a second `mesos-master` on the LevelDB registry of a running
    one refuses to start (the directory is locked) with one clear line, and exits 1."""
    first = subprocess.Popen(
        [*MAIN, f"--port={_free_port()}", "--ip=127.0.0.1", f"--work_dir={tmp_path}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        await_condition(lambda: (tmp_path / "registry" / "LOCK").exists(), timeout=30,
                        message="the first master to open its registry")
        second = _run(f"--port={_free_port()}", "--ip=127.0.0.1", f"--work_dir={tmp_path}")
        assert second.returncode == 1
        line = second.stderr.splitlines()[-1]
        assert line.startswith("mesos-master: Failed to open the leveldb registry: LevelDB at"
                               f" {tmp_path / 'registry'} is locked by another process"), line
        assert first.poll() is None
    finally:
        first.kill()
        first.communicate()


@pytest.mark.integration
def test_master_serves_and_stops_on_sigterm(tmp_path):
    """This test ensures that `mesos-master` serves its endpoints on `--port` (also without
    the `/master` prefix), leads alone on its LevelDB registry, logs its pid, and exits 0 on
    SIGTERM."""
    port = _free_port()
    process = subprocess.Popen(
        [*MAIN, f"--port={port}", "--ip=127.0.0.1", "--hostname=test-master",
         "--allocation_interval=100ms", f"--work_dir={tmp_path}"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        await_condition(lambda: _get(port, "/health")[0] == 200, timeout=30,
                        message="the master's /health")
        # It serves `/state` once it has elected itself.
        await_condition(lambda: _get(port, "/state")[0] == 200, timeout=30,
                        message="the master's /state")
        status, body = _get(port, "/state")
        assert status == 200
        state = json.loads(body)
        assert state["hostname"] == "test-master"
        assert state["pid"].startswith("master@127.0.0.1:")
        assert state["leader_info"]["port"] == port
        assert json.loads(_get(port, "/metrics/snapshot")[1])["master/elected"] == 1.0

        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
        assert process.returncode == 0, stderr
        assert state["pid"] in stderr
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


@pytest.mark.integration
def test_port_in_use_exits_1():
    """This test ensures that `mesos-master` exits 1 with one line when `--port` is taken."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = _run(f"--port={port}", "--ip=127.0.0.1", "--registry=in_memory")
    assert result.returncode == 1
    assert f"mesos-master: Failed to listen on 127.0.0.1:{port}" in result.stderr
