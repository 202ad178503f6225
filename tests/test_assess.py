"""The scoring path: windows, artefacts, staleness, ticks and the state round trip."""

from __future__ import annotations

import math

from detectors.assess import Assessor, ScoringConfig
from detectors.ingest import decode_reading
from detectors.patient import PatientState
from detectors.schemas import Reading
from tests.helpers import BASE_TS, STABLE, encode, plain_thresholds, reading

S15 = 15_000


def r(ts: int, **vitals: object) -> Reading:
    return decode_reading(encode(reading("PX", ts_ms=ts, vitals={**STABLE, **vitals})))


def run(a: Assessor, readings: list[Reading], state: PatientState | None = None) -> list:  # type: ignore[type-arg]
    out = []
    for x in readings:
        res = a.assess(state, x)
        state = res.state
        out.append(res)
    return out


def test_a_single_sample_spike_never_reaches_news2() -> None:
    seq = [r(BASE_TS + i * S15) for i in range(10)]
    seq.insert(5, r(BASE_TS + 4 * S15 + 7_000, heart_rate_bpm=150))
    res = run(Assessor(), seq)
    assert [x.vitals["heart_rate_bpm"] for x in res[4:7]] == ["accepted", "pending", "spike"]
    assert all(x.news2 is not None and x.news2.components["pulse"] == 0 for x in res)
    assert not any(x.decisions for x in res)


def test_a_confirmed_jump_is_scored_and_alarms_once_confirmed() -> None:
    seq = [r(BASE_TS + i * S15) for i in range(5)] + [r(BASE_TS + (5 + i) * S15, heart_rate_bpm=140) for i in range(6)]
    res = run(Assessor(), seq)
    assert res[5].vitals["heart_rate_bpm"] == "pending" and res[5].news2.components["pulse"] == 0  # type: ignore[union-attr]
    assert res[6].news2.components["pulse"] == 3  # type: ignore[union-attr]
    # default confirmation: the condition must hold for 2 ticks spanning 60 s
    assert [[d.action.value for d in x.decisions] for x in res[6:]] == [[], [], [], [], ["raise"]]
    assert res[10].decisions[0].priority.value == "low"  # single parameter 3


def test_probe_off_is_flagged_not_scored() -> None:
    res = run(Assessor(), [r(BASE_TS), r(BASE_TS + S15, spo2_pct=0)])
    assert res[1].vitals["spo2_pct"] == "probe_off"
    assert res[1].news2.components["spo2"] == 0  # type: ignore[union-attr]  # still the last valid 97 %
    assert res[1].features["spo2_pct.probe_off_age_s"] == 0.0


def test_stale_vitals_are_reported() -> None:
    a = Assessor(ScoringConfig(thresholds=plain_thresholds()))
    first = a.assess(None, r(BASE_TS))
    later = a.assess(first.state, decode_reading(encode(reading("PX", ts_ms=BASE_TS + 2 * 3_600_000,
                                                                vitals={"heart_rate_bpm": 135}))))
    n = later.news2
    assert n is not None and "resp_rate" in n.stale and "pulse" not in n.stale and not n.complete
    assert later.decisions and "stale" in later.decisions[0].reason


def test_scoring_tick_limits_work_per_patient() -> None:
    a = Assessor(ScoringConfig(tick_ms=60_000))
    res = run(a, [r(BASE_TS + i * S15) for i in range(9)])
    assert [x.news2 is not None for x in res] == [True, False, False, False, True, False, False, False, True]


def test_trend_features() -> None:
    # Heart rate climbing 20 bpm/h, one reading a minute for 90 minutes.
    seq = [r(BASE_TS + m * 60_000, heart_rate_bpm=70 + m / 3) for m in range(91)]
    f = run(Assessor(), seq)[-1].features
    assert math.isclose(f["heart_rate_bpm.m60_slope_per_h"], 20.0, rel_tol=1e-6)
    assert math.isclose(f["heart_rate_bpm.m15_slope_per_h"], 20.0, rel_tol=1e-6)
    assert f["heart_rate_bpm.m60_missing"] == 0.0
    assert f["heart_rate_bpm.baseline_dev"] > 0
    assert math.isclose(f["shock_index"], f["heart_rate_bpm.latest"] / 124, rel_tol=1e-9)
    assert math.isnan(f["map_mmhg_derived"])  # no DBP or MAP in these readings


