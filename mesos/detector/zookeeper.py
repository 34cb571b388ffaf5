"""Leader election and detection of masters through ZooKeeper.

Port of `src/zookeeper/group.cpp` (a ZooKeeper session and the membership of one group
znode), `src/zookeeper/{contender,detector}.cpp` (the leader contender and detector on a
group) and `src/master/{contender,detector}/zookeeper.cpp` (the master's flavours, which
store `MasterInfo` as JSON). The layout in ZooKeeper is the one every Mesos client reads:

    <path>/json.info_0000000007   ephemeral, sequential; data: MasterInfo as JSON
    <path>/json.info_0000000009
    <path>/log_replicas/...       not a member (no numeric suffix after the last `_`)

The member with the lowest sequence number leads.

Threads: `GroupProcess`, `ZooKeeperMasterContenderProcess` and
`ZooKeeperMasterDetectorProcess` are libprocess processes; everything in them runs on their
own threads. kazoo runs its own threads (a connection thread and callback workers): every
session state change, watch event and asynchronous result it reports is handed to the group
process with `defer`, and is ignored there if it comes from a client the group has since
replaced. A replaced client is stopped on a short helper thread, because stopping blocks.

Sessions (as Mesos's `GroupProcess`): when the connection drops, a local timer as long as the
negotiated session timeout starts; if the connection is not back when it fires, or when the
server reports the session expired, the group *expires the session locally*: watchers see an
empty group (no leader), memberships this group owns are cancelled (a contender loses its
candidacy), and a new session is started. Operations that fail with a connection error wait
for the next connection; other retryable failures are retried after 2 s (doubling, at most
60 s).
"""

from __future__ import annotations

import collections
import contextlib
import enum
import logging
import threading
from dataclasses import dataclass, field
from typing import Any

from kazoo.client import KazooClient
from kazoo.exceptions import (
    ConnectionLoss,
    NoNodeError,
    OperationTimeoutError,
    SessionExpiredError,
    SessionMovedError,
)
from kazoo.protocol.states import EventType, KazooState
from kazoo.retry import KazooRetry
from kazoo.security import CREATOR_ALL_ACL, OPEN_ACL_UNSAFE, READ_ACL_UNSAFE

from libprocess import ID, Future, Process, Promise, defer, delay, dispatch, spawn
from libprocess import terminate as _terminate
from libprocess.clock import Timer
from mesos.detector.master_info import (
    MASTER_INFO_JSON_LABEL,
    master_info_to_json,
    parse_master_info,
)
from mesos.zookeeper.url import parse as parse_url

__all__ = [
    "MASTER_CONTENDER_ZK_SESSION_TIMEOUT",
    "MASTER_DETECTOR_ZK_SESSION_TIMEOUT",
    "Group",
    "GroupProcess",
    "GroupState",
    "Membership",
    "ZooKeeperMasterContender",
    "ZooKeeperMasterContenderProcess",
    "ZooKeeperMasterDetector",
    "ZooKeeperMasterDetectorProcess",
    "parse_zk_url",
]

log = logging.getLogger(__name__)

# `--zk_session_timeout` defaults (`src/master/{contender,detector}/zookeeper.cpp`), seconds.
MASTER_CONTENDER_ZK_SESSION_TIMEOUT = 10.0
MASTER_DETECTOR_ZK_SESSION_TIMEOUT = 10.0

# Wait after a retryable error while connected (`GroupProcess::RETRY_INTERVAL`), doubling up
# to the maximum.
RETRY_INTERVAL = 2.0
MAX_RETRY_INTERVAL = 60.0

# kazoo's reconnection back-off: capped low so a client finds a restarted server soon.
_RECONNECT_DELAY = 0.1
_RECONNECT_MAX_DELAY = 1.0

# Errors after which the same request can be sent again. The connection-level ones mean
# "wait for the next connection": kazoo fails every pending request with them when the
# connection drops.
_CONNECTION_ERRORS = (ConnectionLoss, SessionExpiredError, SessionMovedError)
_RETRYABLE_ERRORS = (*_CONNECTION_ERRORS, OperationTimeoutError)


def parse_zk_url(url: Any) -> Any:
    """A parsed ZooKeeper URL (`mesos.zookeeper.url.URL`) from a `zk://` string, or `url` as
    is when it is parsed already. Raises `ValueError` (`URLError`) for a bad URL and for the
    path `/`, which Mesos refuses for masters."""
    if isinstance(url, str):
        url = parse_url(url)
    if url.path == "/":
        raise ValueError("Expecting a (chroot) path for ZooKeeper ('/' is not supported)")
    return url


def _authentication(url: Any) -> tuple[str, str] | None:
    auth = url.authentication
    return None if auth is None else (str(auth[0]), str(auth[1]))


# ---------------------------------------------------------------------------------------
# The group.


