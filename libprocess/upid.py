"""Process addresses: `UPID` (`id@ip:port`) and `ID.generate`.

Both are plain values, safe to share between threads.
"""

from __future__ import annotations

import itertools
import threading
from typing import Any

__all__ = ["ID", "UPID", "UPIDError"]


class UPIDError(ValueError):
    """A string that is not `id@ip:port`."""


class UPID:
    """The address of a process: `id@host:port`, as libprocess writes it.

    `UPID("master@127.0.0.1:5050")` parses; `UPID("master", "127.0.0.1", 5050)` builds;
    `UPID()` is the empty address (falsy), used where Mesos leaves a pid unset. Values are
    immutable, hashable and compare by their three parts.
    """

    __slots__ = ("_hash", "host", "id", "port")

    _hash: int

    id: str
    host: str
    port: int

    def __init__(self, id_or_text: str | UPID = "", host: str | None = None,
                 port: int | None = None) -> None:
        if isinstance(id_or_text, UPID):
            ident, h, p = id_or_text.id, id_or_text.host, id_or_text.port
        elif host is None and port is None:
            ident, h, p = _parse(id_or_text)
        else:
            ident, h, p = id_or_text, host or "", int(port or 0)
            if "@" in ident:
                raise UPIDError(f"Process id {ident!r} must not contain '@'")
        object.__setattr__(self, "id", ident)
        object.__setattr__(self, "host", h)
        object.__setattr__(self, "port", p)
        object.__setattr__(self, "_hash", hash((ident, h, p)))

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("UPID is immutable")

    @property
    def address(self) -> tuple[str, int]:
        """The transport address `(host, port)` the process listens on."""
        return (self.host, self.port)

    def __str__(self) -> str:
        if not self.id and not self.host:
            return ""
        return f"{self.id}@{self.host}:{self.port}"

    def __repr__(self) -> str:
        return f"UPID({str(self)!r})"

    def __bool__(self) -> bool:
        return bool(self.id) and bool(self.host)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, UPID):
            return (self.id, self.host, self.port) == (other.id, other.host, other.port)
        if isinstance(other, str):
            return str(self) == other
        return NotImplemented

    def __lt__(self, other: UPID) -> bool:
        return (self.id, self.host, self.port) < (other.id, other.host, other.port)

    def __hash__(self) -> int:
        return self._hash

    def __reduce__(self) -> tuple[Any, ...]:
        return (UPID, (str(self),))


def _parse(text: str) -> tuple[str, str, int]:
    if text == "":
        return ("", "", 0)
    if not isinstance(text, str):
        raise UPIDError(f"Expected a string 'id@ip:port', got {type(text).__name__}")
    ident, at, rest = text.partition("@")
    host, colon, port_text = rest.rpartition(":")
    if not at or not colon or not ident or not host:
        raise UPIDError(f"Bad process address {text!r}: expected 'id@ip:port'")
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise UPIDError(f"Bad port in process address {text!r}")
    if any(c.isspace() or c == "\0" for c in text):
        raise UPIDError(f"Bad process address {text!r}: contains whitespace or NUL")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return (ident, host, int(port_text))


class ID:
    """`ID.generate("slave")` gives `slave(1)`, `slave(2)`, ...: one counter per prefix."""

    _lock = threading.Lock()
    _counters: dict[str, itertools.count[int]] = {}

    @classmethod
    def generate(cls, prefix: str = "") -> str:
        with cls._lock:
            counter = cls._counters.setdefault(prefix, itertools.count(1))
            return f"{prefix}({next(counter)})"
