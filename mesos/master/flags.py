"""The flags of `mesos-master` (port of `src/master/flags.cpp`, the subset this port serves).

Pure declarations: every flag keeps its Mesos spelling (and its deprecated `slave` spelling
where Mesos has one), its Mesos default, and a validator that refuses a value the master
cannot run with, so a bad flag exits 1 with one line before anything starts.
"""

from __future__ import annotations

from typing import Any

from mesos.common.durations import parse_duration
from mesos.common.flags import DURATION, PATH, Flag, Flags
from mesos.common.resources import validate_role

__all__ = [
    "REGISTRY_BACKENDS",
    "SUPPORTED_REGISTRY_BACKENDS",
    "MasterFlags",
    "check_registry",
    "parse_percentage",
    "parse_rate_limit",
    "parse_weights",
    "registry_backend",
]

# Every `--registry` Mesos (and this port's design) names, and the ones served: Mesos's
# replicated log is replaced by ZooKeeper itself (`zookeeper`) and by LevelDB for a master
# without ZooKeeper (`leveldb`, the embedded default).
REGISTRY_BACKENDS = ("in_memory", "leveldb", "zookeeper", "replicated_log")
SUPPORTED_REGISTRY_BACKENDS = ("in_memory", "leveldb", "zookeeper")

_SORTERS = ("drf", "random")
_LOGGING_LEVELS = ("INFO", "WARNING", "ERROR")

# Mesos bounds `--agent_ping_timeout` to [1 secs, 15 mins] and refuses an
# `--agent_reregister_timeout` below 10 mins (agents bound their retries by it).
MIN_AGENT_PING_TIMEOUT = 1.0
MAX_AGENT_PING_TIMEOUT = 15 * 60.0
MIN_AGENT_REREGISTER_TIMEOUT = 10 * 60.0


def parse_percentage(text: str) -> float:
    """Parses a percentage such as `--recovery_agent_removal_limit=100%` into a fraction
    (`1.0`); the `%` is optional, as in Mesos. Raises `ValueError` naming the bad text."""
    value = text.strip().removesuffix("%").strip()
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"invalid percentage '{text}': expected a number from 0 to 100, "
                         "optionally followed by '%'") from None
    if not 0.0 <= number <= 100.0:
        raise ValueError(f"invalid percentage '{text}': expected a number from 0 to 100")
    return number / 100.0


def parse_rate_limit(text: str) -> tuple[float, float]:
    """Parses a rate such as `--agent_removal_rate_limit=1/10mins` into `(permits,
    seconds)`: at most `permits` per that duration. Raises `ValueError` naming the bad text."""
    permits_text, slash, duration_text = text.partition("/")
    if not slash:
        raise ValueError(f"invalid rate '{text}': expected <permits>/<duration>, e.g. 1/10mins")
    try:
        permits = float(permits_text)
    except ValueError:
        raise ValueError(f"invalid rate '{text}': '{permits_text}' is not a number") from None
    try:
        seconds = parse_duration(duration_text)
    except ValueError as e:
        raise ValueError(f"invalid rate '{text}': {e}") from None
    if not permits > 0 or not seconds > 0:
        raise ValueError(f"invalid rate '{text}': permits and duration must be positive")
    return permits, seconds


def registry_backend(flags: Any) -> str:
    """The registry backend the master uses: `--registry` if given, else `zookeeper` with
    `--zk` and `leveldb` (under `--work_dir`) without it, the embedded default."""
    if flags.registry is not None:
        return str(flags.registry)
    return "zookeeper" if flags.zk is not None else "leveldb"


def check_registry(flags: Any) -> str | None:
    """The one-line error of a registry choice the other flags cannot serve, or None.

    LevelDB lives under `--work_dir`, and the ZooKeeper registry needs `--zk`.
    """
    backend = registry_backend(flags)
    if backend == "leveldb" and flags.work_dir is None:
        return ("--work_dir is required for the leveldb registry (the default without --zk);"
                " give --work_dir=DIR, or --registry=in_memory for a registry that does not"
                " survive the master")
    if backend == "zookeeper" and flags.zk is None:
        return "--zk is required for --registry=zookeeper"
    return None


