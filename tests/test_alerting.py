from __future__ import annotations

from detectors.alerting import AlertRules, decide, priority_for
from detectors.assess import assess
from detectors.ingest import decode_reading
from detectors.patient import PatientState
from detectors.schemas import AlertAction, Priority
from detectors.scores.news2 import News2Result, news2
from tests.helpers import BASE_TS, DETERIORATED, STABLE, encode, reading

MIN = 60_000


def result(**kw: object) -> News2Result:
    base = dict(STABLE)
    base.update(kw)
    return news2(resp_rate_per_min=float(base["resp_rate_per_min"]), spo2_pct=float(base["spo2_pct"]),  # type: ignore[arg-type]
                 o2_supplemental=bool(base["o2_supplemental"]), sbp_mmhg=float(base["sbp_mmhg"]),  # type: ignore[arg-type]
                 heart_rate_bpm=float(base["heart_rate_bpm"]), acvpu=str(base["acvpu"]),  # type: ignore[arg-type]
                 temp_c=float(base["temp_c"]))  # type: ignore[arg-type]


def test_priority_mapping() -> None:
    assert priority_for(result()) is None
    assert priority_for(result(acvpu="V")) is Priority.LOW  # single parameter 3, total 3
    assert priority_for(result(resp_rate_per_min=22, heart_rate_bpm=115, temp_c=38.5)) is Priority.MEDIUM  # 2+2+1
    assert priority_for(result(**DETERIORATED)) is Priority.HIGH


def test_thresholds_are_configurable() -> None:
    r = result(resp_rate_per_min=22, heart_rate_bpm=115, temp_c=38.5)  # total 5
    assert priority_for(r, AlertRules(medium_at=6, high_at=8)) is None


def step(active, r, ts):  # type: ignore[no-untyped-def]
    return decide(active, r, patient_id="P1", ward="w", bed="1", ts_ms=ts)


def test_raise_once_escalate_then_resolve() -> None:
    medium = result(resp_rate_per_min=22, heart_rate_bpm=115, temp_c=38.5)
    high = result(**DETERIORATED)
    a, out = step(None, medium, BASE_TS)
    assert [d.action for d in out] == [AlertAction.RAISE] and out[0].priority is Priority.MEDIUM
    alert_id = out[0].alert_id
    a, out = step(a, medium, BASE_TS + MIN)
    assert out == []  # never raised twice
    a, out = step(a, high, BASE_TS + 2 * MIN)
    assert [(d.action, d.priority, d.alert_id) for d in out] == [(AlertAction.ESCALATE, Priority.HIGH, alert_id)]
    a, out = step(a, medium, BASE_TS + 3 * MIN)
    assert out == [] and a is not None and a.priority is Priority.HIGH  # no silent de-escalation
    a, out = step(a, result(), BASE_TS + 4 * MIN)
    assert a is None and [d.action for d in out] == [AlertAction.RESOLVE]
    assert out[0].alert_id == alert_id and out[0].reason.startswith("resolved")
    # A new episode gets a new id.
    a, out = step(a, high, BASE_TS + 5 * MIN)
    assert out[0].action is AlertAction.RAISE and out[0].alert_id != alert_id


def test_decision_ids_are_stable_and_unique() -> None:
    seq = [result(acvpu="V"), result(**DETERIORATED), result()]

    def run() -> list[str]:
        a, ids = None, []
        for i, r in enumerate(seq):
            a, out = step(a, r, BASE_TS + i * MIN)
            ids += [d.decision_id for d in out]
        return ids

    first = run()
    assert first == run()  # replay → same ids
    assert len(set(first)) == len(first) == 3


def test_assess_carries_components_and_completeness() -> None:
    out = assess(None, decode_reading(encode(reading(vitals=DETERIORATED))))
    (d,) = out.decisions
    assert d.score_total == 10 and d.complete and d.components["resp_rate"] == 3
    assert d.ward == "ward-a" and d.bed == "07"
    partial = assess(None, decode_reading(encode(reading(vitals={"heart_rate_bpm": 140, "resp_rate_per_min": 30}))))
    (p,) = partial.decisions
    assert not p.complete and "temperature" in p.missing and "partial" in p.reason


def test_state_merges_vitals_and_ignores_older_values() -> None:
    s = assess(None, decode_reading(encode(reading(ts_ms=BASE_TS + MIN, vitals={"heart_rate_bpm": 80})))).state
    s = assess(s, decode_reading(encode(reading(ts_ms=BASE_TS, vitals={"heart_rate_bpm": 150, "spo2_pct": 96})))).state
    assert s.latest("heart_rate_bpm") == 80.0  # the late value did not replace the newer one
    assert s.latest("spo2_pct") == 96.0  # but a vital not held yet is taken
    assert s.readings == 2 and s.last_ts_ms == BASE_TS + MIN


def test_state_round_trips_through_json() -> None:
    s = assess(None, decode_reading(encode(reading(vitals=DETERIORATED)))).state
    again = PatientState.model_validate_json(s.model_dump_json())
    assert again == s and again.alert is not None


def test_gcs_stands_in_for_acvpu() -> None:
    v = {k: val for k, val in STABLE.items() if k != "acvpu"}
    s = assess(None, decode_reading(encode(reading(vitals={**v, "gcs_total": 13})))).news2
    assert s.components["consciousness"] == 3 and s.complete
