"""National Early Warning Score 2.

Source: Royal College of Physicians. *National Early Warning Score (NEWS) 2:
Standardising the assessment of acute-illness severity in the NHS.* London: RCP, 2017.
Chart 1 (scoring), Chart 2 (clinical response thresholds). Bands are reproduced in
``shared/reference/clinical.md``.

Values are rounded to the chart's precision before banding (see
:func:`detectors.scores._bands.round_half_up`), so no value is scored twice.
A missing parameter scores 0 and is listed in ``missing``; the result is then
``complete=False`` — a partial NEWS2 never passes for a full one.

Example
-------
>>> r = news2(resp_rate_per_min=26, spo2_pct=95, o2_supplemental=False, sbp_mmhg=105,
...           heart_rate_bpm=115, acvpu="A", temp_c=38.4)
>>> r.total, r.risk.value, r.complete
(8, 'high', True)
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from detectors.schemas import RiskClass
from detectors.scores._bands import Band, BandTable, round_half_up
from detectors.scores.base import ScoreInputs, ScoreResult, stale_of

__all__ = ["News2", "News2Result", "PARAMETERS", "news2", "risk_class"]

#: Parameter names in chart order; also the keys of ``News2Result.components``.
PARAMETERS: tuple[str, ...] = (
    "resp_rate",
    "spo2",
    "air_or_oxygen",
    "sbp",
    "pulse",
    "consciousness",
    "temperature",
)

RESP_RATE = BandTable(
    "respiration rate /min",
    (Band(None, 8, 3), Band(9, 11, 1), Band(12, 20, 0), Band(21, 24, 2), Band(25, None, 3)),
)
SPO2_SCALE1 = BandTable(
    "SpO2 scale 1 %",
    (Band(None, 91, 3), Band(92, 93, 2), Band(94, 95, 1), Band(96, None, 0)),
)
# Scale 2 below 93 % is the same on air and oxygen; ≥ 93 % depends on oxygen.
SPO2_SCALE2_ON_OXYGEN = BandTable(
    "SpO2 scale 2 % (on oxygen)",
    (
        Band(None, 83, 3),
        Band(84, 85, 2),
        Band(86, 87, 1),
        Band(88, 92, 0),
        Band(93, 94, 1),
        Band(95, 96, 2),
        Band(97, None, 3),
    ),
)
SPO2_SCALE2_ON_AIR = BandTable(
    "SpO2 scale 2 % (on air)",
    (Band(None, 83, 3), Band(84, 85, 2), Band(86, 87, 1), Band(88, None, 0)),
)
SYSTOLIC = BandTable(
    "systolic BP mmHg",
    (Band(None, 90, 3), Band(91, 100, 2), Band(101, 110, 1), Band(111, 219, 0), Band(220, None, 3)),
)
PULSE = BandTable(
    "pulse /min",
    (
        Band(None, 40, 3),
        Band(41, 50, 1),
        Band(51, 90, 0),
        Band(91, 110, 1),
        Band(111, 130, 2),
        Band(131, None, 3),
    ),
)
# Temperature in integer tenths of a degree Celsius.
TEMPERATURE_TENTHS = BandTable(
    "temperature 0.1 °C",
    (Band(None, 350, 3), Band(351, 360, 1), Band(361, 380, 0), Band(381, 390, 1), Band(391, None, 2)),
)


@dataclass(frozen=True, slots=True)
class News2Result:
    """Total (0–20), points per parameter, clinical risk and completeness."""

    total: int
    components: dict[str, int]
    risk: RiskClass
    missing: tuple[str, ...] = field(default=())
    scale: int = 1
    stale: tuple[str, ...] = field(default=())

    @property
    def complete(self) -> bool:
        return not self.missing and not self.stale

    @property
    def max_single(self) -> int:
        return max(self.components.values(), default=0)


def risk_class(total: int, max_single: int) -> RiskClass:
    """RCP Chart 2: ≥7 high; 5–6 medium; a single parameter of 3 low–medium; else low."""
    if total >= 7:
        return RiskClass.HIGH
    if total >= 5:
        return RiskClass.MEDIUM
    if max_single >= 3:
        return RiskClass.LOW_MEDIUM
    return RiskClass.LOW


def news2(
    *,
    resp_rate_per_min: float | None,
    spo2_pct: float | None,
    o2_supplemental: bool | None,
    sbp_mmhg: float | None,
    heart_rate_bpm: float | None,
    acvpu: str | None,
    temp_c: float | None,
    spo2_scale: int = 1,
) -> News2Result:
    """Score NEWS2 from the latest value of each parameter (``None`` = not available).

    ``spo2_scale=2`` is for patients with a prescribed 88–92 % target (hypercapnic
    respiratory failure), set per patient by a clinician. ``acvpu`` is one of
    ``A C V P U``; new confusion (C) scores like V, P and U.
    """
    if spo2_scale not in (1, 2):
        raise ValueError(f"spo2_scale must be 1 or 2, got {spo2_scale!r}")
    comp: dict[str, int] = {}
    missing: list[str] = []

    def put(name: str, points: int | None) -> None:
        if points is None:
            missing.append(name)
            comp[name] = 0
        else:
            comp[name] = points

    put("resp_rate", None if resp_rate_per_min is None else RESP_RATE.points(round_half_up(resp_rate_per_min)))
    put("spo2", None if spo2_pct is None else _spo2_points(spo2_pct, o2_supplemental, spo2_scale))
    put("air_or_oxygen", None if o2_supplemental is None else (2 if o2_supplemental else 0))
    put("sbp", None if sbp_mmhg is None else SYSTOLIC.points(round_half_up(sbp_mmhg)))
    put("pulse", None if heart_rate_bpm is None else PULSE.points(round_half_up(heart_rate_bpm)))
    put("consciousness", None if acvpu is None else _consciousness_points(acvpu))
    put("temperature", None if temp_c is None else TEMPERATURE_TENTHS.points(round_half_up(temp_c, 1)))

    total = sum(comp.values())
    return News2Result(
        total=total,
        components=comp,
        risk=risk_class(total, max(comp.values())),
        missing=tuple(missing),
        scale=spo2_scale,
    )


def _spo2_points(spo2_pct: float, o2_supplemental: bool | None, scale: int) -> int:
    rounded = round_half_up(spo2_pct)
    if scale == 1:
        return SPO2_SCALE1.points(rounded)
    # Unknown oxygen status on Scale 2 is scored as air (the lower score) and the
    # air_or_oxygen parameter is reported missing, so the result is incomplete.
    table = SPO2_SCALE2_ON_OXYGEN if o2_supplemental else SPO2_SCALE2_ON_AIR
    return table.points(rounded)


def _consciousness_points(acvpu: str) -> int:
    level = acvpu.strip().upper()
    if level == "A":
        return 0
    if level in {"C", "V", "P", "U"}:
        return 3
    raise ValueError(f"consciousness must be one of A, C, V, P, U; got {acvpu!r}")


_USED = {
    "resp_rate": ("resp_rate_per_min",),
    "spo2": ("spo2_pct",),
    "air_or_oxygen": ("o2_supplemental",),
    "sbp": ("sbp_mmhg",),
    "pulse": ("heart_rate_bpm",),
    "consciousness": ("acvpu", "gcs_total"),
    "temperature": ("temp_c",),
}


@dataclass(frozen=True, slots=True)
class News2:
    """NEWS2 as a :class:`~detectors.scores.base.Scorer` (Scale 2 set per patient)."""

    name: str = "news2"
    spo2_scale: int = 1
    #: a clinician's per-patient band: heart rates up to this score 0 (None = the chart)
    pulse_scores_zero_up_to: int | None = None

    def result(self, inputs: ScoreInputs) -> News2Result:
        r = news2(
            resp_rate_per_min=inputs.resp_rate_per_min,
            spo2_pct=inputs.spo2_pct,
            o2_supplemental=inputs.o2_supplemental,
            sbp_mmhg=inputs.sbp_mmhg,
            heart_rate_bpm=inputs.heart_rate_bpm,
            acvpu=inputs.consciousness(),
            temp_c=inputs.temp_c,
            spo2_scale=self.spo2_scale,
        )
        hr = inputs.heart_rate_bpm
        limit = self.pulse_scores_zero_up_to
        if limit is not None and hr is not None and 51 <= round_half_up(hr) <= limit and r.components["pulse"]:
            comp = {**r.components, "pulse": 0}
            total = sum(comp.values())
            r = replace(r, components=comp, total=total, risk=risk_class(total, max(comp.values())))
        return replace(r, stale=stale_of(inputs, _USED))

    def score(self, inputs: ScoreInputs) -> ScoreResult:
        r = self.result(inputs)
        return ScoreResult(self.name, r.total, dict(r.components), r.missing, r.stale,
                           positive=r.risk in (RiskClass.MEDIUM, RiskClass.HIGH), label=r.risk.value)
