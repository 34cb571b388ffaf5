"""Mesos byte sizes: `512MB`, `1GB`, `10KB`, `100B`, `2TB`, to int bytes and back.

Port of stout's `Bytes::parse` and `operator<<(std::ostream&, const Bytes&)`
(`3rdparty/stout/include/stout/bytes.hpp`). Pure functions: no threads, no time, no I/O.

A size is a whole, non-negative number immediately followed by a unit, `B`, `KB`, `MB`, `GB`
or `TB` (binary multiples: `1KB` is 1024 bytes; the unit is case-insensitive, as in stout).
Fractions (`1.5GB`) are refused, as in stout. Formatting raises the unit only while no
information is lost: `1536` formats as `1536B`, `1048576` as `1MB`, `1572864` as `1536KB`.
"""

from __future__ import annotations

__all__ = ["UNITS", "format_bytes", "parse_bytes"]

_B = 1
_KB = 1024 * _B
_MB = 1024 * _KB
_GB = 1024 * _MB
_TB = 1024 * _GB

UNITS: dict[str, int] = {"B": _B, "KB": _KB, "MB": _MB, "GB": _GB, "TB": _TB}

_EXPECTED = (
    "expected a whole non-negative number followed by one of the units "
    "'B', 'KB', 'MB', 'GB', 'TB' (e.g. '512MB')"
)

# stout stores the size in a `uint64_t`.
_UINT64_MAX = 2**64 - 1


def parse_bytes(text: str) -> int:
    """Parses a Mesos byte size (`512MB`) into a number of bytes.

    Raises `ValueError` naming the bad text and the expected form.
    """
    if not isinstance(text, str):
        raise ValueError(f"Invalid bytes {text!r}: {_EXPECTED}")

    index = 0
    while index < len(text) and text[index].isascii() and text[index].isdigit():
        index += 1

    if index < len(text) and text[index] == ".":
        raise ValueError(f"Invalid bytes '{text}': fractional bytes are not allowed; {_EXPECTED}")
    if index == len(text) or index == 0:
        raise ValueError(f"Invalid bytes '{text}': {_EXPECTED}")

    unit = text[index:].upper()
    factor = UNITS.get(unit)
    if factor is None:
        raise ValueError(f"Invalid bytes '{text}': unknown unit '{text[index:]}'; {_EXPECTED}")

    value = int(text[:index]) * factor
    if value > _UINT64_MAX:
        raise ValueError(f"Invalid bytes '{text}': larger than {_UINT64_MAX} bytes")
    return value


def format_bytes(value: int) -> str:
    """Formats a number of bytes the way stout does: the largest unit that loses nothing."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"Invalid bytes {value!r}: expected a whole non-negative number")
    if value == 0 or value % 1024 != 0:
        return f"{value}B"
    if (value // _KB) % 1024 != 0:
        return f"{value // _KB}KB"
    if (value // _MB) % 1024 != 0:
        return f"{value // _MB}MB"
    if (value // _GB) % 1024 != 0:
        return f"{value // _GB}GB"
    return f"{value // _TB}TB"
