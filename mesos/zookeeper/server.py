"""Real ZooKeeper servers on loopback, for tests and local clusters.

`ZooKeeperServer` runs one ZooKeeper JVM (Debian's `zookeeper` package, jars in
`/usr/share/java`) as an ordinary child process: a `zoo.cfg`, a data directory and a log file in
a folder of its own, the client port on 127.0.0.1, no admin server, short session timeouts
allowed. `ZooKeeperEnsemble` runs three (or any odd number) of them as one quorum. Both can be
stopped (SIGTERM), killed (SIGKILL) and started again on the same data, and both can force a
kazoo client's session to expire on the server (`expire_session`).

Nothing here runs inside an actor: the calls block the calling thread (a test, a fixture or the
`tools/zk` command) in real time, because they wait for a real JVM. `main()` (run as `python -m
mesos.zookeeper start [--ensemble]`) is the command line behind `tools/zk`.
"""

from __future__ import annotations

import argparse
import atexit
import base64
import contextlib
import ctypes
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "JAVA_DIR",
    "SUPER_AUTH",
    "ZooKeeperEnsemble",
    "ZooKeeperError",
    "ZooKeeperServer",
    "ensure_installed",
    "expire_session",
    "four_letter_word",
    "is_installed",
    "main",
]

# Where Debian's `zookeeper` package puts its jars. `zookeeper.jar`'s manifest names its own
# dependencies (netty, jute, slf4j-api, ...), so the class path needs only it and a logger.
JAVA_DIR = Path(os.environ.get("ZOOKEEPER_JAVA_DIR", "/usr/share/java"))
_LOGGER_JARS = ("slf4j-simple.jar",)

# Every harness server accepts this digest identity as ZooKeeper's super user, who passes every
# ACL check: test fixtures use it to clean up nodes that clients created with restrictive ACLs.
# Loopback test servers only; never a production setting.
SUPER_AUTH = ("digest", "super:mesos-test")


def _super_digest() -> str:
    user, password = SUPER_AUTH[1].split(":", 1)
    digest = base64.b64encode(hashlib.sha1(f"{user}:{password}".encode()).digest()).decode()
    return f"{user}:{digest}"


# Readiness answers of the `srvr` four-letter word: a serving server names its mode.
_SERVING_MODES = ("standalone", "leader", "follower", "observer")


class ZooKeeperError(RuntimeError):
    """A ZooKeeper server could not be installed, started or reached (the message says why)."""


def is_installed() -> bool:
    """True when `java` and the ZooKeeper server jars are present."""
    return shutil.which("java") is not None and (JAVA_DIR / "zookeeper.jar").is_file()


def ensure_installed(echo: Any = None) -> None:
    """Installs Debian's `zookeeper` package (and Java) with apt-get when missing.

    Runs `apt-get` directly as root, or through `sudo` otherwise. Raises `ZooKeeperError` with
    the command's output when that fails.
    """
    if is_installed():
        return
    say = echo or (lambda text: print(text, file=sys.stderr, flush=True))
    say("Installing Debian's zookeeper package (java or the ZooKeeper jars are missing)")
    prefix: list[str] = []
    if os.geteuid() != 0:
        if shutil.which("sudo") is None:
            raise ZooKeeperError("ZooKeeper is not installed and apt-get needs root: run "
                                 "'apt-get install -y zookeeper' as root")
        prefix = ["sudo", "-n"]
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for command in (["apt-get", "update", "-qq"],
                    ["apt-get", "install", "-y", "-qq", "zookeeper"]):
        result = subprocess.run(prefix + command, capture_output=True, text=True, env=env,
                                check=False)
        if result.returncode != 0:
            raise ZooKeeperError(f"'{' '.join(prefix + command)}' failed "
                                 f"(exit {result.returncode}): {result.stderr.strip()[-2000:]}")
    if not is_installed():
        raise ZooKeeperError(f"Installed the zookeeper package but {JAVA_DIR}/zookeeper.jar "
                             "or java is still missing")


