from __future__ import annotations

import pytest

from detectors.scores.news2 import (
    PULSE,
    RESP_RATE,
    SPO2_SCALE1,
    SPO2_SCALE2_ON_AIR,
    SPO2_SCALE2_ON_OXYGEN,
    SYSTOLIC,
    TEMPERATURE_TENTHS,
)
from detectors.scores._bands import Band, BandTable, round_half_up


@pytest.mark.parametrize(
    "table",
    [RESP_RATE, SPO2_SCALE1, SPO2_SCALE2_ON_AIR, SPO2_SCALE2_ON_OXYGEN, SYSTOLIC, PULSE, TEMPERATURE_TENTHS],
)
def test_every_integer_falls_in_exactly_one_band(table: BandTable) -> None:
    for value in range(-10, 500):
        hits = [b for b in table.bands
                if (b.lo is None or value >= b.lo) and (b.hi is None or value <= b.hi)]
        assert len(hits) == 1, (table.name, value, hits)
        assert table.points(value) == hits[0].points


def test_overlapping_bands_are_rejected() -> None:
    with pytest.raises(ValueError, match="overlap"):
        BandTable("bad", (Band(None, 110, 1), Band(110, None, 2)))


def test_gaps_are_rejected() -> None:
    with pytest.raises(ValueError, match="gap"):
        BandTable("bad", (Band(None, 10, 1), Band(12, None, 2)))


@pytest.mark.parametrize(("value", "decimals", "expected"),
                         [(0.5, 0, 1), (1.5, 0, 2), (2.5, 0, 3), (2.4999, 0, 2), (38.05, 1, 381), (38.04, 1, 380),
                          (35.05, 1, 351), (-0.5, 0, -1)])
def test_round_half_up(value: float, decimals: int, expected: int) -> None:
    assert round_half_up(value, decimals) == expected
