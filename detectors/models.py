"""Online risk models that learn from late outcomes: sepsis and deterioration.

A :class:`RiskModel` wraps a River pipeline (it does not subclass one) and uses River's
own verbs: ``predict_proba_one`` on every scoring tick, ``learn_one`` when labels are
known. :class:`OnlineModels` holds the two models the product runs, their drift
monitors and their version, and is what the worker and ``ews evaluate`` both call.

Late labels
    At prediction time a patient's model inputs are kept as a :class:`Snapshot` (at
    most one per ``every_ms``, at most ``capacity`` of them: bounded memory per
    patient). Outcomes arrive hours later — for a replayed stay only at discharge.
    :func:`label_snapshots` turns the held snapshots into labels by each model's
    horizon: positive when the model's event follows within the horizon; snapshots
    taken after the event are dropped (the model predicts onset, not its aftermath).
    A snapshot is learned only after it was predicted, and only once (prequential).

Which outcomes teach which model
    A source says which events it records (``Outcome.observed``). A data set that does
    not record deaths cannot teach the deterioration model that nobody died, so a
    discharge teaches a model only when one of the model's events is observed.

Calibration
    A model learns at most a few snapshots per stay (:data:`PER_OUTCOME`), which moves its
    base rate away from the ward's, so its raw risk is a ranking, not a probability.
    ``ews train`` fits a Platt scaling (:func:`fit_platt`) of the raw risk against the
    outcomes of the later half of the warm start, scored again by the model as trained,
    and stores it in the model's spec;
    :meth:`OnlineModels.probability` applies it. The map is increasing and fixed between
    warm starts, so it changes the scale and never the order of the risks.

Model kinds: ``logistic`` (standardised inputs → logistic regression, learned by SGD and
predicting with the moving average of its weights, :data:`AVERAGE_OVER`; explanations
exact: averaged weight × standardised value, which with the intercept add up to the
log-odds) and ``forest`` (adaptive random forest;
explanations by occlusion: the change in raw risk when a feature is withheld).
Randomness only through ``seed``.

>>> m = RiskModel("logistic", seed=1)
>>> round(m.predict({"heart_rate_bpm.latest": 80.0}), 2)
0.5
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import pickle
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np

from detectors.errors import EwsError
from detectors.schemas import CARE_UNITS, LAB_FIELDS

__all__ = [
    "DEFAULT_SPECS",
    "MODEL_FEATURES",
    "Contribution",
    "LabelBuffer",
    "ModelSpec",
    "OnlineModels",
    "Risk",
    "RiskModel",
    "Snapshot",
    "SnapshotError",
    "calibrate",
    "fit_platt",
    "label_snapshots",
    "model_vector",
]

Kind = Literal["logistic", "forest"]
HOUR_MS = 3_600_000
#: SGD step of the logistic model. Chosen on PhysioNet 2019 stays 1–5,000 (warm start on
#: 3,000, prequential on 2,000). Without averaging (84 inputs): 0.01 → 0.21 normalized
#: utility, 0.003 → 0.23, 0.001 → 0.27, 0.0003 → 0.29, 0.0001 → 0.27. With the weights
#: averaged over 30,000 updates (today's inputs): 0.0003 → 0.355, 0.001 → 0.369, 0.003 →
#: 0.341, against 0.356 for 0.0003 without; on the 2012 tuning stays (1,000 / 1,000) 0.001
#: averaged gave AUROC 0.832 (event 1 0.472) against 0.812 (0.426) for 0.0003 without.
LEARNING_RATE = 0.001
#: The logistic model predicts with a moving average of its SGD weights (Polyak–Ruppert
#: averaging: Polyak & Juditsky 1992) over about the last this many updates (the running
#: mean until then), so the noise of a constant step averages out while the model still
#: follows a hospital that changes.
AVERAGE_OVER = 30_000
#: at most this many labelled snapshots learned per outcome and model. On the tuning stays
#: (2019: 1–5,000; 2012: 1–4,000 halves) all → 12 → 24: 2019 utility 0.31 → 0.32 → 0.32,
#: 2012 AUROC 0.70 → 0.76 → 0.76 (event 1 0.27 → 0.29 → 0.31).
PER_OUTCOME = 24
#: labelled snapshots of each class a model needs before it predicts
MIN_POSITIVES, MIN_NEGATIVES = 10, 100
#: format 3: a logistic model predicts with averaged weights (format 2: a model spec carries its
#: calibration); older snapshots must be retrained
SNAPSHOT_FORMAT = "bedside-ews-models/3"

_VITALS = ("heart_rate_bpm", "resp_rate_per_min", "spo2_pct", "temp_c", "sbp_mmhg", "dbp_mmhg", "map_mmhg")
#: Per vital, from the window. No lowest or highest: the 6 h horizon keeps none (its
#: min / max columns are always missing: they were inputs here until a test caught it),
#: and on the tuning stays adding the 1 h ones, or the lowest and highest since admission,
#: gave nothing (2019 utility 0.356 → 0.336 / 0.340, AUROC 0.770 → 0.769 / 0.771; 2012
#: AUROC 0.812 → 0.807 / 0.805).
_PER_VITAL = ("latest", "m360_mean", "m360_sd", "m360_slope_per_h", "baseline_dev", "staleness_s")
_SIRS_LABS = ("wbc_10e3_per_ul", "band_neutrophils_pct", "paco2_mmhg", "lactate_mmol_l")
_MORE_LABS = tuple(lab for lab in LAB_FIELDS if lab not in _SIRS_LABS)
_SCORES = ("news2", "qsofa", "sirs", "mews", "shock_index")
#: lowest / highest since admission (detectors.patient.EXTREME_FIELDS): the side on which a
#: value is dangerous, both where both are (SAPS II scores both for WBC, glucose, K, Na)
_STAY_WORST = (
    "gcs_total.stay_min", "wbc_10e3_per_ul.stay_min", "wbc_10e3_per_ul.stay_max", "band_neutrophils_pct.stay_max",
    "paco2_mmhg.stay_max", "lactate_mmol_l.stay_max", "creatinine_mg_dl.stay_max", "bun_mg_dl.stay_max",
    "platelets_10e3_per_ul.stay_min", "bilirubin_mg_dl.stay_max", "glucose_mg_dl.stay_min",
    "glucose_mg_dl.stay_max", "potassium_mmol_l.stay_min", "potassium_mmol_l.stay_max", "sodium_mmol_l.stay_min",
    "sodium_mmol_l.stay_max", "hco3_mmol_l.stay_min", "base_excess_mmol_l.stay_min", "arterial_ph.stay_min",
    "pao2_mmhg.stay_min", "hct_pct.stay_min", "hgb_g_dl.stay_min",
)
_NEWS2_PARTS = ("resp_rate", "spo2", "air_or_oxygen", "sbp", "pulse", "consciousness", "temperature")

#: The model inputs, in a fixed order (a snapshot stores values in this order).
MODEL_FEATURES: tuple[str, ...] = (
    *(f"{v}.{f}" for v in _VITALS for f in _PER_VITAL),
    "shock_index", "pulse_pressure_mmhg", "map_mmhg_derived", "o2_supplemental", "acvpu_not_alert", "gcs_total",
    "wbc_10e3_per_ul", "paco2_mmhg", "lactate_mmol_l", "fio2_pct", "hours_since_admission", "urine_ml_per_h",
    "mech_vent",
    # hours since each lab was last measured (that it was drawn at all is a clinician's worry)
    *(f"{lab}.age_h" for lab in (*_SIRS_LABS, "fio2_pct")),
    # the further labs, latest value and age; then who the patient is
    *(name for lab in _MORE_LABS for name in (lab, f"{lab}.age_h")),
    "age_years", "sex_male", *(f"care_unit.{u}" for u in CARE_UNITS), "hours_in_hospital_before_monitoring",
    # the worst since admission, in the direction a severity score counts as worse
    *_STAY_WORST,
    *(f"score.{s}" for s in _SCORES),
    *(f"news2.{p}" for p in _NEWS2_PARTS),
)


def model_vector(features: Mapping[str, float], scores: Mapping[str, float],
                 news2_components: Mapping[str, int]) -> dict[str, float]:
    """The model inputs from a tick's feature vector and clinical scores (NaN = missing)."""
    out: dict[str, float] = {}
    for name in MODEL_FEATURES:
        if name.startswith("score."):
            out[name] = float(scores.get(name[6:], math.nan))
        elif name.startswith("news2."):
            part = news2_components.get(name[6:])
            out[name] = math.nan if part is None else float(part)
        else:
            out[name] = float(features.get(name, math.nan))
    return out


