from __future__ import annotations

from detectors.assess import assess
from detectors.patient import PatientState
from simulator.ward import Ward
from tests.helpers import BASE_TS

HOUR = 3_600_000


def _run(seed: int, hours: float = 6.0) -> Ward:
    return Ward(ward="w", beds=24, seed=seed, start_ms=BASE_TS)


def test_same_seed_same_readings() -> None:
    a, b = _run(1), _run(1)
    assert a.due(BASE_TS + HOUR) == b.due(BASE_TS + HOUR)
    c = _run(2)
    assert c.due(BASE_TS + HOUR)[0] != _run(1).due(BASE_TS + HOUR)[0]


def test_one_reading_per_bed_per_interval_in_time_order() -> None:
    ward = _run(1)
    readings, _ = ward.due(BASE_TS + HOUR)
    assert len(readings) in range(24 * 60, 24 * 61 + 1)
    assert [r.ts_ms for r in readings] == sorted(r.ts_ms for r in readings)
    assert ward.due(BASE_TS + HOUR) == ([], [])  # nothing is published twice


def test_deteriorating_patients_alert_and_stable_ones_mostly_do_not() -> None:
    ward = _run(3)
    readings, outcomes = ward.due(BASE_TS + 8 * HOUR)
    bad = {p.patient_id for p in ward.patients if p.deteriorates}
    assert 0 < len(bad) < 24
    states: dict[str, PatientState | None] = {}
    high: set[str] = set()
    for r in readings:
        out = assess(states.get(r.patient_id), r)
        states[r.patient_id] = out.state
        high |= {d.patient_id for d in out.decisions if d.priority.value == "high"}
    assert bad <= high, "every deteriorating patient reaches a high alert within 8 h"
    assert not (high - bad), "no stable patient reaches a high alert"
    assert {o.patient_id for o in outcomes} == bad  # ground truth for each