@dataclass(frozen=True, eq=False)
class Membership:
    """One member of a group: the znode `<label>_<sequence>` (or just `<sequence>`).

    Members compare, hash and order by `sequence` alone, as in Mesos. `cancelled` becomes
    ready when the membership ends: True when this group cancelled it on request, False when
    it was lost (session expired, znode deleted, or it was never this group's own).
    """

    sequence: int
    label: str | None
    cancelled: Future[bool] = field(repr=False)
    node: str = ""

    @property
    def id(self) -> int:
        return self.sequence

    @property
    def basename(self) -> str:
        """The znode's name under the group's path."""
        if self.node:
            return self.node
        number = f"{self.sequence:010d}"
        return f"{self.label}_{number}" if self.label is not None else number

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Membership) and self.sequence == other.sequence

    def __hash__(self) -> int:
        return hash(self.sequence)

    def __lt__(self, other: Membership) -> bool:
        return self.sequence < other.sequence


def parse_member(name: str) -> tuple[str | None, int] | None:
    """`(label, sequence)` for a child znode name, or None when it is not a member.

    As `GroupProcess::cache`: the name is split at `_`; the last token must be a number
    (an int32), and the first one is the label when there is more than one token.
    `log_replicas`, `foo` and `json.info_abc` are not members.
    """
    tokens = [token for token in name.split("_") if token]
    if not tokens:
        return None
    last = tokens[-1]
    digits = last[1:] if last[:1] in "+-" else last
    if not digits or not digits.isascii() or not digits.isdigit():
        return None
    sequence = int(last)
    if not -(2**31) <= sequence < 2**31:
        return None
    return (tokens[0] if len(tokens) > 1 else None, sequence)


class GroupState(enum.Enum):
    DISCONNECTED = "DISCONNECTED"
    CONNECTING = "CONNECTING"
    CONNECTED = "CONNECTED"  # Connected, but the group's znode may not exist yet.
    READY = "READY"


class _Join:
    def __init__(self, data: bytes, label: str | None) -> None:
        self.data = data
        self.label = label
        self.promise: Promise[Membership] = Promise()


class _Cancel:
    def __init__(self, membership: Membership) -> None:
        self.membership = membership
        self.promise: Promise[bool] = Promise()


class _Data:
    def __init__(self, membership: Membership) -> None:
        self.membership = membership
        self.promise: Promise[bytes | None] = Promise()


class _Cache:
    """Internal: a roll call of the members (which also sets the children watch)."""

    promise = None


class _CreatePath:
    """Internal: creates the group's znode (and its parents) after connecting."""

    promise = None


_Operation = _Join | _Cancel | _Data | _Cache | _CreatePath


class _Watch:
    def __init__(self, expected: frozenset[Membership]) -> None:
        self.expected = expected
        self.promise: Promise[frozenset[Membership]] = Promise()


def _close_client(client: KazooClient) -> None:
    # Runs on a helper thread: `stop` joins kazoo's connection thread.
    try:
        client.stop()
        client.close()
    except Exception:
        log.warning("Failed to close a ZooKeeper client", exc_info=True)