def _clean(features: Mapping[str, float]) -> dict[str, float]:
    """River takes absent keys as missing: drop NaN and infinite values."""
    return {k: float(v) for k, v in features.items() if v is not None and math.isfinite(v)}


#: Inputs a logistic model also sees as band indicators (band edges): a linear model cannot
#: bend, and the risk is not monotone in them. On the 2019 tuning stays (warm start on
#: 3,000, prequential on the next 2,000) bands of the time since admission raised
#: normalized utility 0.314 → 0.357 (AUROC 0.733 → 0.762), age bands on top → 0.363;
#: finer time bands (3 h steps early) gave no more (0.362).
BANDS: dict[str, tuple[float, ...]] = {
    "hours_since_admission": (6.0, 12.0, 24.0, 48.0, 96.0),
    "age_years": (40.0, 55.0, 70.0, 80.0),
    # a day or more in hospital before this unit: hospital-acquired infection is another risk
    "hours_in_hospital_before_monitoring": (12.0, 24.0, 72.0, 168.0),
}


def band_names(name: str) -> list[str]:
    """``hours_since_admission@0-6``, ``…@6-12``, …, ``…@96+``: one per band of ``name``."""
    edges = (0.0, *BANDS[name])
    return [f"{name}@{lo:g}-{hi:g}" for lo, hi in zip(edges, edges[1:])] + [f"{name}@{edges[-1]:g}+"]


