"""Benchmark: master failover time with three masters, 1,000 simulated agents and 10 tasks
each (Mesos's `MasterFailover_BENCHMARK_Test` in spirit, with real OS processes and ZooKeeper).

Setup: a ZooKeeper server (`mesos/zookeeper/server.py`), three `mesos-master` OS processes
(`--zk`, `--quorum=2`, `--registry=zookeeper`), simulated-agent OS processes each hosting
`--per-process` agent processes `slave(1)`..`slave(N)` that follow the leader through one
`ZooKeeperMasterDetector` and speak the agent protocol (register, reregister with their tasks
and framework, answer pings, run tasks by answering TASK_RUNNING), and a framework in this
process (`MesosSchedulerDriver` on the `zk://` URL) that launches `--tasks` tasks on every
agent through offers. Once every task runs, the leading master is killed with `kill -9` and
the benchmark measures, from the kill:

  (a) a new leader elected: ZooKeeper shows another leader (a detector here), and that
      master says `master/elected` = 1. The ZooKeeper session timeout (`--zk-session-timeout`,
      10 s by default as in Mesos) dominates this: the dead leader's znode lives until then;
  (b) all agents reregistered (each simulated agent notes when SlaveReregisteredMessage
      arrives), also shown from (a);
  (c) the framework reregistered (its `reregistered()` callback).

Then it checks that the new leader lists every agent and every task RUNNING. Once its tasks
run, the framework suppresses offers (as a framework that wants nothing more does), so the
new leader's work is the re-registrations themselves. Simulated agents
register with Mesos's default backoff (a random wait within `--agent-backoff`, 1 s).

Run: `.venv/bin/python tools/bench/failover.py [--agents 1000] [--per-process 100]
[--tasks 10] [--zk-session-timeout 10secs]`. Logs go to a temporary directory (printed).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import libprocess
from libprocess import UPID, Process, defer, delay
from mesos.common.resources import Resources
from mesos.protos.mesos import mesos_pb2
from mesos.protos.messages import messages_pb2
from mesos.testing.simulated_agent import registration, status_update

MESOS_VERSION = "1.12.0"
AGENT_RESOURCES = "cpus:4;mem:4096;disk:4096;ports:[31000-32000]"
TASK_RESOURCES = "cpus:0.1;mem:32"
REGISTER_RETRY_MAX = 60.0

_print_lock = threading.Lock()


def emit(event: str, **fields: Any) -> None:
    """One JSON line on stdout (the simulated-agent processes report this way)."""
    line = json.dumps({"event": event, "time": time.time(), **fields})
    with _print_lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


# ---------------------------------------------------------------------------------------
# The simulated agents (`--sim` mode: one OS process hosting many agent processes).


class SimulatedAgent(Process):
    """One agent `slave(N)`: (re)registers with the leader it is told of, with Mesos's
    randomized backoff; runs tasks by answering TASK_RUNNING; answers pings. Its state is
    touched on its own thread only."""

    def __init__(self, index: int, backoff: float) -> None:
        super().__init__(f"slave({index})")
        self.index = index
        self.backoff = backoff
        self.info = mesos_pb2.SlaveInfo(hostname=f"sim-agent-{index}", port=5051)
        self.info.resources.extend(Resources.parse(AGENT_RESOURCES).to_protobuf_list())
        self.master: UPID | None = None
        self.registered = False
        self.epoch = 0
        self.tasks: dict[str, Any] = {}
        self.frameworks: dict[str, Any] = {}

    def initialize(self) -> None:
        self.install(messages_pb2.SlaveRegisteredMessage, self.registered_message)
        self.install(messages_pb2.SlaveReregisteredMessage, self.reregistered_message)
        self.install(messages_pb2.PingSlaveMessage, self.ping)
        self.install(messages_pb2.RunTaskMessage, self.run_task)
        self.install(messages_pb2.StatusUpdateAcknowledgementMessage, lambda f, m: None)
        self.install(messages_pb2.UpdateFrameworkMessage, lambda f, m: None)
        self.install(messages_pb2.KillTaskMessage, lambda f, m: None)
        self.install(messages_pb2.ShutdownFrameworkMessage, lambda f, m: None)

    def new_leader(self, master: str | None) -> None:
        self.epoch += 1
        self.registered = False
        self.master = UPID(master) if master else None
        if self.master is not None:
            delay(self.backoff * random.random(), self, self.register, self.epoch,
                  self.backoff * 2)

    def register(self, epoch: int, bound: float) -> None:
        if epoch != self.epoch or self.registered or self.master is None:
            return
        message = registration(self.info, self.tasks.values(), self.frameworks.values(),
                               version=MESOS_VERSION)
        self.send(self.master, message)
        bound = min(bound, REGISTER_RETRY_MAX)
        delay(bound * random.random(), self, self.register, epoch, bound * 2)

    def registered_message(self, from_: UPID, message: Any) -> None:
        if from_ != self.master or self.registered:
            return
        self.registered = True
        self.info.id.CopyFrom(message.slave_id)
        emit("registered", agent=message.slave_id.value)

    def reregistered_message(self, from_: UPID, message: Any) -> None:
        if from_ != self.master or self.registered:
            return
        self.registered = True
        emit("reregistered", agent=message.slave_id.value, master=str(from_))

    def ping(self, from_: UPID, message: Any) -> None:
        self.send(from_, messages_pb2.PongSlaveMessage())

    def run_task(self, from_: UPID, message: Any) -> None:
        info = message.task
        task = mesos_pb2.Task(name=info.name, state=mesos_pb2.TASK_RUNNING)
        task.task_id.CopyFrom(info.task_id)
        task.framework_id.CopyFrom(message.framework_id)
        task.slave_id.CopyFrom(self.info.id)
        task.resources.extend(info.resources)
        self.tasks[info.task_id.value] = task
        self.frameworks[message.framework_id.value] = message.framework
        update = status_update(message.framework_id, self.info.id, info.task_id,
                               mesos_pb2.TASK_RUNNING)
        status = update.status
        task.statuses.add().CopyFrom(status)
        self.send(from_, messages_pb2.StatusUpdateMessage(update=update, pid=str(self.upid)))


class Coordinator(Process):
    """Follows the leader through one ZooKeeper detector and tells every agent."""

    def __init__(self, zk: str, agents: list[SimulatedAgent]) -> None:
        super().__init__("coordinator")
        from mesos.detector import ZooKeeperMasterDetector

        self.detector = ZooKeeperMasterDetector(zk)
        self.agents = agents

    def initialize(self) -> None:
        self.detector.detect(None).on_any(defer(self, self.detected))

    def detected(self, future: Any) -> None:
        leader = future.value if future.is_ready() else None
        emit("leader", master=leader.pid if leader is not None else None)
        for agent in self.agents:
            libprocess.dispatch(agent, agent.new_leader, leader.pid if leader else None)
        self.detector.detect(leader).on_any(defer(self, self.detected))


def run_simulated_agents(zk: str, first: int, count: int, backoff: float) -> int:
    libprocess.initialize(ip="127.0.0.1")
    agents = [SimulatedAgent(first + i, backoff) for i in range(count)]
    for agent in agents:
        libprocess.spawn(agent)
    libprocess.spawn(Coordinator(zk, agents))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stop.wait()
    return 0


# ---------------------------------------------------------------------------------------
# The benchmark (this process: ZooKeeper, masters, simulated agents, the framework).


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get_json(url: str) -> Any:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return json.loads(response.read())
    except (OSError, ValueError, urllib.error.URLError):
        return None


def elected(address: str) -> bool:
    snapshot = get_json(f"http://{address}/metrics/snapshot")
    return isinstance(snapshot, dict) and snapshot.get("master/elected") == 1.0


def wait(condition: Any, timeout: float, what: str, interval: float = 0.02) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


class Framework:
    """The benchmark's framework (official API): launches `tasks` tasks on every agent."""

    def __init__(self, tasks_per_agent: int) -> None:
        from mesos.interface import Scheduler

        self.tasks_per_agent = tasks_per_agent
        self.lock = threading.Lock()
        self.launched: dict[str, int] = {}
        self.running: set[str] = set()
        self.updates_after_kill: list[str] = []
        self.killed_at: float | None = None
        self.framework_id: str | None = None
        self.reregistered_at: float | None = None
        self.registered = threading.Event()
        outer = self

        class BenchScheduler(Scheduler):
            def registered(self, driver: Any, framework_id: Any, master: Any) -> None:
                outer.framework_id = framework_id.value
                outer.registered.set()

            def reregistered(self, driver: Any, master: Any) -> None:
                with outer.lock:
                    if outer.killed_at is not None and outer.reregistered_at is None:
                        outer.reregistered_at = time.time()

            def resourceOffers(self, driver: Any, offers: Any) -> None:
                for offer in offers:
                    outer.offer(driver, offer)

            def statusUpdate(self, driver: Any, status: Any) -> None:
                with outer.lock:
                    if outer.killed_at is not None:
                        outer.updates_after_kill.append(
                            mesos_pb2.TaskState.Name(status.state))
                    if status.state == mesos_pb2.TASK_RUNNING:
                        outer.running.add(status.task_id.value)

        self.scheduler = BenchScheduler()

    def offer(self, driver: Any, offer: Any) -> None:
        agent = offer.slave_id.value
        with self.lock:
            count = self.launched.get(agent, 0)
            wanted = self.tasks_per_agent - count
            self.launched[agent] = count + max(wanted, 0)
        if wanted <= 0:
            driver.declineOffer(offer.id, mesos_pb2.Filters(refuse_seconds=3600.0))
            return
        tasks = []
        role = offer.allocation_info.role or "*"
        for n in range(count, count + wanted):
            task = mesos_pb2.TaskInfo(name=f"task {n}")
            task.task_id.value = f"{agent}-t{n}"
            task.slave_id.CopyFrom(offer.slave_id)
            task.command.value = "sleep 3600"
            task.resources.extend(Resources.parse(TASK_RESOURCES).allocate(role)
                                  .to_protobuf_list())
            tasks.append(task)
        driver.launchTasks(offer.id, tasks, mesos_pb2.Filters(refuse_seconds=3600.0))


