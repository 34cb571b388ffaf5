"""Mesos-style command line flags, shared by every daemon and tool.

Port of stout's flags framework (`3rdparty/stout/include/stout/flags/`). A daemon declares
its flags as class attributes of a `Flags` subclass and loads them from the command line and
the environment:

    class MasterFlags(Flags):
        port = Flag(int, default=5050, help="Port to listen on.")
        work_dir = Flag(PATH, required=True, help="Where to store the registry.")
        agent_ping_timeout = Flag(
            DURATION, default="15secs", deprecated_name="slave_ping_timeout",
            help="How long the master waits for a PONG from an agent.")

    flags = load_or_exit(MasterFlags, sys.argv, os.environ)
    flags.port                # 5050 (an int)
    flags.agent_ping_timeout  # 15.0 (float seconds)

Spelling, as in Mesos:

- `--name=value` on the command line. `--name value` is *not* understood: `--name` alone is
  a boolean switch (`--name` means true, `--no-name` means false) and any other word is a
  positional argument. Parsing stops at `--`. Names are case-insensitive.
- Environment variables `MESOS_NAME` (or `MESOS_name`; the prefix is configurable) give
  values below the command line: a flag set on the command line ignores its variable.
- A value `file:///some/path` is read from that file (trailing whitespace stripped), except
  for `PATH` flags, whose value is the path itself, as in stout's `fetch<T>`.
- `--help` prints the usage (each flag with its help and default) and exits 0.

Every failure is a `FlagError` with a one-line message that names the flag:
`Failed to load flag 'port': invalid integer 'abc'`.

Pure code apart from `load_or_exit` (which prints and exits) and `file://` reads.
"""

from __future__ import annotations

import json as _json
import os
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, NoReturn, TextIO, TypeVar

from mesos.common.bytes import format_bytes, parse_bytes
from mesos.common.durations import format_duration, parse_duration

__all__ = [
    "BOOL",
    "BYTES",
    "DURATION",
    "FLOAT",
    "INT",
    "JSON",
    "PATH",
    "STRING",
    "Flag",
    "FlagError",
    "FlagType",
    "Flags",
    "load_or_exit",
]

DEFAULT_ENV_PREFIX = "MESOS_"


class FlagError(ValueError):
    """A flag could not be loaded or validated; the message is one line naming the flag."""


# ---------------------------------------------------------------------------------------
# Flag types.


@dataclass(frozen=True)
class FlagType:
    """How a flag's text becomes a value and back.

    `parse` raises `ValueError` with a short reason naming the bad text; `format` gives the
    string shown by `/flags` and in `--help` defaults. `fetch` says whether `file://` values
    are read from the file (stout does, except for `Path` flags).
    """

    name: str
    parse: Callable[[str], Any]
    format: Callable[[Any], str]
    fetch: bool = True
    boolean: bool = False


_INT_RE = re.compile(r"[+-]?[0-9]+")
_FLOAT_RE = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def _parse_bool(text: str) -> bool:
    # stout accepts exactly these four spellings.
    if text in ("true", "1"):
        return True
    if text in ("false", "0"):
        return False
    raise ValueError(f"invalid boolean '{text}' (expected true, false, 1 or 0)")


def _parse_int(text: str) -> int:
    if not _INT_RE.fullmatch(text):
        raise ValueError(f"invalid integer '{text}'")
    return int(text)


def _parse_float(text: str) -> float:
    if not _FLOAT_RE.fullmatch(text):
        raise ValueError(f"invalid number '{text}'")
    return float(text)


def _format_float(value: float) -> str:
    # `stringify(double)` streams with the default precision of 6 significant digits.
    return f"{value:g}"


def _parse_json(text: str) -> Any:
    try:
        return _json.loads(text)
    except ValueError as e:
        raise ValueError(f"invalid JSON '{text}': {e}") from None


