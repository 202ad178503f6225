"""quick SOFA (Sepsis-3).

Source: Singer M et al. The Third International Consensus Definitions for Sepsis and
Septic Shock (Sepsis-3). JAMA 2016;315(8):801-810. Seymour CW et al., JAMA
2016;315(8):762-774. One point each: respiration rate ≥ 22/min; altered mentation
(GCS < 15, or not Alert on ACVPU); systolic BP ≤ 100 mmHg. Positive at ≥ 2.
(Some calculators wrongly use > 22 and < 100.)

>>> from detectors.scores.base import ScoreInputs
>>> r = Qsofa().score(ScoreInputs(resp_rate_per_min=22, sbp_mmhg=100, acvpu="A"))
>>> r.total, r.positive
(2, True)
"""

from __future__ import annotations

from dataclasses import dataclass

from detectors.scores._bands import round_half_up
from detectors.scores.base import ScoreInputs, ScoreResult, stale_of

__all__ = ["Qsofa"]

_USED = {"resp_rate": ("resp_rate_per_min",), "mentation": ("acvpu", "gcs_total"), "sbp": ("sbp_mmhg",)}


@dataclass(frozen=True, slots=True)
class Qsofa:
    name: str = "qsofa"
    positive_at: int = 2

    def score(self, inputs: ScoreInputs) -> ScoreResult:
        comp: dict[str, float] = {}
        missing: list[str] = []
        rr = inputs.resp_rate_per_min
        comp["resp_rate"] = 0 if rr is None else int(round_half_up(rr) >= 22)
        level = inputs.consciousness()
        if inputs.gcs_total is not None and inputs.acvpu is not None:
            altered = inputs.gcs_total < 15 or level != "A"
        else:
            altered = level is not None and level != "A"
        comp["mentation"] = int(altered)
        sbp = inputs.sbp_mmhg
        comp["sbp"] = 0 if sbp is None else int(round_half_up(sbp) <= 100)
        if rr is None:
            missing.append("resp_rate")
        if level is None:
            missing.append("mentation")
        if sbp is None:
            missing.append("sbp")
        total = int(sum(comp.values()))
        return ScoreResult(self.name, total, comp, tuple(missing), stale_of(inputs, _USED),
                           positive=total >= self.positive_at, label=f"qSOFA {total}")