def _classpath() -> str:
    jars = [JAVA_DIR / "zookeeper.jar"]
    jars += [JAVA_DIR / name for name in _LOGGER_JARS if (JAVA_DIR / name).is_file()]
    return ":".join(str(jar) for jar in jars)


def free_port() -> int:
    """An unused TCP port on 127.0.0.1 (free when asked; good enough on a test machine)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def four_letter_word(port: int, word: str, host: str = "127.0.0.1",
                     timeout: float = 1.0) -> str:
    """Sends a four-letter command (`srvr`, `ruok`, `stat`, ...) and returns the answer.

    Raises `OSError` when nobody answers.
    """
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.sendall(word.encode("ascii"))
        chunks = []
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks).decode("utf-8", "replace")


def _mode(answer: str) -> str | None:
    for line in answer.splitlines():
        if line.startswith("Mode:"):
            return line.split(":", 1)[1].strip()
    return None


# Servers still running when the interpreter exits are stopped, so a test run that ends early
# leaves no JVM behind.
_running: set[ZooKeeperServer] = set()
_running_lock = threading.Lock()


def _stop_all_at_exit() -> None:
    with _running_lock:
        servers = list(_running)
    for server in servers:
        with contextlib.suppress(Exception):
            server.kill()


atexit.register(_stop_all_at_exit)


def _die_with_parent() -> None:
    # Runs in the child between fork and exec: SIGKILL when the parent dies (even by SIGKILL).
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # `PR_SET_PDEATHSIG` is 1.


def _pause(seconds: float) -> None:
    # The harness waits for a real JVM, so it waits in real time (the libprocess clock may be
    # paused by the test that uses it); an Event that is never set is a plain sleep.
    threading.Event().wait(seconds)


def _now() -> float:
    # Real time for the same reason as `_pause`.
    return time.monotonic()


class ZooKeeperServer:
    """One ZooKeeper server JVM on 127.0.0.1, owned by the calling thread.

    Standalone by default; a `ZooKeeperEnsemble` makes members of a quorum by passing
    `server_id` and `peers`. The folder `base_dir` (a fresh temporary one unless given) holds
    `zoo.cfg`, `data/` and `zookeeper.log`; `start()` after `stop()` or `kill()` serves the same
    data on the same port.
    """

    def __init__(self, base_dir: str | Path | None = None, client_port: int | None = None, *,
                 tick_time_ms: int = 200, min_session_timeout_ms: int = 400,
                 max_session_timeout_ms: int = 60000, server_id: int | None = None,
                 peers: dict[int, tuple[int, int]] | None = None,
                 extra_config: dict[str, str] | None = None, heap_mb: int = 512) -> None:
        self._owns_dir = base_dir is None
        self.base_dir = Path(base_dir) if base_dir is not None else Path(
            tempfile.mkdtemp(prefix="zookeeper-"))
        self.base_dir.mkdir(parents=True, exist_ok=True)
        self.client_port = client_port or free_port()
        self.server_id = server_id
        self.peers = dict(peers or {})
        self.tick_time_ms = tick_time_ms
        self.min_session_timeout_ms = min_session_timeout_ms
        self.max_session_timeout_ms = max_session_timeout_ms
        self.extra_config = dict(extra_config or {})
        self.heap_mb = heap_mb
        self.process: subprocess.Popen[bytes] | None = None
        self._log_file: Any = None

    # Paths and addresses.

    @property
    def data_dir(self) -> Path:
        return self.base_dir / "data"

    @property
    def config_path(self) -> Path:
        return self.base_dir / "zoo.cfg"

    @property
    def log_path(self) -> Path:
        return self.base_dir / "zookeeper.log"

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.client_port}"

    @property
    def connect_string(self) -> str:
        return self.address

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    # Lifecycle.

    def _write_config(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        lines = {
            "tickTime": str(self.tick_time_ms),
            "initLimit": "50",
            "syncLimit": "25",
            "dataDir": str(self.data_dir),
            "clientPort": str(self.client_port),
            "clientPortAddress": "127.0.0.1",
            "minSessionTimeout": str(self.min_session_timeout_ms),
            "maxSessionTimeout": str(self.max_session_timeout_ms),
            "admin.enableServer": "false",
            "4lw.commands.whitelist": "*",
            "maxClientCnxns": "0",
            # Tests and local clusters: the page cache is durable enough across `kill -9` of
            # the JVM, and skipping fsync keeps multi-megabyte writes fast.
            "forceSync": "no",
            "autopurge.purgeInterval": "0",
        }
        lines.update(self.extra_config)
        text = "".join(f"{key}={value}\n" for key, value in lines.items())
        for sid, (quorum_port, election_port) in sorted(self.peers.items()):
            text += f"server.{sid}=127.0.0.1:{quorum_port}:{election_port}\n"
        if self.server_id is not None:
            (self.data_dir / "myid").write_text(f"{self.server_id}\n")
        self.config_path.write_text(text)

    def start(self, wait: bool = True, timeout: float = 60.0) -> None:
        """Starts the JVM; with `wait`, returns once it serves clients (see `wait_ready`)."""
        if self.running:
            raise ZooKeeperError(f"ZooKeeper at {self.address} is already running")
        if not is_installed():
            raise ZooKeeperError(f"ZooKeeper is not installed ({JAVA_DIR}/zookeeper.jar or java "
                                 "is missing): run tools/zk install, or apt-get install "
                                 "zookeeper")
        self._write_config()
        command = [
            shutil.which("java") or "java",
            f"-Xmx{self.heap_mb}m",
            "-XX:+UseSerialGC",
            # Start-up speed over peak speed: the servers live for one test session.
            "-XX:TieredStopAtLevel=1",
            "-Djava.net.preferIPv4Stack=true",
            "-Dzookeeper.admin.enableServer=false",
            "-Dzookeeper.snapshot.trust.empty=true",
            f"-Dzookeeper.DigestAuthenticationProvider.superDigest={_super_digest()}",
            "-Dorg.slf4j.simpleLogger.defaultLogLevel=info",
            "-Dorg.slf4j.simpleLogger.showDateTime=true",
            "-Dorg.slf4j.simpleLogger.dateTimeFormat=yyyy-MM-dd HH:mm:ss.SSS",
            "-cp", _classpath(),
            "org.apache.zookeeper.server.quorum.QuorumPeerMain",
            str(self.config_path),
        ]
        # Closed in `_reap`, once the JVM has exited.
        self._log_file = open(self.log_path, "ab")
        # The death signal follows the thread that forks, so only the main thread (which
        # lives as long as the interpreter) asks for it.
        in_main = threading.current_thread() is threading.main_thread()
        self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL,
                                        stdout=self._log_file, stderr=subprocess.STDOUT,
                                        cwd=self.base_dir, start_new_session=True,
                                        preexec_fn=_die_with_parent if in_main else None)
        with _running_lock:
            _running.add(self)
        if wait:
            try:
                self.wait_ready(timeout)
            except ZooKeeperError:
                self.kill()  # A server that did not come up in time is not left half-alive.
                raise

    def srvr(self, timeout: float = 1.0) -> str:
        """The server's answer to `srvr` (raises `OSError` when it does not answer)."""
        return four_letter_word(self.client_port, "srvr", timeout=timeout)

    def mode(self) -> str | None:
        """`standalone`, `leader`, `follower`, ... or None when not serving (or down)."""
        try:
            return _mode(self.srvr())
        except OSError:
            return None

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Blocks until the server answers `srvr` with a serving mode.

        Raises `ZooKeeperError` (with the end of its log) when the JVM exits or the deadline
        passes first.
        """
        deadline = _now() + timeout
        while True:
            if self.process is not None and self.process.poll() is not None:
                code = self.process.returncode
                self._reap()
                raise ZooKeeperError(f"ZooKeeper at {self.address} exited with {code} while "
                                     f"starting: {self.first_error()}; end of "
                                     f"{self.log_path}:\n{self.log_tail()}")
            if self.mode() in _SERVING_MODES:
                return
            if _now() > deadline:
                raise ZooKeeperError(f"ZooKeeper at {self.address} did not serve within "
                                     f"{timeout} s; end of {self.log_path}:\n{self.log_tail()}")
            _pause(0.05)

    def stop(self, timeout: float = 10.0) -> None:
        """Stops the JVM with SIGTERM (SIGKILL after `timeout`); the data stays."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._reap()

    def kill(self) -> None:
        """Kills the JVM with SIGKILL, as a crash would; the data stays."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self._reap()

    def restart(self, timeout: float = 60.0) -> None:
        """Stops (if running) and starts again on the same data directory and port."""
        self.stop()
        self.start(timeout=timeout)

    def close(self) -> None:
        """Stops the server and removes its folder if the server made it."""
        self.stop()
        if self._owns_dir:
            shutil.rmtree(self.base_dir, ignore_errors=True)

    def _reap(self) -> None:
        self.process = None
        with _running_lock:
            _running.discard(self)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def first_error(self) -> str:
        """The first exception or error line of the log (the usual cause of a failed start)."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "no log"
        for line in text.splitlines():
            if "Exception:" in line and not line.startswith("\t"):
                return line.strip()
        for line in text.splitlines():
            if " ERROR " in line:
                return line.strip()
        return "no error in its log"

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    # Sessions.

    def expire_session(self, client: Any, timeout: float = 15.0) -> None:
        """Forces `client`'s session to expire on the server (see `expire_session`)."""
        expire_session(client, self.connect_string, timeout)

    def __enter__(self) -> ZooKeeperServer:
        if not self.running:
            self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<ZooKeeperServer {self.address} {state} {self.base_dir}>"


