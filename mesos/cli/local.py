"""`mesos-local`: a master and N agents in one command, on the embedded default.

Starts `mesos-master` and `--num_slaves` `mesos-agent`s as child OS processes (each agent
with its own work dir and HTTP port), waits until every agent is registered, prints the
cluster's URLs, and runs until interrupted (SIGINT/SIGTERM stop every child). Mesos runs
them in one OS process; here each is its own process, which is what the real daemons are,
so the cluster behaves exactly like a deployed one. Runs on the caller's thread.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from mesos.common.flags import INT, PATH, STRING, Flag, Flags, load_or_exit

__all__ = ["LocalCluster", "LocalFlags", "main"]


class LocalFlags(Flags):
    """The flags of `mesos-local`."""

    num_slaves = Flag(INT, default=2, help="How many agents to start.")
    ip = Flag(STRING, default="127.0.0.1", help="The IP every daemon binds to.")
    port = Flag(INT, default=5050,
                help="The master's HTTP port; agents use the next ones (0: any free ports).")
    work_dir = Flag(PATH, default=None,
                    help="Where the master and the agents keep their state (default: a "
                         "temporary directory, removed at exit).")
    resources = Flag(STRING, default="cpus:2;mem:1024;disk:4096;ports:[31000-32000]",
                     help="Each agent's resources.")


def free_port(ip: str) -> int:
    with socket.socket() as s:
        s.bind((ip, 0))
        return int(s.getsockname()[1])


def http_json(url: str, timeout: float = 2.0) -> object:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.loads(response.read())


class LocalCluster:
    """The child processes of a local cluster and their addresses (owned by the caller)."""

    def __init__(self, num_slaves: int = 2, ip: str = "127.0.0.1", port: int = 0,
                 work_dir: str | None = None,
                 resources: str = "cpus:2;mem:1024;disk:4096;ports:[31000-32000]",
                 quiet: bool = False) -> None:
        self.num_slaves = num_slaves
        self.ip = ip
        self.port = port or free_port(ip)
        self.agent_ports = [(self.port + 1 + i) if port else free_port(ip)
                            for i in range(num_slaves)]
        self._tmp = None if work_dir else tempfile.TemporaryDirectory(prefix="mesos-local-")
        self.work_dir = Path(work_dir or self._tmp.name)  # type: ignore[union-attr]
        self.resources = resources
        self.quiet = quiet
        self.children: list[subprocess.Popen[bytes]] = []

    @property
    def master(self) -> str:
        return f"{self.ip}:{self.port}"

    def _spawn(self, name: str, args: list[str]) -> subprocess.Popen[bytes]:
        log = open(self.work_dir / f"{name}.log", "ab")
        child = subprocess.Popen([sys.executable, "-m", *args], stdout=log,
                                 stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        self.children.append(child)
        return child

    def start(self, timeout: float = 60.0) -> None:
        """Starts the master, then the agents; returns once every agent is registered."""
        (self.work_dir / "master").mkdir(parents=True, exist_ok=True)
        self._spawn("master", ["mesos.master.main", f"--ip={self.ip}", f"--port={self.port}",
                               f"--work_dir={self.work_dir / 'master'}"])
        self.wait_for(lambda: self._health(), timeout, "the master to answer /health")
        for i, port in enumerate(self.agent_ports):
            agent_dir = self.work_dir / f"agent-{i + 1}"
            agent_dir.mkdir(parents=True, exist_ok=True)
            self._spawn(f"agent-{i + 1}", [
                "mesos.agent.main", f"--master={self.master}", f"--ip={self.ip}",
                f"--port={port}", f"--work_dir={agent_dir}", f"--resources={self.resources}"])
        self.wait_for(lambda: self.registered_agents() >= self.num_slaves, timeout,
                      f"{self.num_slaves} agents to register")

    def _health(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://{self.master}/master/health", timeout=2):
                return True
        except (OSError, urllib.error.URLError):
            return False

    def registered_agents(self) -> int:
        try:
            state = http_json(f"http://{self.master}/master/state")
        except (OSError, ValueError, urllib.error.URLError):
            return 0
        assert isinstance(state, dict)
        return int(state.get("activated_slaves", 0))

    def wait_for(self, condition: object, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not condition():  # type: ignore[operator]
            dead = [c for c in self.children if c.poll() is not None]
            if dead:
                raise RuntimeError(f"a daemon exited ({dead[0].args[2]}, status "
                                   f"{dead[0].returncode}); see the logs in {self.work_dir}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"timed out waiting for {what}; logs in {self.work_dir}")
            threading.Event().wait(0.1)

    def stop(self) -> None:
        """SIGTERM every child (agents first), then SIGKILL what remains after 10 s."""
        for child in reversed(self.children):
            if child.poll() is None:
                child.terminate()
        deadline = time.monotonic() + 10
        for child in reversed(self.children):
            try:
                child.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)
                child.wait()
        if self._tmp is not None:
            self._tmp.cleanup()

    def describe(self) -> str:
        lines = [f"master    http://{self.master}/  (state: http://{self.master}/master/state, "
                 f"metrics: http://{self.master}/metrics)"]
        for i, port in enumerate(self.agent_ports):
            lines.append(f"agent {i + 1}   http://{self.ip}:{port}/state")
        lines.append(f"work dir  {self.work_dir} (daemon logs: *.log)")
        return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    flags = load_or_exit(LocalFlags, list(sys.argv if argv is None else argv), os.environ)
    cluster = LocalCluster(flags.num_slaves, flags.ip, flags.port, flags.work_dir,
                           flags.resources)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        cluster.start()
        print(cluster.describe(), flush=True)
        print("Cluster ready; Ctrl-C stops it.", flush=True)
        while not stop.wait(0.5):
            if any(c.poll() is not None for c in cluster.children):
                print("mesos-local: a daemon exited; stopping", file=sys.stderr)
                return 1
        return 0
    except (RuntimeError, TimeoutError) as e:
        print(f"mesos-local: {e}", file=sys.stderr)
        return 1
    finally:
        cluster.stop()


if __name__ == "__main__":
    sys.exit(main())
