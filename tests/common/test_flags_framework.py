"""Tests of the Mesos-style flags framework (`mesos.common.flags`), after stout's flags tests."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest

from mesos.common.flags import (
    BYTES,
    DURATION,
    JSON,
    PATH,
    Flag,
    FlagError,
    Flags,
    load_or_exit,
)


def _positive(value: int) -> str | None:
    return None if value > 0 else "must be positive"


class DaemonFlags(Flags):
    port = Flag(int, default=5050, help="Port to listen on.", validator=_positive)
    ip = Flag(str, help="IP address to listen on.")
    work_dir = Flag(PATH, required=True, help="Where to store state.")
    checkpoint = Flag(bool, default=True, help="Whether to checkpoint.")
    quiet = Flag(bool, default=False, help="Log less.")
    ratio = Flag(float, default=0.5, help="A fraction.")
    agent_ping_timeout = Flag(
        DURATION,
        default="15secs",
        deprecated_name="slave_ping_timeout",
        help="How long to wait for a PONG.",
    )
    max_size = Flag(BYTES, default="512MB", help="Largest file.")
    acls = Flag(JSON, help="ACLs as JSON.")
    credentials = Flag(str, help="Credentials, usually from file://.")


ARGV0 = "/usr/sbin/mesos-daemon"


def load(*args: str, env: dict[str, str] | None = None, **kwargs: object) -> DaemonFlags:
    return DaemonFlags.load([ARGV0, "--work_dir=/var/lib/mesos", *args], env or {}, **kwargs)


def test_defaults_and_typed_values() -> None:
    """This test ensures that every flag is an attribute of its Python type, with the
    declared default when not given and `None` for an optional flag."""
    flags = load()
    assert flags.port == 5050 and isinstance(flags.port, int)
    assert flags.ratio == 0.5
    assert flags.checkpoint is True and flags.quiet is False
    assert flags.agent_ping_timeout == 15.0
    assert flags.max_size == 512 * 1024 * 1024
    assert flags.work_dir == "/var/lib/mesos"
    assert flags.ip is None and flags.acls is None
    assert flags.program_name == "mesos-daemon"


def test_command_line_values_of_every_type() -> None:
    """This test ensures that `--name=value` loads each type: int, float, string, duration,
    bytes and JSON."""
    flags = load(
        "--port=6000",
        "--ratio=0.25",
        "--ip=10.0.0.1",
        "--agent_ping_timeout=1mins",
        "--max_size=2GB",
        '--acls={"permissive": false}',
    )
    assert flags.port == 6000
    assert flags.ratio == 0.25
    assert flags.ip == "10.0.0.1"
    assert flags.agent_ping_timeout == 60.0
    assert flags.max_size == 2 * 1024**3
    assert flags.acls == {"permissive": False}


@pytest.mark.parametrize(
    ("arg", "expected"),
    [
        ("--quiet", True),
        ("--no-quiet", False),
        ("--quiet=true", True),
        ("--quiet=1", True),
        ("--quiet=false", False),
        ("--quiet=0", False),
        ("--quiet=", True),
    ],
)
def test_boolean_spellings(arg: str, expected: bool) -> None:
    """This test ensures that a boolean flag alone means true, `--no-` means false, and an
    explicit value must be one of stout's four spellings."""
    assert load(arg).quiet is expected


def test_name_space_value_is_not_mesos_style() -> None:
    """This test ensures that `--port 6000` is refused: Mesos reads only `--name=value`, so
    `--port` is a flag with no value and `6000` a positional argument."""
    with pytest.raises(FlagError) as error:
        load("--port", "6000")
    assert str(error.value) == (
        "Failed to load flag 'port': missing value; expected --port=VALUE"
    )

    # Positional arguments are kept, and everything after `--` is positional.
    flags = load("extra", "--", "--port=1")
    assert flags.positional == ["extra", "--port=1"]
    assert flags.port == 5050