BOOL = FlagType("bool", _parse_bool, lambda v: "true" if v else "false", boolean=True)
INT = FlagType("int", _parse_int, str)
FLOAT = FlagType("float", _parse_float, _format_float)
STRING = FlagType("string", str, str)
PATH = FlagType("path", str, str, fetch=False)
DURATION = FlagType("duration", parse_duration, format_duration)
BYTES = FlagType("bytes", parse_bytes, format_bytes)
JSON = FlagType("json", _parse_json, lambda v: _json.dumps(v, separators=(",", ":")))

_PYTHON_TYPES: dict[type, FlagType] = {bool: BOOL, int: INT, float: FLOAT, str: STRING}


# ---------------------------------------------------------------------------------------
# Declaring flags.

_T = TypeVar("_T", bound="Flags")

Validator = Callable[[Any], "str | None"]


class Flag:
    """One declared flag: a descriptor giving the typed value on a `Flags` instance.

    `type` is `bool`, `int`, `float`, `str` or a `FlagType` (`PATH`, `DURATION`, `BYTES`,
    `JSON`, or your own). `default` is a typed value or its text (`"15secs"`); a flag with no
    default and not `required` is optional: its value is `None` until given, and it is left
    out of `/flags`. `validator(value)` returns an error string (or raises `ValueError`) to
    refuse a value; it runs on every load, defaults included, as stout's validators do.
    `deprecated_name` is an older spelling still accepted, with a warning.
    """

    def __init__(
        self,
        type: type | FlagType,
        *,
        default: Any = None,
        help: str = "",
        required: bool = False,
        validator: Validator | None = None,
        deprecated_name: str | None = None,
        name: str | None = None,
    ) -> None:
        if isinstance(type, FlagType):
            self.type = type
        elif type in _PYTHON_TYPES:
            self.type = _PYTHON_TYPES[type]
        else:
            raise TypeError(
                f"Unsupported flag type {type!r}: use bool, int, float, str or a FlagType"
            )
        if required and default is not None:
            raise TypeError("A required flag cannot have a default")
        self.name: str = name or ""
        self.help = help
        self.required = required
        self.validator = validator
        self.deprecated_name = deprecated_name
        self._raw_default = default
        self.default: Any = None

    def __set_name__(self, owner: type, attribute: str) -> None:
        if not self.name:
            self.name = attribute
        self.attribute = attribute

    def _resolve_default(self) -> None:
        # Called when the owning class is created (errors in `__set_name__` would be
        # wrapped in `RuntimeError`).
        default = self._raw_default
        if isinstance(default, str) and self.type is not STRING and self.type is not PATH:
            try:
                default = self.type.parse(default)
            except ValueError as e:
                raise TypeError(f"Bad default for flag '{self.name}': {e}") from None
        self.default = default

    def __get__(self, instance: Flags | None, owner: type | None = None) -> Any:
        if instance is None:
            return self
        return instance._values[self.name]

    def __set__(self, instance: Flags, value: Any) -> None:
        instance._values[self.name] = value

    @property
    def optional(self) -> bool:
        """True for a flag with no default: its value may be `None`."""
        return self.default is None

    def stringify(self, value: Any) -> str:
        return self.type.format(value)

    def help_text(self) -> str:
        """The help with the default appended, as stout's `add` does."""
        text = self.help
        if self.default is not None:
            # On the same line unless the help ends with a newline.
            text += " (default: " if text and not text.endswith(("\n", "\r")) else "(default: "
            text += self.stringify(self.default) + ")"
        return text


# ---------------------------------------------------------------------------------------
# A set of flags.