class ZooKeeperEnsemble:
    """`size` ZooKeeper servers on 127.0.0.1 forming one quorum, owned by the calling thread.

    `servers[i]` can be stopped, killed and started one by one; `connect_string` names them
    all, as a client (or `--zk=zk://<connect_string>/mesos`) would.
    """

    def __init__(self, size: int = 3, base_dir: str | Path | None = None, **options: Any) -> None:
        if size < 1:
            raise ValueError(f"An ensemble needs at least one server, not {size}")
        self._owns_dir = base_dir is None
        self.base_dir = Path(base_dir) if base_dir is not None else Path(
            tempfile.mkdtemp(prefix="zookeeper-ensemble-"))
        peers = {sid: (free_port(), free_port()) for sid in range(1, size + 1)}
        self.servers = [
            ZooKeeperServer(self.base_dir / f"server{sid}", server_id=sid, peers=peers,
                            **options)
            for sid in range(1, size + 1)
        ]

    @property
    def connect_string(self) -> str:
        return ",".join(server.address for server in self.servers)

    def start(self, timeout: float = 90.0) -> None:
        """Starts every server, then waits until each serves (a leader has been elected)."""
        for server in self.servers:
            if not server.running:
                server.start(wait=False)
        deadline = _now() + timeout
        for server in self.servers:
            server.wait_ready(max(1.0, deadline - _now()))

    def leader(self) -> ZooKeeperServer | None:
        """The member that says it leads, if any."""
        for server in self.servers:
            if server.mode() == "leader":
                return server
        return None

    def stop(self) -> None:
        for server in self.servers:
            server.stop()

    def close(self) -> None:
        self.stop()
        if self._owns_dir:
            shutil.rmtree(self.base_dir, ignore_errors=True)

    def expire_session(self, client: Any, timeout: float = 15.0) -> None:
        """Forces `client`'s session to expire on the ensemble (see `expire_session`)."""
        expire_session(client, self.connect_string, timeout)

    def __enter__(self) -> ZooKeeperEnsemble:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<ZooKeeperEnsemble {self.connect_string}>"