class GroupProcess(Process):
    """Owns one ZooKeeper session and the memberships of one group znode.

    Port of Mesos's `GroupProcess`. Runs on its own process thread (`group(N)`); kazoo's
    callbacks come back through `defer`. Operations run one at a time, in the order they were
    asked for, so a caller that joined and then watches sees its own membership.
    """

    def __init__(self, servers: str, session_timeout: float, znode: str,
                 authentication: tuple[str, str] | None = None) -> None:
        super().__init__(ID.generate("group"))
        self.servers = servers
        self.session_timeout = session_timeout
        self.znode = znode[:-1] if len(znode) > 1 and znode.endswith("/") else znode
        self.authentication = authentication
        self.acl = (READ_ACL_UNSAFE + CREATOR_ALL_ACL) if authentication else OPEN_ACL_UNSAFE
        self.state = GroupState.DISCONNECTED
        self.client: KazooClient | None = None
        self.child_watcher: Any = None
        # The members as last read (None: unknown, a roll call is needed).
        self.memberships: frozenset[Membership] | None = None
        self.owned: dict[int, Promise[bool]] = {}
        self.unowned: dict[int, Promise[bool]] = {}
        self.operations: collections.deque[_Operation] = collections.deque()
        self.watches: list[_Watch] = []
        self.cache_queued = False
        # The request in flight (a token; results for any other one are stale).
        self.in_flight: object | None = None
        self.retry_timer: Timer | None = None
        self.retry_interval = RETRY_INTERVAL
        # The local session-expiry timer, started when the connection drops.
        self.expiry_timer: Timer | None = None
        self.expiry_token: object | None = None
        self.session_id = "none"  # For logs: the last session connected (hex).
        self.error: str | None = None

    # Lifecycle.

    def initialize(self) -> None:
        self._connect()

    def finalize(self) -> None:
        self._cancel_timers()
        # Nobody is left to answer: tell every waiter rather than leave it hanging.
        operations, self.operations = self.operations, collections.deque()
        for operation in operations:
            if operation.promise is not None:
                operation.promise.discard()
        watches, self.watches = self.watches, []
        for watch in watches:
            watch.promise.discard()
        # Closing the session ends every membership it owns.
        self._cancel_owned()
        if self.client is not None:
            # Here, unlike when a session is replaced, the close is waited for (it is quick
            # unless ZooKeeper is unreachable, and bounded even then): once the group has
            # terminated, its ephemeral znodes are gone and kazoo's threads have stopped.
            client, self.client = self.client, None
            _close_client(client)

    # The API (each also reachable through the `Group` facade).

    def join(self, data: bytes, label: str | None = None) -> Future[Membership]:
        """Creates an ephemeral sequential `<label>_` znode holding `data`; a future of the
        membership."""
        if self.error is not None:
            return Future.failed(self.error)
        operation = _Join(bytes(data), label)
        self.operations.append(operation)
        self._kick()
        return operation.promise.future

    def cancel(self, membership: Membership) -> Future[bool]:
        """Deletes an owned membership's znode: True if this deleted it, False if it was not
        owned or already gone."""
        if self.error is not None:
            return Future.failed(self.error)
        if membership.sequence not in self.owned:
            return Future.ready(False)
        operation = _Cancel(membership)
        self.operations.append(operation)
        self._kick()
        return operation.promise.future

    def data(self, membership: Membership) -> Future[bytes | None]:
        """The data of a member's znode, or None if the znode is gone."""
        if self.error is not None:
            return Future.failed(self.error)
        operation = _Data(membership)
        self.operations.append(operation)
        self._kick()
        return operation.promise.future

    def watch(self, expected: frozenset[Membership] = frozenset()) -> Future[frozenset[Membership]]:
        """The members, as soon as they differ from `expected`."""
        if self.error is not None:
            return Future.failed(self.error)
        if self.memberships is not None and self.memberships != expected:
            return Future.ready(self.memberships)
        watch = _Watch(frozenset(expected))
        self.watches.append(watch)
        if self.memberships is None:
            self._queue_cache()
            self._kick()
        return watch.promise.future

    def session(self) -> Future[int | None]:
        """The current session id, or None while (re)connecting."""
        if self.error is not None:
            return Future.failed(self.error)
        if self.client is None or self.state in (GroupState.DISCONNECTED,
                                                 GroupState.CONNECTING):
            return Future.ready(None)
        return Future.ready(self.client.client_id[0] if self.client.client_id else None)

    def zookeeper_client(self) -> KazooClient | None:
        """The current kazoo client (for tests that expire its session on the server)."""
        return self.client

    # Sessions.

    def _connect(self) -> None:
        retry = KazooRetry(max_tries=-1, delay=_RECONNECT_DELAY, backoff=2,
                           max_delay=_RECONNECT_MAX_DELAY)
        try:
            client = KazooClient(
                hosts=self.servers, timeout=self.session_timeout, connection_retry=retry,
                command_retry=KazooRetry(max_tries=0),
                auth_data=[self.authentication] if self.authentication else None,
                default_acl=self.acl)
        except Exception as e:
            self._abort(f"Failed to create a ZooKeeper client for '{self.servers}': {e}")
            return
        self.client = client
        state_changed = defer(self, self._state_changed, client)
        watched = defer(self, self._watched, client)

        def listener(state: KazooState) -> None:
            # On kazoo's connection thread; returning None keeps the listener.
            state_changed(state)

        def child_watcher(event: Any) -> None:
            # On kazoo's callback thread. One function per client, so that kazoo, which
            # keeps a set of watchers, never holds two for the group.
            watched(event)

        client.add_listener(listener)
        self.child_watcher = child_watcher
        self.state = GroupState.CONNECTING
        log.info("Group process (%s) connecting to ZooKeeper at %s (session timeout %.1f secs)",
                 self.upid, self.servers, self.session_timeout)
        try:
            client.start_async()
        except Exception as e:
            self._abort(f"Failed to start a ZooKeeper client for '{self.servers}': {e}")

    def _state_changed(self, client: KazooClient, state: KazooState) -> None:
        if client is not self.client or self.error is not None:
            return
        if state == KazooState.CONNECTED:
            self.connected()
        elif state == KazooState.SUSPENDED:
            self.reconnecting()
        elif state == KazooState.LOST:
            self.expired()

    def connected(self) -> None:
        """The client (re)connected within its session."""
        reconnect = self.state is not GroupState.CONNECTING
        assert self.client is not None
        self.session_id = _session_id(self.client)
        log.info("Group process (%s) %s to ZooKeeper (session %s)", self.upid,
                 "reconnected" if reconnect else "connected", self.session_id)
        if not reconnect:
            self.state = GroupState.CONNECTED
        if self.expiry_timer is not None:
            self.expiry_timer.cancel()
            self.expiry_timer = None
        if self.state is GroupState.READY:
            # kazoo drops its watches when the connection drops: look again.
            self._queue_cache()
        self._kick()

    def reconnecting(self) -> None:
        """The connection dropped; the session may live on. Start the local expiry timer."""
        log.info("Group process (%s) lost its connection to ZooKeeper, attempting to "
                 "reconnect ...", self.upid)
        self._cancel_retry()
        if self.expiry_timer is not None:
            self.expiry_timer.cancel()
        # ZooKeeper only reports an expired session once it is reachable again, which could
        # be much later: expire it here after the negotiated timeout instead, so that a
        # partitioned leader stops leading in time.
        assert self.client is not None
        negotiated = getattr(self.client, "_session_timeout", 0) / 1000.0
        timeout = negotiated if negotiated > 0 else self.session_timeout
        token = self.expiry_token = object()
        self.expiry_timer = delay(timeout, self, self.timedout, self.client, token)

    def timedout(self, client: KazooClient, token: object) -> None:
        if (self.error is not None or client is not self.client
                or token is not self.expiry_token or self.expiry_timer is None):
            return  # Reconnected, or the session was replaced since.
        log.warning("Group process (%s) timed out waiting to reconnect to ZooKeeper; forcing "
                    "the expiration of session %s", self.upid, self.session_id)
        self.expired()

    def expired(self) -> None:
        """The session expired (or is deemed so): forget it and start a new one."""
        if self.error is not None:
            return
        log.info("Group process (%s): ZooKeeper session expired", self.upid)
        self._cancel_timers()
        # From here every member is gone until the new session reads them again; watchers
        # hear so now, rather than after an outage of unknown length.
        self.memberships = frozenset()
        self._update()
        self.memberships = None
        self._cancel_owned()
        self.state = GroupState.DISCONNECTED
        self.in_flight = None
        self.cache_queued = any(isinstance(op, _Cache) for op in self.operations)
        if self.client is not None:
            self._retire(self.client)
            self.client = None
        self._connect()

    def _retire(self, client: KazooClient) -> None:
        thread = threading.Thread(target=_close_client, args=(client,),
                                  name=f"{self.id}-close", daemon=True)
        thread.start()

    def _watched(self, client: KazooClient, event: Any) -> None:
        if client is not self.client or self.error is not None:
            return
        if event.type == EventType.NONE:
            return  # A connection state change; `connected` reads the members again.
        self.updated()

    def updated(self) -> None:
        """The group's children changed: read them again."""
        self.memberships = None
        self._queue_cache()
        self._kick()

    # Operations, one at a time.

    def _queue_cache(self) -> None:
        if not self.cache_queued:
            self.cache_queued = True
            self.operations.append(_Cache())

    def _kick(self) -> None:
        if (self.error is not None or self.in_flight is not None
                or self.retry_timer is not None or self.client is None
                or not self.client.connected):
            return
        if self.state is GroupState.CONNECTED:
            self._issue(_CreatePath())
        elif self.state is GroupState.READY and self.operations:
            self._issue(self.operations[0])

    def _issue(self, operation: _Operation) -> None:
        client = self.client
        assert client is not None
        token = object()
        self.in_flight = token
        try:
            if isinstance(operation, _CreatePath):
                log.info("Trying to create path '%s' in ZooKeeper", self.znode)
                result = client.ensure_path_async(self.znode, acl=self.acl)
            elif isinstance(operation, _Cache):
                self.cache_queued = False
                result = client.get_children_async(self.znode, watch=self.child_watcher)
            elif isinstance(operation, _Join):
                prefix = f"{operation.label}_" if operation.label is not None else ""
                result = client.create_async(f"{self._child_path(prefix)}", operation.data,
                                             acl=self.acl, ephemeral=True, sequence=True)
            elif isinstance(operation, _Cancel):
                path = self._child_path(operation.membership.basename)
                log.info("Trying to remove '%s' in ZooKeeper", path)
                result = client.delete_async(path)
            else:
                result = client.get_async(self._child_path(operation.membership.basename))
        except Exception as e:
            self.in_flight = None
            self._failed(operation, e)
            return
        completed = defer(self, self._completed, token, operation)

        def done(result: Any) -> None:
            # On kazoo's callback thread.
            completed(result)

        result.rawlink(done)

    def _child_path(self, name: str) -> str:
        return f"{self.znode.rstrip('/')}/{name}"

    def _completed(self, token: object, operation: _Operation, result: Any) -> None:
        if token is not self.in_flight:
            return  # From a replaced session.
        self.in_flight = None
        error = result.exception
        if error is not None:
            if isinstance(error, _RETRYABLE_ERRORS):
                self._retry_later(operation, error)
                return
            self._failed(operation, error)
            self._kick()
            return
        self.retry_interval = RETRY_INTERVAL
        value = result.value
        if isinstance(operation, _CreatePath):
            self.state = GroupState.READY
            self._queue_cache()
        else:
            self._pop(operation)
            if isinstance(operation, _Cache):
                self._cached(value)
            elif isinstance(operation, _Join):
                operation.promise.set(self._joined(operation, value))
            elif isinstance(operation, _Cancel):
                self._cancelled(operation.membership)
                operation.promise.set(True)
            else:
                operation.promise.set(bytes(value[0]) if value[0] is not None else b"")
        self._kick()

    def _pop(self, operation: _Operation) -> None:
        if self.operations and self.operations[0] is operation:
            self.operations.popleft()
        else:
            with contextlib.suppress(ValueError):
                self.operations.remove(operation)

    def _retry_later(self, operation: _Operation, error: BaseException) -> None:
        name = type(operation).__name__.strip("_").lower()
        if isinstance(error, _CONNECTION_ERRORS):
            # The connection dropped while the request was out: it is sent again on the next
            # connection (now, if that has happened already).
            log.info("Group process (%s): %s interrupted (%s); retrying once connected",
                     self.upid, name, type(error).__name__)
            self._kick()
            return
        log.warning("Group process (%s): %s failed (%s); retrying in %.0f secs", self.upid,
                    name, error, self.retry_interval)
        self.retry_timer = delay(self.retry_interval, self, self._retry)
        self.retry_interval = min(self.retry_interval * 2, MAX_RETRY_INTERVAL)

    def _retry(self) -> None:
        self.retry_timer = None
        self._kick()

    def _failed(self, operation: _Operation, error: BaseException) -> None:
        """A request failed for good (not a connection problem)."""
        if isinstance(error, NoNodeError) and isinstance(operation, _Cache | _Join
                                                         | _CreatePath):
            # The group's znode went away (an operator removed it): create it again.
            log.warning("Group process (%s): '%s' does not exist in ZooKeeper; creating it "
                        "again", self.upid, self.znode)
            self.state = GroupState.CONNECTED
            return
        if isinstance(operation, _Cancel) and isinstance(error, NoNodeError):
            # Expired, or deleted by someone else, and we have not heard yet.
            self._pop(operation)
            operation.promise.set(False)
            return
        if isinstance(operation, _Data) and isinstance(error, NoNodeError):
            self._pop(operation)
            operation.promise.set(None)
            return
        description = f"{type(error).__name__}: {error}".rstrip(": ")
        if isinstance(operation, _CreatePath):
            self._abort(f"Failed to create '{self.znode}' in ZooKeeper: {description}")
        elif isinstance(operation, _Cache):
            self._abort(f"Non-retryable error attempting to get children of '{self.znode}' "
                        f"in ZooKeeper: {description}")
        else:
            self._pop(operation)
            what = {_Join: f"create ephemeral node at '{self.znode}'",
                    _Cancel: "remove ephemeral node",
                    _Data: "get data for ephemeral node"}[type(operation)]
            operation.promise.fail(f"Failed to {what} in ZooKeeper: {description}")

    # Results.

    def _joined(self, operation: _Join, path: str) -> Membership:
        node = path.rsplit("/", 1)[-1]
        parsed = parse_member(node)
        assert parsed is not None, f"ZooKeeper created a non-sequential node {path!r}"
        sequence = parsed[1]
        cancelled: Promise[bool] = Promise()
        self.owned[sequence] = cancelled
        # The cache no longer holds every member (the watch will tell us too).
        self.memberships = None
        self._queue_cache()
        return Membership(sequence, operation.label, cancelled.future, node)

    def _cancelled(self, membership: Membership) -> None:
        self.memberships = None
        self._queue_cache()
        promise = self.owned.pop(membership.sequence, None)
        if promise is not None:
            promise.set(True)

    def _cached(self, children: list[str]) -> None:
        """Port of `GroupProcess::cache`: the members from the children's names."""
        found: dict[int, tuple[str | None, str]] = {}
        for name in children:
            parsed = parse_member(name)
            if parsed is None:
                log.debug("Found non-sequence node '%s' at '%s' in ZooKeeper", name,
                          self.znode)
                continue
            found[parsed[1]] = (parsed[0], name)
        current: set[Membership] = set()
        for table in (self.owned, self.unowned):
            for sequence, promise in list(table.items()):
                if sequence not in found:
                    del table[sequence]
                    promise.set(False)
                else:
                    label, name = found.pop(sequence)
                    current.add(Membership(sequence, label, promise.future, name))
        for sequence, (label, name) in found.items():
            promise = Promise()
            self.unowned[sequence] = promise
            current.add(Membership(sequence, label, promise.future, name))
        self.memberships = frozenset(current)
        self._update()

    def _update(self) -> None:
        assert self.memberships is not None
        waiting, self.watches = self.watches, []
        for watch in waiting:
            if watch.promise.future.is_pending() and watch.expected != self.memberships:
                watch.promise.set(self.memberships)
            elif watch.promise.future.is_pending():
                self.watches.append(watch)

    # Failure.

    def _cancel_owned(self) -> None:
        owned, self.owned = self.owned, {}
        for promise in owned.values():
            promise.set(False)  # Lost, not withdrawn.

    def _cancel_retry(self) -> None:
        if self.retry_timer is not None:
            self.retry_timer.cancel()
            self.retry_timer = None
        self.retry_interval = RETRY_INTERVAL

    def _cancel_timers(self) -> None:
        self._cancel_retry()
        if self.expiry_timer is not None:
            self.expiry_timer.cancel()
            self.expiry_timer = None

    def _abort(self, message: str) -> None:
        """A non-retryable error: the group stops working and fails everything pending."""
        log.error("Group process (%s) aborting: %s", self.upid, message)
        self.error = message
        self._cancel_timers()
        operations, self.operations = self.operations, collections.deque()
        for operation in operations:
            if operation.promise is not None:
                operation.promise.fail(message)
        watches, self.watches = self.watches, []
        for watch in watches:
            watch.promise.fail(message)
        self._cancel_owned()
        if self.client is not None:
            self._retire(self.client)
            self.client = None


