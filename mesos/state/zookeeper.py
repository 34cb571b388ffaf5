"""`ZooKeeperStorage`: the state API in ZooKeeper (port of Mesos's ZooKeeperStorage).

Layout under the storage's root znode `R` (the master uses `<zk path>/state`, see
`registry_znode`):

- `R/<name>`: one node per entry. Its znode version is the compare-and-set version. Its data
  is either the serialized `mesos.internal.state.Entry` (Mesos's own format, when it fits in
  one node), or a *manifest* for a larger value: `MANIFEST_MAGIC` followed by JSON naming the
  entry's uuid, the value's size, encoding (zlib) and SHA-256, and the ordered chunk nodes
  that hold it. Either way the entry's uuid is in the node, so the uuid semantics of Mesos
  hold (a stale uuid loses even when the znode version would not tell).
- `R/.chunks/<name>/<base>-<token>-<index>`: immutable chunk nodes (each under ZooKeeper's
  1 MB request limit), never rewritten, named uniquely per write attempt.

A large write first creates its chunks (invisible: no manifest names them yet), then commits
in ONE ZooKeeper transaction: a version check on each new chunk, the manifest write
conditioned on the znode version read at the start (or the node's creation), and the deletion
of the chunks the old manifest named. ZooKeeper caps a whole request (a transaction included)
at about 1 MB (`jute.maxbuffer`), so the chunks cannot ride in the commit itself; the commit is
still the single atomic switch, and readers never see a half-written value. A reader reads the
manifest, then the chunks it names; a chunk gone meanwhile means a newer commit deleted it,
and the read starts again. Chunks staged by a writer that lost (or died) are deleted by the
loser, or later by the next successful writer (any chunk staged on an older version).

`names()` lists the root's children (not the chunk area); a root that does not exist yet gives
no names (Mesos fails the call there; nothing relies on that).

Connection loss and session expiry, as Mesos does: operations wait (queued, in order) while
the client is disconnected and run again once it is connected (kazoo reconnects, and after an
expiry starts a new session, by itself); nothing times out here: the registrar above bounds
each fetch and store with its own timeout and discards the future, and a discarded operation
that has not started yet is dropped instead of run. A write interrupted by a connection loss
is retried from its read: if the stored uuid is already the new one, the interrupted write
had landed and the answer is True (Mesos would answer a spurious False there).

Threads: `ZooKeeperStorage` is a facade (any thread); every operation runs on its
`ZooKeeperStorageProcess`'s thread, which owns the kazoo client and blocks in kazoo's
synchronous calls (as Mesos's process blocks in the ZooKeeper C client); kazoo's connection
events arrive on kazoo's threads and are dispatched to the process.
"""

from __future__ import annotations

import collections
import hashlib
import json
import logging
import uuid as _uuid
import zlib
from collections.abc import Callable
from typing import Any

from google.protobuf.message import DecodeError
from kazoo.client import KazooClient
from kazoo.exceptions import (
    BadVersionError,
    ConnectionClosedError,
    ConnectionLoss,
    NodeExistsError,
    NoNodeError,
    NotEmptyError,
    OperationTimeoutError,
    RolledBackError,
    SessionExpiredError,
)
from kazoo.handlers.threading import KazooTimeoutError
from kazoo.protocol.states import KazooState
from kazoo.security import CREATOR_ALL_ACL, OPEN_ACL_UNSAFE, READ_ACL_UNSAFE

from libprocess import ID, Future, Process, Promise, delay, dispatch, spawn, terminate, wait
from mesos.state.storage import Entry, Storage, StorageError
from mesos.zookeeper.url import URL

__all__ = [
    "CHUNKS",
    "CHUNK_SIZE",
    "MANIFEST_MAGIC",
    "ZooKeeperStorage",
    "ZooKeeperStorageProcess",
    "registry_znode",
]

log = logging.getLogger(__name__)

# ZooKeeper refuses any request over `jute.maxbuffer` (1 MiB - 1 by default) and drops the
# connection; a node's data plus the request's path and headers must stay under it.
CHUNK_SIZE = 1_000_000

# Manifest nodes start with a zero byte, which no serialized `Entry` can (its first byte is the
# tag of field 1).
MANIFEST_MAGIC = b"\x00mesos-state-manifest\n"
MANIFEST_FORMAT = 1

# The reserved child of the root that holds chunk nodes; not an entry name.
CHUNKS = ".chunks"

# A read restarts when a commit replaced the chunks it was reading; past this many restarts
# the value is changing faster than it can be read.
MAX_READ_ATTEMPTS = 20