def test_labs_and_the_patient_context_reach_the_features_and_are_kept() -> None:
    first = decode_reading(encode(reading("PX", ts_ms=BASE_TS, vitals=STABLE,
                                          patient={"age_years": 80, "sex": "male"})))
    lab = decode_reading(encode(reading("PX", ts_ms=BASE_TS + 3_600_000, vitals={"creatinine_mg_dl": 3.1},
                                        device_id="lab")))
    later = r(BASE_TS + 5_400_000)  # no patient context on this one: the state keeps it
    res = run(Assessor(), [first, lab, later])
    f = res[-1].features
    assert (f["age_years"], f["sex_male"]) == (80.0, 1.0)
    assert f["creatinine_mg_dl"] == 3.1 and f["creatinine_mg_dl.age_h"] == 0.5
    assert math.isnan(f["bun_mg_dl"]) and math.isnan(f["bun_mg_dl.age_h"])
    assert math.isnan(run(Assessor(), [r(BASE_TS)])[0].features["sex_male"])


def test_the_lowest_and_highest_since_admission_are_kept_whatever_the_order() -> None:
    def lab(ts: int, **values: object) -> Reading:
        return decode_reading(encode(reading("PX", ts_ms=ts, vitals=values, device_id="lab")))

    H = 3_600_000
    seq = [r(BASE_TS, gcs_total=14), lab(BASE_TS + H, lactate_mmol_l=4.2, gcs_total=9),
           lab(BASE_TS + 2 * H, lactate_mmol_l=1.1, gcs_total=15),
           lab(BASE_TS + 30 * 60_000, lactate_mmol_l=6.0),  # a late result, drawn before the others
           r(BASE_TS + 3 * H)]
    res = run(Assessor(), seq)
    state, f = res[-1].state, res[-1].features
    assert state.extremes["gcs_total"] == (9.0, 15.0) and state.extremes["lactate_mmol_l"] == (1.1, 6.0)
    assert f["gcs_total.stay_min"] == 9.0 and f["lactate_mmol_l.stay_max"] == 6.0
    assert f["lactate_mmol_l"] == 1.1  # the latest is still the newest by time, not the last to arrive
    assert "heart_rate_bpm" not in state.extremes  # monitor values are windowed with their artefacts, not here
    assert PatientState.model_validate_json(state.model_dump_json()).extremes == state.extremes  # changelog


def test_the_care_unit_and_time_in_hospital_reach_the_features() -> None:
    H = 3_600_000
    ctx = {"care_unit": "cardiac_surgery_recovery", "hospital_admit_ts_ms": BASE_TS - 30 * H}
    first = decode_reading(encode(reading("PX", ts_ms=BASE_TS, vitals=STABLE, patient=ctx)))
    later = decode_reading(encode(reading("PX", ts_ms=BASE_TS + 2 * H, vitals=STABLE, patient={"age_years": 70})))
    f = run(Assessor(), [first, later])[-1].features
    # 30 h in hospital before the first reading here, whatever the hour of the stay now
    assert f["hours_in_hospital_before_monitoring"] == 30.0
    assert f["care_unit.cardiac_surgery_recovery"] == 1.0 and f["care_unit.medical_icu"] == 0.0
    unknown = run(Assessor(), [r(BASE_TS)])[0].features  # no context: missing, not "not in any unit"
    assert math.isnan(unknown["care_unit.medical_icu"]) and math.isnan(unknown["hours_in_hospital_before_monitoring"])


