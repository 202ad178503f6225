"""NEWS2 exactness: every band edge of every parameter, on both sides.

Source of the bands: RCP NEWS2 (2017) Chart 1, reproduced in shared/reference/clinical.md.
"""

from __future__ import annotations

from typing import Any

import pytest

from detectors.schemas import RiskClass
from detectors.scores.news2 import news2, risk_class

NORMAL: dict[str, Any] = dict(
    resp_rate_per_min=16, spo2_pct=97, o2_supplemental=False, sbp_mmhg=120,
    heart_rate_bpm=70, acvpu="A", temp_c=37.0,
)


def score(**overrides: Any) -> dict[str, int]:
    return news2(**{**NORMAL, **overrides}).components


def test_all_normal_scores_zero() -> None:
    r = news2(**NORMAL)
    assert r.total == 0 and r.complete and r.risk is RiskClass.LOW


@pytest.mark.parametrize(
    ("rr", "points"),
    [(0, 3), (8, 3), (8.4, 3), (8.5, 1), (9, 1), (11, 1), (11.49, 1), (11.5, 0), (12, 0), (20, 0),
     (20.5, 2), (21, 2), (24, 2), (24.5, 3), (25, 3), (60, 3)],
)
def test_respiration_rate_bands(rr: float, points: int) -> None:
    assert score(resp_rate_per_min=rr)["resp_rate"] == points


@pytest.mark.parametrize(
    ("spo2", "points"),
    [(50, 3), (91, 3), (91.4, 3), (91.5, 2), (92, 2), (93, 2), (94, 1), (95, 1), (95.5, 0), (96, 0), (100, 0)],
)
def test_spo2_scale1_bands(spo2: float, points: int) -> None:
    assert score(spo2_pct=spo2)["spo2"] == points
    # Scale 1 does not depend on oxygen for the SpO2 points.
    assert score(spo2_pct=spo2, o2_supplemental=True)["spo2"] == points


@pytest.mark.parametrize(
    ("spo2", "on_air", "on_oxygen"),
    [(70, 3, 3), (83, 3, 3), (84, 2, 2), (85, 2, 2), (86, 1, 1), (87, 1, 1), (88, 0, 0), (92, 0, 0),
     (93, 0, 1), (94, 0, 1), (95, 0, 2), (96, 0, 2), (97, 0, 3), (100, 0, 3)],
)
def test_spo2_scale2_bands_air_and_oxygen(spo2: float, on_air: int, on_oxygen: int) -> None:
    assert score(spo2_pct=spo2, o2_supplemental=False, spo2_scale=2)["spo2"] == on_air
    assert score(spo2_pct=spo2, o2_supplemental=True, spo2_scale=2)["spo2"] == on_oxygen


def test_scale2_with_unknown_oxygen_scores_as_air_and_is_incomplete() -> None:
    r = news2(**{**NORMAL, "spo2_pct": 97, "o2_supplemental": None}, spo2_scale=2)
    assert r.components["spo2"] == 0
    assert "air_or_oxygen" in r.missing and not r.complete


@pytest.mark.parametrize(("on_oxygen", "points"), [(False, 0), (True, 2)])
def test_air_or_oxygen(on_oxygen: bool, points: int) -> None:
    assert score(o2_supplemental=on_oxygen)["air_or_oxygen"] == points


@pytest.mark.parametrize(
    ("sbp", "points"),
    [(40, 3), (90, 3), (90.4, 3), (90.5, 2), (91, 2), (100, 2), (101, 1), (110, 1), (111, 0), (219, 0),
     (219.5, 3), (220, 3), (300, 3)],
)
def test_systolic_bands(sbp: float, points: int) -> None:
    assert score(sbp_mmhg=sbp)["sbp"] == points


@pytest.mark.parametrize(
    ("hr", "points"),
    [(0, 3), (40, 3), (40.4, 3), (40.5, 1), (41, 1), (50, 1), (51, 0), (90, 0), (91, 1), (110, 1),
     (110.4, 1), (110.5, 2), (111, 2), (130, 2), (131, 3), (250, 3)],
)
def test_pulse_bands(hr: float, points: int) -> None:
    assert score(heart_rate_bpm=hr)["pulse"] == points


@pytest.mark.parametrize(("level", "points"), [("A", 0), ("C", 3), ("V", 3), ("P", 3), ("U", 3), ("a", 0)])
def test_acvpu(level: str, points: int) -> None:
    assert score(acvpu=level)["consciousness"] == points


def test_acvpu_rejects_unknown_level() -> None:
    with pytest.raises(ValueError, match="consciousness"):
        score(acvpu="X")


@pytest.mark.parametrize(
    ("temp", "points"),
    [(30.0, 3), (35.0, 3), (35.04, 3), (35.05, 1), (35.1, 1), (36.0, 1), (36.1, 0), (38.0, 0), (38.05, 1),
     (38.1, 1), (39.0, 1), (39.1, 2), (42.0, 2)],
)
def test_temperature_bands(temp: float, points: int) -> None:
    assert score(temp_c=temp)["temperature"] == points


def test_no_value_is_scored_twice_hr_110() -> None:
    # A known bug elsewhere: HR 110 matched both 91–110 and 110–130 and took the worse.
    assert score(heart_rate_bpm=110)["pulse"] == 1


@pytest.mark.parametrize(
    ("total", "max_single", "risk"),
    [(0, 0, RiskClass.LOW), (4, 2, RiskClass.LOW), (3, 3, RiskClass.LOW_MEDIUM), (4, 3, RiskClass.LOW_MEDIUM),
     (5, 2, RiskClass.MEDIUM), (5, 3, RiskClass.MEDIUM), (6, 3, RiskClass.MEDIUM), (7, 2, RiskClass.HIGH),
     (7, 3, RiskClass.HIGH), (20, 3, RiskClass.HIGH)],
)
def test_risk_classes(total: int, max_single: int, risk: RiskClass) -> None:
    assert risk_class(total, max_single) is risk


def test_single_parameter_three_is_low_medium_end_to_end() -> None:
    r = news2(**{**NORMAL, "acvpu": "V"})
    assert (r.total, r.risk) == (3, RiskClass.LOW_MEDIUM)


def test_aggregate_total_and_high_risk() -> None:
    r = news2(resp_rate_per_min=26, spo2_pct=90, o2_supplemental=True, sbp_mmhg=88, heart_rate_bpm=135,
              acvpu="U", temp_c=34.9)
    assert r.total == 20 and r.risk is RiskClass.HIGH


def test_missing_parameters_are_listed_and_score_zero() -> None:
    r = news2(resp_rate_per_min=None, spo2_pct=None, o2_supplemental=None, sbp_mmhg=None,
              heart_rate_bpm=140, acvpu=None, temp_c=None)
    assert r.total == 3 and r.components["pulse"] == 3
    assert set(r.missing) == {"resp_rate", "spo2", "air_or_oxygen", "sbp", "consciousness", "temperature"}
    assert not r.complete


def test_non_finite_values_are_refused() -> None:
    with pytest.raises(ValueError, match="non-finite"):
        score(heart_rate_bpm=float("nan"))


def test_scale_must_be_1_or_2() -> None:
    with pytest.raises(ValueError, match="spo2_scale"):
        news2(**NORMAL, spo2_scale=3)
