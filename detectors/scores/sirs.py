"""Systemic Inflammatory Response Syndrome criteria.

Source: Bone RC et al. Definitions for sepsis and organ failure (ACCP/SCCM Consensus
Conference). Chest 1992;101(6):1644-1655. One point each: temperature > 38 °C or
< 36 °C; heart rate > 90/min; respiration rate > 20/min or PaCO2 < 32 mmHg; WBC
> 12 or < 4 ×10^3/µL or > 10 % immature (band) forms. Positive at ≥ 2.

Temperature is compared at the chart's precision (tenths), rates as integers. The
WBC criterion uses labs when present; without any, it is listed as missing.

>>> from detectors.scores.base import ScoreInputs
>>> Sirs().score(ScoreInputs(temp_c=38.1, heart_rate_bpm=91)).total
2
"""

from __future__ import annotations

from dataclasses import dataclass

from detectors.scores._bands import round_half_up
from detectors.scores.base import ScoreInputs, ScoreResult, stale_of

__all__ = ["Sirs"]

_USED = {
    "temperature": ("temp_c",),
    "heart_rate": ("heart_rate_bpm",),
    "respiration": ("resp_rate_per_min", "paco2_mmhg"),
    "wbc": ("wbc_10e3_per_ul", "band_neutrophils_pct"),
}


@dataclass(frozen=True, slots=True)
class Sirs:
    name: str = "sirs"
    positive_at: int = 2

    def score(self, inputs: ScoreInputs) -> ScoreResult:
        comp: dict[str, float] = {}
        missing: list[str] = []
        t = inputs.temp_c
        if t is None:
            missing.append("temperature")
            comp["temperature"] = 0
        else:
            tenths = round_half_up(t, 1)
            comp["temperature"] = int(tenths > 380 or tenths < 360)
        hr = inputs.heart_rate_bpm
        if hr is None:
            missing.append("heart_rate")
        comp["heart_rate"] = 0 if hr is None else int(round_half_up(hr) > 90)
        rr, pa = inputs.resp_rate_per_min, inputs.paco2_mmhg
        if rr is None and pa is None:
            missing.append("respiration")
        comp["respiration"] = int((rr is not None and round_half_up(rr) > 20) or (pa is not None and pa < 32))
        wbc, bands = inputs.wbc_10e3_per_ul, inputs.band_neutrophils_pct
        if wbc is None and bands is None:
            missing.append("wbc")
        comp["wbc"] = int((wbc is not None and (wbc > 12 or wbc < 4)) or (bands is not None and bands > 10))
        total = int(sum(comp.values()))
        return ScoreResult(self.name, total, comp, tuple(missing), stale_of(inputs, _USED),
                           positive=total >= self.positive_at, label=f"SIRS {total}")
