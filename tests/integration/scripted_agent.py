"""A scripted agent OS process for the master's end-to-end test (not a test module).

Speaks the agent side of the master protocol with libprocess and the Mesos messages only
(`mesos.testing.simulated_agent`): registers (retrying every second until
`SlaveRegisteredMessage`), answers pings, and runs each task "virtually": TASK_RUNNING, then
TASK_FINISHED, each sent only after the previous update was acknowledged, so acknowledgement
routing is exercised.
Usage: `python scripted_agent.py <master-http-host:port>`; prints `REGISTERED <agent id>`.
"""

from __future__ import annotations

import json
import sys
import urllib.request

import libprocess
from libprocess import UPID
from mesos.testing.simulated_agent import SimulatedAgent


class ScriptedAgent(SimulatedAgent):
    def __init__(self, master: UPID) -> None:
        super().__init__(master, hostname="scripted-agent", retry_interval=1.0,
                         resources=(("cpus", 4.0), ("mem", 4096.0), ("disk", 4096.0)))

    def on_registered(self, slave_id: str) -> None:
        print(f"REGISTERED {slave_id}", flush=True)


def main() -> None:
    address = sys.argv[1]
    with urllib.request.urlopen(f"http://{address}/master/state", timeout=10) as response:
        master = UPID(json.loads(response.read())["pid"])
    libprocess.initialize(ip="127.0.0.1")
    agent = ScriptedAgent(master)
    libprocess.spawn(agent)
    libprocess.wait(agent)


if __name__ == "__main__":
    main()