def _session_id(client: KazooClient) -> str:
    client_id = client.client_id
    return f"0x{client_id[0]:x}" if client_id else "none"


class Group:
    """A ZooKeeper group: facade over a `GroupProcess` (spawned by the constructor).

    Each method is one `dispatch`, safe from any thread.
    """

    def __init__(self, servers: str, session_timeout: float, znode: str,
                 authentication: tuple[str, str] | None = None) -> None:
        self.process = GroupProcess(servers, session_timeout, znode, authentication)
        spawn(self.process)

    def join(self, data: bytes, label: str | None = None) -> Future[Membership]:
        return dispatch(self.process, self.process.join, data, label)

    def cancel(self, membership: Membership) -> Future[bool]:
        return dispatch(self.process, self.process.cancel, membership)

    def data(self, membership: Membership) -> Future[bytes | None]:
        return dispatch(self.process, self.process.data, membership)

    def watch(self, expected: frozenset[Membership] = frozenset()) -> Future[frozenset[Membership]]:
        return dispatch(self.process, self.process.watch, frozenset(expected))

    def session(self) -> Future[int | None]:
        return dispatch(self.process, self.process.session)

    def zookeeper_client(self) -> Future[KazooClient | None]:
        return dispatch(self.process, self.process.zookeeper_client)

    def terminate(self) -> None:
        _terminate(self.process)