def banded(x: Mapping[str, float]) -> dict[str, float]:
    """``x`` plus, for each :data:`BANDS` input it has, 1.0 for its band and 0.0 for the others."""
    out = dict(x)
    for name, edges in BANDS.items():
        value = x.get(name)
        if value is None:
            continue
        hit = sum(1 for e in edges if value >= e)
        for j, band in enumerate(band_names(name)):
            out[band] = 1.0 if j == hit else 0.0
    return out


@dataclass(frozen=True, slots=True)
class Contribution:
    feature: str
    value: float
    #: signed: > 0 pushes the risk up. Logistic: log-odds; forest: probability change.
    contribution: float


class RiskModel:
    """One online model: probability of the event within its horizon."""

    def __init__(self, kind: Kind = "logistic", *, seed: int = 0) -> None:
        from river import forest, linear_model, optim, preprocessing

        self.kind = kind
        self.seed = seed
        if kind == "logistic":
            self._model: Any = preprocessing.StandardScaler() | linear_model.LogisticRegression(
                optimizer=optim.SGD(LEARNING_RATE), l2=1e-4)
        elif kind == "forest":
            self._model = forest.ARFClassifier(n_models=10, seed=seed)
        else:
            raise ValueError(f"unknown model kind {kind!r} (logistic, forest)")
        self.learned = 0
        self.positives = 0
        #: logistic: the averaged weights and intercept it predicts with (see AVERAGE_OVER)
        self.average_over = AVERAGE_OVER
        self.weights: dict[str, float] = {}
        self.intercept = 0.0

    def predict(self, features: Mapping[str, float]) -> float:
        x = self._inputs(features)
        if self.kind == "logistic":
            return _sigmoid(self._logit(x))
        proba = self._model.predict_proba_one(x)
        return float(proba.get(True, 0.0)) if proba else 0.5

    def _logit(self, x: Mapping[str, float]) -> float:
        scaled = self._model["StandardScaler"].transform_one(x)
        return self.intercept + sum(self.weights.get(k, 0.0) * float(z) for k, z in scaled.items())

    def learn(self, features: Mapping[str, float], label: bool) -> None:
        self._model.learn_one(self._inputs(features), bool(label))
        self.learned += 1
        self.positives += bool(label)
        if self.kind == "logistic":
            sgd = self._model["LogisticRegression"]
            a = max(1.0 / self.learned, 1.0 / self.average_over)
            for k, w in sgd.weights.items():
                held = self.weights.get(k, 0.0)
                self.weights[k] = held + (float(w) - held) * a
            self.intercept += (float(sgd.intercept) - self.intercept) * a

    def _inputs(self, features: Mapping[str, float]) -> dict[str, float]:
        x = _clean(features)
        return banded(x) if self.kind == "logistic" else x

    def explain(self, features: Mapping[str, float], top: int = 5) -> list[Contribution]:
        """The ``top`` features by the size of their contribution to this prediction."""
        x = self._inputs(features)
        out: list[Contribution] = []
        if self.kind == "logistic":
            scaled = self._model["StandardScaler"].transform_one(x)
            for k, z in scaled.items():
                c = self.weights.get(k, 0.0) * float(z)
                if c != 0.0:
                    out.append(Contribution(k, x[k], c))
        else:
            base = self.predict(x)
            for k in x:
                c = base - self.predict({j: v for j, v in x.items() if j != k})
                if c != 0.0:
                    out.append(Contribution(k, x[k], c))
        out.sort(key=lambda c: (-abs(c.contribution), c.feature))
        return out[:top]


