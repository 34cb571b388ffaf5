"""End to end with real OS processes: the v1 operator API of a real `mesos-master`
(`POST /api/v1`, the path the Mesos CLI uses) agrees with its `/master/state`, and
MARK_AGENT_GONE makes a real `mesos-agent` shut down."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import pytest

pytestmark = pytest.mark.integration

WAIT = 30.0


def _operator(master: str, body: dict[str, Any]) -> tuple[int, bytes]:
    request = urllib.request.Request(
        f"http://{master}/api/v1", data=json.dumps(body).encode(), method="POST",
        headers={"Content-Type": "application/json", "Accept": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, response.read()


def _call(master: str, kind: str) -> dict[str, Any]:
    status, body = _operator(master, {"type": kind})
    assert status == 200, body
    response = json.loads(body)
    assert response["type"] == kind
    return response  # type: ignore[no-any-return]


def test_operator_api_shows_the_cluster_and_marks_an_agent_gone(daemons: Any,
                                                                kit: Any) -> None:
    """This test ensures that GET_STATE and GET_AGENTS of a real master list the real agents
    `/master/state` lists (id, hostname, pid, resources), and that MARK_AGENT_GONE answers
    200, makes the agent process shut down (exit 0, the master's "Agent has been marked
    gone" in its log), and leaves it out of both views."""
    # 1. A master and two agents.
    master = daemons.master()
    doomed_address, _ = daemons.agent(master, name="doomed")
    doomed = daemons.children[-1]
    doomed_id = kit.get_json(f"http://{doomed_address}/state")["id"]
    daemons.agent(master, name="spare")
    spare = daemons.children[-1]
    state = kit.await_condition(
        lambda: (s := kit.get_json(f"http://{master}/master/state")) and
        len(s["slaves"]) == 2 and s, WAIT, message="both agents in /master/state")

    # 2. The operator API's view is the same.
    get_state = _call(master, "GET_STATE")["get_state"]
    agents = get_state["get_agents"]["agents"]
    assert _call(master, "GET_AGENTS")["get_agents"] == get_state["get_agents"]
    by_id = {s["id"]: s for s in state["slaves"]}
    assert sorted(a["agent_info"]["id"]["value"] for a in agents) == sorted(by_id)
    for agent in agents:
        shown = by_id[agent["agent_info"]["id"]["value"]]
        assert agent["agent_info"]["hostname"] == shown["hostname"]
        assert agent["pid"] == shown["pid"]
        assert agent["active"] is True
        cpus = sum(r["scalar"]["value"] for r in agent["total_resources"]
                   if r["name"] == "cpus")
        assert cpus == shown["resources"]["cpus"] == 2
    assert get_state["get_frameworks"]["frameworks"] == []
    assert get_state["get_tasks"]["tasks"] == []

    # 3. MARK_AGENT_GONE: the agent process shuts down.
    status, body = _operator(master, {"type": "MARK_AGENT_GONE",
                                      "mark_agent_gone": {"agent_id": {"value": doomed_id}}})
    assert (status, body) == (200, b"")
    kit.await_condition(lambda: doomed.poll() is not None, WAIT,
                        message="the agent marked gone to exit")
    assert doomed.returncode == 0
    assert "Agent has been marked gone" in daemons.log("doomed")
    assert spare.poll() is None

    # 4. Neither view lists it any more; a second call is a no-op.
    remaining = [a["agent_info"]["id"]["value"]
                 for a in _call(master, "GET_AGENTS")["get_agents"]["agents"]]
    assert doomed_id not in remaining and len(remaining) == 1
    assert [s["id"] for s in kit.get_json(f"http://{master}/master/state")["slaves"]] == \
        remaining
    assert _operator(master, {"type": "MARK_AGENT_GONE",
                              "mark_agent_gone": {"agent_id": {"value": doomed_id}}}) == (
        200, b"")