# ---------------------------------------------------------------------------------------
# The contender.


class _LeaderContender:
    """One candidacy in a group (port of `LeaderContenderProcess`).

    Not a process of its own: it lives in, and its callbacks run on, the process that made it
    (`owner`). It moves from contending to watching (the candidacy holds) and to withdrawing.
    """

    def __init__(self, owner: Process, group: Group, data: bytes, label: str | None) -> None:
        self.owner = owner
        self.group = group
        self.data = data
        self.label = label
        self.contending: Promise[Future[None]] | None = None
        self.watching: Promise[None] | None = None
        self.withdrawing: Promise[bool] | None = None
        self.candidacy: Future[Membership] | None = None

    def contend(self) -> Future[Future[None]]:
        if self.contending is not None:
            return Future.failed("Cannot contend more than once")
        log.info("Joining the ZooKeeper group")
        self.contending = Promise()
        self.candidacy = self.group.join(self.data, self.label)
        self.candidacy.on_any(defer(self.owner, self.joined))
        return self.contending.future

    def withdraw(self) -> Future[bool]:
        if self.contending is None or self.candidacy is None:
            return Future.ready(False)  # Never contended: nothing to withdraw.
        if self.withdrawing is not None:
            return self.withdrawing.future
        self.withdrawing = Promise()
        if self.candidacy.is_pending():
            log.info("Withdraw requested before the candidacy is obtained; will withdraw "
                     "after it happens")
            self.candidacy.on_any(defer(self.owner, lambda _: self.cancel()))
        elif self.candidacy.is_ready():
            self.cancel()
        else:
            self.withdrawing.set(False)  # Never obtained: nothing to cancel.
        return self.withdrawing.future

    def cancel(self) -> None:
        if self.candidacy is None or not self.candidacy.is_ready():
            if self.withdrawing is not None:
                self.withdrawing.set(False)
            return
        log.info("Now cancelling the membership: %d", self.candidacy.value.id)
        self.group.cancel(self.candidacy.value).on_any(defer(self.owner, self.cancelled))

    def cancelled(self, result: Future[bool]) -> None:
        """The membership ended: withdrawn (the `cancel` result) or lost (its `cancelled`)."""
        if result.is_failed():
            if self.withdrawing is not None:
                self.withdrawing.fail(result.failure)
            if self.watching is not None:
                self.watching.fail(result.failure)
            return
        if result.is_discarded():
            if self.withdrawing is not None:
                self.withdrawing.discard()
            if self.watching is not None:
                self.watching.discard()
            return
        if self.candidacy is not None and self.candidacy.is_ready():
            log.info("Membership cancelled: %d", self.candidacy.value.id)
        if self.withdrawing is not None:
            self.withdrawing.set(result.value)
        if self.watching is not None:
            self.watching.set(None)

    def joined(self, candidacy: Future[Membership]) -> None:
        assert self.contending is not None
        if candidacy.is_failed():
            self.contending.fail(candidacy.failure)
            return
        if candidacy.is_discarded():
            self.contending.discard()
            return
        if self.withdrawing is not None:
            log.info("Joined the group after the contender started withdrawing")
            return
        membership = candidacy.value
        log.info("New candidate (id='%d') has entered the contest for leadership",
                 membership.id)
        self.watching = Promise()
        if self.contending.set(self.watching.future):
            # Keep an eye on the membership for as long as somebody may care.
            membership.cancelled.on_any(defer(self.owner, self.cancelled))

    def finalize(self) -> None:
        """The contender is going away: give up the membership and drop every promise."""
        self.cancel()
        for promise in (self.contending, self.watching, self.withdrawing):
            if promise is not None:
                promise.discard()


