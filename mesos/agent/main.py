"""`mesos-agent` (also `mesos-slave`): runs a Mesos agent in this OS process (port of
`src/slave/main.cpp`).

`main()` loads the flags (`--name=value` and `MESOS_NAME`; a bad one exits 1 with one line,
`--help` prints the usage), checks the work directory and resources, starts libprocess with
the HTTP server on `--port` and the agent as the HTTP delegate (so `/state` means
`/slave(1)/state`), spawns the `Agent` and waits until it terminates: after the master's
ShutdownMessage (exit 0), a fatal error (exit 1, e.g. a failed recovery), or a signal.

Signals are Mesos's: SIGUSR1 asks the agent to shut down (it unregisters from the master,
shuts every executor down within its grace period, forgets its checkpointed agent id so that
it registers anew next time, and exits 0). SIGTERM and SIGINT only end the agent process, as
they do a Mesos agent: the executors of frameworks that checkpoint keep running, for the next
agent started on the same `--work_dir` to recover (and `kill -9` leaves them alone just the
same); those of other frameworks are shut down. A second signal during a shutdown kills the
executors at once.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence
from typing import Any

import libprocess
from mesos.agent.agent import MESOS_VERSION, Agent
from mesos.agent.containerizer import detect_resources
from mesos.agent.flags import AgentFlags
from mesos.common.flags import load_or_exit

__all__ = ["main"]

log = logging.getLogger("mesos.agent")

PROGRAM = "mesos-agent"

# Besides the longest executor grace period, how long a signalled agent may take to wind down
# before its executors are killed outright.
SHUTDOWN_SLACK = 10.0
POLL_INTERVAL = 0.5


def _setup_logging(flags: AgentFlags, program: str) -> None:
    level = getattr(logging, flags.logging_level.upper())
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if flags.log_dir is not None:
        os.makedirs(flags.log_dir, exist_ok=True)
        handlers.append(logging.FileHandler(os.path.join(flags.log_dir, f"{program}.log")))
    logging.basicConfig(
        level=level, handlers=handlers, force=True,
        format="%(levelname).1s%(asctime)s %(process)d %(name)s] %(message)s")


def _fail(program: str, message: str) -> int:
    print(f"{program}: {message}", file=sys.stderr)
    return 1


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the agent until it terminates; the exit status (0, or 1 on an error)."""
    args = list(sys.argv if argv is None else argv)
    invoked = os.path.basename(args[0]) if args else ""
    program = "mesos-slave" if invoked == "mesos-slave" else PROGRAM
    args[0:1] = [program]
    flags = load_or_exit(AgentFlags, args, os.environ)
    if flags.version:
        print(f"mesos {MESOS_VERSION}")
        return 0
    _setup_logging(flags, program)

    # `--master` was validated with the flags; the agent makes its detector (a process)
    # once the runtime below is started.

    # Errors a person must fix, reported in one line before anything starts.
    try:
        os.makedirs(flags.work_dir, exist_ok=True)
    except OSError as e:
        return _fail(program, f"Failed to create agent work directory '{flags.work_dir}': "
                              f"{e.strerror or e}")
    try:
        resources = detect_resources(flags.resources, flags.default_role, flags.work_dir)
    except ValueError as e:
        return _fail(program, f"Failed to determine agent resources: {e}")

    agent = Agent(flags, resources=resources)
    try:
        ip, port, http_port = libprocess.initialize(
            ip=flags.ip, port=flags.libprocess_port, http_port=flags.port, delegate=agent.id)
    except OSError as e:
        return _fail(program, f"Failed to listen on {flags.ip or '127.0.0.1'}:{flags.port}: "
                              f"{e.strerror or e}")

    signals: list[str] = []
    signalled = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        signals.append(signal.Signals(signum).name)
        signalled.set()

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1):
        signal.signal(signum, on_signal)

    libprocess.spawn(agent)
    log.info("Agent %s listening: libprocess %s:%d, HTTP http://%s:%d/ (state: /state)",
             agent.upid, ip, port, ip, http_port)

    handled = 0
    remaining: float | None = None
    while not libprocess.wait(agent, POLL_INTERVAL):
        if len(signals) > handled:
            handled = len(signals)
            if remaining is None and signals[-1] == "SIGUSR1":
                log.info("Received %s; shutting down", signals[-1])
                libprocess.dispatch(agent, agent.shutdown, None,
                                    f"Received {signals[-1]} signal")
                remaining = flags.executor_shutdown_grace_period + SHUTDOWN_SLACK
            elif remaining is None:
                # The executors of checkpointing frameworks stay, for the next agent.
                log.info("Received %s; terminating (executors of checkpointing frameworks "
                         "keep running)", signals[-1])
                libprocess.terminate(agent)
                libprocess.wait(agent, 30.0)
                break
            else:
                log.warning("Received %s again; killing the executors", signals[-1])
                remaining = 0.0
        if remaining is not None:
            remaining -= POLL_INTERVAL
            if remaining <= 0:
                log.warning("The agent did not finish shutting down in time; terminating it")
                libprocess.terminate(agent)
                libprocess.wait(agent, 30.0)
                break

    status = agent.exit_status if agent.exit_status is not None else 0
    if agent.fatal_error is not None:
        print(f"{program}: {agent.fatal_error}", file=sys.stderr)
    libprocess.finalize()
    return status


if __name__ == "__main__":
    sys.exit(main())
