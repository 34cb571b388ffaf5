"""The flags of `mesos-agent` (port of `src/slave/flags.cpp`, the subset this port serves).

Pure declarations: each flag keeps its Mesos spelling, its Mesos default (from
`src/slave/flags.cpp` and `src/slave/constants.hpp`) and a validator that refuses a value the
agent cannot run with, so a bad flag exits 1 with one line before anything starts.

`--master` names the master the way a user types it: `host:port` (the master's HTTP address;
its libprocess pid is read from `http://host:port/master/state`), `http://host:port`,
`master@ip:port` (a libprocess pid, used as is), `zk://host1:port1,host2:port2/path` (the
leading master of a ZooKeeper election, followed across failovers) or `file:///path` holding
one of those.
"""

from __future__ import annotations

import re
from typing import Any

from mesos.common.attributes import parse_attributes
from mesos.common.flags import DURATION, JSON, PATH, Flag, Flags
from mesos.common.resources import Resources, validate_role

__all__ = [
    "DEFAULT_EXECUTOR_REREGISTRATION_TIMEOUT",
    "MAX_EXECUTOR_REREGISTRATION_TIMEOUT",
    "REGISTER_RETRY_INTERVAL_MAX",
    "AgentFlags",
    "parse_master",
]

# `src/slave/constants.hpp`: registration retries never wait longer than this, so the backoff
# factor must stay below it.
REGISTER_RETRY_INTERVAL_MAX = 60.0
DEFAULT_EXECUTOR_REREGISTRATION_TIMEOUT = 2.0
MAX_EXECUTOR_REREGISTRATION_TIMEOUT = 15.0

_LOGGING_LEVELS = ("INFO", "WARNING", "ERROR")
_RECOVER = ("reconnect", "cleanup")
_RECONFIGURATION_POLICIES = ("equal", "additive")
_HOST_PORT = re.compile(r"^(?P<host>\[[0-9a-fA-F:.]+\]|[^:/@\s]+):(?P<port>[0-9]{1,5})/?$")


def parse_master(text: str) -> tuple[str, str]:
    """Reads `--master`: `("pid", "master@ip:port")` for a libprocess pid, `("http",
    "host:port")` for the master's HTTP address, `("zk", url)` for ZooKeeper.

    Raises `ValueError` with a one-line reason naming the expected forms.
    """
    value = text.strip()
    expected = ("expected host:port (the master's HTTP address), http://host:port, "
                "master@ip:port or zk://host:port/path")
    if value.startswith("zk://"):
        return ("zk", value)
    if "@" in value:
        from libprocess import UPID, UPIDError

        try:
            upid = UPID(value)
        except UPIDError as e:
            raise ValueError(f"invalid master pid '{value}': {e}") from None
        if not upid:
            raise ValueError(f"invalid master pid '{value}'; {expected}")
        return ("pid", str(upid))
    address = value.removeprefix("http://")
    match = _HOST_PORT.match(address)
    if match is None:
        raise ValueError(f"invalid master '{value}'; {expected}")
    port = int(match.group("port"))
    if not 0 < port <= 65535:
        raise ValueError(f"invalid master '{value}': '{port}' is not a port number")
    return ("http", f"{match.group('host')}:{port}")