def test_flag_names_are_case_insensitive() -> None:
    """This test ensures that flag names are lower-cased like stout does."""
    assert load("--PORT=7000").port == 7000


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--port=abc"], "Failed to load flag 'port': invalid integer 'abc'"),
        (["--port=5.5"], "Failed to load flag 'port': invalid integer '5.5'"),
        (["--ratio=half"], "Failed to load flag 'ratio': invalid number 'half'"),
        (
            ["--quiet=yes"],
            "Failed to load flag 'quiet': invalid boolean 'yes' (expected true, false, 1 or 0)",
        ),
        (["--agent_ping_timeout=15sec"], "Failed to load flag 'agent_ping_timeout': Invalid "
         "duration '15sec': unknown unit 'sec'"),
        (["--max_size=1.5GB"], "Failed to load flag 'max_size': Invalid bytes '1.5GB'"),
        (["--acls={bad"], "Failed to load flag 'acls': invalid JSON '{bad'"),
        (["--bogus=1"], "Failed to load unknown flag 'bogus'"),
        (["--no-bogus"], "Failed to load unknown flag 'bogus' via 'no-bogus'"),
        (["--no-port"], "Failed to load non-boolean flag 'port' via 'no-port'"),
        (["--no-quiet=true"], "Failed to load boolean flag 'quiet' via 'no-quiet' with value"),
        (["--port=1", "--port=2"], "Duplicate flag 'port' on command line"),
        (["--quiet", "--no-quiet"], "Duplicate flag 'no-quiet' on command line"),
        (
            ["--agent_ping_timeout=1secs", "--slave_ping_timeout=2secs"],
            "Flag 'agent_ping_timeout' is already loaded via name 'agent_ping_timeout'",
        ),
        (["--port=0"], "Invalid value for flag 'port': must be positive"),
    ],
)
def test_bad_flags_give_one_line_errors(args: list[str], message: str) -> None:
    """This test ensures that every way of getting a flag wrong raises a `FlagError` with a
    one-line message naming the flag and the bad value."""
    with pytest.raises(FlagError) as error:
        load(*args)
    assert str(error.value).startswith(message)
    assert "\n" not in str(error.value)


def test_missing_required_flag() -> None:
    """This test ensures that a required flag given neither on the command line nor in the
    environment is an error naming it and both ways to give it."""
    with pytest.raises(FlagError) as error:
        DaemonFlags.load([ARGV0], {})
    assert str(error.value) == (
        "Missing required flag 'work_dir'; expected --work_dir=VALUE (or MESOS_WORK_DIR)"
    )


def test_unknowns_and_duplicates_can_be_allowed() -> None:
    """This test ensures that `unknowns=True` skips unknown flags and `duplicates=True`
    keeps the last of repeated flags, as stout's load options do."""
    flags = load("--bogus=1", "--port=1", "--port=2", unknowns=True, duplicates=True)
    assert flags.port == 2


def test_environment_is_below_the_command_line() -> None:
    """This test ensures that `MESOS_<NAME>` variables load flags, that the command line wins
    over them flag by flag, and that unrelated `MESOS_` variables are ignored."""
    env = {
        "MESOS_PORT": "6000",
        "MESOS_quiet": "true",
        "MESOS_RATIO": "0.75",
        "MESOS_NATIVE_JAVA_LIBRARY": "/usr/lib/libmesos.so",
        "PORT": "1",
    }
    flags = load("--ratio=0.1", env=env)
    assert flags.port == 6000
    assert flags.quiet is True
    assert flags.ratio == 0.1

    # A negated flag on the command line hides the variable of the same flag.
    assert load("--no-checkpoint", env={"MESOS_CHECKPOINT": "true"}).checkpoint is False


def test_environment_values_are_checked() -> None:
    """This test ensures that a bad value in the environment fails like one on the command
    line, naming the flag."""
    with pytest.raises(FlagError, match="Failed to load flag 'port': invalid integer 'x'"):
        load(env={"MESOS_PORT": "x"})


def test_environment_prefix_is_configurable() -> None:
    """This test ensures that another prefix selects other variables and `prefix=None`
    ignores the environment."""
    env = {"MESOS_PORT": "6000", "LIBPROCESS_PORT": "7000"}
    assert load(env=env, prefix="LIBPROCESS_").port == 7000
    assert load(env=env, prefix=None).port == 5050
    with pytest.raises(FlagError, match=r"\(or LIBPROCESS_WORK_DIR\)"):
        DaemonFlags.load([ARGV0], {}, prefix="LIBPROCESS_")


