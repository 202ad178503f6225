"""Band tables: contiguous, non-overlapping integer ranges → points.

Values are rounded to the chart's precision *before* banding (integers for
RR, SpO2, SBP and HR; tenths of a degree for temperature, banded as integer
tenths), so a value can fall in exactly one band.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

__all__ = ["Band", "BandTable", "round_half_up"]


def round_half_up(value: float, decimals: int = 0) -> int:
    """Round as a chart does (38.05 → 38.1, 90.5 → 91), returned in units of 10**-decimals.

    >>> round_half_up(90.5)
    91
    >>> round_half_up(38.05, 1)
    381
    """
    if not math.isfinite(value):
        raise ValueError(f"cannot band a non-finite value: {value!r}")
    q = Decimal(repr(value)).scaleb(decimals).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return int(q)


@dataclass(frozen=True, slots=True)
class Band:
    lo: int | None  # inclusive; None = no lower bound
    hi: int | None  # inclusive; None = no upper bound
    points: int


@dataclass(frozen=True, slots=True)
class BandTable:
    """An ordered set of bands covering every integer exactly once."""

    name: str
    bands: tuple[Band, ...]

    def __post_init__(self) -> None:
        b = self.bands
        if not b or b[0].lo is not None or b[-1].hi is not None:
            raise ValueError(f"{self.name}: bands must be open at both ends")
        for left, right in zip(b, b[1:]):
            if left.hi is None or right.lo is None or right.lo != left.hi + 1:
                raise ValueError(f"{self.name}: bands {left} and {right} overlap or leave a gap")

    def points(self, rounded: int) -> int:
        for band in self.bands:
            if band.hi is None or rounded <= band.hi:
                return band.points
        raise AssertionError("unreachable: the last band is open")  # pragma: no cover
