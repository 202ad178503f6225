"""Online models and late labels (first increment of issue 5): prequential, bounded, deterministic."""

from __future__ import annotations

import math
import pickle
import random

import pytest

from detectors.models import LabelBuffer, RiskModel, band_names, banded

H = 3_600_000


def _stream(seed: int, n: int) -> list[tuple[dict[str, float], bool]]:
    r = random.Random(seed)
    out = []
    for _ in range(n):
        hr = r.gauss(85, 15)
        rr = r.gauss(17, 4)
        y = (hr - 85) / 15 + (rr - 17) / 4 + r.gauss(0, 0.7) > 1.2
        out.append(({"heart_rate_bpm.latest": hr, "resp_rate_per_min.latest": rr, "spo2_pct.latest": float("nan")},
                    y))
    return out


def _auroc(scores: list[float], labels: list[bool]) -> float:
    pos = [s for s, y in zip(scores, labels) if y]
    neg = [s for s, y in zip(scores, labels) if not y]
    wins = sum((p > q) + 0.5 * (p == q) for p in pos for q in neg)
    return wins / (len(pos) * len(neg))


@pytest.mark.parametrize("kind", ["logistic", "forest"])
def test_prequential_learning_ranks_risk(kind: str) -> None:
    model = RiskModel(kind, seed=3)  # type: ignore[arg-type]
    preds, labels = [], []
    for x, y in _stream(1, 3000):
        preds.append(model.predict(x))  # predicted before it is learned
        labels.append(y)
        model.learn(x, y)
    late = _auroc(preds[1500:], labels[1500:])
    assert late > 0.8, late
    assert model.learned == 3000


@pytest.mark.parametrize("kind", ["logistic", "forest"])
def test_same_seed_same_model_and_pickle_round_trip(kind: str) -> None:
    a, b = RiskModel(kind, seed=7), RiskModel(kind, seed=7)  # type: ignore[arg-type]
    for x, y in _stream(2, 500):
        a.learn(x, y)
        b.learn(x, y)
    probe = {"heart_rate_bpm.latest": 120.0, "resp_rate_per_min.latest": 26.0}
    assert a.predict(probe) == b.predict(probe)
    again = pickle.loads(pickle.dumps(a))
    assert again.predict(probe) == a.predict(probe) and again.learned == 500


def test_missing_and_non_finite_features_are_tolerated() -> None:
    m = RiskModel("logistic")
    assert 0.0 <= m.predict({}) <= 1.0
    m.learn({"a": float("nan"), "b": float("inf")}, True)
    assert 0.0 <= m.predict({"a": 1.0}) <= 1.0