def _master(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        kind, url = parse_master(value)
    except ValueError as e:
        return str(e)
    if kind == "zk":
        from mesos.zookeeper.url import URLError, parse

        try:
            parsed = parse(url)
        except URLError as e:
            return str(e)
        if parsed.path == "/":
            return "expecting a (chroot) path for ZooKeeper ('/' is not supported)"
    return None


def _port(value: int | None) -> str | None:
    if value is not None and not 0 <= value <= 65535:
        return f"'{value}' is not a port number (expected 0 to 65535)"
    return None


def _resources(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        Resources.parse(value)
    except ValueError as e:
        return str(e)
    return None


def _attributes(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        parse_attributes(value)
    except ValueError as e:
        return str(e)
    return None


def _one_of(choices: tuple[str, ...]) -> Any:
    def check(value: str) -> str | None:
        if value not in choices:
            return f"unknown option '{value}' (expected one of {', '.join(choices)})"
        return None

    return check


def _backoff_factor(value: float) -> str | None:
    if value < 0:
        return "must not be negative"
    if value > REGISTER_RETRY_INTERVAL_MAX:
        return "must be less than 1mins"
    return None


def _non_negative(value: float) -> str | None:
    return "must not be negative" if value < 0 else None


def _positive(value: float) -> str | None:
    return "must be greater than zero" if value <= 0 else None


def _reregistration_timeout(value: float) -> str | None:
    if value < 0:
        return "must not be negative"
    if value > MAX_EXECUTOR_REREGISTRATION_TIMEOUT:
        return "must be at most 15secs"
    return None


def _fraction(value: float) -> str | None:
    if not 0.0 <= value <= 1.0:
        return "must be between 0.0 and 1.0"
    return None


def _logging_level(value: str) -> str | None:
    if value.upper() not in _LOGGING_LEVELS:
        return f"unknown level '{value}' (expected one of {', '.join(_LOGGING_LEVELS)})"
    return None


def _environment(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        return "expected a JSON object of environment variable names to string values"
    for key, item in value.items():
        if not isinstance(item, str):
            return f"the value of '{key}' must be a string"
    return None


class AgentFlags(Flags):
    """The flags of `mesos-agent`; see `mesos-agent --help` for each one."""

    usage_message = "Usage: mesos-agent --master=host:port --work_dir=DIR [options]"

    # Where the master is, and where this agent listens.
    master = Flag(str, required=True, validator=_master,
                  help="How to reach the master: host:port (its HTTP address),\n"
                       "http://host:port, master@ip:port (a libprocess pid),\n"
                       "zk://host1:port1,host2:port2,.../path (the leader elected in\n"
                       "ZooKeeper), or file:///path/to/file holding one of those.")
    zk_session_timeout = Flag(DURATION, default="10secs", validator=_positive,
                              help="ZooKeeper session timeout (with --master=zk://...).")
    ip = Flag(str, help="IP address to listen on (HTTP and the libprocess transport).")
    port = Flag(int, default=5051, validator=_port,
                help="Port to listen on for HTTP (endpoints, /state, /files, /metrics).")
    libprocess_port = Flag(int, validator=_port,
                           help="Port of the libprocess (ZeroMQ) transport; defaults to\n"
                                "LIBPROCESS_PORT, or an ephemeral port.")
    hostname = Flag(str, help="The hostname the agent should report; by default the\n"
                              "hostname of --ip (see --hostname_lookup).")
    hostname_lookup = Flag(bool, default=True,
                           help="Whether to look up the hostname of --ip when --hostname\n"
                                "is not set; if false, the IP address is used.")

    # What this agent offers.
    work_dir = Flag(PATH, required=True,
                    help="Path of the agent work directory: executor sandboxes under\n"
                         "slaves/ and checkpointed state under meta/.")
    resources = Flag(str, validator=_resources,
                     help="Total consumable resources of the agent, as a resource string\n"
                          "('cpus:8;mem:15360;disk:100000;ports:[31000-32000]') or a JSON\n"
                          "array of Resource objects. Resources left out are detected:\n"
                          "cpus, mem (total minus 1GB), disk (of work_dir, minus 5GB) and\n"
                          "ports [31000-32000].")
    default_role = Flag(str, default="*",
                        validator=lambda v: (None if validate_role(v) is None
                                             else f"invalid role '{v}': {validate_role(v)}"),
                        help="Role of the resources of --resources that name no role.")
    attributes = Flag(str, validator=_attributes,
                      help="Attributes of the agent: 'rack:2;dc:east;zone:a'.")

    # Timing.
    registration_backoff_factor = Flag(
        DURATION, default="1secs", validator=_backoff_factor,
        help="The agent first registers after a random delay in [0, b], then retries\n"
             "after random delays in [0, b * 2^n], capped at 1mins.")
    executor_registration_timeout = Flag(
        DURATION, default="1mins", validator=_positive,
        help="Amount of time to wait for an executor to register with the agent before\n"
             "considering it hung and shutting it down.")
    executor_shutdown_grace_period = Flag(
        DURATION, default="5secs", validator=_non_negative,
        help="Default amount of time to wait for an executor to shut down (e.g. after\n"
             "a ShutdownExecutorMessage) before destroying its container.")
    executor_reregistration_timeout = Flag(
        DURATION, default="2secs", validator=_reregistration_timeout,
        help="How long a recovering agent waits for its executors to reregister.")
    recovery_timeout = Flag(
        DURATION, default="15mins", validator=_non_negative,
        help="How long an executor of a checkpointing framework waits for a restarted\n"
             "agent to reconnect before it exits.")
    gc_delay = Flag(DURATION, default="1weeks", validator=_non_negative,
                    help="Maximum amount of time to wait before cleaning up executor\n"
                         "directories.")
    gc_disk_headroom = Flag(float, default=0.1, validator=_fraction,
                            help="Fraction of disk to keep free: executor directories are\n"
                                 "removed sooner as the disk fills.")
    disk_watch_interval = Flag(DURATION, default="1mins", validator=_positive,
                               help="Periodic time interval for monitoring disk usage.")

    # Recovery.
    recover = Flag(str, default="reconnect", validator=_one_of(_RECOVER),
                   help="Whether to recover status updates and reconnect with old\n"
                        "executors (reconnect) or kill them and exit (cleanup).")
    strict = Flag(bool, default=True,
                  help="If true, any error while recovering agent state is fatal;\n"
                       "otherwise recovery is best effort.")
    reconfiguration_policy = Flag(
        str, default="equal", validator=_one_of(_RECONFIGURATION_POLICIES),
        help="Which changes of the agent's resources and attributes are allowed\n"
             "across a restart: equal or additive.")

    # Executors.
    launcher_dir = Flag(PATH, help="Directory of the Mesos binaries; the command executor is\n"
                                   "its mesos-executor when present, otherwise\n"
                                   "'python -m mesos.exec.command_executor'.")
    executor_environment_variables = Flag(
        JSON, validator=_environment,
        help="JSON object of environment variables given to every executor instead of\n"
             "the defaults: '{\"PATH\": \"/bin:/usr/bin\"}'.")

    # Logging.
    logging_level = Flag(str, default="INFO", validator=_logging_level,
                         help="Log messages at this level or above: INFO, WARNING, ERROR.")
    log_dir = Flag(PATH, help="Directory for the log file (logs go to stderr without it).")

    version = Flag(bool, default=False, help="Show version and exit.")
