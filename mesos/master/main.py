"""`mesos-master`: runs a Mesos master in this OS process (port of `src/master/main.cpp`).

`main()` loads the flags (`--name=value` and `MESOS_NAME`; a bad one exits 1 with one line,
`--help` prints the usage), starts libprocess with the HTTP server on `--port` and the
`master` process as the HTTP delegate (so `/state` means `/master/state`), opens the registry
storage `--registry` names (a LevelDB directory another master holds, or flags that cannot
work, exit 1 with one line), spawns the `Master` (which contends through ZooKeeper with
`--zk`, or leads alone), logs where it listens, and waits until SIGTERM or SIGINT, then exits
0. A master that must stop leading exits 1 on its own ("committing suicide").
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import queue
import signal
import sys
import threading
from collections.abc import Sequence
from typing import Any

import libprocess
from mesos.common.flags import load_or_exit
from mesos.detector import DetectorError
from mesos.master.flags import MasterFlags, check_registry, registry_backend
from mesos.master.master import MESOS_VERSION, Master
from mesos.master.storage import create_registrar, create_storage
from mesos.state import StorageError

__all__ = ["main"]

log = logging.getLogger("mesos.master")

PROGRAM = "mesos-master"


class _QueueHandler(logging.handlers.QueueHandler):
    """Hands log records to the writer thread (`_setup_logging`); `flush()` waits until it
    has written everything queued, so that a master exiting at once (`libprocess.exit`,
    which flushes the handlers first) leaves its last words in the log."""

    def flush(self) -> None:
        queue_ = self.queue
        if isinstance(queue_, queue.Queue):
            queue_.join()


def _setup_logging(flags: MasterFlags) -> logging.handlers.QueueListener:
    """Logs to stderr (and `--log_dir`) from a writer thread: the master's thread only
    queues a record, and never waits on a write (a failover's burst of re-registrations
    logs thousands of lines). Returns the writer, to stop at exit."""
    level = getattr(logging, flags.logging_level.upper())
    formatter = logging.Formatter(
        "%(levelname).1s%(asctime)s %(process)d %(name)s] %(message)s")
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if flags.log_dir is not None:
        os.makedirs(flags.log_dir, exist_ok=True)
        handlers.append(logging.FileHandler(os.path.join(flags.log_dir, "mesos-master.log")))
    for handler in handlers:
        handler.setFormatter(formatter)
    records: queue.Queue[logging.LogRecord] = queue.Queue()
    listener = logging.handlers.QueueListener(records, *handlers, respect_handler_level=True)
    listener.start()
    # The writer's handlers format; the queued record keeps just the message (with any
    # traceback), formatted on the caller's thread as `QueueHandler` does.
    queued = _QueueHandler(records)
    queued.setFormatter(logging.Formatter("%(message)s"))
    logging.basicConfig(level=level, handlers=[queued], force=True)
    return listener


def _stop_logging(listener: logging.handlers.QueueListener) -> None:
    """Writes what is queued, then logs directly again (nothing is left to a thread that
    stopped)."""
    listener.stop()
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in listener.handlers:
        root.addHandler(handler)


def _error(message: str) -> None:
    """Prints a startup error as the last line of stderr, after the queued log lines."""
    for handler in logging.getLogger().handlers:
        handler.flush()
    print(f"{PROGRAM}: {message}", file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the master until SIGTERM/SIGINT; the exit status (0, or 1 on a startup error)."""
    args = list(sys.argv if argv is None else argv)
    args[0:1] = [PROGRAM]
    flags = load_or_exit(MasterFlags, args, os.environ)
    if flags.version:
        print(f"mesos {MESOS_VERSION}")
        return 0
    error = check_registry(flags)
    if error is not None:
        print(f"{PROGRAM}: {error}", file=sys.stderr)
        return 1
    listener = _setup_logging(flags)
    try:
        return _run(flags)
    finally:
        _stop_logging(listener)


def _run(flags: MasterFlags) -> int:
    """Runs the master with logging set up (see `main`)."""
    try:
        ip, _, http_port = libprocess.initialize(
            ip=flags.ip, port=flags.libprocess_port, http_port=flags.port, delegate="master")
    except OSError as e:
        _error(f"Failed to listen on {flags.ip or '127.0.0.1'}:{flags.port}: "
               f"{e.strerror or e}")
        return 1

    stop = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    try:
        storage = create_storage(flags)
    except (StorageError, ValueError) as e:
        _error(f"Failed to open the {registry_backend(flags)} registry: {e}")
        libprocess.finalize()
        return 1
    registrar = create_registrar(flags, storage)
    if flags.zk is not None and flags.quorum is None:
        log.warning("--quorum is not set; with --registry=zookeeper ZooKeeper's own quorum"
                    " keeps the registry consistent")

    def close_registry() -> None:
        registrar.close()
        storage.close()

    try:
        master = Master(flags, registrar=registrar)
    except (DetectorError, StorageError, ValueError) as e:
        _error(str(e))
        close_registry()
        libprocess.finalize()
        return 1
    libprocess.spawn(master)
    try:
        started = libprocess.dispatch(master, lambda: master.http is not None).get(30.0)
    except Exception as e:  # The master's initialize() failed: report it in one line.
        started = False
        log.error("Master failed to start: %s", e)
    if not started:
        _error("the master failed to start (see the log above)")
        close_registry()
        libprocess.finalize()
        return 1

    log.info("Master %s listening: libprocess %s, HTTP http://%s:%d/ (state: /master/state)",
             master.info.id, master.upid, ip, http_port)
    while not stop.wait(0.5):
        if not libprocess.wait(master, 0):
            continue
        log.error("The master process terminated")
        close_registry()
        libprocess.finalize()
        return 1

    log.info("Received a termination signal; shutting down")
    libprocess.terminate(master)
    libprocess.wait(master, 10.0)
    close_registry()
    libprocess.finalize()
    return 0


if __name__ == "__main__":
    sys.exit(main())