class ZooKeeperMasterContenderProcess(Process):
    """Owns a master's candidacy: its group (ZooKeeper session) and the `json.info_` znode.

    Port of `ZooKeeperMasterContenderProcess`. Runs on its own process thread
    (`zookeeper-master-contender(N)`).
    """

    def __init__(self, url: Any, session_timeout: float = MASTER_CONTENDER_ZK_SESSION_TIMEOUT,
                 ) -> None:
        super().__init__(ID.generate("zookeeper-master-contender"))
        url = parse_zk_url(url)
        self.url = url
        self.group = Group(url.servers, session_timeout, url.path, _authentication(url))
        self.master_info: Any = None
        self.candidacy: Future[Future[None]] | None = None
        self.contender: _LeaderContender | None = None

    def finalize(self) -> None:
        if self.contender is not None:
            self.contender.finalize()
            self.contender = None
        # Ends the session, and with it the candidacy znode.
        self.group.terminate()

    def set_master_info(self, master_info: Any) -> None:
        """The master this contender contends for (`initialize(masterInfo)` in Mesos)."""
        self.master_info = master_info

    def contend(self) -> Future[Future[None]]:
        """Joins the election; see `ZooKeeperMasterContender.contend`."""
        if self.master_info is None:
            return Future.failed("Initialize the contender first")
        # Do not contend again while the last attempt is still under way.
        if self.candidacy is not None and self.candidacy.is_pending():
            return self.candidacy
        if self.contender is not None:
            log.info("Withdrawing the previous membership before recontending")
            self.contender.finalize()
        self.contender = _LeaderContender(self, self.group,
                                          master_info_to_json(self.master_info),
                                          MASTER_INFO_JSON_LABEL)
        self.candidacy = self.contender.contend()
        return self.candidacy

    def withdraw(self) -> Future[bool]:
        """Gives up the candidacy: True once its znode is deleted, False if there was none."""
        if self.contender is None:
            return Future.ready(False)
        return self.contender.withdraw()