def expire_session(client: Any, connect_string: str, timeout: float = 15.0) -> None:
    """Forces the session of the kazoo `client` to expire on the server(s), for real.

    The classic ZooKeeper test trick (the one kazoo's harness used): a second client joins the
    same session (same id and password), which takes the connection over, and then closes it,
    which ends the session on the server: its ephemeral nodes go, and `client` sees
    `KazooState.LOST` when it reconnects (kazoo then starts a fresh session by itself). Returns
    once `client` has seen the loss; raises `ZooKeeperError` after `timeout` seconds.
    """
    from kazoo.client import KazooClient
    from kazoo.protocol.states import KazooState

    lost = threading.Event()

    def listener(state: Any) -> bool:
        if state == KazooState.LOST:
            lost.set()
            return True  # Removes the listener.
        return False

    client.add_listener(listener)
    deadline = _now() + timeout
    try:
        while not lost.is_set():
            if _now() > deadline:
                raise ZooKeeperError(f"Could not expire session {client.client_id!r} within "
                                     f"{timeout} s")
            session_id, password = client.client_id
            intruder = KazooClient(hosts=connect_string, client_id=(session_id, password),
                                   timeout=client._session_timeout / 1000.0)
            try:
                intruder.start(timeout=max(1.0, deadline - _now()))
            except Exception:  # The session may already be gone: then `lost` follows.
                pass
            finally:
                # Closing the borrowed session ends it on the server.
                intruder.stop()
                intruder.close()
            # The owner reconnects with a random back-off; give it a moment to learn the news.
            lost.wait(min(2.0, max(0.0, deadline - _now())))
    finally:
        with contextlib.suppress(ValueError, KeyError):
            client.remove_listener(listener)


