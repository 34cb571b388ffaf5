"""Scalar resource quantities, the currency of the sorters.

Port of `ResourceQuantities` (`src/common/resource_quantities.hpp`): a map from resource name
(`cpus`, `mem`, `disk`, `gpus`, `ports` counted as a number of ports) to a non-negative amount.
Pure values: no threads, no time, no I/O.

Amounts follow Mesos's `Value::Scalar` arithmetic: three decimal digits of precision, with every
sum and difference computed in fixed point (thousandths), so that adding and then subtracting the
same amounts gives back exactly what was there. Entries whose amount is zero are absent.
`to_fixed` and `from_fixed` convert to and from that fixed-point form (`dict[str, int]` of
thousandths), which hot loops such as the DRF sorter keep internally.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

__all__ = ["PRECISION", "ResourceQuantities", "from_fixed", "to_fixed"]

# Mesos keeps three decimal digits of scalar precision (see `Value::Scalar` in `values.cpp`).
PRECISION = 1000


def to_fixed(quantities: Mapping[str, float]) -> dict[str, int]:
    """Validates `quantities` and returns them in thousandths, rounded half up, without the
    entries that round to zero. Raises `ValueError` for an empty or non-string name, or an
    amount that is not a finite number >= 0."""
    fixed: dict[str, int] = {}
    for name, amount in quantities.items():
        kind = type(amount)
        # `amount >= 0` is false for NaN; the comparison with `math.inf` rejects infinity.
        if (kind is float or kind is int) and 0 <= amount < math.inf and type(name) is str and name:
            value = int(amount * PRECISION + 0.5)
            if value:
                fixed[name] = value
            continue
        if not isinstance(name, str) or not name:
            raise ValueError(f"Invalid resource name {name!r}: expected a non-empty string")
        if isinstance(amount, bool) or not isinstance(amount, int | float):
            raise ValueError(f"Invalid quantity {name}:{amount!r}: expected a number")
        raise ValueError(f"Invalid quantity {name}:{amount!r}: expected a finite amount >= 0")
    return fixed


def from_fixed(fixed: Mapping[str, int]) -> ResourceQuantities:
    """The `ResourceQuantities` of amounts in thousandths (as made by `to_fixed`)."""
    quantities = ResourceQuantities()
    for name, value in fixed.items():
        if value:
            dict.__setitem__(quantities, name, value / PRECISION)
    return quantities


def _format(amount: float) -> str:
    return f"{amount:.3f}".rstrip("0").rstrip(".")


class ResourceQuantities(dict[str, float]):
    """Non-negative scalar amounts of resources by name, e.g. `{"cpus": 2.0, "mem": 1024.0}`.

    A plain value owned by whoever holds it (no thread, no locking). Construction validates
    every amount (finite, not negative) and rounds it to thousandths; `+` adds, `-` subtracts
    and fails loudly (`ValueError`) when the right side is not contained in the left side:
    a quantity never goes below zero. Writing through `dict` methods bypasses the validation;
    don't.
    """

    __slots__ = ()

    def __init__(self, quantities: Mapping[str, float] | None = None, /) -> None:
        super().__init__()
        if quantities:
            for name, value in to_fixed(quantities).items():
                self[name] = value / PRECISION

    def copy(self) -> ResourceQuantities:
        new = ResourceQuantities()
        dict.update(new, self)
        return new

    def contains(self, other: Mapping[str, float]) -> bool:
        """True when every amount in `other` is at most the amount of the same name here."""
        mine = to_fixed(self)
        return all(value <= mine.get(name, 0) for name, value in to_fixed(other).items())

    def __iadd__(self, other: Mapping[str, float]) -> ResourceQuantities:
        mine = to_fixed(self)
        for name, value in to_fixed(other).items():
            self[name] = (mine.get(name, 0) + value) / PRECISION
        return self

    def __add__(self, other: Mapping[str, float]) -> ResourceQuantities:
        new = self.copy()
        new += other
        return new

    def __isub__(self, other: Mapping[str, float]) -> ResourceQuantities:
        mine = to_fixed(self)
        theirs = to_fixed(other)
        if any(value > mine.get(name, 0) for name, value in theirs.items()):
            raise ValueError(f"Cannot subtract {from_fixed(theirs)} from {self}: not contained")
        for name, value in theirs.items():
            left = mine[name] - value
            if left:
                self[name] = left / PRECISION
            else:
                del self[name]
        return self

    def __sub__(self, other: Mapping[str, float]) -> ResourceQuantities:
        new = self.copy()
        new -= other
        return new

    def __str__(self) -> str:
        # Mesos's text form, e.g. `cpus:2;mem:1024`; `{}` when empty.
        if not self:
            return "{}"
        return ";".join(f"{name}:{_format(amount)}" for name, amount in sorted(self.items()))

    def __repr__(self) -> str:
        return f"ResourceQuantities({dict.__repr__(self)})"