class ZooKeeperMasterContender:
    """A master's contender in a ZooKeeper election (facade over
    `ZooKeeperMasterContenderProcess`, spawned by the constructor; every method is safe from
    any thread).

    `url` is `zk://[user:password@]host1:port1,host2:port2/path` (or a parsed URL). Usage, as
    the master does it: `initialize(master_info)`, then `contend()`, which gives a future
    (ready once the candidacy znode exists) of a future that completes when the candidacy
    is lost: ready when the membership ended (session expired, znode deleted, withdrawn),
    failed when the contender could not watch it any more. Whether the candidate *leads* is
    for a `ZooKeeperMasterDetector` to say.
    """

    def __init__(self, url: Any, session_timeout: float = MASTER_CONTENDER_ZK_SESSION_TIMEOUT,
                 ) -> None:
        self.process = ZooKeeperMasterContenderProcess(url, session_timeout)
        spawn(self.process)

    @property
    def group(self) -> Group:
        return self.process.group

    def initialize(self, master_info: Any) -> Future[None]:
        info = type(master_info)()
        info.CopyFrom(master_info)
        return dispatch(self.process, self.process.set_master_info, info)

    def contend(self) -> Future[Future[None]]:
        return dispatch(self.process, self.process.contend)

    def withdraw(self) -> Future[bool]:
        return dispatch(self.process, self.process.withdraw)

    def terminate(self) -> None:
        _terminate(self.process, inject=False)