def test_late_labels_follow_the_horizon_and_skip_after_the_event() -> None:
    buf = LabelBuffer(horizon_ms=6 * H, every_ms=H, capacity=100)
    for h in range(24):
        buf.add(h * H, {"x": float(h)}, 0.1)
    assert not buf.add(23 * H + 60_000, {"x": 0.0}, 0.1)  # within every_ms of the last one: not kept
    labels = buf.label(event_ms=20 * H)
    assert [(s.ts_ms // H, y) for s, y in labels] == [(h, h >= 14) for h in range(21)]
    assert buf.label(None) == []  # emptied: nothing is learned twice


def test_no_event_labels_everything_negative_and_memory_is_bounded() -> None:
    buf = LabelBuffer(horizon_ms=H, every_ms=1, capacity=10)
    for t in range(50):
        buf.add(t, {"x": 1.0}, 0.2)
    assert len(buf.snapshots) == 10 and buf.snapshots[0].ts_ms == 40
    assert {y for _, y in buf.label(None)} == {False}


# -- explanations, snapshots, the two-model bank -------------------------------------


def _trained_logistic() -> RiskModel:
    m = RiskModel("logistic", seed=1)
    for x, y in _stream(5, 2000):
        m.learn(x, y)
    return m


def test_logistic_explanation_is_weight_times_standardised_value() -> None:
    m = _trained_logistic()
    x = {"heart_rate_bpm.latest": 130.0, "resp_rate_per_min.latest": 17.0}
    top = m.explain(x, top=2)
    assert top[0].feature == "heart_rate_bpm.latest" and top[0].contribution > 0.1 and top[0].value == 130.0
    scaled = m._model["StandardScaler"].transform_one(x)
    assert top[0].contribution == pytest.approx(m.weights["heart_rate_bpm.latest"] * scaled["heart_rate_bpm.latest"])
    # the contributions and the intercept add up to the risk's log-odds: nothing is left out
    logit = m.intercept + sum(c.contribution for c in m.explain(x, top=len(x)))
    assert m.predict(x) == pytest.approx(1 / (1 + math.exp(-logit)))
    low = m.explain({"heart_rate_bpm.latest": 50.0}, top=1)[0]
    assert low.contribution < 0  # a low heart rate lowers this risk: the sign is the direction


def test_the_logistic_model_predicts_with_a_moving_average_of_its_sgd_weights() -> None:
    key = "heart_rate_bpm.latest"
    for window in (10**9, 20):  # the running mean; a window of 20 updates
        m = RiskModel("logistic", seed=0)
        m.average_over = window
        expected, intercept = 0.0, 0.0
        for n, (x, y) in enumerate(_stream(3, 300), start=1):
            m.learn(x, y)
            sgd = m._model["LogisticRegression"]
            a = max(1 / n, 1 / window)
            expected += (sgd.weights.get(key, 0.0) - expected) * a
            intercept += (sgd.intercept - intercept) * a
        assert m.weights[key] == pytest.approx(expected) and m.intercept == pytest.approx(intercept)
        assert m.weights[key] != pytest.approx(sgd.weights[key])  # not the last SGD iterate
    # the window follows the recent iterates more closely than the mean of them all
    last = sgd.weights[key]
    m_all = RiskModel("logistic", seed=0)
    m_all.average_over = 10**9
    for x, y in _stream(3, 300):
        m_all.learn(x, y)
    assert abs(m.weights[key] - last) < abs(m_all.weights[key] - last)


def test_bands_mark_exactly_the_band_a_value_falls_in() -> None:
    names = band_names("hours_since_admission")
    assert names == ["hours_since_admission@0-6", "hours_since_admission@6-12", "hours_since_admission@12-24",
                     "hours_since_admission@24-48", "hours_since_admission@48-96", "hours_since_admission@96+"]
    for hours, band in ((0.0, 0), (5.99, 0), (6.0, 1), (23.9, 2), (24.0, 3), (96.0, 5), (300.0, 5)):
        x = banded({"hours_since_admission": hours})
        assert [x[n] for n in names] == [1.0 if j == band else 0.0 for j in range(6)], hours
        assert x["hours_since_admission"] == hours  # the raw value stays an input
    assert banded({"heart_rate_bpm.latest": 80.0}) == {"heart_rate_bpm.latest": 80.0}  # absent: no bands
    assert banded({"age_years": 80.0})["age_years@80+"] == 1.0


def test_bands_let_the_logistic_model_learn_a_risk_that_is_not_monotone() -> None:
    # risk is high early and late in the stay and low in between: no straight line fits
    r = random.Random(4)
    stream = []
    for _ in range(6000):
        h = r.uniform(0, 150)
        stream.append(({"hours_since_admission": h}, r.random() < (0.6 if h < 6 or h >= 96 else 0.05)))
    m = RiskModel("logistic")
    for x, y in stream * 3:
        m.learn(x, y)
    early, middle, late = (m.predict({"hours_since_admission": h}) for h in (3.0, 30.0, 120.0))
    # a model linear in the hours alone is monotone in them: it could not rank both ends above the middle
    assert early > middle + 0.1 and late > middle + 0.1
    top = m.explain({"hours_since_admission": 3.0}, top=1)[0]
    assert top.feature == "hours_since_admission@0-6" and top.value == 1.0 and top.contribution > 0


def test_forest_explanation_by_occlusion_names_the_driver() -> None:
    m = RiskModel("forest", seed=2)
    for x, y in _stream(6, 1500):
        m.learn(x, y)
    top = m.explain({"heart_rate_bpm.latest": 140.0, "resp_rate_per_min.latest": 30.0}, top=3)
    assert top and {c.feature for c in top} <= {"heart_rate_bpm.latest", "resp_rate_per_min.latest"}
    assert all(c.contribution != 0 for c in top)


def test_snapshot_packs_to_float32_in_model_input_order() -> None:
    from detectors.models import MODEL_FEATURES, Snapshot, SnapshotError

    snap = Snapshot(1_700_000_000_123, {"heart_rate_bpm.latest": 88.5, "score.news2": 3.0})
    raw = snap.pack()
    assert len(raw) == 8 + 4 * len(MODEL_FEATURES)
    back = Snapshot.unpack(raw)
    assert back.ts_ms == snap.ts_ms and back.features == {"heart_rate_bpm.latest": 88.5, "score.news2": 3.0}
    with pytest.raises(SnapshotError, match="does not match"):
        Snapshot.unpack(raw[:-4])


def _bank_with_history(kind: str = "logistic") -> tuple[object, list[object]]:
    from detectors.models import OnlineModels, Snapshot

    bank = OnlineModels(kind, seed=3)  # type: ignore[arg-type]
    snaps = [Snapshot(h * H, {"heart_rate_bpm.latest": 80.0 + 3 * h}) for h in range(30)]
    return bank, snaps


def test_a_discharge_teaches_only_the_models_whose_event_the_source_records() -> None:
    from detectors.models import OnlineModels

    bank, snaps = _bank_with_history()
    assert isinstance(bank, OnlineModels)
    # A 2019 stay: the source records sepsis onset only; onset at hour 20 (6 h horizon → hours 14..20 positive).
    r = bank.learn("p1:30h", snaps, {"sepsis_onset": 20 * H}, ["sepsis_onset"], 30 * H)  # type: ignore[arg-type]
    assert r.learned == {"sepsis": 21, "deterioration": 0} and r.positives["sepsis"] == 7
    # Redelivered outcome: nothing learned twice.
    again = bank.learn("p1:30h", snaps, {"sepsis_onset": 20 * H}, ["sepsis_onset"], 30 * H)  # type: ignore[arg-type]
    assert again.duplicate and again.learned == {"sepsis": 0, "deterioration": 0}
    # A simulator discharge (every kind observed), no event: both learn negatives — at most
    # 24 of the 30 snapshots (PER_OUTCOME), so a long stay does not outweigh a short one.
    r = bank.learn("p2:30h", snaps, {}, None, 31 * H)  # type: ignore[arg-type]
    assert r.learned == {"sepsis": 24, "deterioration": 24} and r.positives == {"sepsis": 0, "deterioration": 0}


def test_thinning_keeps_the_positives_and_spreads_the_negatives() -> None:
    from detectors.models import OnlineModels, Snapshot

    bank = OnlineModels("logistic", per_outcome=10)
    snaps = [Snapshot(h * H, {"heart_rate_bpm.latest": 80.0}) for h in range(100)]
    learned: list[tuple[int, bool]] = []
    model = bank.models["sepsis"]
    original = model.learn
    model.learn = lambda x, y: (learned.append((len(learned), y)), original(x, y))[1]  # type: ignore[method-assign]
    r = bank.learn("k", snaps, {"sepsis_onset": 99 * H}, ["sepsis_onset"], 0)
    assert r.learned["sepsis"] == 10 and r.positives["sepsis"] == 7  # hours 93..99 within 6 h
    assert [y for _, y in learned] == [False] * 3 + [True] * 7  # negatives first (time order), then positives


def test_untrained_models_do_not_predict_and_a_trained_one_carries_its_version() -> None:
    from detectors.models import MIN_POSITIVES, OnlineModels, Snapshot

    bank = OnlineModels("logistic")
    x = {"heart_rate_bpm.latest": 120.0}
    assert bank.predict(x) == {}  # no alerts from a model that knows nothing
    for i in range(MIN_POSITIVES + 120):
        y = i % 10 == 0
        bank.learn(f"k{i}", [Snapshot(0, {"heart_rate_bpm.latest": 130.0 if y else 80.0})],
                   {"death": 0} if y else {}, ["death"], i)
    risks = bank.predict(x)
    assert set(risks) == {"deterioration"}
    assert risks["deterioration"].version == f"untrained+{bank.models['deterioration'].learned}"


def test_snapshot_file_round_trip_rebases_the_version_and_rejects_garbage() -> None:
    from detectors.models import OnlineModels, SnapshotError

    bank, snaps = _bank_with_history()
    assert isinstance(bank, OnlineModels)
    bank.learn("p1", snaps, {"sepsis_onset": 20 * H}, ["sepsis_onset"], 0)  # type: ignore[arg-type]
    raw = bank.dump({"dataset": "test", "stay_ids": ["p1"]}, rebase=True, created="2026-12-04T00:00:00+00:00")
    assert raw.startswith(b'{"format": "bedside-ews-models/3"')
    loaded = OnlineModels.load(raw)
    assert loaded.version("sepsis").startswith("sepsis-logistic-") and loaded.version("sepsis").endswith("+0")
    assert loaded.version("deterioration") == "untrained+0"
    assert loaded.trained_on[0]["stay_ids"] == ["p1"]
    probe = {"heart_rate_bpm.latest": 150.0}
    assert loaded.models["sepsis"].predict(probe) == bank.models["sepsis"].predict(probe)
    with pytest.raises(SnapshotError, match="not a bedside-ews model snapshot"):
        OnlineModels.load(b"hello\nworld")
    with pytest.raises(SnapshotError, match="expected format bedside-ews-models/3"):
        OnlineModels.load(raw.replace(b"bedside-ews-models/3", b"bedside-ews-models/2", 1))
    with pytest.raises(SnapshotError, match="unreadable"):
        OnlineModels.load(raw.split(b"\n", 1)[0] + b"\nnot a pickle")


def test_platt_scaling_recovers_a_known_miscalibration_and_keeps_the_order() -> None:
    import numpy as np

    from detectors.models import calibrate, fit_platt

    rng = np.random.default_rng(3)
    z = rng.normal(size=40_000)
    raw = 1 / (1 + np.exp(-z))                                       # what the model says
    y = (rng.random(z.size) < 1 / (1 + np.exp(-(0.5 * z - 3)))).astype(float)  # what happens
    slope, intercept = fit_platt(raw, y)
    assert slope == pytest.approx(0.5, abs=0.05) and intercept == pytest.approx(-3.0, abs=0.1)
    cal = np.array([calibrate(float(p), (slope, intercept)) for p in raw])
    # calibrated: mean prediction matches the event rate; Brier better than the raw risk's
    assert cal.mean() == pytest.approx(y.mean(), abs=0.005)
    assert np.mean((cal - y) ** 2) < np.mean((raw - y) ** 2)
    assert np.array_equal(np.argsort(cal, kind="stable"), np.argsort(raw, kind="stable"))  # same ranking
    # an operating point carried through the map gives the same alarms on the new scale
    at = 0.7
    assert np.array_equal(cal >= calibrate(at, (slope, intercept)), raw >= at)
    assert fit_platt(raw[:10], np.zeros(10)) == (1.0, 0.0)  # one class: nothing to fit
    with pytest.raises(ValueError, match="risks for"):
        fit_platt(raw[:3], y[:2])


def test_a_models_calibration_applies_to_its_risk_and_survives_a_snapshot() -> None:
    from detectors.models import OnlineModels, calibrate

    bank, snaps = _bank_with_history()
    assert isinstance(bank, OnlineModels)
    for i in range(40):
        bank.learn(f"p{i}", snaps, {"sepsis_onset": 20 * H} if i % 3 == 0 else {}, ["sepsis_onset"], i)
    probe = {"heart_rate_bpm.latest": 150.0}
    raw = bank.models["sepsis"].predict(probe)
    assert bank.probability("sepsis", probe) == raw  # identity until warm start fits one
    bank.with_calibration("sepsis", (0.7, -1.2))
    loaded = OnlineModels.load(bank.dump(rebase=True))
    assert loaded.specs["sepsis"].calibration == (0.7, -1.2)
    assert loaded.probability("sepsis", probe) == pytest.approx(calibrate(raw, (0.7, -1.2)))
    assert loaded.predict(probe)["sepsis"].probability == pytest.approx(calibrate(raw, (0.7, -1.2)))


def test_drift_is_detected_when_the_relation_flips() -> None:
    from detectors.models import OnlineModels, Snapshot

    bank = OnlineModels("logistic", seed=1)
    r = random.Random(9)
    drifted = 0
    for i in range(3000):
        hr = r.gauss(90, 20)
        flipped = i >= 1500
        y = (hr > 110) != flipped and r.random() < 0.9
        rep = bank.learn(f"k{i}", [Snapshot(0, {"heart_rate_bpm.latest": hr})], {"death": 1} if y else {},
                         ["death"], i)
        drifted += "deterioration" in rep.drift
    status = bank.status()["deterioration"]
    assert drifted >= 1 and status["drift_error"] >= 1 and status["last_drift_ms"] >= 1500


def test_risk_drift_is_one_value_per_discharge_and_fires_when_the_patients_change() -> None:
    from detectors.models import OnlineModels, Snapshot

    def run(shift_at: int) -> tuple[OnlineModels, list[int]]:
        bank, r, hits = OnlineModels("logistic", seed=1), random.Random(4), []
        for i in range(3000):
            hr = r.gauss(90 if i < shift_at else 125, 15)  # sicker patients; the same relation
            snaps = [Snapshot(t * H, {"heart_rate_bpm.latest": hr + r.gauss(0, 3)}) for t in range(8)]
            died = hr > 110 and r.random() < 0.8
            rep = bank.learn(f"k{i}", snaps, {"death": 8 * H} if died else {}, ["death"], i)
            if "risk" in rep.drift_kinds.get("deterioration", ()):
                hits.append(i)
        return bank, hits

    # while a model learns from nothing its risks do move; once settled, a steady ward is quiet
    steady, early = run(10**9)
    assert [h for h in early if h >= 1500] == [] and steady.status()["deterioration"]["drift_risk"] == len(early)
    shifted, hits = run(1500)
    late = [h for h in hits if h >= 1500]
    assert late and late[0] < 1700 and hits[:len(early)] == early  # the same until the patients change


def test_learning_paused_in_steps_learns_what_one_call_learns() -> None:
    import asyncio

    from detectors.models import PER_OUTCOME, OnlineModels, Snapshot
    from stream.models_runtime import ModelRuntime
    from stream.settings import ModelSettings

    r = random.Random(5)
    snaps = [Snapshot(t * 15 * 60_000, {"heart_rate_bpm.latest": r.gauss(90, 15)}) for t in range(120)]
    events = {"death": 120 * 15 * 60_000}
    whole = OnlineModels("logistic", seed=2)
    one = whole.learn("p:1", snaps, events, ["death"], 0)
    stepped = OnlineModels("logistic", seed=2)
    steps = list(stepped.learning("p:1", snaps, events, ["death"], 0, pause_every=5))
    assert steps[:-1] == [None] * (PER_OUTCOME // 5) and steps[-1] == one
    assert one.learned["deterioration"] == PER_OUTCOME  # thinned as one outcome, not per pause
    # the worker's runtime pauses between slices and ends where one call ends
    worker = ModelRuntime(None, ModelSettings(learn_slice=5), "t", OnlineModels("logistic", seed=2))  # type: ignore[arg-type]
    report = asyncio.run(worker._learn("p:1", snaps, events, ["death"], 0))
    assert report == one
    assert worker.models.models["deterioration"].weights == whole.models["deterioration"].weights


def test_every_model_input_is_computed_for_a_patient_with_everything_charted() -> None:
    """A model input that is never present is dead weight (the 6 h window keeps no lowest
    or highest: it once fed the model two NaN columns per vital)."""
    from detectors.assess import Assessor
    from detectors.ingest import decode_reading
    from detectors.models import MODEL_FEATURES, OnlineModels
    from detectors.schemas import LAB_FIELDS
    from tests.helpers import BASE_TS, STABLE, encode, reading

    labs = {lab: 1.0 for lab in LAB_FIELDS} | {"arterial_ph": 7.4, "base_excess_mmol_l": -1.0, "paco2_mmhg": 40.0,
                                               "sodium_mmol_l": 140.0, "pao2_mmhg": 90.0, "hct_pct": 35.0}
    everything = {**STABLE, "dbp_mmhg": 70, "map_mmhg": 88, "fio2_pct": 40, "gcs_total": 14, "urine_ml": 60.0,
                  "mech_vent": True, **labs}
    context = {"age_years": 70, "sex": "female", "care_unit": "medical_icu",
               "hospital_admit_ts_ms": BASE_TS - 30 * H}
    a, state, last = Assessor(models=OnlineModels()), None, None
    for i in range(8 * 60):  # 8 h at one reading a minute, the vitals moving
        vitals = {**everything, "heart_rate_bpm": 72 + (i % 10)}
        res = a.assess(state, decode_reading(encode(reading("PX", ts_ms=BASE_TS + i * 60_000, vitals=vitals,
                                                            patient=context))))
        state, last = res.state, res
    assert last is not None
    missing = [n for n in MODEL_FEATURES if n not in last.features or last.features[n] != last.features[n]]
    assert missing == []
