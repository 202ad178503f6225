"""Online models and late labels (first increment of issue 5): prequential, bounded, deterministic."""

from __future__ import annotations

import pickle
import random

import pytest

from detectors.models import LabelBuffer, RiskModel

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