def test_file_values_are_read_except_for_paths(tmp_path: Path) -> None:
    """This test ensures that a `file://` value is read from the file (trailing newline
    dropped) for every type but paths, whose value is the path itself, as stout's `fetch`."""
    (tmp_path / "port").write_text("6000\n")
    (tmp_path / "credentials").write_text("principal secret\n")
    (tmp_path / "acls.json").write_text(json.dumps({"permissive": True}))
    flags = DaemonFlags.load(
        [
            ARGV0,
            f"--port=file://{tmp_path}/port",
            f"--credentials=file://{tmp_path}/credentials",
            f"--acls=file://{tmp_path}/acls.json",
            f"--work_dir=file://{tmp_path}",
        ],
        {},
    )
    assert flags.port == 6000
    assert flags.credentials == "principal secret"
    assert flags.acls == {"permissive": True}
    assert flags.work_dir == f"file://{tmp_path}"


def test_unreadable_file_value_names_flag_and_path(tmp_path: Path) -> None:
    """This test ensures that a `file://` value whose file cannot be read is an error naming
    the flag and the path."""
    missing = tmp_path / "nope"
    with pytest.raises(FlagError) as error:
        load(f"--credentials=file://{missing}")
    assert str(error.value).startswith(
        f"Failed to load flag 'credentials': error reading file '{missing}'"
    )


def test_deprecated_name_loads_with_a_warning() -> None:
    """This test ensures that a flag's deprecated name still loads it, records a warning, and
    is the name `/flags` shows, as stout's `DeprecatedName`."""
    flags = load("--slave_ping_timeout=30secs")
    assert flags.agent_ping_timeout == 30.0
    assert flags.warnings == [
        "Loaded deprecated flag 'slave_ping_timeout'; use 'agent_ping_timeout' instead"
    ]
    assert flags.as_dict()["slave_ping_timeout"] == "30secs"
    assert "agent_ping_timeout" not in flags.as_dict()
    assert flags.is_loaded("agent_ping_timeout")


def test_as_dict_is_the_flags_endpoint() -> None:
    """This test ensures that `as_dict()` gives every flag with a value as a string in Mesos
    spelling (durations, bytes, booleans), leaving out unset optional flags, and that
    `flags_json()` wraps it as `/flags` does."""
    flags = load("--ratio=0.1", "--no-checkpoint")
    assert flags.as_dict() == {
        "agent_ping_timeout": "15secs",
        "checkpoint": "false",
        "help": "false",
        "max_size": "512MB",
        "port": "5050",
        "quiet": "false",
        "ratio": "0.1",
        "work_dir": "/var/lib/mesos",
    }
    assert flags.flags_json() == {"flags": flags.as_dict()}
    assert str(flags).startswith('--agent_ping_timeout="15secs" --checkpoint="false"')


def test_usage_lists_every_flag_with_help_and_default() -> None:
    """This test ensures that the usage text has one aligned line per flag, sorted by name,
    with the help, the default, `--[no-]` for booleans and the deprecated spelling."""
    usage = DaemonFlags(work_dir="/w").usage()
    lines = usage.splitlines()
    assert lines[0] == "Usage: PROGRAM [options]"
    flag_lines = [line for line in lines if line.startswith("  --")]
    names = [
        line.split()[0].split("=")[0].removeprefix("--[no-]").removeprefix("--").rstrip(",")
        for line in flag_lines
    ]
    assert names == sorted(names) and len(names) == 11
    columns = {re.match(r"  \S+(?:, \S+)?\s{5,}", line).end() for line in flag_lines}  # type: ignore[union-attr]
    assert len(columns) == 1
    text = "\n".join(flag_lines)
    assert "--port=VALUE" in text and "Port to listen on. (default: 5050)" in text
    assert "--[no-]checkpoint" in text and "Whether to checkpoint. (default: true)" in text
    assert "--agent_ping_timeout=VALUE, --slave_ping_timeout=VALUE" in text
    assert "(default: 15secs)" in text and "(default: 512MB)" in text
    assert "--[no-]help" in text and "Prints this help message (default: false)" in text
    work_dir = next(line for line in flag_lines if "--work_dir" in line)
    assert "default" not in work_dir


