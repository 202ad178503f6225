"""Online risk models that learn from late outcomes (first increment of issue 5).

A :class:`RiskModel` wraps a River pipeline (it does not subclass one) and uses River's
own verbs: ``predict_proba_one`` on every scoring tick, ``learn_one`` when labels are
known. Labels arrive late: a :class:`LabelBuffer` keeps each patient's feature
snapshots from prediction time (bounded), and when the patient's outcome arrives
(or discharge without one) it turns them into labels by the horizon. A snapshot is
only ever learned after it was predicted, and only once (prequential order).

Model kinds: ``logistic`` (scaled logistic regression: probabilities close to
calibrated) and ``forest`` (adaptive random forest, more flexible; less calibrated).
Randomness only through ``seed``.

>>> m = RiskModel("logistic", seed=1)
>>> round(m.predict({"heart_rate_bpm.latest": 80.0}), 2)
0.5
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["LabelBuffer", "RiskModel", "Snapshot"]

Kind = Literal["logistic", "forest"]


def _clean(features: dict[str, float]) -> dict[str, float]:
    """River takes absent keys as missing: drop NaN and infinite values."""
    return {k: float(v) for k, v in features.items() if v is not None and math.isfinite(v)}


class RiskModel:
    """One online model: probability of the event within its horizon."""

    def __init__(self, kind: Kind = "logistic", *, seed: int = 0) -> None:
        from river import forest, linear_model, optim, preprocessing

        self.kind = kind
        self.seed = seed
        if kind == "logistic":
            self._model: Any = preprocessing.StandardScaler() | linear_model.LogisticRegression(
                optimizer=optim.SGD(0.01), l2=1e-4)
        elif kind == "forest":
            self._model = forest.ARFClassifier(n_models=10, seed=seed)
        else:
            raise ValueError(f"unknown model kind {kind!r} (logistic, forest)")
        self.learned = 0

    def predict(self, features: dict[str, float]) -> float:
        proba = self._model.predict_proba_one(_clean(features))
        return float(proba.get(True, 0.0)) if proba else 0.5

    def learn(self, features: dict[str, float], label: bool) -> None:
        self._model.learn_one(_clean(features), bool(label))
        self.learned += 1


@dataclass(frozen=True, slots=True)
class Snapshot:
    ts_ms: int
    features: dict[str, float]
    predicted: float


@dataclass
class LabelBuffer:
    """Feature snapshots of one patient, waiting for the outcome that labels them.

    At most ``capacity`` snapshots, at least ``every_ms`` apart, are kept (bounded
    memory per patient, whatever the length of stay).
    """

    horizon_ms: int
    every_ms: int = 15 * 60_000
    capacity: int = 400
    snapshots: deque[Snapshot] = field(default_factory=deque)

    def add(self, ts_ms: int, features: dict[str, float], predicted: float) -> bool:
        if self.snapshots and ts_ms - self.snapshots[-1].ts_ms < self.every_ms:
            return False
        self.snapshots.append(Snapshot(ts_ms, _clean(features), predicted))
        while len(self.snapshots) > self.capacity:
            self.snapshots.popleft()
        return True

    def label(self, event_ms: int | None) -> list[tuple[Snapshot, bool]]:
        """Labels for every held snapshot, then empty the buffer.

        ``event_ms`` is the event's time (None: the stay ended without it). A snapshot
        is positive when the event follows within the horizon; snapshots taken after
        the event are dropped (the model predicts onset, not its aftermath).
        """
        out: list[tuple[Snapshot, bool]] = []
        for snap in self.snapshots:
            if event_ms is None:
                out.append((snap, False))
            elif snap.ts_ms <= event_ms:
                out.append((snap, event_ms - snap.ts_ms <= self.horizon_ms))
        self.snapshots.clear()
        return out