@dataclass(frozen=True, slots=True)
class Snapshot:
    ts_ms: int
    features: dict[str, float]
    predicted: float = math.nan

    def pack(self) -> bytes:
        """Compact bytes (float32 per model input, NaN = missing) for a history store."""
        values = np.array([self.features.get(n, math.nan) for n in MODEL_FEATURES], dtype=np.float32)
        return np.int64(self.ts_ms).tobytes() + values.tobytes()

    @classmethod
    def unpack(cls, raw: bytes) -> Snapshot:
        if len(raw) != 8 + 4 * len(MODEL_FEATURES):
            raise SnapshotError(f"a snapshot of {len(raw)} bytes does not match the {len(MODEL_FEATURES)} model inputs")
        ts = int(np.frombuffer(raw[:8], dtype=np.int64)[0])
        values = np.frombuffer(raw[8:], dtype=np.float32)
        return cls(ts, {n: float(v) for n, v in zip(MODEL_FEATURES, values) if math.isfinite(v)})


class SnapshotError(EwsError, ValueError):
    """A model snapshot (file or history entry) that cannot be used; the message says why."""


def label_snapshots(snapshots: Iterable[Snapshot], event_ms: int | None,
                    horizon_ms: int) -> list[tuple[Snapshot, bool]]:
    """Labels for held snapshots: the event (None: the stay ended without it) within the horizon."""
    out: list[tuple[Snapshot, bool]] = []
    for snap in snapshots:
        if event_ms is None:
            out.append((snap, False))
        elif snap.ts_ms <= event_ms:
            out.append((snap, event_ms - snap.ts_ms <= horizon_ms))
    return out


@dataclass
class LabelBuffer:
    """Feature snapshots of one patient, waiting for the outcome that labels them (in memory).

    At most ``capacity`` snapshots, at least ``every_ms`` apart; the oldest go first
    (counted in ``dropped``). The worker keeps the same snapshots in Redis instead.
    """

    horizon_ms: int
    every_ms: int = 15 * 60_000
    capacity: int = 400
    snapshots: deque[Snapshot] = field(default_factory=deque)
    dropped: int = 0

    def add(self, ts_ms: int, features: Mapping[str, float], predicted: float = math.nan) -> bool:
        if self.snapshots and ts_ms - self.snapshots[-1].ts_ms < self.every_ms:
            return False
        self.snapshots.append(Snapshot(ts_ms, _clean(features), predicted))
        while len(self.snapshots) > self.capacity:
            self.snapshots.popleft()
            self.dropped += 1
        return True

    def label(self, event_ms: int | None) -> list[tuple[Snapshot, bool]]:
        """Labels for every held snapshot, then empty the buffer."""
        out = label_snapshots(self.snapshots, event_ms, self.horizon_ms)
        self.snapshots.clear()
        return out


# -- calibration -----------------------------------------------------------------------

_P_CLIP = 1e-6


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z)) if z > -700 else 0.0


def _logit(p: np.ndarray) -> np.ndarray:
    q = np.clip(np.asarray(p, dtype=float), _P_CLIP, 1 - _P_CLIP)
    return np.asarray(np.log(q / (1 - q)))


def calibrate(p: float, calibration: tuple[float, float]) -> float:
    """The calibrated probability of a raw risk ``p`` under Platt scaling ``(slope, intercept)``.

    >>> calibrate(0.2, (1.0, 0.0))
    0.2
    >>> round(calibrate(0.5, (1.0, math.log(1 / 9))), 3)  # intercept log(1/9): odds 1 → 1/9
    0.1
    """
    slope, intercept = calibration
    if (slope, intercept) == (1.0, 0.0):
        return p
    q = min(max(p, _P_CLIP), 1 - _P_CLIP)  # as _logit, for one value on the scoring path
    return _sigmoid(slope * math.log(q / (1 - q)) + intercept)