def bench(args: argparse.Namespace) -> int:
    from mesos.detector import ZooKeeperMasterDetector
    from mesos.interface import mesos_pb2 as interface_pb2
    from mesos.native import MesosSchedulerDriver
    from mesos.zookeeper.server import ZooKeeperServer, ensure_installed

    work = Path(tempfile.mkdtemp(prefix="bench-failover-"))
    print(f"logs in {work}", flush=True)
    children: list[subprocess.Popen[bytes]] = []
    zookeeper = None
    driver = None
    try:
        ensure_installed()
        zookeeper = ZooKeeperServer(work / "zookeeper")
        zookeeper.start()
        zk = f"zk://{zookeeper.connect_string}/mesos"

        # Three masters.
        masters, processes = [], []
        for i in range(3):
            port = free_port()
            log = open(work / f"master-{i + 1}.log", "wb")
            child = subprocess.Popen(
                [sys.executable, "-m", "mesos.master.main", "--ip=127.0.0.1",
                 f"--port={port}", f"--work_dir={work / f'master-{i + 1}'}", f"--zk={zk}",
                 "--quorum=2", "--registry=zookeeper",
                 f"--zk_session_timeout={args.zk_session_timeout}",
                 f"--logging_level={args.master_logging_level}"],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
            log.close()
            children.append(child)
            masters.append(f"127.0.0.1:{port}")
            processes.append(child)
        leader = wait(lambda: next((m for m in masters if elected(m)), None), 60,
                      "a leading master")
        print(f"3 masters up; leader {leader}", flush=True)

        # The framework, then the simulated agents.
        libprocess.initialize(ip="127.0.0.1")
        framework = Framework(args.tasks)
        info = interface_pb2.FrameworkInfo(user=os.environ.get("USER", "root") or "root",
                                           name="failover benchmark", failover_timeout=3600)
        info.roles.append("*")
        info.capabilities.add().type = interface_pb2.FrameworkInfo.Capability.MULTI_ROLE
        driver = MesosSchedulerDriver(framework.scheduler, info, zk)
        driver.start()
        if not framework.registered.wait(60):
            raise TimeoutError("the framework did not register")

        events: list[dict[str, Any]] = []
        events_lock = threading.Lock()

        def follow(stream: Any) -> None:
            for line in stream:
                try:
                    event = json.loads(line)
                except ValueError:
                    continue
                with events_lock:
                    events.append(event)

        started = time.time()
        for first in range(1, args.agents + 1, args.per_process):
            count = min(args.per_process, args.agents - first + 1)
            log = open(work / f"agents-{first}.log", "wb")
            child = subprocess.Popen(
                [sys.executable, __file__, "--sim", "--zk", zk, "--first", str(first),
                 "--count", str(count), "--agent-backoff", str(args.agent_backoff)],
                stdout=subprocess.PIPE, stderr=log, start_new_session=True)
            log.close()
            children.append(child)
            threading.Thread(target=follow, args=(child.stdout,), daemon=True).start()

        def count(kind: str, since: float = 0.0) -> int:
            with events_lock:
                return sum(1 for e in events if e["event"] == kind and e["time"] >= since)

        wait(lambda: count("registered") >= args.agents, 600, "every agent to register", 0.2)
        total_tasks = args.agents * args.tasks
        wait(lambda: len(framework.running) >= total_tasks, 1200, "every task to run", 0.2)
        print(f"{args.agents} agents registered and {total_tasks} tasks running "
              f"({time.time() - started:.1f} s of setup)", flush=True)
        # The framework has what it wants: no more offers, also from the next leader (the
        # driver subscribes with its suppressed roles).
        driver.suppressOffers()
        old_state = get_json(f"http://{leader}/master/state")
        time.sleep(1.0)  # Let acknowledgements settle.

        # The failover.
        old = processes[masters.index(leader)]
        detector = ZooKeeperMasterDetector(zk)
        current = detector.detect(None).get(30)
        with framework.lock:
            framework.killed_at = killed = time.time()
        os.kill(old.pid, signal.SIGKILL)
        new_info = detector.detect(current).get(120)
        while new_info is None or new_info.pid == current.pid:
            new_info = detector.detect(new_info).get(120)
        detected_at = time.time()
        followers = [m for m in masters if m != leader]
        new_leader = wait(lambda: next((m for m in followers if elected(m)), None), 120,
                          "the new leader to say it is elected", 0.01)
        elected_at = time.time()
        wait(lambda: count("reregistered", killed) >= args.agents, 600,
             "every agent to reregister", 0.05)
        wait(lambda: framework.reregistered_at is not None, 600,
             "the framework to reregister", 0.05)
        with events_lock:
            reregistered = sorted(e["time"] for e in events
                                  if e["event"] == "reregistered" and e["time"] >= killed)
        state = wait(lambda: (lambda s: s if s and len(s.get("slaves", [])) == args.agents
                              and not s.get("recovered_slaves") else None)(
            get_json(f"http://{new_leader}/master/state")), 120, "the new leader's state",
            0.5)
        running = sum(1 for f in state["frameworks"] for t in f["tasks"]
                      if t["state"] == "TASK_RUNNING")
        detector.terminate()

        all_back = reregistered[-1]
        median = reregistered[len(reregistered) // 2]
        assert framework.reregistered_at is not None
        print()
        print(f"failover of 3 masters, {args.agents} agents ({args.per_process} per OS "
              f"process), {total_tasks} tasks, ZooKeeper session timeout "
              f"{args.zk_session_timeout}, agent backoff {args.agent_backoff:g} s:")
        print(f"  (a) new leader elected:          {detected_at - killed:6.2f} s after kill -9"
              f" (ZooKeeper shows it); {elected_at - killed:6.2f} s (its master/elected=1)")
        print(f"  (b) all agents reregistered:     {all_back - killed:6.2f} s after kill -9 "
              f"({all_back - elected_at:5.2f} s after (a); median agent "
              f"{median - elected_at:5.2f} s)")
        print(f"  (c) framework reregistered:      "
              f"{framework.reregistered_at - killed:6.2f} s after kill -9 "
              f"({framework.reregistered_at - elected_at:5.2f} s after (a))")
        print(f"  new leader: {len(state['slaves'])} agents, {running} of "
              f"{total_tasks} tasks RUNNING (old leader had "
              f"{sum(len(f['tasks']) for f in old_state['frameworks'])}); task updates "
              f"seen by the framework since the kill: {len(framework.updates_after_kill)}"
              f" {sorted(set(framework.updates_after_kill))}")
        return 0 if running == total_tasks else 1
    finally:
        if driver is not None:
            driver.stop(True)
        for child in reversed(children):
            if child.poll() is None:
                try:
                    os.killpg(child.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            child.wait()
        if zookeeper is not None:
            zookeeper.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=1000, help="simulated agents (1000)")
    parser.add_argument("--per-process", type=int, default=100,
                        help="simulated agents per OS process (100)")
    parser.add_argument("--tasks", type=int, default=10, help="tasks per agent (10)")
    parser.add_argument("--zk-session-timeout", default="10secs",
                        help="the masters' --zk_session_timeout (10secs, Mesos's default)")
    parser.add_argument("--agent-backoff", type=float, default=1.0,
                        help="the agents' registration backoff factor in seconds (1)")
    parser.add_argument("--master-logging-level", default="INFO",
                        help="the masters' --logging_level (INFO)")
    parser.add_argument("--sim", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--zk", help=argparse.SUPPRESS)
    parser.add_argument("--first", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, default=100, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.sim:
        return run_simulated_agents(args.zk, args.first, args.count, args.agent_backoff)
    return bench(args)


if __name__ == "__main__":
    sys.exit(main())
