"""``ews train`` / ``ews evaluate``: prequential replay, the report, the challenges' own file formats."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

import numpy as np
import pytest

from detectors.models import OnlineModels, Snapshot
from simulator.datasets import HOUR_MS, Stay, iter_stays
from stream.cli import main
from stream.evaluate import StayRecord, choose_alert_at, replay
from stream.report import MODEL, write_report

H = HOUR_MS


def _stay(i: int, septic: bool, hours: int = 30, fever_from: int | None = None) -> Stay:
    rows = []
    for h in range(hours):
        sick = fever_from is not None and h >= fever_from
        rows.append((h * H, {"heart_rate_bpm": 125.0 if sick else 75.0, "resp_rate_per_min": 26.0 if sick else 15.0,
                             "temp_c": 39.0 if sick else 36.8, "sbp_mmhg": 118.0, "spo2_pct": 97.0}))
    labels = [int(septic and h >= (fever_from or 0) + 2) for h in range(hours)]
    onset = (labels.index(1) + 6) * H if septic else None
    return Stay("physionet2019", f"p{i:06d}", rows, hours * H, sepsis_onset_ms=onset, age=60.0 + i % 30,
                sex="female" if i % 2 else "male", unit="MICU" if i % 3 else None, labels=labels)


def _warm_models() -> OnlineModels:
    m = OnlineModels("logistic", seed=1)
    r = random.Random(2)
    for i in range(600):
        sick = r.random() < 0.2
        hr = r.gauss(125 if sick else 78, 8)
        m.learn(f"w{i}", [Snapshot(0, {"heart_rate_bpm.latest": hr})], {"sepsis_onset": 0} if sick else {},
                ["sepsis_onset"], 0)
    return m


def test_a_stays_predictions_do_not_depend_on_its_own_outcome() -> None:
    """Prequential: the outcome arrives at discharge, after every prediction of the stay."""
    a = replay([_stay(1, septic=True, fever_from=10)], _warm_models(), dataset="physionet2019", progress=False)
    b = replay([_stay(1, septic=False, fever_from=10)], _warm_models(), dataset="physionet2019", progress=False)
    assert np.array_equal(a.stays[0].series["model"], b.stays[0].series["model"])
    # Onset (t_sepsis) at hour 12 + 6 = 18: snapshots 0..18 are learned, 12..18 within the 6 h horizon.
    assert (a.learned["sepsis"], a.positives["sepsis"]) == (19, 7)
    assert (b.learned["sepsis"], b.positives["sepsis"]) == (24, 0)  # 30 thinned to PER_OUTCOME
    rec = a.stays[0]
    assert rec.hours == 30 and len(rec.series["model"]) == 30
    assert rec.series["model"][12] > rec.series["model"][5]  # the fever raises the risk
    assert rec.series["news2"][12] >= 5 and rec.series["sirs"][12] >= 2


def test_an_untrained_model_predicts_nothing_and_raises_no_alerts() -> None:
    r = replay([_stay(i, septic=False) for i in range(3)], OnlineModels("logistic"), dataset="physionet2019",
               progress=False)
    assert all(s.model_alerts == 0 and not s.series["model"].any() for s in r.stays)


def test_readings_rejected_by_ingest_are_counted_not_scored() -> None:
    stay = _stay(1, septic=False, hours=5)
    stay.rows[2] = (2 * H, {"heart_rate_bpm": -5.0})  # what the worker would dead-letter
    r = replay([stay], OnlineModels("logistic"), dataset="physionet2019", progress=False)
    assert r.rejected == 1 and r.readings == 4 and r.stays[0].rejected == 1


def _records() -> list[StayRecord]:
    stays = [_stay(i, septic=i % 4 == 0, fever_from=8 if i % 4 == 0 else None) for i in range(16)]
    models = _warm_models()
    return replay(stays, models, dataset="physionet2019", progress=False).stays


def test_the_operating_point_maximises_utility_on_the_warm_start_predictions() -> None:
    from detectors.metrics import utility

    recs = _records()
    at, u = choose_alert_at("physionet2019", recs)
    assert u == pytest.approx(utility([(s.labels, s.series["model"] >= at) for s in recs]).normalized)
    assert u > 0.2


def test_the_2012_operating_point_flags_as_many_stays_as_died() -> None:
    def rec(i: int, risk: float, died: bool) -> StayRecord:
        return StayRecord(f"{i}", 60.0, "female", None, [], died, 48, {"model": np.full(48, risk)})

    risks = [0.9, 0.7, 0.65, 0.6, 0.4, 0.3, 0.2, 0.1, 0.05, 0.0]
    died = [True, False, True, True, False, False, True, False, False, False]
    at, e1 = choose_alert_at("physionet2012", [rec(i, r, d) for i, (r, d) in enumerate(zip(risks, died))])
    assert at == 0.6  # the 4th highest risk: 4 deaths, 4 stays flagged
    assert e1 == pytest.approx(3 / 4)  # sensitivity = PPV = 3 / 4
    assert choose_alert_at("physionet2012", [rec(i, 0.0, i < 2) for i in range(5)])[0] == 0.5  # never predicted


def test_report_files_for_2019(tmp_path: Path) -> None:
    recs = _records()
    at, _ = choose_alert_at("physionet2019", recs)
    report = write_report(tmp_path, "physionet2019", recs, at, {"stays": len(recs)})
    assert set(report["predictors"]) == {MODEL, "NEWS2 ≥ 5", "NEWS2 ≥ 7", "SIRS ≥ 2", "qSOFA ≥ 2"}
    m = report["predictors"][MODEL]
    for key in ("normalized_utility", "auroc", "auprc", "sensitivity", "specificity", "ppv", "median_lead_h",
                "alerts_per_patient_day", "brier", "policy_alerts_per_patient_day"):
        assert key in m, key
    assert {g["group"] for g in report["subgroups"]} == {"age", "sex", "unit"}
    for name in ("report.json", "report.md", "roc.png", "calibration.png", "lead_time.png"):
        assert (tmp_path / name).stat().st_size > 0, name
    assert (tmp_path / "roc.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads((tmp_path / "report.json").read_text())["dataset"] == "physionet2019"
    # One challenge-format file per stay: same name as the input, one row per input row.
    files = sorted((tmp_path / "predictions").iterdir())
    assert [f.name for f in files] == [f"{r.stay_id}.psv" for r in recs]
    lines = files[0].read_text().splitlines()
    assert lines[0] == "PredictedProbability|PredictedLabel" and len(lines) == 1 + recs[0].hours
    p, label = lines[1].split("|")
    assert 0.0 <= float(p) <= 1.0 and label in {"0", "1"} and int(label) == int(float(p) >= at)
    assert "| online model |" in (tmp_path / "report.md").read_text()


def test_report_files_for_2012(tmp_path: Path) -> None:
    recs = []
    for i in range(10):
        s = np.linspace(0.1, 0.9 if i < 3 else 0.3, 48)
        recs.append(StayRecord(f"{132539 + i}", 70.0, "male", "Medical ICU", [], i < 3, 48,
                               {"model": s, "news2": np.full(48, 4.0), "sirs": np.ones(48), "qsofa": np.ones(48)}))
    report = write_report(tmp_path, "physionet2012", recs, 0.5, {})
    assert report["predictors"][MODEL]["event1"] == 1.0 and report["predictors"][MODEL]["median_lead_h"] is None
    rows = list(csv.reader((tmp_path / "predictions.csv").read_text().splitlines()))
    assert rows[0] == ["RecordID", "PredictedProbability", "PredictedLabel"] and len(rows) == 11
    assert rows[1][0] == "132539" and rows[1][2] == "1" and rows[4][2] == "0"


def test_missing_or_foreign_snapshot_files_are_clear_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "x.bin"
    bad.write_bytes(b"not a model")
    assert main(["evaluate", "physionet2019", str(tmp_path / "none.tar.gz"), "--model", str(bad), "--out",
                 str(tmp_path / "r")]) == 2
    assert "not a bedside-ews model snapshot" in capsys.readouterr().err
    assert main(["evaluate", "physionet2019", "x", "--model", str(tmp_path / "nope.bin"), "--out", "r"]) == 2
    assert "does not exist" in capsys.readouterr().err


# -- on the real data sets (skip locally without ../shared/data, fail in CI) ----------


def test_train_then_evaluate_on_unseen_2019_stays(tmp_path: Path) -> None:
    from tests.data import archive

    path = archive("physionet2019")
    model = tmp_path / "m.bin"
    assert main(["train", "physionet2019", str(path), "--stays", "200", "--out", str(model), "--no-progress"]) == 0
    loaded = OnlineModels.load(model.read_bytes())
    trained = set(loaded.trained_on[0]["stay_ids"])
    assert len(trained) == 200 and loaded.version("sepsis").startswith("sepsis-logistic-")
    assert 0 < loaded.specs["sepsis"].alert_at < 1
    out = tmp_path / "report"
    assert main(["evaluate", "physionet2019", str(path), "--model", str(model), "--stays", "120", "--out", str(out),
                 "--no-progress"]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["meta"]["stays"] == 120 and report["meta"]["excluded_warm_start_stays"] == 200
    names = {f.stem for f in (out / "predictions").iterdir()}
    assert len(names) == 120 and not names & trained  # judged only on stays the warm start never saw
    from simulator.datasets import iter_stays

    first = next(s for s in iter_stays("physionet2019", path, 320) if s.stay_id in names)
    rows = (out / "predictions" / f"{first.stay_id}.psv").read_text().splitlines()
    assert len(rows) == 1 + len(first.labels)  # one row per input row
    assert -1.0 <= report["predictors"][MODEL]["normalized_utility"] <= 1.0


def test_train_then_evaluate_on_unseen_2012_stays(tmp_path: Path) -> None:
    from tests.data import archive

    path = archive("physionet2012")
    model = tmp_path / "m.bin"
    assert main(["train", "physionet2012", str(path), "--stays", "400", "--out", str(model), "--no-progress"]) == 0
    loaded = OnlineModels.load(model.read_bytes())
    assert loaded.specs["deterioration"].horizon_ms == 48 * H and loaded.models["sepsis"].learned == 0
    slope, intercept = loaded.specs["deterioration"].calibration
    assert slope > 0 and (slope, intercept) != (1.0, 0.0)  # fitted on the later half of the warm start
    assert loaded.specs["sepsis"].calibration == (1.0, 0.0)  # a model that learned nothing keeps the identity
    # The operating point is where the model as saved flags as many of the later warm-start
    # stays as died (not where it stood while still learning them).
    later = set(loaded.trained_on[0]["stay_ids"][200:])
    rescored = replay((s for s in iter_stays("physionet2012", str(path), 400) if s.stay_id in later), loaded,
                      dataset="physionet2012", learn=False, progress=False)
    at, _ = choose_alert_at("physionet2012", rescored.stays)
    assert loaded.specs["deterioration"].alert_at == pytest.approx(at, rel=1e-9)
    out = tmp_path / "report"
    assert main(["evaluate", "physionet2012", str(path), "--model", str(model), "--stays", "200", "--out", str(out),
                 "--no-progress"]) == 0
    rows = list(csv.reader((out / "predictions.csv").read_text().splitlines()))
    assert rows[0] == ["RecordID", "PredictedProbability", "PredictedLabel"] and len(rows) == 201
    report = json.loads((out / "report.json").read_text())
    assert 0.0 <= report["predictors"][MODEL]["event1"] <= 1.0 and report["predictors"][MODEL]["deaths"] > 0