def test_urine_output_is_summed_once_per_charting_and_read_per_hour() -> None:
    H = 3_600_000

    def chart(ts: int, **values: object) -> Reading:
        return decode_reading(encode(reading("PX", ts_ms=ts, vitals=values, device_id="chart")))

    seq = [r(BASE_TS), chart(BASE_TS + H, urine_ml=60.0), chart(BASE_TS + 2 * H, urine_ml=40.0, mech_vent=True),
           chart(BASE_TS + 2 * H, urine_ml=40.0),            # the same charting redelivered
           chart(BASE_TS + 90 * 60_000, urine_ml=25.0),      # older than the latest: not added
           r(BASE_TS + 4 * H)]
    res = run(Assessor(), seq)
    assert res[-1].state.urine_total_ml == 100.0
    f = res[-1].features
    assert f["urine_ml_per_h"] == 25.0 and f["mech_vent"] == 1.0  # 100 ml over the 4 h since admission
    none = run(Assessor(), [r(BASE_TS)])[0].features
    assert math.isnan(none["urine_ml_per_h"]) and math.isnan(none["mech_vent"])  # never charted: missing, not 0


def test_state_carries_windows_exactly_across_assessors() -> None:
    seq = [r(BASE_TS + m * 60_000, heart_rate_bpm=70 + m) for m in range(30)]
    one = Assessor()
    res = run(one, seq)
    # A second worker (or a restarted one) continues from the table's state alone.
    two = Assessor()
    nxt = r(BASE_TS + 30 * 60_000, heart_rate_bpm=100)
    a, b = one.assess(res[-1].state, nxt), two.assess(res[-1].state, nxt)
    assert a.state == b.state and a.features.keys() == b.features.keys()
    assert all((x == y) or (math.isnan(x) and math.isnan(y)) for x, y in zip(a.features.values(), b.features.values()))


def test_cache_reloads_when_the_state_moved_on_elsewhere() -> None:
    a, b = Assessor(), Assessor()
    s1 = a.assess(None, r(BASE_TS)).state
    s2 = b.assess(s1, r(BASE_TS + S15, heart_rate_bpm=75)).state  # another worker took a reading
    s3 = a.assess(s2, r(BASE_TS + 2 * S15)).state  # a must not use its stale cache
    assert s3.readings == 3
    assert a.store.counters("PX")["heart_rate_bpm"]["accepted"] == 3


def test_per_patient_scale2_override_applies_until_it_expires() -> None:
    from detectors.thresholds import Thresholds

    t = Thresholds.model_validate({"version": 1, "defaults": {"confirmation": {"readings": 1, "seconds": 0}},
                                   "patients": {"PX": {"spo2_scale": 2, "author": "dr.osei",
                                                       "reason": "COPD, target 88-92 %",
                                                       "expires": "2027-02-01T00:00:00Z"}}})
    copd = {"spo2_pct": 90, "o2_supplemental": True}
    res = Assessor(ScoringConfig(thresholds=t)).assess(None, r(BASE_TS, **copd))
    assert res.news2 is not None and res.news2.scale == 2 and res.news2.components["spo2"] == 0
    assert res.decisions == []  # on Scale 1 this is SpO2 3 + oxygen 2: a false alarm
    later = Assessor(ScoringConfig(thresholds=t)).assess(None, r(1_900_000_000_000, **copd))  # after expiry
    assert later.news2 is not None and later.news2.scale == 1 and later.news2.components["spo2"] == 3


def test_alerts_carry_the_last_hour_of_the_vitals_behind_them() -> None:
    # HR climbing over 40 minutes until it scores, RR steady and normal.
    seq = [r(BASE_TS + m * 60_000, heart_rate_bpm=80 + m * 1.5) for m in range(41)]
    res = run(Assessor(ScoringConfig(thresholds=plain_thresholds())), seq)
    raised = [d for x in res for d in x.decisions if d.action.value == "raise"]
    assert raised and raised[0].components["pulse"] >= 2
    trend = raised[0].trend
    assert set(trend) == {"heart_rate_bpm"}  # only what scored; RR and the rest were normal
    values = [v for _, v in trend["heart_rate_bpm"]]
    assert values == sorted(values) and len(values) >= 20 and values[-1] - values[0] > 25
