"""A custom executor for the integration tests (not a test module), speaking the v1 executor
HTTP API as pymesos's `MesosExecutorDriver` does, through `mesos.testing.v1_http.Executor`
(the agent runs it with the test's own interpreter, `sys.executable`, which imports the
project): it subscribes to `MESOS_AGENT_ENDPOINT`, answers each LAUNCH with TASK_RUNNING,
answers a framework message "ping" with the message "pong" and TASK_FINISHED of every task
it runs, and on SHUTDOWN writes `shutdown` in its sandbox and exits 0. It exits 1 if its
stream ends otherwise, or if nothing happens for a while."""

from __future__ import annotations

import base64
import os
import sys
import time
from pathlib import Path

from mesos.testing import v1_http as v1

# The longest it waits for anything before giving up (the test's own waits are shorter).
IDLE_LIMIT = 300.0


def log(text: str) -> None:
    print(f"http_executor: {text}", file=sys.stderr, flush=True)


def main() -> int:
    host, port = os.environ["MESOS_AGENT_ENDPOINT"].rsplit(":", 1)
    executor = v1.Executor((host, int(port)), os.environ["MESOS_FRAMEWORK_ID"],
                           os.environ["MESOS_EXECUTOR_ID"])
    subscription = executor.subscribe()
    if subscription.status != 200 or subscription.first.get("type") != "SUBSCRIBED":
        log(f"subscription refused: {subscription.status} {subscription.body!r}"
            f" {subscription.first}")
        return 1
    log(f"subscribed in container {subscription.first['subscribed'].get('container_id')}")
    running: list[str] = []
    deadline = time.monotonic() + IDLE_LIMIT
    while time.monotonic() < deadline:
        try:
            event = executor.event(timeout=5.0)
        except TimeoutError:
            continue
        except v1.StreamEnded:
            log("the agent ended the stream")
            return 1
        deadline = time.monotonic() + IDLE_LIMIT
        kind = event["type"]
        log(f"event {kind}")
        if kind == "LAUNCH":
            task_id = event["launch"]["task"]["task_id"]["value"]
            running.append(task_id)
            executor.update(task_id, "TASK_RUNNING")
        elif kind == "MESSAGE":
            if base64.b64decode(event["message"]["data"]) == b"ping":
                executor.message(b"pong")
                for task_id in running:
                    executor.update(task_id, "TASK_FINISHED")
                running = []
        elif kind == "KILL":
            task_id = event["kill"]["task_id"]["value"]
            executor.update(task_id, "TASK_KILLED")
        elif kind == "SHUTDOWN":
            Path(os.environ["MESOS_SANDBOX"], "shutdown").write_text(
                f"unacknowledged updates: {len(executor.updates)}\n")
            executor.close()
            return 0
    log("nothing happened for too long")
    return 1


if __name__ == "__main__":
    sys.exit(main())