def fit_platt(p: np.ndarray, y: np.ndarray, *, ridge: float = 1e-6, iterations: int = 50) -> tuple[float, float]:
    """Platt scaling (Platt 1999) of raw risks ``p`` against outcomes ``y``: the logistic
    regression of ``y`` on ``logit(p)``, fitted by Newton's method.

    A slope above zero keeps the order of the risks, so the ranking (AUROC) and any
    operating point carried through :func:`calibrate` stay as they were; only the scale
    moves. Returns the identity when ``y`` has one class or the fit is not increasing.
    """
    x = _logit(p)
    t = np.asarray(y, dtype=float)
    if x.shape != t.shape:
        raise ValueError(f"{len(x)} risks for {len(t)} outcomes")
    if len(t) == 0 or t.min() == t.max():
        return (1.0, 0.0)
    design = np.column_stack([x, np.ones_like(x)])
    w = np.array([1.0, 0.0])
    for _ in range(iterations):
        q = 1.0 / (1.0 + np.exp(-np.clip(design @ w, -700, 700)))
        grad = design.T @ (q - t) + ridge * w
        hess = (design * (q * (1 - q))[:, None]).T @ design + ridge * np.eye(2)
        delta = np.linalg.solve(hess, grad)
        w = w - delta
        if float(np.abs(delta).max()) < 1e-10:
            break
    if not np.all(np.isfinite(w)) or w[0] <= 0:
        return (1.0, 0.0)
    return (float(w[0]), float(w[1]))


# -- the two models the product runs -------------------------------------------------


@dataclass(frozen=True, slots=True)
class ModelSpec:
    name: str
    #: outcome kinds that count as this model's event
    events: tuple[str, ...]
    horizon_ms: int
    #: the operating threshold recommended for alerts (chosen on warm-start data), on the
    #: calibrated scale
    alert_at: float = 0.5
    #: Platt scaling of the model's raw risk, (slope, intercept) on the log-odds, fitted on
    #: the later half of the warm start; (1, 0) is the identity (an untrained model)
    calibration: tuple[float, float] = (1.0, 0.0)


DEFAULT_SPECS: tuple[ModelSpec, ...] = (
    # 6 h: the 2019 challenge's own label (SepsisLabel turns 1 six hours before t_sepsis);
    # 4 / 6 / 8 / 12 h gave 0.30 / 0.31 / 0.31 / 0.29 normalized utility on the tuning stays.
    ModelSpec("sepsis", ("sepsis_onset",), 6 * HOUR_MS),
    ModelSpec("deterioration", ("deterioration", "rapid_response", "icu_transfer", "cardiac_arrest", "death"),
              24 * HOUR_MS),
)


@dataclass(frozen=True, slots=True)
class Risk:
    model: str
    version: str
    probability: float
    alert_at: float
    contributions: tuple[Contribution, ...] = ()


@dataclass(frozen=True, slots=True)
class LearnReport:
    learned: dict[str, int]
    positives: dict[str, int]
    duplicate: bool = False
    #: per model whose error or risk distribution changed (ADWIN) while learning these, what
    #: changed: "error" (its prediction error), "risk" (its risks)
    drift_kinds: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def drift(self) -> tuple[str, ...]:
        """The models that drifted."""
        return tuple(self.drift_kinds)


class _Drift:
    """ADWIN on each discharge's mean prediction error and mean predicted risk.

    One value per outcome (the mean over its learned snapshots, each scored before it was
    learned): a stay's snapshots are not independent evidence. The risk was once watched
    tick by tick; consecutive ticks of a patient are so alike that ADWIN fired 87 times
    in 2,000 unseen 2012 stays with nothing changed; one value per discharge, once.
    """

    def __init__(self) -> None:
        from river import drift

        adwin: Any = drift.ADWIN  # River's detectors are untyped
        self.error: Any = adwin(delta=0.002)
        self.risk: Any = adwin(delta=0.002)
        self.error_drifts = 0
        self.risk_drifts = 0
        self.last_drift_ms: int | None = None

    def on_learn(self, error: float, risk: float, now_ms: int) -> tuple[str, ...]:
        """What changed with this outcome: ``error``, ``risk``, both or neither."""
        kinds = tuple(kind for kind, detector, value in (("error", self.error, error), ("risk", self.risk, risk))
                      if self._detect(detector, value))
        self.error_drifts += "error" in kinds
        self.risk_drifts += "risk" in kinds
        if kinds:
            self.last_drift_ms = now_ms
        return kinds

    @staticmethod
    def _detect(detector: Any, value: float) -> bool:
        detector.update(value)
        return bool(detector.drift_detected)