# An operation that failed although the client stayed connected (a request timeout) is tried
# again after this many seconds.
RETRY_INTERVAL = 1.0

_RETRYABLE = (ConnectionLoss, SessionExpiredError, OperationTimeoutError, KazooTimeoutError)


def registry_znode(zk_path: str) -> str:
    """The storage root a master with `--zk=zk://.../<zk_path>` uses: `<zk_path>/state`."""
    return zk_path.rstrip("/") + "/state"


class _Retry(Exception):
    """The operation met a connection loss; run it again once connected."""


class _Operation:
    """One queued storage call: a name for logs, the work, and its promise."""

    __slots__ = ("kind", "promise", "run")

    def __init__(self, kind: str, run: Callable[[], Any]) -> None:
        self.kind = kind
        self.run = run
        self.promise: Promise[Any] = Promise()


class ZooKeeperStorageProcess(Process):
    """Owns the kazoo client and the queue of operations; runs them on its own thread.

    Port of Mesos's `ZooKeeperStorageProcess`: operations run at once when connected, else
    wait in `pending` (one FIFO queue) for the next `connected` event. Kazoo's state listener
    runs on kazoo's thread and only dispatches here.
    """

    def __init__(self, servers: str, session_timeout: float, znode: str,
                 auth: tuple[str, str] | None = None, chunk_size: int = CHUNK_SIZE) -> None:
        super().__init__(ID.generate("zookeeper-storage"))
        if not znode.startswith("/"):
            raise ValueError(f"The storage znode must be absolute, not {znode!r}")
        self.servers = servers
        self.session_timeout = session_timeout
        self.root = znode.rstrip("/") or "/"
        self.auth = auth
        self.chunk_size = chunk_size
        # As Mesos: with credentials, others may read but only the creator may write.
        self.acl = (list(CREATOR_ALL_ACL) + list(READ_ACL_UNSAFE) if auth is not None
                    else list(OPEN_ACL_UNSAFE))
        self.pending: collections.deque[_Operation] = collections.deque()
        self.client: KazooClient | None = None
        self._retry_scheduled = False

    # Lifecycle.

    def initialize(self) -> None:
        self.client = KazooClient(
            hosts=self.servers,
            timeout=self.session_timeout,
            auth_data=[self.auth] if self.auth is not None else None,
            default_acl=self.acl,
            # Reconnect forever: losing ZooKeeper for a while must not end the storage.
            connection_retry={"max_tries": -1, "delay": 0.1, "max_delay": 2.0},
        )
        self.client.add_listener(self._listener)
        # Connects in the background; the `CONNECTED` event runs whatever is pending by then.
        self.client.start_async()

    def finalize(self) -> None:
        while self.pending:
            self.pending.popleft().promise.fail("No longer managing storage")
        if self.client is not None:
            self.client.remove_listener(self._listener)
            try:
                self.client.stop()
                self.client.close()
            except Exception:
                log.debug("Stopping the ZooKeeper client failed", exc_info=True)

    def _listener(self, state: KazooState) -> bool:
        # On kazoo's thread: hand the event over, never touch our state here.
        try:
            dispatch(self, self._state_changed, state)
        except Exception:
            log.debug("Dropped ZooKeeper state %s for %s", state, self.id, exc_info=True)
        return False

    def _state_changed(self, state: KazooState) -> None:
        if state == KazooState.CONNECTED:
            log.info("%s connected to ZooKeeper %s", self.id, self.servers)
            self._run_pending()
        elif state == KazooState.SUSPENDED:
            log.info("%s lost its ZooKeeper connection; operations wait", self.id)
        else:
            log.warning("%s lost its ZooKeeper session; waiting for a new one", self.id)

    # The storage calls (dispatched by the facade).

    def get(self, name: str) -> Future[Entry | None]:
        return self._enqueue("get", lambda: self._do_get(name))

    def set(self, entry: Entry, uuid: bytes) -> Future[bool]:
        return self._enqueue("set", lambda: self._do_set(entry, uuid))

    def expunge(self, entry: Entry) -> Future[bool]:
        return self._enqueue("expunge", lambda: self._do_expunge(entry))

    def names(self) -> Future[list[str]]:
        return self._enqueue("names", self._do_names)

    def _enqueue(self, kind: str, run: Callable[[], Any]) -> Future[Any]:
        operation = _Operation(kind, run)
        self.pending.append(operation)
        self._run_pending()
        return operation.promise.future

    @property
    def zk(self) -> KazooClient:
        if self.client is None:
            raise StorageError("The ZooKeeper storage is not initialized")
        return self.client

    def _connected(self) -> bool:
        return self.client is not None and self.client.connected

    def _run_pending(self) -> None:
        while self.pending and self._connected():
            operation = self.pending[0]
            if operation.promise.future.has_discard():
                # The caller gave up (a registrar timeout): do not write behind its back.
                self.pending.popleft()
                operation.promise.discard()
                continue
            try:
                result = operation.run()
            except _Retry as e:
                log.info("%s: %s interrupted (%s); retrying once connected", self.id,
                         operation.kind, e)
                if self._connected() and not self._retry_scheduled:
                    # Still connected (a request timed out): no event will wake us.
                    self._retry_scheduled = True
                    delay(RETRY_INTERVAL, self, self._retry)
                return
            except Exception as e:
                self.pending.popleft()
                message = str(e) if isinstance(e, StorageError) else f"{type(e).__name__}: {e}"
                log.warning("%s: %s failed: %s", self.id, operation.kind, message)
                operation.promise.fail(message, e)
            else:
                self.pending.popleft()
                operation.promise.set(result)

    def _retry(self) -> None:
        self._retry_scheduled = False
        self._run_pending()

    # ZooKeeper calls: synchronous on this thread, connection trouble turned into `_Retry`.

    def _call(self, start: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if not self._connected():
            raise _Retry("not connected")
        try:
            # Bounded: a request queued by kazoo just as the connection dropped would
            # otherwise wait for the reconnection on this thread.
            return start(*args, **kwargs).get(timeout=max(self.session_timeout, 10.0))
        except _RETRYABLE as e:
            raise _Retry(type(e).__name__) from e
        except ConnectionClosedError as e:
            raise StorageError("No longer managing storage (the ZooKeeper client is "
                               "closed)") from e

    def _wait_all(self, results: list[Any]) -> list[Any]:
        """Waits for several started async requests; their values or exceptions, in order."""
        out: list[Any] = []
        retry: BaseException | None = None
        for result in results:
            try:
                out.append(result.get(timeout=max(self.session_timeout, 10.0)))
            except _RETRYABLE as e:
                retry = e
                out.append(e)
            except Exception as e:
                out.append(e)
        if retry is not None:
            raise _Retry(type(retry).__name__) from retry
        return out

    def _path(self, name: str) -> str:
        if not name or "/" in name or name in (".", "..", CHUNKS) or "\x00" in name:
            raise StorageError(f"Bad entry name {name!r} for the ZooKeeper storage: expecting a "
                               f"non-empty name without '/' (and not {CHUNKS!r})")
        return f"{self.root.rstrip('/')}/{name}"

    def _chunk_dir(self, name: str) -> str:
        return f"{self.root.rstrip('/')}/{CHUNKS}/{name}"

    def _read_node(self, path: str) -> tuple[bytes, Any] | None:
        try:
            data, stat = self._call(self.zk.get_async, path)
        except NoNodeError:
            return None
        return data, stat

    def _decode(self, path: str, data: bytes) -> Entry | dict[str, Any]:
        """The node's `Entry`, or its manifest (a dict)."""
        if data.startswith(MANIFEST_MAGIC):
            try:
                manifest = json.loads(data[len(MANIFEST_MAGIC):].decode("utf-8"))
                if manifest.get("format") != MANIFEST_FORMAT:
                    raise ValueError(f"unknown format {manifest.get('format')!r}")
                manifest["uuid_bytes"] = bytes.fromhex(manifest["uuid"])
                return dict(manifest)
            except (ValueError, KeyError, UnicodeDecodeError) as e:
                raise StorageError(f"Failed to parse the manifest at '{path}' in ZooKeeper: "
                                   f"{e}") from e
        entry = Entry()
        try:
            entry.ParseFromString(data)
        except DecodeError as e:
            raise StorageError(f"Failed to deserialize Entry at '{path}' in ZooKeeper: "
                               f"{e}") from e
        return entry

    # The operations (Mesos's doGet / doSet / doExpunge / doNames).

    def _do_names(self) -> list[str]:
        try:
            children = self._call(self.zk.get_children_async,
                                  self.root)
        except NoNodeError:
            return []
        return sorted(child for child in children if child != CHUNKS)

    def _do_get(self, name: str) -> Entry | None:
        path = self._path(name)
        for _ in range(MAX_READ_ATTEMPTS):
            node = self._read_node(path)
            if node is None:
                return None
            decoded = self._decode(path, node[0])
            if isinstance(decoded, Entry):
                return decoded
            value = self._read_chunks(name, decoded)
            if value is not None:
                return Entry(name=name, uuid=decoded["uuid_bytes"], value=value)
        raise StorageError(f"'{path}' in ZooKeeper changed {MAX_READ_ATTEMPTS} times while "
                           "being read")

    def _read_chunks(self, name: str, manifest: dict[str, Any]) -> bytes | None:
        """The value a manifest names, or None when a chunk is gone (a newer commit)."""
        directory = self._chunk_dir(name)
        if not self._connected():
            raise _Retry("not connected")
        started = [self.zk.get_async(f"{directory}/{chunk}")
                   for chunk in manifest["chunks"]]
        results = self._wait_all(started)
        if any(isinstance(r, NoNodeError) for r in results):
            return None
        for r in results:
            if isinstance(r, BaseException):
                raise StorageError(f"Failed to read a chunk of '{name}' in ZooKeeper: "
                                   f"{type(r).__name__}: {r}")
        data = b"".join(r[0] for r in results)
        try:
            value = zlib.decompress(data) if manifest.get("encoding") == "zlib" else data
        except zlib.error as e:
            raise StorageError(f"Failed to decompress '{name}' in ZooKeeper: {e}") from e
        if len(value) != manifest["size"] or \
                hashlib.sha256(value).hexdigest() != manifest["sha256"]:
            raise StorageError(f"The chunks of '{name}' in ZooKeeper do not match its manifest "
                               "(size or SHA-256 differ)")
        return value

    def _describe(self, path: str, data: bytes) -> tuple[bytes, list[str]]:
        """The stored uuid and the chunks the node names."""
        decoded = self._decode(path, data)
        if isinstance(decoded, Entry):
            return decoded.uuid, []
        return decoded["uuid_bytes"], list(decoded["chunks"])

    def _do_set(self, entry: Entry, uuid: bytes) -> bool:
        path = self._path(entry.name)
        node = self._read_node(path)
        old_chunks: list[str] = []
        if node is not None:
            data, stat = node
            current, old_chunks = self._describe(path, data)
            if current != uuid:
                # Our own write, interrupted by a connection loss after it landed, is a
                # success; anything else is somebody else's write.
                return current == entry.uuid
            version: int | None = stat.version
            base = stat.mzxid
        else:
            self._call(self.zk.ensure_path_async, self.root)
            version = None
            # Any zxid seen now orders this attempt against later commits (see `_collect`).
            root = self._call(self.zk.exists_async, self.root)
            base = root.pzxid if root is not None else 0

        serialized = entry.SerializeToString()
        staged: list[str] = []
        if len(serialized) <= self.chunk_size:
            payload = serialized
        else:
            staged, payload = self._stage(entry, base)

        directory = self._chunk_dir(entry.name)
        transaction = self.zk.transaction()
        for chunk in staged:
            transaction.check(f"{directory}/{chunk}", 0)
        if version is None:
            transaction.create(path, payload)
        else:
            transaction.set_data(path, payload, version)
        for chunk in old_chunks:
            transaction.delete(f"{directory}/{chunk}")
        results = self._call(transaction.commit_async)
        failures = [r for r in results if isinstance(r, BaseException)
                    and not isinstance(r, RolledBackError)]
        if failures:
            self._delete_quietly(directory, staged)
            if all(isinstance(r, BadVersionError | NodeExistsError | NoNodeError
                              | NotEmptyError) for r in failures):
                return False  # Lost a race with another writer (or an expunge).
            raise StorageError(f"Failed to store '{path}' in ZooKeeper: "
                               f"{type(failures[0]).__name__}: {failures[0]}")
        if staged or old_chunks:
            self._collect(entry.name, base, keep=frozenset(staged))
        return True

    def _stage(self, entry: Entry, base: int) -> tuple[list[str], bytes]:
        """Creates the chunks of a large value; their names and the manifest naming them."""
        value = entry.value
        packed = zlib.compress(value, 1)
        directory = self._chunk_dir(entry.name)
        self._call(self.zk.ensure_path_async, directory)
        token = _uuid.uuid4().hex[:12]
        names = [f"{base:016x}-{token}-{index:06d}"
                 for index in range((len(packed) + self.chunk_size - 1) // self.chunk_size)]
        if not self._connected():
            raise _Retry("not connected")
        # Pipelined: ZooKeeper applies one client's requests in order anyway.
        started = [self.zk.create_async(
            f"{directory}/{chunk}", packed[i * self.chunk_size:(i + 1) * self.chunk_size])
            for i, chunk in enumerate(names)]
        try:
            results = self._wait_all(started)
        except _Retry:
            raise  # The chunks made so far are collected by a later writer.
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            self._delete_quietly(directory, names)
            raise StorageError(f"Failed to write the chunks of '{entry.name}' in ZooKeeper: "
                               f"{type(errors[0]).__name__}: {errors[0]}")
        manifest = {
            "format": MANIFEST_FORMAT,
            "name": entry.name,
            "uuid": entry.uuid.hex(),
            "size": len(value),
            "encoding": "zlib",
            "sha256": hashlib.sha256(value).hexdigest(),
            "chunks": names,
        }
        return names, MANIFEST_MAGIC + json.dumps(manifest).encode("utf-8")

    def _collect(self, name: str, base: int, keep: frozenset[str]) -> None:
        """Deletes chunks staged by writers that read an older version (they cannot commit).

        A chunk's name starts with the zxid its writer read; a writer that read the version we
        replaced, or an older one, has lost, while one that read our commit has a larger zxid.
        Best effort: a failure here leaves garbage, never a wrong value.
        """
        directory = self._chunk_dir(name)
        try:
            children = self._call(self.zk.get_children_async,
                                  directory)
        except (NoNodeError, _Retry, StorageError):
            return
        stale = []
        for child in children:
            try:
                staged_on = int(child.split("-", 1)[0], 16)
            except ValueError:
                continue
            if child not in keep and staged_on <= base:
                stale.append(child)
        self._delete_quietly(directory, stale)

    def _delete_quietly(self, directory: str, chunks: list[str]) -> None:
        if not chunks or not self._connected():
            return
        started = [self.zk.delete_async(f"{directory}/{chunk}")
                   for chunk in chunks]
        try:
            self._wait_all(started)
        except _Retry:
            pass

    def _do_expunge(self, entry: Entry) -> bool:
        path = self._path(entry.name)
        node = self._read_node(path)
        if node is None:
            return False
        data, stat = node
        current, chunks = self._describe(path, data)
        if current != entry.uuid:
            return False
        directory = self._chunk_dir(entry.name)
        transaction = self.zk.transaction()
        transaction.delete(path, stat.version)
        for chunk in chunks:
            transaction.delete(f"{directory}/{chunk}")
        results = self._call(transaction.commit_async)
        failures = [r for r in results if isinstance(r, BaseException)
                    and not isinstance(r, RolledBackError)]
        if failures:
            if all(isinstance(r, BadVersionError | NoNodeError) for r in failures):
                return False
            raise StorageError(f"Failed to expunge '{path}' in ZooKeeper: "
                               f"{type(failures[0]).__name__}: {failures[0]}")
        return True


class ZooKeeperStorage(Storage):
    """The ZooKeeper backend's facade: each call is one dispatch to its process.

    `servers` is kazoo's hosts string (`host1:2181,host2:2181`, optionally with a chroot),
    `znode` the root under which entries live, `auth` an optional `("digest", "user:pass")`.
    Any thread may call it; futures complete on the process's thread.
    """

    def __init__(self, servers: str, session_timeout: float, znode: str,
                 auth: tuple[str, str] | None = None, chunk_size: int = CHUNK_SIZE) -> None:
        if not 0 < chunk_size <= CHUNK_SIZE:
            raise ValueError(f"chunk_size must be in (0, {CHUNK_SIZE}], not {chunk_size}")
        self.process = ZooKeeperStorageProcess(servers, session_timeout, znode, auth,
                                               chunk_size)
        self._closed = False
        spawn(self.process)

    @classmethod
    def from_url(cls, url: URL, session_timeout: float,
                 znode: str | None = None) -> ZooKeeperStorage:
        """The storage a master with `--zk=<url>` uses: its servers and credentials, rooted
        at `registry_znode(url.path)` unless `znode` is given."""
        return cls(url.servers, session_timeout, znode or registry_znode(url.path),
                   auth=url.authentication)

    def _dispatch(self, method: Callable[..., Future[Any]], *args: Any) -> Future[Any]:
        if self._closed:
            return Future.failed("No longer managing storage (closed)")
        return dispatch(self.process, method, *args)

    def get(self, name: str) -> Future[Entry | None]:
        return self._dispatch(self.process.get, name)

    def set(self, entry: Entry, uuid: bytes) -> Future[bool]:
        return self._dispatch(self.process.set, entry, uuid)

    def expunge(self, entry: Entry) -> Future[bool]:
        return self._dispatch(self.process.expunge, entry)

    def names(self) -> Future[list[str]]:
        return self._dispatch(self.process.names)

    def close(self, timeout: float = 15.0) -> None:
        """Fails pending operations, closes the ZooKeeper session, ends the process."""
        if self._closed:
            return
        self._closed = True
        terminate(self.process, inject=False)
        wait(self.process, timeout)

    def __repr__(self) -> str:
        return f"<ZooKeeperStorage {self.process.servers}{self.process.root}>"
