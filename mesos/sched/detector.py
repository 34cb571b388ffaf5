"""How a scheduler driver finds its master: the `--master` string and the standalone detector.

Port of `MasterDetector::create` and of `StandaloneMasterDetector`
(`src/master/detector/{detector,standalone}.cpp`), with one addition this port needs: a user
types the master's HTTP address (`host:5050`), but the driver must talk to the master's
libprocess UPID, whose port is the transport's, not the HTTP one (see "Ports" in
ARCHITECTURE.md). So a detector created from `host:port` *resolves* the address: it asks
`http://host:port/master/state` (or `/state`) for the field `pid`, retrying with backoff until
it gets an answer, and appoints the master it found. The blocking HTTP request runs on a short
helper thread; its result comes back to the detector's process through `defer`.

Accepted `master` strings (`parse_master`):

- `host:port` or `http://host:port` (port 5050 when left out): resolved over HTTP as above;
- `master@ip:port`: a libprocess UPID, used as is (the official drivers accept this too);
- `file:///path`: the file holds one of the other forms;
- `zk://host:2181/mesos`: the leading master is the one ZooKeeper elects there, found by a
  `mesos.detector.ZooKeeperMasterDetector` (no HTTP resolution: the election znode holds the
  master's whole `MasterInfo`, UPID included);
- `local`: Mesos's in-process cluster, which `create_detector` refuses the same way.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from libprocess import ID, UPID, Future, Process, Promise, UPIDError, defer, delay, dispatch
from libprocess import spawn as _spawn
from libprocess import terminate as _terminate
from libprocess.clock import Timer
from mesos.protos.mesos import mesos_pb2
from mesos.sched.constants import MESOS_VERSION

__all__ = [
    "DEFAULT_MASTER_PORT",
    "RESOLUTION_BACKOFF_MAX",
    "RESOLUTION_BACKOFF_MIN",
    "DetectorError",
    "MasterAddress",
    "StandaloneMasterDetector",
    "StandaloneMasterDetectorProcess",
    "create_detector",
    "master_info_from_pid",
    "parse_master",
]

log = logging.getLogger(__name__)

DEFAULT_MASTER_PORT = 5050

# Backoff between attempts to resolve `host:port` to the master's UPID, in seconds (clock
# time): the first retry waits the minimum, each later one twice as long, up to the maximum.
RESOLUTION_BACKOFF_MIN = 1.0
RESOLUTION_BACKOFF_MAX = 16.0

# Real-time bound on one HTTP request to the master (a socket timeout, not a clock timer).
HTTP_TIMEOUT = 10.0


class DetectorError(ValueError):
    """A `master` string that cannot be turned into a detector; the message says why."""


@dataclass(frozen=True)
class MasterAddress:
    """What a `master` string names: a kind (`http`, `upid`, `zk` or `local`) and its parts."""

    kind: str
    host: str = ""
    port: int = 0
    pid: UPID | None = None
    url: str = ""


def parse_master(master: str) -> MasterAddress:
    """Parses a `master` string (see the module docstring); raises `DetectorError`."""
    if not isinstance(master, str):
        raise DetectorError(f"Expected the master as a string, got {type(master).__name__}")
    text = master.strip()
    if not text:
        raise DetectorError("Empty master address: expected 'host:port', 'master@ip:port', "
                            "'zk://host:port/path' or 'file:///path'")
    if text.startswith("zk://"):
        return MasterAddress("zk", url=text)
    if text in ("local", "localquiet"):
        return MasterAddress("local", url=text)
    if text.startswith("file://"):
        path = text[len("file://"):]
        try:
            with open(path) as f:
                content = f.read().strip()
        except OSError as e:
            raise DetectorError(f"Failed to read the master from '{path}': {e}") from None
        if content.startswith("file://"):
            raise DetectorError(f"The file '{path}' names another file: '{content}'")
        return parse_master(content)
    if "@" in text:
        try:
            pid = UPID(text)
        except UPIDError as e:
            raise DetectorError(f"Failed to parse '{text}': {e}") from None
        return MasterAddress("upid", host=pid.host, port=pid.port, pid=pid)
    if text.startswith("http://"):
        text = text[len("http://"):].rstrip("/")
    host, port = _split_host_port(text)
    return MasterAddress("http", host=host, port=port)


def _split_host_port(text: str) -> tuple[str, int]:
    expected = "expected 'host:port' (for example 'localhost:5050')"
    if text.startswith("["):
        host, bracket, rest = text[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise DetectorError(f"Failed to parse the master '{text}': {expected}")
        port_text = rest[1:] if rest else ""
    elif text.count(":") > 1:
        # A bare IPv6 address: no port.
        host, port_text = text, ""
    else:
        host, _, port_text = text.partition(":")
    if not host or any(c.isspace() or c in "/@" for c in host):
        raise DetectorError(f"Failed to parse the master '{text}': {expected}")
    if not port_text:
        return host, DEFAULT_MASTER_PORT
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise DetectorError(f"Bad port in the master '{text}': {expected}")
    return host, int(port_text)


def _ip_as_uint32(host: str) -> int:
    """`MasterInfo.ip`: an IPv4 address as its `in_addr.s_addr` (network order) reads."""
    try:
        packed = socket.inet_aton(host)
    except OSError:
        return 0
    return int.from_bytes(packed, "little")


def master_info_from_pid(pid: UPID | str, *, id: str | None = None,
                         hostname: str | None = None, http_port: int | None = None,
                         version: str | None = None) -> Any:
    """A `MasterInfo` for a master known only by its UPID (port of `createMasterInfo`).

    `port` and `address.port` are the HTTP port when it is known, else the UPID's port.
    """
    upid = pid if isinstance(pid, UPID) else UPID(pid)
    port = http_port or upid.port
    info = mesos_pb2.MasterInfo()
    info.id = id or f"{upid}-{uuid.uuid4()}"
    info.ip = _ip_as_uint32(upid.host)
    info.port = port
    info.pid = str(upid)
    info.hostname = hostname or upid.host
    info.version = version or MESOS_VERSION
    info.address.ip = upid.host
    info.address.hostname = hostname or upid.host
    info.address.port = port
    return info


def _as_master_info(master: Any) -> Any:
    """`None`, a `MasterInfo` (copied), or a UPID / `id@ip:port` made into a `MasterInfo`."""
    if master is None:
        return None
    if isinstance(master, UPID | str):
        return master_info_from_pid(master)
    if getattr(getattr(master, "DESCRIPTOR", None), "full_name", "") == "mesos.MasterInfo":
        info = mesos_pb2.MasterInfo()
        info.ParseFromString(master.SerializeToString())
        return info
    raise TypeError(f"Expected a MasterInfo or a UPID, got {type(master).__name__}")


def _copy(info: Any) -> Any:
    if info is None:
        return None
    out = mesos_pb2.MasterInfo()
    out.CopyFrom(info)
    return out


def _pid_of(info: Any) -> str:
    return info.pid if info is not None else ""


class StandaloneMasterDetectorProcess(Process):
    """Owns the current leader, the callers waiting for it to change, and the HTTP resolution.

    Runs on its own process thread (`standalone-master-detector(N)`). The HTTP request runs
    on a helper thread and re-enters through `defer`; retries are `delay` timers.
    """

    def __init__(self, leader: Any = None, address: tuple[str, int] | None = None) -> None:
        super().__init__(ID.generate("standalone-master-detector"))
        self.leader: Any = leader
        self.address = address
        self.promises: list[Promise[Any]] = []
        self.resolving = False
        self.backoff = RESOLUTION_BACKOFF_MIN
        self.resolution_timer: Timer | None = None

    def initialize(self) -> None:
        if self.address is not None and self.leader is None:
            self.resolve()

    def finalize(self) -> None:
        if self.resolution_timer is not None:
            self.resolution_timer.cancel()
        # Nobody is left to answer the waiters: tell them rather than leave them hanging.
        promises, self.promises = self.promises, []
        for promise in promises:
            promise.discard()

    def appoint(self, leader: Any) -> None:
        """Makes `leader` (a `MasterInfo` or None) the master and wakes every waiter."""
        self.leader = leader
        promises, self.promises = self.promises, []
        for promise in promises:
            promise.set(_copy(leader))

    def detect(self, previous: Any) -> Future[Any]:
        """A future of the leader, ready once it differs from `previous`."""
        if self.leader != previous:
            return Future.ready(_copy(self.leader))
        promise: Promise[Any] = Promise()
        self.promises.append(promise)
        promise.future.on_discard(defer(self, self._discarded, promise))
        return promise.future

    def _discarded(self, promise: Promise[Any]) -> None:
        if promise in self.promises:
            self.promises.remove(promise)
        promise.discard()

    def lost(self, master: Any) -> None:
        """A user of the detector saw `master` die (its link broke).

        If `master` is still the leader it is forgotten (waiters learn "no master"); a
        detector made from an HTTP address then resolves that address again, which finds a
        restarted master at its new transport port, or the same one if it was only the link.
        """
        if self.leader is None or _pid_of(self.leader) != _pid_of(master):
            log.debug("Ignoring the loss of master %s because the leader is now %s",
                      _pid_of(master), _pid_of(self.leader) or "none")
            return
        log.info("Master %s was lost", _pid_of(master))
        self.appoint(None)
        if self.address is not None:
            self.backoff = RESOLUTION_BACKOFF_MIN
            self.resolve()

    def resolve(self) -> None:
        """Asks the HTTP address for the master's UPID (once at a time)."""
        self.resolution_timer = None
        if self.address is None or self.resolving:
            return
        self.resolving = True
        host, port = self.address
        log.info("Resolving the master at %s:%d", host, port)
        thread = threading.Thread(target=_fetch_master,
                                  args=(host, port, defer(self, self._resolved)),
                                  name=f"{self.id}-http", daemon=True)
        thread.start()

    def _resolved(self, result: Any) -> None:
        self.resolving = False
        if self.address is None:
            return
        host, port = self.address
        if isinstance(result, str):
            log.warning("Failed to resolve the master at %s:%d: %s; retrying in %.0f secs",
                        host, port, result, self.backoff)
            self.resolution_timer = delay(self.backoff, self, self.resolve)
            self.backoff = min(self.backoff * 2, RESOLUTION_BACKOFF_MAX)
            return
        self.backoff = RESOLUTION_BACKOFF_MIN
        log.info("Resolved the master at %s:%d to %s", host, port, result.pid)
        if self.leader != result:
            self.appoint(result)


