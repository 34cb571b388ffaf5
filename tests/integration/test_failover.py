"""Master failover with real OS processes: a real ZooKeeper (the test harness), three
`mesos-master`s electing a leader through it and keeping the registry in it, `mesos-agent`s
and a framework (`batch_framework.py`, written only against `mesos.native`) that follow the
leader through `zk://`; `kill -9` of the leader. And the embedded default: one master on its
LevelDB registry, restarted.
"""

from __future__ import annotations

import json
import os
import signal
import urllib.error
import urllib.request
from typing import Any

import pytest

from libprocess.testing import await_condition

pytestmark = pytest.mark.integration

TASKS = 4


def snapshot(address: str) -> dict[str, Any]:
    """The master's metrics, or {} when it does not answer (dead, or starting)."""
    try:
        with urllib.request.urlopen(f"http://{address}/metrics/snapshot", timeout=2) as r:
            return json.loads(r.read())  # type: ignore[no-any-return]
    except (OSError, ValueError, urllib.error.URLError):
        return {}


def elected(addresses: list[str]) -> list[str]:
    """The masters among `addresses` that say they lead."""
    return [a for a in addresses if snapshot(a).get("master/elected") == 1.0]


def leader_state(kit: Any, address: str) -> dict[str, Any]:
    return kit.get_json(f"http://{address}/master/state")  # type: ignore[no-any-return]


def wait_running(framework: Any, count: int, timeout: float = 60.0) -> None:
    """Waits until the framework has printed TASK_RUNNING for `count` distinct tasks."""
    seen: set[str] = set()
    while len(seen) < count:
        event = framework.wait_for(lambda e: e["event"] == "update"
                                   and e["state"] == "TASK_RUNNING"
                                   and e["task"] not in seen, timeout)
        seen.add(event["task"])


def drain(framework: Any, seconds: float) -> None:
    """Collects everything the framework prints within `seconds` (into its `events`)."""
    try:
        framework.wait_for(lambda e: False, seconds)
    except TimeoutError:
        pass


def running_tasks(state: dict[str, Any]) -> dict[str, str]:
    """Task id -> state of the tasks `/master/state` shows for every framework."""
    return {t["id"]: t["state"] for f in state["frameworks"] for t in f["tasks"]}


@pytest.mark.zookeeper
def test_leader_failover_keeps_running_tasks(zookeeper: Any, daemons: Any, kit: Any,
                                             monkeypatch: Any) -> None:
    """This test ensures that when the leading master of three is killed with `kill -9`, a
    new leader is elected through ZooKeeper, the agents and the framework reregister with
    it, its `/master/state` lists the same RUNNING tasks, and no TASK_LOST reaches the
    framework: the only updates after the failover are ones the agents resend because their
    acknowledgement was lost with the old leader (at-least-once delivery)."""
    zk = zookeeper.url("/mesos")
    # 1. ZooKeeper (the fixture), three masters, two agents.
    masters, processes = [], []
    for _ in range(3):
        masters.append(daemons.master(f"--zk={zk}", "--quorum=2", "--registry=zookeeper",
                                      "--zk_session_timeout=2secs"))
        processes.append(daemons.children[-1])
    [leader] = await_condition(lambda: elected(masters), 30, message="a leading master")
    for _ in range(2):
        daemons.agent(zk)
    await_condition(lambda: len(leader_state(kit, leader)["slaves"]) == 2, 30,
                    message="both agents to register")

    # 2. A framework with running tasks.
    monkeypatch.setenv("MESOS_REGISTRATION_BACKOFF_FACTOR", "100ms")
    framework = daemons.framework(zk, {"tasks": {f"sleep-{i}": "sleep 60"
                                                 for i in range(TASKS)},
                                       "stop_when_done": False})
    framework.wait_for(lambda e: e["event"] == "registered", 60)
    wait_running(framework, TASKS)
    before = leader_state(kit, leader)
    assert running_tasks(before) == {f"sleep-{i}": "TASK_RUNNING" for i in range(TASKS)}
    updates_before = len(framework.updates())

    # 3. kill -9 of the leader: another master is elected.
    processes[masters.index(leader)].kill()
    followers = [m for m in masters if m != leader]
    [new_leader] = await_condition(lambda: elected(followers), 60,
                                   message="a new leading master")

    # 4. Agents and framework reregister with it; it shows the same running tasks.
    framework.wait_for(lambda e: e["event"] == "reregistered"
                       and e["master"] != before["pid"], 60)

    def recovered() -> dict[str, Any] | None:
        state = leader_state(kit, new_leader)
        if (len(state["slaves"]) == 2 and not state["recovered_slaves"]
                and state["frameworks"] and not state["frameworks"][0]["recovered"]):
            return state
        return None

    after = await_condition(recovered, 60, message="agents and framework to reregister")
    assert after["id"] != before["id"]
    assert {s["id"] for s in after["slaves"]} == {s["id"] for s in before["slaves"]}
    assert running_tasks(after) == running_tasks(before)
    [framework_state] = after["frameworks"]
    assert framework_state["id"] == before["frameworks"][0]["id"]
    assert framework_state["connected"] and framework_state["active"]
    assert snapshot(new_leader)["master/slave_reregistrations"] == 2

    # 5. Nothing was lost: since the failover the framework saw at most resent updates of
    #    running tasks.
    drain(framework, 3.0)
    assert [e for e in framework.events if e["event"] == "disconnected"]
    assert not framework.updates("TASK_LOST")
    resent = framework.updates()[updates_before:]
    assert {e["state"] for e in resent} <= {"TASK_STARTING", "TASK_RUNNING"}, resent
    # The third master still follows.
    assert not elected([m for m in followers if m != new_leader])


