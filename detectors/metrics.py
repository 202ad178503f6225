"""Evaluation metrics, the way the field computes them on these data sets. Pure numpy.

* :func:`utility` — the PhysioNet/CinC 2019 normalized utility (rules in the data
  README): per-hour rewards around t_sepsis = first ``SepsisLabel`` hour + 6, summed
  over the cohort and normalised between the "never alarm" and the "best" policies.
* :func:`auroc`, :func:`auprc` (average precision), :func:`brier`, :func:`confusion`.
* :func:`event1` — the 2012 challenge's event-1 score, min(sensitivity, PPV).
* :func:`lead_times` — hours from the first alarm in the rewarded window (12 h before
  to 3 h after t_sepsis) to t_sepsis; :func:`alert_onsets` — alarms started (a
  prediction turning from no to yes), for alerts per patient-day.

>>> labels = [0] * 10 + [1] * 5          # first label at hour 10: t_sepsis = 16 (record ends at 14)
>>> round(stay_utility(labels, labels), 3) > 0
True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import rankdata

__all__ = ["Confusion", "alert_onsets", "auprc", "auroc", "brier", "confusion", "event1", "lead_times",
           "stay_utility", "utility"]

_DT_EARLY, _DT_OPTIMAL, _DT_LATE = -12, -6, 3
_MAX_TP, _MIN_FN, _FP = 1.0, -2.0, -0.05


def _t_sepsis(labels: np.ndarray) -> int | None:
    return int(np.argmax(labels)) - _DT_OPTIMAL if labels.any() else None


def stay_utility(labels: Sequence[int] | np.ndarray, predictions: Sequence[int] | np.ndarray) -> float:
    """The challenge's utility of one stay's yes/no predictions (one per hour)."""
    y = np.asarray(labels, dtype=bool)
    p = np.asarray(predictions, dtype=bool)
    if y.shape != p.shape:
        raise ValueError(f"{len(p)} predictions for {len(y)} rows")
    t_s = _t_sepsis(y)
    if t_s is None:
        return float(_FP * p.sum())
    m1 = _MAX_TP / (_DT_OPTIMAL - _DT_EARLY)
    b1 = -m1 * _DT_EARLY
    m2 = -_MAX_TP / (_DT_LATE - _DT_OPTIMAL)
    b2 = -m2 * _DT_LATE
    m3 = _MIN_FN / (_DT_LATE - _DT_OPTIMAL)
    b3 = -m3 * _DT_OPTIMAL
    total = 0.0
    for t in range(len(y)):
        d = t - t_s
        if d > _DT_LATE:
            continue
        if p[t]:
            total += max(m1 * d + b1, _FP) if d <= _DT_OPTIMAL else m2 * d + b2
        elif d > _DT_OPTIMAL:
            total += m3 * d + b3
    return total


def _best(labels: np.ndarray) -> np.ndarray:
    best = np.zeros(len(labels), dtype=bool)
    t_s = _t_sepsis(labels)
    if t_s is not None:
        best[max(0, t_s + _DT_EARLY): min(t_s + _DT_LATE + 1, len(labels))] = True
    return best


@dataclass(frozen=True, slots=True)
class UtilityParts:
    observed: float
    best: float
    inaction: float

    @property
    def normalized(self) -> float:
        span = self.best - self.inaction
        return (self.observed - self.inaction) / span if span else float("nan")


def utility(stays: Sequence[tuple[Sequence[int] | np.ndarray, Sequence[int] | np.ndarray]]) -> UtilityParts:
    """Cohort utility of (labels, predictions) per stay; ``.normalized`` is the challenge figure."""
    observed = best = inaction = 0.0
    for labels, predictions in stays:
        y = np.asarray(labels, dtype=bool)
        observed += stay_utility(y, predictions)
        best += stay_utility(y, _best(y))
        inaction += stay_utility(y, np.zeros(len(y), dtype=bool))
    return UtilityParts(observed, best, inaction)


def auroc(scores: Sequence[float] | np.ndarray, labels: Sequence[int] | np.ndarray) -> float:
    """Area under the ROC curve (Mann–Whitney, ties count half); NaN with one class only."""
    s = np.asarray(scores, dtype=float)
    y = np.asarray(labels, dtype=bool)
    npos, nneg = int(y.sum()), int((~y).sum())
    if not npos or not nneg:
        return float("nan")
    ranks = rankdata(s)
    return float((ranks[y].sum() - npos * (npos + 1) / 2) / (npos * nneg))


def auprc(scores: Sequence[float] | np.ndarray, labels: Sequence[int] | np.ndarray) -> float:
    """Average precision: precision at each distinct threshold, weighted by the recall gained."""
    s = np.asarray(scores, dtype=float)
    y = np.asarray(labels, dtype=bool)
    npos = int(y.sum())
    if not npos:
        return float("nan")
    order = np.argsort(-s, kind="mergesort")
    s, y = s[order], y[order]
    last = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]  # the last index of each distinct score
    tp = np.cumsum(y)[last]
    precision = tp / (last + 1)
    recall = tp / npos
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def brier(probabilities: Sequence[float] | np.ndarray, labels: Sequence[int] | np.ndarray) -> float:
    p = np.asarray(probabilities, dtype=float)
    y = np.asarray(labels, dtype=float)
    return float(np.mean((p - y) ** 2)) if len(p) else float("nan")


@dataclass(frozen=True, slots=True)
class Confusion:
    tp: int
    fp: int
    tn: int
    fn: int

    @property
    def sensitivity(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else float("nan")

    @property
    def specificity(self) -> float:
        return self.tn / (self.tn + self.fp) if self.tn + self.fp else float("nan")

    @property
    def ppv(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else float("nan")


def confusion(predictions: Sequence[int] | np.ndarray, labels: Sequence[int] | np.ndarray) -> Confusion:
    p = np.asarray(predictions, dtype=bool)
    y = np.asarray(labels, dtype=bool)
    return Confusion(int((p & y).sum()), int((p & ~y).sum()), int((~p & ~y).sum()), int((~p & y).sum()))


def event1(predictions: Sequence[int] | np.ndarray, labels: Sequence[int] | np.ndarray) -> float:
    """PhysioNet/CinC 2012 event 1: min(sensitivity, positive predictive value)."""
    c = confusion(predictions, labels)
    if c.tp == 0:
        return 0.0
    return min(c.sensitivity, c.ppv)


def alert_onsets(predictions: Sequence[int] | np.ndarray) -> int:
    """Alarms started: hours where the prediction turns yes (including a yes in the first hour)."""
    p = np.asarray(predictions, dtype=bool).astype(np.int8)
    return int(np.sum(np.diff(np.r_[0, p]) == 1))


def lead_times(stays: Sequence[tuple[Sequence[int] | np.ndarray, Sequence[int] | np.ndarray]]) -> list[float]:
    """Hours before t_sepsis of the first alarm in the rewarded window, per septic stay detected there.

    Negative values are alarms after onset (still rewarded up to 3 h late).
    """
    out: list[float] = []
    for labels, predictions in stays:
        y = np.asarray(labels, dtype=bool)
        p = np.asarray(predictions, dtype=bool)
        t_s = _t_sepsis(y)
        if t_s is None:
            continue
        lo, hi = max(0, t_s + _DT_EARLY), min(t_s + _DT_LATE + 1, len(y))
        hits = np.flatnonzero(p[lo:hi])
        if len(hits):
            out.append(float(t_s - (lo + hits[0])))
    return out