def _fetch_master(host: str, port: int, callback: Callable[..., Any]) -> None:
    """Runs on a helper thread: GETs the master's state and calls back with a `MasterInfo`
    or with the reason (a string) it could not."""
    try:
        result: Any = _fetch_master_info(host, port)
    except Exception as e:
        result = f"{type(e).__name__}: {e}"
    callback(result)


def _fetch_master_info(host: str, port: int) -> Any:
    netloc = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    # Master addresses are local to the cluster: never go through an HTTP proxy.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    failure = "no answer"
    for path in ("/master/state", "/state"):
        url = f"http://{netloc}{path}"
        try:
            with opener.open(url, timeout=HTTP_TIMEOUT) as response:
                body = response.read()
        except urllib.error.HTTPError as e:
            e.close()
            failure = f"GET {url} answered {e.code}"
            if e.code == 404:
                continue
            return failure
        except (urllib.error.URLError, OSError) as e:
            reason = getattr(e, "reason", e)
            return f"GET {url} failed: {reason}"
        return _master_info_from_state(body, host, port)
    return failure


def _master_info_from_state(body: bytes, host: str, port: int) -> Any:
    try:
        state = json.loads(body)
    except ValueError as e:
        return f"the state is not JSON: {e}"
    if not isinstance(state, dict) or not isinstance(state.get("pid"), str):
        return "the state has no 'pid'"
    try:
        pid = UPID(state["pid"])
    except UPIDError as e:
        return f"bad 'pid' in the state: {e}"
    leader_info = state.get("leader_info")
    if isinstance(leader_info, dict) and leader_info.get("pid") == state["pid"]:
        from mesos.common.json_model import parse_mesos_json

        try:
            return parse_mesos_json(leader_info, mesos_pb2.MasterInfo)
        except ValueError:
            log.debug("Ignoring an unparsable 'leader_info' from %s:%d", host, port)
    hostname = state.get("hostname") if isinstance(state.get("hostname"), str) else None
    version = state.get("version") if isinstance(state.get("version"), str) else None
    ident = state.get("id") if isinstance(state.get("id"), str) else None
    return master_info_from_pid(pid, id=ident, hostname=hostname or host, http_port=port,
                                version=version)


