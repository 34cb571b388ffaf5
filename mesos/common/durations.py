"""Mesos durations: `15secs`, `10mins`, `500ms`, `1.5hrs`, to float seconds and back.

Port of stout's `Duration::parse` and `operator<<(std::ostream&, const Duration&)`
(`3rdparty/stout/include/stout/duration.hpp`). Pure functions: no threads, no time, no I/O.

A duration is written as a non-negative decimal number immediately followed by one unit:
`ns`, `us`, `ms`, `secs`, `mins`, `hrs`, `days` or `weeks` (no space, no sign, no exponent).
Internally, like stout, a duration is a whole number of nanoseconds; the float-seconds API
rounds to the nearest nanosecond (stout truncates, which turns `2.3secs` into
`2.299999999secs`; rounding keeps what the user typed).

Formatting follows stout 1.12: find the largest unit the duration reaches, then print it in
the next smaller unit if that gives a whole number and the larger one would not, so that the
text reads naturally: `75secs` stays `75secs` (not `1.25mins`), `1.5secs` is `1500ms`,
`90mins` stays `90mins`, 10 days is `10days`, 14 days is `2weeks`, and 1 day 4.5 hours is
`1.1875days` (no smaller whole unit one level down). Numbers get 15 significant digits.
"""

from __future__ import annotations

import math

__all__ = [
    "NANOSECONDS_PER_SECOND",
    "UNITS",
    "format_duration",
    "format_duration_ns",
    "parse_duration",
    "parse_duration_ns",
]

NANOSECONDS_PER_SECOND = 1_000_000_000

_NS = 1
_US = 1000 * _NS
_MS = 1000 * _US
_SECS = 1000 * _MS
_MINS = 60 * _SECS
_HRS = 60 * _MINS
_DAYS = 24 * _HRS
_WEEKS = 7 * _DAYS

# Unit name -> nanoseconds, in the order stout lists them.
UNITS: dict[str, int] = {
    "ns": _NS,
    "us": _US,
    "ms": _MS,
    "secs": _SECS,
    "mins": _MINS,
    "hrs": _HRS,
    "days": _DAYS,
    "weeks": _WEEKS,
}

_EXPECTED = (
    "expected a non-negative number followed by one of the units "
    "'ns', 'us', 'ms', 'secs', 'mins', 'hrs', 'days', 'weeks' (e.g. '15secs')"
)

_NUMBER_CHARS = frozenset("0123456789.")

# The largest value an `int64_t` nanosecond count can hold (`Duration::max()`).
_INT64_MAX = 2**63 - 1


def parse_duration_ns(text: str) -> int:
    """Parses a Mesos duration (`15secs`) into a whole number of nanoseconds.

    Port of `Duration::parse`: the number is the leading run of digits and dots, the unit is
    everything after it. Raises `ValueError` naming the bad text and the expected form.
    """
    if not isinstance(text, str):
        raise ValueError(f"Invalid duration {text!r}: {_EXPECTED}")

    index = 0
    while index < len(text) and text[index] in _NUMBER_CHARS:
        index += 1

    if index == len(text):
        # Either empty, or a bare number with no unit (stout: "Invalid duration").
        raise ValueError(f"Invalid duration '{text}': {_EXPECTED}")

    number, unit = text[:index], text[index:]
    if not number:
        raise ValueError(f"Invalid duration '{text}': {_EXPECTED}")

    try:
        value = float(number)
    except ValueError:
        raise ValueError(
            f"Invalid duration '{text}': '{number}' is not a number; {_EXPECTED}"
        ) from None

    factor = UNITS.get(unit)
    if factor is None:
        raise ValueError(f"Invalid duration '{text}': unknown unit '{unit}'; {_EXPECTED}")

    nanos = round(value * factor)
    if nanos > _INT64_MAX:
        raise ValueError(
            f"Invalid duration '{text}': out of the range a duration can represent "
            f"(at most {_INT64_MAX}ns)"
        )
    return nanos


def parse_duration(text: str) -> float:
    """Parses a Mesos duration (`15secs`, `1.5hrs`, `500ms`) into float seconds.

    Raises `ValueError` naming the bad text and the expected form.
    """
    return parse_duration_ns(text) / NANOSECONDS_PER_SECOND


def _number(value: float) -> str:
    # stout streams doubles with `digits10` (15) significant digits in the default float
    # format, which is C's `%.15g`.
    return f"{value:.15g}"


def format_duration_ns(nanos: int) -> str:
    """Formats a nanosecond count the way stout's `operator<<` does (`60000000000` ->
    `1mins`, `75000000000` -> `75secs`)."""
    if not isinstance(nanos, int) or isinstance(nanos, bool):
        raise ValueError(f"Invalid duration {nanos!r}: expected a whole number of nanoseconds")

    sign = ""
    if nanos < 0:
        sign = "-"
        nanos = -nanos

    def _in(unit: int, name: str) -> str:
        if unit == _NS:
            return f"{sign}{nanos}ns"
        return f"{sign}{_number(nanos / unit)}{name}"

    # First find the bucket the duration falls into, then prefer the next smaller unit when
    # the bucket's unit would need a fraction and the smaller one would not.
    if nanos < _US:
        return _in(_NS, "ns")
    if nanos < _MS:
        if nanos % _US != 0:
            return _in(_NS, "ns")
        return _in(_US, "us")
    buckets = (
        (_SECS, _MS, "ms", _US, "us"),
        (_MINS, _SECS, "secs", _MS, "ms"),
        (_HRS, _MINS, "mins", _SECS, "secs"),
        (_DAYS, _HRS, "hrs", _MINS, "mins"),
        (_WEEKS, _DAYS, "days", _HRS, "hrs"),
    )
    for limit, unit, name, smaller, smaller_name in buckets:
        if nanos < limit:
            if nanos % unit != 0 and nanos % smaller == 0:
                return _in(smaller, smaller_name)
            return _in(unit, name)
    if nanos % _WEEKS != 0 and nanos % _DAYS == 0:
        return _in(_DAYS, "days")
    return _in(_WEEKS, "weeks")


def format_duration(seconds: float) -> str:
    """Formats float seconds as a Mesos duration (`15.0` -> `15secs`, `0.5` -> `500ms`).

    The seconds are rounded to the nearest nanosecond first. Raises `ValueError` for values
    that are not finite numbers.
    """
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        raise ValueError(f"Invalid duration {seconds!r}: expected a number of seconds")
    if not math.isfinite(seconds):
        raise ValueError(f"Invalid duration {seconds!r}: expected a finite number of seconds")
    return format_duration_ns(round(seconds * NANOSECONDS_PER_SECOND))
