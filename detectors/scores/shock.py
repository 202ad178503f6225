"""Shock index: heart rate / systolic blood pressure.

Source: Allgöwer M, Burri C. "Schockindex". Dtsch Med Wochenschr 1967;92:1947-1950;
thresholds as in shared/reference/clinical.md: normal 0.5–0.7, > 0.9 suggests early
shock, ≥ 1.0 high risk. The index is computed from the rounded chart values.

>>> from detectors.scores.base import ScoreInputs
>>> r = ShockIndex().score(ScoreInputs(heart_rate_bpm=110, sbp_mmhg=100))
>>> r.total, r.label, r.positive
(1.1, 'high', True)
"""

from __future__ import annotations

from dataclasses import dataclass

from detectors.scores._bands import round_half_up
from detectors.scores.base import ScoreInputs, ScoreResult, stale_of

__all__ = ["ShockIndex", "shock_class"]

_USED = {"heart_rate": ("heart_rate_bpm",), "sbp": ("sbp_mmhg",)}


def shock_class(index: float) -> str:
    if index >= 1.0:
        return "high"
    if index > 0.9:
        return "early_shock"
    if index >= 0.5:
        return "normal" if index <= 0.7 else "elevated"
    return "low"


@dataclass(frozen=True, slots=True)
class ShockIndex:
    name: str = "shock_index"
    positive_above: float = 0.9

    def score(self, inputs: ScoreInputs) -> ScoreResult:
        hr, sbp = inputs.heart_rate_bpm, inputs.sbp_mmhg
        missing = tuple(n for n, v in (("heart_rate", hr), ("sbp", sbp)) if v is None)
        stale = stale_of(inputs, _USED)
        if hr is None or sbp is None or round_half_up(sbp) <= 0:
            return ScoreResult(self.name, float("nan"), {}, missing or ("sbp",), stale, False, "unavailable")
        h, s = round_half_up(hr), round_half_up(sbp)
        index = round(h / s, 3)
        return ScoreResult(self.name, index, {"heart_rate": h, "sbp": s}, missing, stale,
                           positive=index > self.positive_above, label=shock_class(index))