def parse_weights(text: str) -> dict[str, float]:
    """Parses `--weights=role1=2.0,role2=0.5`; raises `ValueError` naming the bad token."""
    weights: dict[str, float] = {}
    for token in text.split(","):
        token = token.strip()
        if not token:
            continue
        role, sep, value = token.partition("=")
        if not sep or not role or not value:
            raise ValueError(
                f"invalid weight '{token}': expected the form 'role=weight,role=weight'"
            )
        error = validate_role(role)
        if error is not None:
            raise ValueError(f"invalid weight '{token}': '{role}' is not a valid role: {error}")
        try:
            weight = float(value)
        except ValueError:
            raise ValueError(f"invalid weight '{token}': '{value}' is not a number") from None
        if not weight > 0:
            raise ValueError(f"invalid weight '{token}': weights must be positive")
        weights[role] = weight
    return weights


def _positive_duration(value: Any) -> str | None:
    if value is not None and value <= 0:
        return "must be greater than zero"
    return None


def _agent_ping_timeout(value: float) -> str | None:
    if not MIN_AGENT_PING_TIMEOUT <= value <= MAX_AGENT_PING_TIMEOUT:
        return "must be between 1secs and 15mins"
    return None


def _at_least_one(value: int) -> str | None:
    return "must be at least 1" if value < 1 else None


def _non_negative(value: int) -> str | None:
    return "must not be negative" if value < 0 else None


def _port(value: int | None) -> str | None:
    if value is not None and not 0 <= value <= 65535:
        return f"'{value}' is not a port number (expected 0 to 65535)"
    return None


def _registry(value: str | None) -> str | None:
    if value is None:
        return None
    if value not in REGISTRY_BACKENDS:
        return f"unknown registry '{value}' (expected one of {', '.join(REGISTRY_BACKENDS)})"
    if value not in SUPPORTED_REGISTRY_BACKENDS:
        return (f"registry '{value}' is not supported by this port; use "
                f"{', '.join(SUPPORTED_REGISTRY_BACKENDS)} (zookeeper replaces the "
                "replicated log)")
    return None


def _sorter(value: str) -> str | None:
    if value not in _SORTERS:
        return f"unknown sorter '{value}' (expected one of {', '.join(_SORTERS)})"
    if value != "drf":
        return f"sorter '{value}' is not yet supported by this port; use drf"
    return None