class StandaloneMasterDetector:
    """A master detector without ZooKeeper: the master is appointed, or resolved over HTTP.

    Facade over a `StandaloneMasterDetectorProcess` (spawned by the constructor); each
    method is one `dispatch`, safe from any thread. Port of Mesos's `StandaloneMasterDetector`,
    whose `appoint` tests use to hand a driver its master (a `MasterInfo`, a `UPID` or an
    `id@ip:port` string; None means "no master").
    """

    def __init__(self, leader: Any = None, address: tuple[str, int] | None = None) -> None:
        self.process = StandaloneMasterDetectorProcess(_as_master_info(leader), address)
        _spawn(self.process)

    def appoint(self, leader: Any) -> Future[None]:
        return dispatch(self.process, self.process.appoint, _as_master_info(leader))

    def detect(self, previous: Any = None) -> Future[Any]:
        """A future of the leading master (`MasterInfo` or None) once it is not `previous`."""
        return dispatch(self.process, self.process.detect, _copy(previous))

    def lost(self, master: Any) -> Future[None]:
        """Reports that `master` died (see `StandaloneMasterDetectorProcess.lost`)."""
        return dispatch(self.process, self.process.lost, _copy(master))

    def terminate(self) -> None:
        _terminate(self.process)


def create_detector(master: str) -> Any:
    """The detector for a `master` string (port of `MasterDetector::create`).

    A `StandaloneMasterDetector`, or for `zk://` URLs (also read from a `file://`) a
    `mesos.detector.ZooKeeperMasterDetector` with the default 10 s session timeout. Both
    offer `detect(previous)` and `terminate()`. Raises `DetectorError` for a string that
    cannot be parsed.
    """
    address = parse_master(master)
    if address.kind == "zk":
        # Late import: `mesos.detector` re-exports this module's standalone detector.
        from mesos.detector.zookeeper import ZooKeeperMasterDetector

        try:
            return ZooKeeperMasterDetector(address.url)
        except ValueError as e:
            raise DetectorError(f"Failed to parse '{address.url}': {e}") from None
    if address.kind == "local":
        raise DetectorError(
            f"An in-process cluster ('{address.url}') is not supported by this port; start "
            "one with `mesos-local` and give its address as 'host:port'")
    if address.kind == "upid":
        return StandaloneMasterDetector(leader=address.pid)
    return StandaloneMasterDetector(address=(address.host, address.port))
