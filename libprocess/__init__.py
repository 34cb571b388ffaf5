"""libprocess: the actor runtime of the port (knows nothing of Mesos).

Processes (`Process`) are pykka-hosted actors addressed by `UPID` (`id@ip:port`), exchanging
protobuf messages over ZeroMQ, with `dispatch`/`defer`/`delay`, `Future`/`Promise`, a pausable
`clock`, links that report dead peers, and one HTTP server per OS process. See
`shared/design/ARCHITECTURE.md` for the contract.
"""

from libprocess import metrics
from libprocess.clock import Clock, Timer, clock
from libprocess.future import (
    Future,
    FutureDiscarded,
    FutureFailed,
    Promise,
    await_all,
    collect,
)
from libprocess.http import (
    OK,
    Accepted,
    BadRequest,
    NotFound,
    Pipe,
    Request,
    Response,
    ServiceUnavailable,
    TemporaryRedirect,
)
from libprocess.process import Process, defer, delay, dispatch, spawn, terminate, wait
from libprocess.runtime import ProcessExit, exit, finalize, initialize, manager
from libprocess.upid import ID, UPID, UPIDError

__all__ = [
    "ID",
    "OK",
    "UPID",
    "Accepted",
    "BadRequest",
    "Clock",
    "Future",
    "FutureDiscarded",
    "FutureFailed",
    "NotFound",
    "Pipe",
    "Process",
    "ProcessExit",
    "Promise",
    "Request",
    "Response",
    "ServiceUnavailable",
    "TemporaryRedirect",
    "Timer",
    "UPIDError",
    "address",
    "await_all",
    "clock",
    "collect",
    "defer",
    "delay",
    "dispatch",
    "exit",
    "finalize",
    "http_address",
    "initialize",
    "manager",
    "metrics",
    "spawn",
    "terminate",
    "wait",
]


def address() -> tuple[str, int]:
    """The `(ip, port)` of this OS process's transport (initializing the runtime if needed)."""
    m = manager()
    m.ensure_initialized()
    return (m.ip, m.port)


def http_address() -> tuple[str, int]:
    """The `(ip, port)` of this OS process's HTTP server (initializing the runtime if needed)."""
    m = manager()
    m.ensure_initialized()
    return (m.ip, m.http_port)