def test_multi_line_help_is_indented() -> None:
    """This test ensures that a help text with several lines continues in the help column,
    and that a help ending with a newline puts its default on a line of its own."""

    class F(Flags):
        mode = Flag(str, default="fast", help="How to run:\n  fast or slow.\n")

    lines = F().usage().splitlines()
    first = next(i for i, line in enumerate(lines) if "--mode=VALUE" in line)
    column = lines[first].index("How to run:")
    assert lines[first + 1] == " " * column + "  fast or slow."
    assert lines[first + 2] == " " * column + "(default: fast)"


def test_load_or_exit_help_prints_usage_and_exits_zero() -> None:
    """This test ensures that `--help` prints the usage to stdout and exits 0, even beside a
    missing required flag and an unknown one."""
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(SystemExit) as exit_:
        load_or_exit(DaemonFlags, [ARGV0, "--bogus", "--help"], {}, stdout=out, stderr=err)
    assert exit_.value.code == 0
    assert out.getvalue().startswith("Usage: mesos-daemon [options]\n\n")
    assert "Port to listen on. (default: 5050)" in out.getvalue()
    assert err.getvalue() == ""


def test_load_or_exit_bad_flag_prints_and_exits_one() -> None:
    """This test ensures that a bad flag prints `<prog>: <message>` and a pointer to
    `--help` to stderr and exits 1."""
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(SystemExit) as exit_:
        load_or_exit(
            DaemonFlags, [ARGV0, "--work_dir=/w", "--port=abc"], {}, stdout=out, stderr=err
        )
    assert exit_.value.code == 1
    lines = err.getvalue().splitlines()
    assert lines[0] == "mesos-daemon: Failed to load flag 'port': invalid integer 'abc'"
    assert "--help" in lines[1]
    assert out.getvalue() == ""


def test_load_or_exit_returns_flags_and_prints_warnings() -> None:
    """This test ensures that good flags come back typed, with deprecation warnings on
    stderr."""
    err = io.StringIO()
    flags = load_or_exit(
        DaemonFlags,
        [ARGV0, "--slave_ping_timeout=5secs"],
        {"MESOS_WORK_DIR": "/w"},
        stderr=err,
    )
    assert flags.work_dir == "/w" and flags.agent_ping_timeout == 5.0
    assert err.getvalue() == (
        "mesos-daemon: warning: Loaded deprecated flag 'slave_ping_timeout'; "
        "use 'agent_ping_timeout' instead\n"
    )


def test_flags_combine_through_inheritance() -> None:
    """This test ensures that a flags class inherits the flags of its bases, like stout's
    `Flags<A, B>`, and that constructor overrides set typed values."""

    class LoggingFlags(Flags):
        log_dir = Flag(PATH, help="Where to log.")

    class AgentFlags(LoggingFlags):
        port = Flag(int, default=5051)

    flags = AgentFlags.load(["agent", "--log_dir=/l", "--port=1"], {})
    assert (flags.log_dir, flags.port) == ("/l", 1)
    assert AgentFlags(port=9).port == 9
    with pytest.raises(FlagError, match="Unknown flag 'nope'"):
        AgentFlags(nope=1)


def test_bad_declarations_fail_at_class_creation() -> None:
    """This test ensures that declaration mistakes (a reserved `no-` name, two flags with one
    spelling, a default that does not parse, a required flag with a default) are refused
    when the class is defined."""
    with pytest.raises(TypeError, match="reserved 'no-' prefix"):

        class A(Flags):
            x = Flag(int, name="no-x")

    with pytest.raises(TypeError, match="Duplicate flag 'x'"):

        class B(Flags):
            x = Flag(int)
            y = Flag(int, deprecated_name="x")

    with pytest.raises(TypeError, match="Bad default for flag 'timeout'"):

        class C(Flags):
            timeout = Flag(DURATION, default="15")

    with pytest.raises(TypeError, match="required flag cannot have a default"):
        Flag(int, default=1, required=True)


def test_validators_may_raise_value_error() -> None:
    """This test ensures that a validator can refuse a value by raising `ValueError` as well
    as by returning a message, and that validators run on defaults too."""

    def even(value: int) -> None:
        if value % 2:
            raise ValueError(f"{value} is odd")

    class F(Flags):
        n = Flag(int, default=3, validator=even)

    with pytest.raises(FlagError, match="Invalid value for flag 'n': 3 is odd"):
        F.load(["f"], {})
    assert F.load(["f", "--n=4"], {}).n == 4