class Flags:
    """Base of every flags class; subclasses declare `Flag` attributes.

    Subclasses combine like stout's `Flags<A, B>`: a class inherits every flag of its bases.
    An instance holds the typed values; `Flags(**values)` starts from the defaults with some
    values replaced (typed, not text: handy in tests), `Flags.load(argv, env)` parses.
    """

    help = Flag(bool, default=False, help="Prints this help message")

    # Set for each class by `__init_subclass__`: flags by name, and every accepted spelling
    # (names and deprecated names) to the flag's name.
    _flags: ClassVar[dict[str, Flag]] = {}
    _spellings: ClassVar[dict[str, str]] = {}

    # Printed above the flag list by `usage()`; `None` means "Usage: <prog> [options]".
    usage_message: ClassVar[str | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._collect()

    @classmethod
    def _collect(cls) -> None:
        flags: dict[str, Flag] = {}
        spellings: dict[str, str] = {}
        for klass in reversed(cls.__mro__):
            for value in vars(klass).values():
                if not isinstance(value, Flag):
                    continue
                value._resolve_default()
                names = [value.name]
                if value.deprecated_name is not None:
                    if value.deprecated_name == value.name:
                        raise TypeError(
                            f"Flag '{value.name}' has a deprecated name equal to its name"
                        )
                    names.append(value.deprecated_name)
                # A subclass may redeclare a flag of a base under the same name.
                previous = flags.get(value.name)
                if previous is not None:
                    for spelling in [previous.name, previous.deprecated_name]:
                        if spelling is not None:
                            spellings.pop(spelling, None)
                for spelling in names:
                    if spelling.startswith("no-"):
                        raise TypeError(
                            f"Flag '{spelling}' starts with the reserved 'no-' prefix"
                        )
                    if spelling != spelling.lower():
                        raise TypeError(f"Flag '{spelling}' must be lower case")
                    if spelling in spellings:
                        raise TypeError(f"Duplicate flag '{spelling}'")
                    spellings[spelling] = value.name
                flags[value.name] = value
        cls._flags = dict(sorted(flags.items()))
        cls._spellings = spellings

    def __init__(self, **values: Any) -> None:
        self._values: dict[str, Any] = {
            name: flag.default for name, flag in self._flags.items()
        }
        # The spelling each flag was loaded with (its name or its deprecated name).
        self._loaded: dict[str, str] = {}
        self.program_name = ""
        self.positional: list[str] = []
        self.warnings: list[str] = []
        self._prefix: str | None = DEFAULT_ENV_PREFIX
        for name, value in values.items():
            if name not in self._flags:
                raise FlagError(f"Unknown flag '{name}'")
            self._values[name] = value

    # -- loading ------------------------------------------------------------------------

    @classmethod
    def load(
        cls: type[_T],
        argv: Sequence[str] | None = None,
        env: Mapping[str, str] | None = None,
        *,
        prefix: str | None = DEFAULT_ENV_PREFIX,
        unknowns: bool = False,
        duplicates: bool = False,
    ) -> _T:
        """Loads flags from `argv` (program name first, as `sys.argv`) and `env`.

        Port of `FlagsBase::load(prefix, argc, argv, unknowns, duplicates)`. `prefix=None`
        ignores the environment. With `unknowns`, unknown flags are skipped instead of being
        an error; with `duplicates`, a flag given twice keeps the last value. Positional
        arguments (and everything after `--`) are kept in `positional`. Raises `FlagError`.
        """
        flags = cls()
        flags._load(
            list(sys.argv if argv is None else argv),
            os.environ if env is None else env,
            prefix=prefix,
            unknowns=unknowns,
            duplicates=duplicates,
        )
        return flags

    def _load(
        self,
        argv: list[str],
        env: Mapping[str, str],
        *,
        prefix: str | None,
        unknowns: bool,
        duplicates: bool,
    ) -> None:
        self.program_name = os.path.basename(argv[0]) if argv else ""
        self._prefix = prefix

        cmd_values: dict[str, str | None] = {}
        args = iter(argv[1:])
        for raw in args:
            arg = raw.strip()
            if arg == "--":
                self.positional.extend(args)
                break
            if not arg.startswith("--"):
                self.positional.append(raw)
                continue
            name, eq, text = arg[2:].partition("=")
            name = name.lower()
            value = text if eq else None
            if not duplicates and (
                name in cmd_values or (name.startswith("no-") and name[3:] in cmd_values)
                or ("no-" + name) in cmd_values
            ):
                raise FlagError(f"Duplicate flag '{name}' on command line")
            cmd_values[name] = value

        env_values: dict[str, str | None] = {}
        if prefix is not None:
            for key, env_text in env.items():
                if not key.startswith(prefix):
                    continue
                # `PREFIX_NAME` and `PREFIX_name` both mean the flag `name`.
                name = key[len(prefix):].lower()
                bare = name[3:] if name.startswith("no-") else name
                if bare in self._spellings:
                    env_values[name] = env_text

        # The command line wins over the environment flag by flag (a `--no-name` on the
        # command line hides `MESOS_NAME` too).
        on_command_line = {self._spellings.get(self._bare(n)) for n in cmd_values}
        values = dict(cmd_values)
        for name, env_value in env_values.items():
            if self._spellings.get(self._bare(name)) not in on_command_line:
                values[name] = env_value

        for name in sorted(values):
            self._load_one(name, values[name], unknowns=unknowns)

        self._check()

    @staticmethod
    def _bare(name: str) -> str:
        return name[3:] if name.startswith("no-") else name

    def _load_one(self, name: str, value: str | None, *, unknowns: bool) -> None:
        negated = name.startswith("no-")
        spelling = name[3:] if negated else name
        flag_name = self._spellings.get(spelling)
        if flag_name is None:
            if unknowns:
                return
            via = f" via '{name}'" if negated else ""
            raise FlagError(f"Failed to load unknown flag '{spelling}'{via}")
        flag = self._flags[flag_name]

        if flag_name in self._loaded:
            raise FlagError(
                f"Flag '{flag_name}' is already loaded via name '{self._loaded[flag_name]}'"
            )

        if not flag.type.boolean:
            if negated:
                raise FlagError(f"Failed to load non-boolean flag '{spelling}' via '{name}'")
            if value is None:
                raise FlagError(
                    f"Failed to load flag '{spelling}': missing value; expected --{spelling}=VALUE"
                )
            text = value
        elif value is None or value == "":
            text = "false" if negated else "true"
        elif negated:
            raise FlagError(
                f"Failed to load boolean flag '{spelling}' via '{name}' with value '{value}'"
            )
        else:
            text = value

        try:
            self._values[flag_name] = self._fetch(flag, text)
        except ValueError as e:
            raise FlagError(f"Failed to load flag '{spelling}': {_one_line(str(e))}") from None

        self._loaded[flag_name] = spelling
        if spelling == flag.deprecated_name:
            self.warnings.append(
                f"Loaded deprecated flag '{spelling}'; use '{flag.name}' instead"
            )

    @staticmethod
    def _fetch(flag: Flag, text: str) -> Any:
        # Port of `flags::fetch<T>`: a `file://` value is read from that file first.
        if flag.type.fetch and text.startswith("file://"):
            path = text[len("file://"):]
            try:
                with open(path, encoding="utf-8") as f:
                    text = f.read()
            except OSError as e:
                raise ValueError(
                    f"error reading file '{path}': {e.strerror or e}"
                ) from None
            except UnicodeDecodeError:
                raise ValueError(f"error reading file '{path}': not UTF-8 text") from None
            text = text.rstrip()
        return flag.type.parse(text)

    def _check(self) -> None:
        for name, flag in self._flags.items():
            if flag.required and self._values[name] is None:
                env = "" if self._prefix is None else f" (or {self._prefix}{name.upper()})"
                raise FlagError(f"Missing required flag '{name}'; expected --{name}=VALUE{env}")
        self.validate()

    def validate(self) -> None:
        """Runs every flag's validator (stout validates all flags after loading)."""
        for name, flag in self._flags.items():
            if flag.validator is None:
                continue
            value = self._values[name]
            try:
                error = flag.validator(value)
            except ValueError as e:
                error = str(e)
            if error:
                raise FlagError(f"Invalid value for flag '{name}': {_one_line(error)}")

    # -- reading ------------------------------------------------------------------------

    def is_loaded(self, name: str) -> bool:
        """True if the flag was given on the command line or in the environment."""
        return name in self._loaded

    def effective_name(self, name: str) -> str:
        """The spelling the flag was loaded with (its deprecated name if that was used)."""
        return self._loaded.get(name, name)

    def as_dict(self) -> dict[str, str]:
        """Every flag with a value, as strings, keyed by effective name (`/flags` body)."""
        result: dict[str, str] = {}
        for name, flag in self._flags.items():
            value = self._values[name]
            if value is not None:
                result[self.effective_name(name)] = flag.stringify(value)
        return result

    def flags_json(self) -> dict[str, dict[str, str]]:
        """The `/flags` endpoint's JSON object: `{"flags": {name: value}}`."""
        return {"flags": self.as_dict()}

    def usage(self, message: str | None = None) -> str:
        """The help text: an optional message, the usage line, then one line per flag.

        Port of `FlagsBase::usage`: flags sorted by name, help in a padded second column.
        """
        pad = 5
        out = ""
        if message is not None:
            out += message + "\n\n"
        if self.usage_message is None:
            out += f"Usage: {self.program_name or 'PROGRAM'} [options]\n\n"
        else:
            out += self.usage_message + "\n\n"

        col1: dict[str, str] = {}
        for name, flag in self._flags.items():
            if flag.type.boolean:
                text = f"  --[no-]{name}"
                if flag.deprecated_name:
                    text += f", --[no-]{flag.deprecated_name}"
            else:
                text = f"  --{name}=VALUE"
                if flag.deprecated_name:
                    text += f", --{flag.deprecated_name}=VALUE"
            col1[name] = text
        width = max((len(t) for t in col1.values()), default=0)

        for name, flag in self._flags.items():
            lines = re.split(r"[\n\r]", flag.help_text())
            out += col1[name].ljust(width + pad) + lines[0] + "\n"
            for line in lines[1:]:
                out += " " * (width + pad) + line + "\n"
        return out

    def __str__(self) -> str:
        # `operator<<(std::ostream&, const FlagsBase&)`: `--name="value"` for set values.
        return " ".join(f'--{name}="{value}"' for name, value in self.as_dict().items())

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self})"