def _thin(labelled: list[tuple[Snapshot, bool]], limit: int | None) -> list[tuple[Snapshot, bool]]:
    if limit is None or len(labelled) <= limit:
        return labelled
    pos = [x for x in labelled if x[1]]
    neg = [x for x in labelled if not x[1]]
    keep_pos = pos[-limit:]
    room = limit - len(keep_pos)
    step = len(neg) / room if room else 0.0
    keep_neg = [neg[int(i * step)] for i in range(room)] if room else []
    return sorted(keep_pos + keep_neg, key=lambda x: x[0].ts_ms)


class OnlineModels:
    """The sepsis and deterioration models, their drift monitors and their version.

    ``version`` names the snapshot the models started from (or ``untrained``) and how
    many labelled snapshots they have learned since, e.g. ``sepsis-logistic-3f2a9c1d+1204``.
    """

    def __init__(self, kind: Kind = "logistic", *, seed: int = 0,
                 specs: Iterable[ModelSpec] = DEFAULT_SPECS, per_outcome: int | None = PER_OUTCOME) -> None:
        self.kind = kind
        #: learn at most this many of an outcome's labelled snapshots per model (evenly
        #: spaced, positives first), so that a long stay does not outweigh a short one
        self.per_outcome = per_outcome
        self.specs = {s.name: s for s in specs}
        self.models = {name: RiskModel(kind, seed=seed + i) for i, name in enumerate(self.specs)}
        self.drift = {name: _Drift() for name in self.specs}
        self.base = {name: "untrained" for name in self.specs}
        #: each model's lifetime learned count when its base version was set
        self.base_learned = {name: 0 for name in self.specs}
        self.trained_on: list[dict[str, Any]] = []
        #: outcome keys learned recently (idempotence under redelivery), bounded
        self.seen: deque[str] = deque(maxlen=4096)

    def version(self, name: str) -> str:
        return f"{self.base[name]}+{self.models[name].learned - self.base_learned[name]}"

    def ready(self, name: str) -> bool:
        """A model predicts only once it has learned enough of both classes to mean something."""
        m = self.models[name]
        return m.positives >= MIN_POSITIVES and m.learned - m.positives >= MIN_NEGATIVES

    def predict(self, vector: Mapping[str, float]) -> dict[str, Risk]:
        """Risks of the models that are ready (an untrained model neither predicts nor alerts)."""
        out: dict[str, Risk] = {}
        for name, model in self.models.items():
            if not self.ready(name):
                continue
            p = self.probability(name, vector)
            out[name] = Risk(name, self.version(name), p, self.specs[name].alert_at)
        return out

    def probability(self, name: str, vector: Mapping[str, float]) -> float:
        """The model's calibrated risk (its raw risk through the spec's Platt scaling)."""
        return calibrate(self.models[name].predict(vector), self.specs[name].calibration)

    def explain(self, name: str, vector: Mapping[str, float], top: int = 5) -> tuple[Contribution, ...]:
        return tuple(self.models[name].explain(vector, top))

    def learn(self, key: str, snapshots: list[Snapshot], events: Mapping[str, int],
              observed: Iterable[str] | None, now_ms: int) -> LearnReport:
        """Learn from one patient's snapshots once their outcome is known.

        ``events``: outcome kind → time of the first such event for this patient;
        ``observed``: the kinds the source records (None = all). ``key`` identifies the
        outcome (patient and discharge time): a redelivered outcome is not learned twice.
        """
        report: LearnReport | None = None
        for report in self.learning(key, snapshots, events, observed, now_ms):
            pass
        assert report is not None  # learning always ends with its report
        return report

    def learning(self, key: str, snapshots: list[Snapshot], events: Mapping[str, int],
                 observed: Iterable[str] | None, now_ms: int, *, pause_every: int = 0
                 ) -> Iterator[LearnReport | None]:
        """:meth:`learn`, step by step: ``None`` after every ``pause_every`` snapshots learned
        (0: never), where a caller may yield to its event loop, then the report, last.

        One outcome is labelled and thinned as a whole however it is paused, so the worker
        (which pauses) learns exactly what ``ews evaluate`` (which does not) learns.
        """
        names = tuple(self.models)
        if key in self.seen:
            yield LearnReport({n: 0 for n in names}, {n: 0 for n in names}, duplicate=True)
            return
        self.seen.append(key)
        seen_kinds = None if observed is None else set(observed)
        learned = {n: 0 for n in names}
        positives = {n: 0 for n in names}
        drift_kinds: dict[str, tuple[str, ...]] = {}
        ordered = sorted(snapshots, key=lambda s: s.ts_ms)
        done = 0
        for name, spec in self.specs.items():
            if seen_kinds is not None and not seen_kinds.intersection(spec.events):
                continue
            times = [events[k] for k in spec.events if k in events]
            event_ms = min(times) if times else None
            model = self.models[name]
            errors: list[float] = []
            risks: list[float] = []
            for snap, label in _thin(label_snapshots(ordered, event_ms, spec.horizon_ms), self.per_outcome):
                p = self.probability(name, snap.features)  # scored before it is learned
                errors.append(abs(float(label) - p))
                risks.append(p)
                model.learn(snap.features, label)
                learned[name] += 1
                positives[name] += int(label)
                done += 1
                if pause_every and done % pause_every == 0:
                    yield None
            if errors:
                kinds = self.drift[name].on_learn(sum(errors) / len(errors), sum(risks) / len(risks), now_ms)
                if kinds:
                    drift_kinds[name] = kinds
        yield LearnReport(learned, positives, drift_kinds=drift_kinds)

    def status(self) -> dict[str, dict[str, Any]]:
        return {name: {"version": self.version(name), "kind": self.kind, "ready": self.ready(name),
                       "learned": m.learned, "learned_since_snapshot": m.learned - self.base_learned[name],
                       "positives": m.positives, "alert_at": self.specs[name].alert_at,
                       "calibration": list(self.specs[name].calibration),
                       "horizon_h": self.specs[name].horizon_ms / HOUR_MS,
                       "drift_error": self.drift[name].error_drifts, "drift_risk": self.drift[name].risk_drifts,
                       "last_drift_ms": self.drift[name].last_drift_ms}
                for name, m in self.models.items()}

    def with_alert_at(self, name: str, alert_at: float) -> None:
        self.specs[name] = replace(self.specs[name], alert_at=alert_at)

    def with_calibration(self, name: str, calibration: tuple[float, float]) -> None:
        self.specs[name] = replace(self.specs[name], calibration=calibration)

    def with_horizon(self, name: str, horizon_ms: int) -> None:
        self.specs[name] = replace(self.specs[name], horizon_ms=horizon_ms)

    # -- snapshots (files and checkpoints) ---------------------------------------------

    def dump(self, note: Mapping[str, Any] | None = None, *, rebase: bool = False, created: str = "") -> bytes:
        """Versioned bytes: a JSON header line (format, created, model versions), then the pickled state.

        Loading unpickles: load snapshots only from where you keep your own models.

        ``rebase`` (``ews train``) starts a new version line: each model that learned
        something gets the hash of its state as base, and the count after ``+`` restarts.
        """
        if rebase:
            for name, model in self.models.items():
                digest = hashlib.sha256(pickle.dumps(model)).hexdigest()[:8]
                if model.learned > self.base_learned[name]:
                    self.base[name] = f"{name}-{self.kind}-{digest}"
                    self.base_learned[name] = model.learned
        if note:
            self.trained_on.append(dict(note))
        header = {"format": SNAPSHOT_FORMAT, "created": created, "kind": self.kind,
                  "models": {n: self.version(n) for n in self.models}}
        buf = io.BytesIO()
        buf.write(json.dumps(header).encode() + b"\n")
        pickle.dump(self, buf, protocol=pickle.HIGHEST_PROTOCOL)
        return buf.getvalue()

    @staticmethod
    def load(raw: bytes, source: str = "model snapshot") -> OnlineModels:
        head, sep, body = raw.partition(b"\n")
        if not sep or SNAPSHOT_FORMAT.encode() not in head:
            raise SnapshotError(f"{source}: not a bedside-ews model snapshot (expected format {SNAPSHOT_FORMAT})")
        try:
            models = pickle.loads(body)
        except Exception as exc:  # noqa: BLE001 — any unpickling failure means the same thing
            raise SnapshotError(f"{source}: unreadable ({type(exc).__name__}: {exc})") from None
        if not isinstance(models, OnlineModels):
            raise SnapshotError(f"{source}: holds {type(models).__name__}, not OnlineModels")
        return models