def test_single_master_restart_keeps_the_registry(daemons: Any, kit: Any) -> None:
    """This test ensures that a master on the embedded default registry (LevelDB under
    `--work_dir`, no ZooKeeper) restarted after `kill -9` recovers its registry: the agent
    is listed as recovered until it reregisters, with the id it had."""
    master = daemons.master()
    port = master.rsplit(":", 1)[1]
    first = daemons.children[-1]
    agent, _ = daemons.agent(master)
    agent_process = daemons.children[-1]
    agent_id = kit.get_json(f"http://{agent}/state")["id"]
    before = leader_state(kit, master)

    # 1. The agent is held still while its master is killed and restarted on the same
    #    work dir (and HTTP port).
    os.kill(agent_process.pid, signal.SIGSTOP)
    try:
        first.kill()
        first.wait(10)
        daemons.start("master-restarted", [
            "-m", "mesos.master.main", "--ip=127.0.0.1", f"--port={port}",
            f"--work_dir={daemons.tmp / f'master-{port}'}"])
        # It leads, then recovers the registry (its `/state` answers in between).
        state = await_condition(lambda: kit.answers(f"http://{master}/master/state")
                                and (lambda s: s if s["recovered_slaves"] else None)(
                                    leader_state(kit, master)), 30,
                                message="the restarted master to recover the registry")
        assert state["id"] != before["id"]
        assert [s["id"] for s in state["recovered_slaves"]] == [agent_id]
        assert state["slaves"] == []
    finally:
        os.kill(agent_process.pid, signal.SIGCONT)

    # 2. The agent finds the restarted master and reregisters with its id.
    await_condition(lambda: [s["id"] for s in leader_state(kit, master)["slaves"]]
                    == [agent_id], 60, message="the agent to reregister")
    assert leader_state(kit, master)["recovered_slaves"] == []
    assert kit.get_json(f"http://{agent}/state")["id"] == agent_id


@pytest.mark.zookeeper
def test_local_cluster_ha_survives_the_leaders_death(tmp_path: Any, kit: Any) -> None:
    """This test ensures that `mesos-local --ha` (`LocalCluster(ha=True)`) starts ZooKeeper,
    three masters of which one leads and agents that register with it through `zk://`; and
    that when the leader is killed another takes over with the agents while the cluster, as
    the masters' supervisor, starts the dead one again as a standby."""
    from mesos.cli.local import LocalCluster

    cluster = LocalCluster(2, work_dir=str(tmp_path), ha=True, zk_session_timeout="2secs")
    try:
        cluster.start()
        assert cluster.master_url.startswith("zk://127.0.0.1:")
        leader = cluster.leader()
        assert leader is not None and len(cluster.masters) == 3
        assert cluster.registered_agents() == 2

        name = f"master-{cluster.masters.index(leader) + 1}"
        _, process = cluster.master_processes[name]
        process.kill()

        def another_leader() -> str | None:
            current = cluster.leader()
            return current if current not in (None, leader) else None

        new_leader = await_condition(another_leader, 60, message="another master to lead")
        assert cluster.supervise() is None  # The dead master is started again.
        assert cluster.master_processes[name][1] is not process
        await_condition(lambda: len(leader_state(kit, new_leader)["slaves"]) == 2, 60,
                        message="the agents to reregister with the new leader")
        await_condition(lambda: kit.answers(f"http://{leader}/master/health"), 60,
                        message="the restarted master")
        assert cluster.leader() == new_leader
    finally:
        cluster.stop()


@pytest.mark.zookeeper
def test_leader_commits_suicide_when_zookeeper_is_gone(daemons: Any, kit: Any,
                                                        zookeeper_factory: Any) -> None:
    """This test ensures that a leading master that loses ZooKeeper for longer than its
    session timeout exits at once with status 1, saying why in its log ("committing
    suicide"), rather than lead without a candidacy."""
    server = zookeeper_factory()
    master = daemons.master(f"--zk=zk://{server.connect_string}/mesos",
                            "--zk_session_timeout=1secs")
    process = daemons.children[-1]
    await_condition(lambda: elected([master]), 30, message="the master to lead")

    server.stop()

    assert process.wait(60) == 1
    log = daemons.log(f"master-{master.rsplit(':', 1)[1]}")
    assert "committing suicide" in log, log[-2000:]
