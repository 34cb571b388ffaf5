"""`mesos-local`: a master and N agents in one command, on the embedded default.

Starts `mesos-master` and `--num_slaves` `mesos-agent`s as child OS processes (each agent
with its own work dir and HTTP port), waits until every agent is registered, prints the
cluster's URLs, and runs until interrupted (SIGINT/SIGTERM stop every child). Mesos runs
them in one OS process; here each is its own process, which is what the real daemons are,
so the cluster behaves exactly like a deployed one. Runs on the caller's thread.

With `--ha`, the cluster is highly available: a ZooKeeper server (`mesos.zookeeper.server`,
Debian's `zookeeper` package) on a free loopback port, three masters electing a leader
through it (`--zk=zk://127.0.0.1:<port>/mesos --quorum=2 --registry=zookeeper`), and agents
that follow the leader (`--master=zk://...`); frameworks should use `master_url` (the same
`zk://` URL) to follow it too. Kill the leading master and another takes over.
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
from typing import Any

from mesos.common.durations import format_duration
from mesos.common.flags import BOOL, DURATION, INT, PATH, STRING, Flag, Flags, load_or_exit

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
    ha = Flag(BOOL, default=False,
              help="Start a ZooKeeper server and three masters electing a leader through it\n"
                   "(the registry in ZooKeeper); agents follow the leader.")
    zk_session_timeout = Flag(DURATION, default="10secs",
                              help="With --ha: the masters' ZooKeeper session timeout, which\n"
                                   "bounds how long a dead leader goes unnoticed.")


def free_port(ip: str) -> int:
    with socket.socket() as s:
        s.bind((ip, 0))
        return int(s.getsockname()[1])


def http_json(url: str, timeout: float = 2.0) -> object:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.loads(response.read())


def _name(child: subprocess.Popen[bytes]) -> str:
    """The module a daemon runs (`mesos.agent.main`), for messages."""
    args = child.args
    return str(args[2]) if isinstance(args, list) and len(args) > 2 else str(args)


# Masters of a highly available local cluster, as operators run them.
HA_MASTERS = 3
HA_QUORUM = 2


class LocalCluster:
    """The child processes of a local cluster and their addresses (owned by the caller).

    `ha=True` adds a ZooKeeper server and runs three masters (`masters` lists their HTTP
    addresses); `master` is then the address of whichever leads, `master_url` the `zk://`
    URL to give agents and frameworks.
    """

    def __init__(self, num_slaves: int = 2, ip: str = "127.0.0.1", port: int = 0,
                 work_dir: str | None = None,
                 resources: str = "cpus:2;mem:1024;disk:4096;ports:[31000-32000]",
                 quiet: bool = False, ha: bool = False,
                 zk_session_timeout: str = "10secs") -> None:
        self.num_slaves = num_slaves
        self.ip = ip
        self.ha = ha
        self.zk_session_timeout = zk_session_timeout
        num_masters = HA_MASTERS if ha else 1
        self.port = port or free_port(ip)
        self.master_ports = [self.port] + [(self.port + i) if port else free_port(ip)
                                           for i in range(1, num_masters)]
        self.agent_ports = [(self.port + num_masters + i) if port else free_port(ip)
                            for i in range(num_slaves)]
        self._tmp = None if work_dir else tempfile.TemporaryDirectory(prefix="mesos-local-")
        self.work_dir = Path(work_dir or self._tmp.name)  # type: ignore[union-attr]
        self.resources = resources
        self.quiet = quiet
        self.children: list[subprocess.Popen[bytes]] = []
        # With `ha`, this cluster is its masters' supervisor: name -> (arguments, process).
        self.master_processes: dict[str, tuple[list[str], subprocess.Popen[bytes]]] = {}
        self.zookeeper: Any = None

    @property
    def masters(self) -> list[str]:
        """Every master's HTTP address."""
        return [f"{self.ip}:{port}" for port in self.master_ports]

    @property
    def master(self) -> str:
        """The HTTP address of the leading master (the first one while none is known)."""
        if self.ha:
            leader = self.leader()
            if leader is not None:
                return leader
        return f"{self.ip}:{self.port}"

    @property
    def master_url(self) -> str:
        """What agents and frameworks are given: the `zk://` URL with `ha`, else the
        master's HTTP address."""
        if self.ha and self.zookeeper is not None:
            return f"zk://{self.zookeeper.connect_string}/mesos"
        return f"{self.ip}:{self.port}"

    def leader(self) -> str | None:
        """The address of the master that says it leads, if any answers so."""
        for address in self.masters:
            try:
                snapshot = http_json(f"http://{address}/metrics/snapshot")
            except (OSError, ValueError, urllib.error.URLError):
                continue
            if isinstance(snapshot, dict) and snapshot.get("master/elected") == 1.0:
                return address
        return None

    def _spawn(self, name: str, args: list[str]) -> subprocess.Popen[bytes]:
        log = open(self.work_dir / f"{name}.log", "ab")
        child = subprocess.Popen([sys.executable, "-m", *args], stdout=log,
                                 stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        self.children.append(child)
        return child

    def start(self, timeout: float = 60.0) -> None:
        """Starts ZooKeeper (with `ha`), the masters, then the agents; returns once a master
        leads and every agent is registered with it."""
        extra: list[str] = []
        if self.ha:
            from mesos.zookeeper.server import ZooKeeperServer, ensure_installed

            ensure_installed()
            self.zookeeper = ZooKeeperServer(self.work_dir / "zookeeper")
            self.zookeeper.start(timeout=timeout)
            extra = [f"--zk={self.master_url}", f"--quorum={HA_QUORUM}",
                     "--registry=zookeeper", f"--zk_session_timeout={self.zk_session_timeout}"]
        for i, port in enumerate(self.master_ports):
            name = f"master-{i + 1}" if self.ha else "master"
            master_dir = self.work_dir / name
            master_dir.mkdir(parents=True, exist_ok=True)
            args = ["mesos.master.main", f"--ip={self.ip}", f"--port={port}",
                    f"--work_dir={master_dir}", *extra]
            self.master_processes[name] = (args, self._spawn(name, args))
        for address in self.masters:
            self.wait_for(lambda a=address: self._health(a), timeout,
                          f"the master at {address} to answer /health")
        if self.ha:
            self.wait_for(lambda: self.leader() is not None, timeout, "a master to lead")
        for i, port in enumerate(self.agent_ports):
            agent_dir = self.work_dir / f"agent-{i + 1}"
            agent_dir.mkdir(parents=True, exist_ok=True)
            self._spawn(f"agent-{i + 1}", [
                "mesos.agent.main", f"--master={self.master_url}", f"--ip={self.ip}",
                f"--port={port}", f"--work_dir={agent_dir}", f"--resources={self.resources}"])
        self.wait_for(lambda: self.registered_agents() >= self.num_slaves, timeout,
                      f"{self.num_slaves} agents to register")

    def _health(self, address: str | None = None) -> bool:
        try:
            with urllib.request.urlopen(f"http://{address or self.master}/master/health",
                                        timeout=2):
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
                raise RuntimeError(f"a daemon exited ({_name(dead[0])}, status "
                                   f"{dead[0].returncode}); see the logs in {self.work_dir}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"timed out waiting for {what}; logs in {self.work_dir}")
            threading.Event().wait(0.1)

    def stop(self) -> None:
        """Shuts every child down (agents first), then SIGKILLs what remains after 10 s.

        Agents get SIGUSR1 (shut down with their executors: SIGTERM would leave the executors
        of checkpointing frameworks running, waiting for the agent to come back)."""
        for child in reversed(self.children):
            if child.poll() is None:
                agent = isinstance(child.args, list) and "mesos.agent.main" in child.args
                child.send_signal(signal.SIGUSR1 if agent else signal.SIGTERM)
        deadline = time.monotonic() + 10
        for child in reversed(self.children):
            try:
                child.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)
                child.wait()
        if self.zookeeper is not None:
            self.zookeeper.close()
            self.zookeeper = None
        if self._tmp is not None:
            self._tmp.cleanup()

    def supervise(self) -> str | None:
        """Restarts the masters that exited (with `ha`: a master that lost leadership exits
        on purpose, and its supervisor starts it again as a standby); the name of another
        daemon that exited, if one did."""
        for name, (args, child) in list(self.master_processes.items()):
            if self.ha and child.poll() is not None:
                print(f"mesos-local: {name} exited (status {child.returncode}); restarting it",
                      file=sys.stderr, flush=True)
                self.children.remove(child)
                self.master_processes[name] = (args, self._spawn(name, args))
        masters = {id(c) for _, c in self.master_processes.values()} if self.ha else set()
        for child in self.children:
            if id(child) not in masters and child.poll() is not None:
                return _name(child)
        return None

    def describe(self) -> str:
        if self.ha:
            leader = self.leader()
            lines = [f"zookeeper {self.master_url}  (agents and frameworks: --master="
                     f"{self.master_url})"]
            for i, address in enumerate(self.masters):
                role = "leading" if address == leader else "standby"
                lines.append(f"master {i + 1}  http://{address}/  ({role}; state: "
                             f"http://{address}/master/state, metrics: "
                             f"http://{address}/metrics)")
        else:
            lines = [f"master    http://{self.master}/  (state: "
                     f"http://{self.master}/master/state, metrics: "
                     f"http://{self.master}/metrics)"]
        for i, port in enumerate(self.agent_ports):
            lines.append(f"agent {i + 1}   http://{self.ip}:{port}/state")
        lines.append(f"work dir  {self.work_dir} (daemon logs: *.log)")
        return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    flags = load_or_exit(LocalFlags, list(sys.argv if argv is None else argv), os.environ)
    cluster = LocalCluster(flags.num_slaves, flags.ip, flags.port, flags.work_dir,
                           flags.resources, ha=flags.ha,
                           zk_session_timeout=format_duration(flags.zk_session_timeout))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        cluster.start()
        print(cluster.describe(), flush=True)
        print("Cluster ready; Ctrl-C stops it.", flush=True)
        while not stop.wait(0.5):
            exited = cluster.supervise()
            if exited is not None:
                print(f"mesos-local: a daemon exited ({exited}); stopping", file=sys.stderr)
                return 1
        return 0
    except (RuntimeError, TimeoutError) as e:
        print(f"mesos-local: {e}", file=sys.stderr)
        return 1
    finally:
        cluster.stop()


if __name__ == "__main__":
    sys.exit(main())
