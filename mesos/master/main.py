"""`mesos-master`: runs a Mesos master in this OS process (port of `src/master/main.cpp`).

`main()` loads the flags (`--name=value` and `MESOS_NAME`; a bad one exits 1 with one line,
`--help` prints the usage), starts libprocess with the HTTP server on `--port` and the
`master` process as the HTTP delegate (so `/state` means `/master/state`), spawns the
`Master`, logs where it listens, and waits until SIGTERM or SIGINT, then exits 0.
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
from mesos.common.flags import load_or_exit
from mesos.master.flags import MasterFlags
from mesos.master.master import MESOS_VERSION, Master

__all__ = ["main"]

log = logging.getLogger("mesos.master")

PROGRAM = "mesos-master"


def _setup_logging(flags: MasterFlags) -> None:
    level = getattr(logging, flags.logging_level.upper())
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if flags.log_dir is not None:
        os.makedirs(flags.log_dir, exist_ok=True)
        handlers.append(logging.FileHandler(os.path.join(flags.log_dir, "mesos-master.log")))
    logging.basicConfig(
        level=level, handlers=handlers, force=True,
        format="%(levelname).1s%(asctime)s %(process)d %(name)s] %(message)s")


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the master until SIGTERM/SIGINT; the exit status (0, or 1 on a startup error)."""
    args = list(sys.argv if argv is None else argv)
    args[0:1] = [PROGRAM]
    flags = load_or_exit(MasterFlags, args, os.environ)
    if flags.version:
        print(f"mesos {MESOS_VERSION}")
        return 0
    _setup_logging(flags)

    try:
        ip, _, http_port = libprocess.initialize(
            ip=flags.ip, port=flags.libprocess_port, http_port=flags.port, delegate="master")
    except OSError as e:
        print(f"{PROGRAM}: Failed to listen on {flags.ip or '127.0.0.1'}:{flags.port}: "
              f"{e.strerror or e}", file=sys.stderr)
        return 1

    stop = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    master = Master(flags)
    libprocess.spawn(master)
    try:
        started = libprocess.dispatch(master, lambda: master.http is not None).get(30.0)
    except Exception as e:  # The master's initialize() failed: report it in one line.
        started = False
        log.error("Master failed to start: %s", e)
    if not started:
        print(f"{PROGRAM}: the master failed to start (see the log above)", file=sys.stderr)
        libprocess.finalize()
        return 1

    log.info("Master %s listening: libprocess %s, HTTP http://%s:%d/ (state: /master/state)",
             master.info.id, master.upid, ip, http_port)
    while not stop.wait(0.5):
        if not libprocess.wait(master, 0):
            continue
        log.error("The master process terminated")
        libprocess.finalize()
        return 1

    log.info("Received a termination signal; shutting down")
    libprocess.terminate(master)
    libprocess.wait(master, 10.0)
    libprocess.finalize()
    return 0


if __name__ == "__main__":
    sys.exit(main())