# The command line behind `tools/zk`.


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tools/zk",
        description="Install and run a ZooKeeper server (or a 3-server ensemble) on loopback.")
    commands = parser.add_subparsers(dest="command", required=True)
    start = commands.add_parser(
        "start", help="start ZooKeeper in the foreground; prints the connect string; Ctrl-C "
                      "stops it")
    start.add_argument("--ensemble", action="store_true", help="start 3 servers, not 1")
    start.add_argument("--size", type=int, default=3, help="servers in the ensemble (3)")
    start.add_argument("--port", type=int, default=None,
                       help="client port of the standalone server (default: a free port)")
    start.add_argument("--dir", default=None,
                       help="folder for configs, data and logs (default: a temporary one, "
                            "removed on exit); reusing it keeps the data")
    start.add_argument("--connect-file", default=None,
                       help="also write the connect string to this file once serving")
    commands.add_parser("install", help="install Debian's zookeeper package if missing")
    status = commands.add_parser("status", help="ask a server for `srvr`")
    status.add_argument("address", help="host:port")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "install":
            ensure_installed()
            print(f"ZooKeeper is installed ({JAVA_DIR}/zookeeper.jar)")
            return 0
        if args.command == "status":
            host, _, port = args.address.rpartition(":")
            print(four_letter_word(int(port), "srvr", host=host or "127.0.0.1"), end="")
            return 0
        ensure_installed()
        return _run_foreground(args)
    except (ZooKeeperError, OSError, ValueError) as e:
        print(f"tools/zk: {e}", file=sys.stderr)
        return 1


def _run_foreground(args: argparse.Namespace) -> int:
    cluster: ZooKeeperServer | ZooKeeperEnsemble
    if args.ensemble:
        cluster = ZooKeeperEnsemble(args.size, base_dir=args.dir)
    else:
        cluster = ZooKeeperServer(base_dir=args.dir, client_port=args.port)
    stop = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    started = _now()
    try:
        cluster.start()
        print(cluster.connect_string, flush=True)
        print(f"ZooKeeper serving in {_now() - started:.1f} s; data and logs in "
              f"{cluster.base_dir}; Ctrl-C stops it", file=sys.stderr, flush=True)
        if args.connect_file:
            Path(args.connect_file).write_text(cluster.connect_string + "\n")
        servers = cluster.servers if isinstance(cluster, ZooKeeperEnsemble) else [cluster]
        while not stop.wait(0.5):
            dead = [s for s in servers if not s.running]
            if len(dead) == len(servers):
                print("tools/zk: every ZooKeeper server exited; see "
                      f"{servers[0].log_path}", file=sys.stderr)
                return 1
        return 0
    finally:
        cluster.close()
