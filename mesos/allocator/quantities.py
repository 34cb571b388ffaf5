"""Scalar resource quantities, the currency of the sorters.

Port of `ResourceQuantities` (`src/common/resource_quantities.hpp`): a map from resource name
(`cpus`, `mem`, `disk`, `gpus`, `ports` counted as a number of ports) to a non-negative amount.
Pure values: no threads, no time, no I/O.

Amounts follow Mesos's `Value::Scalar` arithmetic: three decimal digits of precision, with every
sum and difference computed in fixed point (thousandths) so that adding and then subtracting the
same amounts gives back exactly what was there. Entries whose amount is zero are absent.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

__all__ = ["ResourceQuantities"]

# Mesos keeps three decimal digits of scalar precision (see `Value::Scalar` in `values.cpp`).
_PRECISION = 1000


def _to_fixed(amount: float) -> int:
    # Round half away from zero like `std::llround` (amounts here are never negative).
    return math.floor(amount * _PRECISION + 0.5)


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

    def __init__(
        self, quantities: Mapping[str, float] | Iterable[tuple[str, float]] = (), /
    ) -> None:
        super().__init__()
        items = quantities.items() if isinstance(quantities, Mapping) else quantities
        for name, amount in items:
            if not isinstance(name, str) or not name:
                raise ValueError(f"Invalid resource name {name!r}: expected a non-empty string")
            if isinstance(amount, bool) or not isinstance(amount, int | float):
                raise ValueError(
                    f"Invalid quantity {name}:{amount!r}: expected a number"
                )
            if not math.isfinite(amount) or amount < 0:
                raise ValueError(
                    f"Invalid quantity {name}:{amount!r}: expected a finite amount >= 0"
                )
            # Repeated names add up, like `ResourceQuantities::fromScalarResources`.
            fixed = _to_fixed(self.get(name, 0.0)) + _to_fixed(amount)
            if fixed:
                self[name] = fixed / _PRECISION

    @classmethod
    def of(cls, quantities: Mapping[str, float]) -> ResourceQuantities:
        """Returns `quantities` itself if it already is a `ResourceQuantities`, else a
        validated copy."""
        if isinstance(quantities, ResourceQuantities):
            return quantities
        return cls(quantities)

    def copy(self) -> ResourceQuantities:
        new = ResourceQuantities()
        dict.update(new, self)
        return new

    def contains(self, other: Mapping[str, float]) -> bool:
        """True when every amount in `other` is at most the amount of the same name here."""
        for name, amount in other.items():
            if _to_fixed(amount) > _to_fixed(self.get(name, 0.0)):
                return False
        return True

    def __iadd__(self, other: Mapping[str, float]) -> ResourceQuantities:
        for name, amount in ResourceQuantities.of(other).items():
            self[name] = (_to_fixed(self.get(name, 0.0)) + _to_fixed(amount)) / _PRECISION
        return self

    def __add__(self, other: Mapping[str, float]) -> ResourceQuantities:
        new = self.copy()
        new += other
        return new

    def __isub__(self, other: Mapping[str, float]) -> ResourceQuantities:
        other = ResourceQuantities.of(other)
        if not self.contains(other):
            raise ValueError(f"Cannot subtract {other} from {self}: not contained")
        for name, amount in other.items():
            fixed = _to_fixed(self[name]) - _to_fixed(amount)
            if fixed:
                self[name] = fixed / _PRECISION
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