Flags._collect()


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _help_requested(argv: Sequence[str]) -> bool:
    for raw in argv[1:]:
        arg = raw.strip()
        if arg == "--":
            return False
        if arg.lower() in ("--help", "--help=true", "--help=1"):
            return True
    return False


def load_or_exit(
    flags_cls: type[_T],
    argv: Sequence[str] | None = None,
    env: Mapping[str, str] | None = None,
    *,
    prefix: str | None = DEFAULT_ENV_PREFIX,
    unknowns: bool = False,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> _T:
    """Loads the flags of a daemon's `main`, or prints and exits like a Mesos binary.

    `--help` prints the usage to stdout and exits 0 (even beside bad flags). A bad flag
    prints `<prog>: <message>` and a pointer to `--help` to stderr and exits 1. Deprecated
    flag names print a warning to stderr and load.
    """
    argv = list(sys.argv if argv is None else argv)
    out = sys.stdout if stdout is None else stdout
    err = sys.stderr if stderr is None else stderr
    program = os.path.basename(argv[0]) if argv else ""

    if _help_requested(argv):
        flags = flags_cls()
        flags.program_name = program
        out.write(flags.usage())
        out.flush()
        raise SystemExit(0)

    try:
        flags = flags_cls.load(argv, env, prefix=prefix, unknowns=unknowns)
    except FlagError as e:
        _fail(err, program, str(e))

    for warning in flags.warnings:
        err.write(f"{program}: warning: {warning}\n")
    err.flush()
    return flags


def _fail(err: TextIO, program: str, message: str) -> NoReturn:
    err.write(f"{program}: {message}\nSee '{program} --help' for the list of flags.\n")
    err.flush()
    raise SystemExit(1)