# ---------------------------------------------------------------------------------------
# The detector.


class ZooKeeperMasterDetectorProcess(Process):
    """Owns the view of who leads: the group's members, the leading one and its `MasterInfo`,
    and the callers waiting for a change.

    Port of `ZooKeeperMasterDetectorProcess` with `LeaderDetectorProcess` folded in. Runs on
    its own process thread (`zookeeper-master-detector(N)`).
    """

    def __init__(self, url: Any, session_timeout: float = MASTER_DETECTOR_ZK_SESSION_TIMEOUT,
                 ) -> None:
        super().__init__(ID.generate("zookeeper-master-detector"))
        url = parse_zk_url(url)
        self.url = url
        self.group = Group(url.servers, session_timeout, url.path, _authentication(url))
        # The leading membership (smallest sequence), and the master it names once read.
        self.membership: Membership | None = None
        self.leader: Any = None
        self.promises: list[Promise[Any]] = []
        self.error: str | None = None

    def initialize(self) -> None:
        self._watch(frozenset())

    def finalize(self) -> None:
        promises, self.promises = self.promises, []
        for promise in promises:
            promise.discard()
        self.group.terminate()

    def detect(self, previous: Any = None) -> Future[Any]:
        """A future of the leading master (`MasterInfo`, or None for no leader), ready as
        soon as it differs from `previous`."""
        if self.error is not None:
            return Future.failed(self.error)
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

    def _watch(self, expected: frozenset[Membership]) -> None:
        self.group.watch(expected).on_any(defer(self, self.watched))

    def watched(self, memberships: Future[frozenset[Membership]]) -> None:
        """The members changed: run an "election" (the lowest sequence leads)."""
        if memberships.is_discarded():
            return  # The group is going away with us.
        if memberships.is_failed():
            log.error("Failed to watch memberships: %s", memberships.failure)
            self.error = memberships.failure
            self.membership = None
            self.leader = None
            self._fail(memberships.failure)
            return
        members = memberships.value
        current = min(members) if members else None
        if current != self.membership:
            log.info("Detected a new leader: %s",
                     f"(id='{current.id}')" if current is not None else "None")
            self.membership = current
            if current is None:
                self.leader = None
                self._set(None)
            else:
                self.group.data(current).on_any(defer(self, self.fetched, current))
        self._watch(members)

    def fetched(self, membership: Membership, data: Future[bytes | None]) -> None:
        """The leading member's data: its `MasterInfo`, by its label."""
        if membership != self.membership or data.is_discarded():
            return  # Another member leads by now; its own read follows.
        if data.is_failed():
            self.leader = None
            self._fail(data.failure)
            return
        if data.value is None:
            # The member left before its data could be read.
            self.leader = None
            self._set(None)
            return
        if membership.label is None:
            log.warning("Leading master has data in the old format (a bare UPID)")
        elif membership.label != MASTER_INFO_JSON_LABEL:
            log.warning("Leading master is using a Protobuf binary format when registering "
                        "with ZooKeeper (%s): this is deprecated", membership.label)
        try:
            info = parse_master_info(membership.label, data.value)
        except ValueError as e:
            self.leader = None
            self._fail(str(e))
            return
        self.leader = info
        log.info("A new leading master (UPID=%s) is detected", info.pid)
        self._set(info)

    def _set(self, leader: Any) -> None:
        promises, self.promises = self.promises, []
        for promise in promises:
            promise.set(_copy(leader))

    def _fail(self, message: str) -> None:
        promises, self.promises = self.promises, []
        for promise in promises:
            promise.fail(message)


def _copy(info: Any) -> Any:
    if info is None:
        return None
    out = type(info)()
    out.CopyFrom(info)
    return out


class ZooKeeperMasterDetector:
    """Detects the leading master in ZooKeeper (facade over `ZooKeeperMasterDetectorProcess`,
    spawned by the constructor; every method is safe from any thread).

    `detect(previous)` is the whole API (the same as `StandaloneMasterDetector`'s, so a
    scheduler driver or an agent takes either): a future of the leading `MasterInfo`, or None
    while nobody leads, ready once that differs from `previous`. The detector never gives up
    on its own: across connection losses and session expiries it reports "no leader" when
    Mesos would, and the leader again once ZooKeeper is back.
    """

    def __init__(self, url: Any, session_timeout: float = MASTER_DETECTOR_ZK_SESSION_TIMEOUT,
                 ) -> None:
        self.process = ZooKeeperMasterDetectorProcess(url, session_timeout)
        spawn(self.process)

    @property
    def group(self) -> Group:
        return self.process.group

    def detect(self, previous: Any = None) -> Future[Any]:
        return dispatch(self.process, self.process.detect, _copy(previous))

    def terminate(self) -> None:
        _terminate(self.process)