def _weights(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        parse_weights(value)
    except ValueError as e:
        return str(e)
    return None


def _roles(value: str | None) -> str | None:
    if value is None:
        return None
    for role in value.split(","):
        error = validate_role(role.strip())
        if error is not None:
            return f"invalid role '{role}': {error}"
    return None


def _unsupported_true(name: str) -> Any:
    def check(value: bool) -> str | None:
        if value:
            return f"--{name} is not yet supported by this port (authentication comes later)"
        return None

    return check


def _min_allocatable(value: str) -> str | None:
    from mesos.allocator.allocator import parse_min_allocatable_resources

    try:
        parse_min_allocatable_resources(value)
    except ValueError as e:
        return str(e)
    return None


def _logging_level(value: str) -> str | None:
    if value.upper() not in _LOGGING_LEVELS:
        return f"unknown level '{value}' (expected one of {', '.join(_LOGGING_LEVELS)})"
    return None


def _zk(value: str | None) -> str | None:
    if value is None:
        return None
    from mesos.zookeeper.url import URLError, parse_flag

    try:
        url = parse_flag(value)
    except URLError as e:
        return str(e)
    if url.path == "/":
        return "expecting a (chroot) path for ZooKeeper ('/' is not supported)"
    return None


def _rate_limit(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        parse_rate_limit(value)
    except ValueError as e:
        return str(e)
    return None


def _percentage(value: str) -> str | None:
    try:
        parse_percentage(value)
    except ValueError as e:
        return str(e)
    return None


def _quorum(value: int | None) -> str | None:
    if value is not None and value < 1:
        return "must be at least 1"
    return None


class MasterFlags(Flags):
    """The flags of `mesos-master`; see `mesos-master --help` for each one."""

    usage_message = "Usage: mesos-master [options]"

    # Addresses. `--port` is the HTTP port users type; the ZeroMQ transport has its own.
    ip = Flag(str, help="IP address to listen on (HTTP and the libprocess transport).")
    port = Flag(int, default=5050, validator=_port,
                help="Port to listen on for HTTP (endpoints, /state, /metrics, APIs).")
    advertise_ip = Flag(str, help="IP address advertised to reach this master.")
    advertise_port = Flag(int, validator=_port,
                          help="HTTP port advertised to reach this master.")
    libprocess_port = Flag(int, validator=_port,
                           help="Port of the libprocess (ZeroMQ) transport; defaults to\n"
                                "LIBPROCESS_PORT, or an ephemeral port.")
    hostname = Flag(str, help="The hostname the master should advertise; by default the\n"
                              "hostname of --ip (see --hostname_lookup).")
    hostname_lookup = Flag(bool, default=True,
                           help="Whether to look up the hostname of --ip when --hostname is\n"
                                "not set; if false, the IP address is used.")
    cluster = Flag(str, help="Human readable name for the cluster, shown in /state.")

    # Storage.
    work_dir = Flag(PATH, help="Directory path to store the persistent information stored\n"
                               "in the registry.")
    registry = Flag(str, validator=_registry,
                    help="Persistence strategy for the registry: in_memory, leveldb (under\n"
                         "--work_dir) or zookeeper (under the --zk path). Default:\n"
                         "zookeeper with --zk, else leveldb.")
    zk = Flag(str, validator=_zk,
              help="ZooKeeper URL for leader election and the zookeeper registry:\n"
                   "zk://host1:port1,host2:port2,.../path, zk://user:pass@host:port/path,\n"
                   "or file:///path/to/file holding one of those.")
    zk_session_timeout = Flag(DURATION, default="10secs", validator=_positive_duration,
                              help="ZooKeeper session timeout.")
    quorum = Flag(int, validator=_quorum,
                  help="The size of the quorum of masters (accepted with --zk; ZooKeeper\n"
                       "itself keeps the registry consistent).")
    registry_fetch_timeout = Flag(
        DURATION, default="1mins", validator=_positive_duration,
        help="Duration of time to wait in order to fetch data from the registry\n"
             "after which the operation is considered a failure.")
    registry_store_timeout = Flag(
        DURATION, default="20secs", validator=_positive_duration,
        help="Duration of time to wait in order to store data in the registry\n"
             "after which the operation is considered a failure.")
    registry_max_agent_age = Flag(
        DURATION, default="2weeks", validator=_positive_duration,
        help="Maximum length of time to store information in the registry about\n"
             "agents that are not currently connected to the cluster.")
    registry_max_agent_count = Flag(
        int, default=102400, validator=_at_least_one,
        help="Maximum number of disconnected agents to store in the registry.")
    registry_gc_interval = Flag(
        DURATION, default="15mins", validator=_positive_duration,
        help="How often to garbage collect the registry (the unreachable and gone\n"
             "agents beyond --registry_max_agent_age / --registry_max_agent_count).")
    recovery_agent_removal_limit = Flag(
        str, default="100%", validator=_percentage, deprecated_name="recovery_slave_removal_limit",
        help="For failovers, limit on the percentage of agents that can be removed\n"
             "from the registry *and* shutdown after the re-registration timeout\n"
             "elapses. If the limit is exceeded, the master will fail over rather\n"
             "than remove the agents.")

    # Allocation.
    allocation_interval = Flag(DURATION, default="1secs", validator=_positive_duration,
                               help="Amount of time to wait between batch allocations.")
    min_allocatable_resources = Flag(
        str, default="cpus:0.01|mem:32", validator=_min_allocatable,
        help="One or more sets of resource quantities that define the minimum\n"
             "allocatable resources, separated by '|'.")
    offer_timeout = Flag(DURATION, validator=_positive_duration,
                         help="Duration after which an offer is rescinded from a framework.")
    framework_sorter = Flag(str, default="drf", validator=_sorter,
                            help="Policy to use for allocating resources between a given\n"
                                 "role's frameworks.")
    role_sorter = Flag(str, default="drf", validator=_sorter, deprecated_name="user_sorter",
                       help="Policy to use for allocating resources between roles.")
    weights = Flag(str, validator=_weights,
                   help="A comma-separated list of role/weight pairs: role1=weight1,...")
    roles = Flag(str, validator=_roles,
                 help="A comma-separated list of the allocation roles frameworks may\n"
                      "subscribe with (deprecated; all roles are allowed without it).")
    root_submissions = Flag(bool, default=True,
                            help="Whether frameworks may run as user 'root'.")

    # Agents.
    agent_ping_timeout = Flag(DURATION, default="15secs", validator=_agent_ping_timeout,
                              deprecated_name="slave_ping_timeout",
                              help="The timeout within which an agent must answer a ping.")
    max_agent_ping_timeouts = Flag(int, default=5, validator=_at_least_one,
                                   deprecated_name="max_slave_ping_timeouts",
                                   help="The number of missed pings after which an agent is\n"
                                        "marked unreachable.")
    agent_removal_rate_limit = Flag(
        str, validator=_rate_limit, deprecated_name="slave_removal_rate_limit",
        help="The maximum rate (e.g. 1/10mins, 2/3hrs) at which agents that fail\n"
             "health checks are marked unreachable; unlimited without it.")
    agent_reregister_timeout = Flag(
        DURATION, default="10mins", deprecated_name="slave_reregister_timeout",
        validator=lambda v: (None if v >= MIN_AGENT_REREGISTER_TIMEOUT
                             else "must be at least 10mins"),
        help="The timeout within which a disconnected agent must reregister.")

    # Memory bounds.
    max_completed_frameworks = Flag(int, default=50, validator=_non_negative,
                                    help="Maximum number of completed frameworks to keep.")
    max_completed_tasks_per_framework = Flag(
        int, default=1000, validator=_non_negative,
        help="Maximum number of completed tasks per framework to keep.")
    max_unreachable_tasks_per_framework = Flag(
        int, default=1000, validator=_non_negative,
        help="Maximum number of unreachable tasks per framework to keep.")

    # Authentication (not yet served: refused rather than silently ignored).
    authenticate_frameworks = Flag(
        bool, default=False, deprecated_name="authenticate",
        validator=_unsupported_true("authenticate_frameworks"),
        help="If true, only authenticated frameworks may register.")
    authenticate_agents = Flag(
        bool, default=False, deprecated_name="authenticate_slaves",
        validator=_unsupported_true("authenticate_agents"),
        help="If true, only authenticated agents may register.")
    authenticate_http_readonly = Flag(
        bool, default=False, validator=_unsupported_true("authenticate_http_readonly"),
        help="If true, read-only HTTP endpoints require authentication.")
    authenticate_http_readwrite = Flag(
        bool, default=False, validator=_unsupported_true("authenticate_http_readwrite"),
        help="If true, read-write HTTP endpoints require authentication.")
    authenticate_http_frameworks = Flag(
        bool, default=False, validator=_unsupported_true("authenticate_http_frameworks"),
        help="If true, HTTP frameworks must authenticate.")

    # Logging.
    logging_level = Flag(str, default="INFO", validator=_logging_level,
                         help="Log messages at this level or above: INFO, WARNING, ERROR.")
    log_dir = Flag(PATH, help="Directory for the log file (logs go to stderr without it).")

    version = Flag(bool, default=False, help="Show version and exit.")
