"""Modified Early Warning Score.

Source: Subbe CP, Kruger M, Rutherford P, Gemmel L. Validation of a modified Early
Warning Score in medical admissions. QJM 2001;94(10):521-526. Many local variants
exist, so the bands are data (:class:`MewsBands`) that a hospital can replace.
Default bands (Subbe 2001): systolic BP ≤70 →3, 71–80 →2, 81–100 →1, 101–199 →0,
≥200 →2; heart rate ≤40 →2, 41–50 →1, 51–100 →0, 101–110 →1, 111–129 →2, ≥130 →3;
respiration rate <9 →2, 9–14 →0, 15–20 →1, 21–29 →2, ≥30 →3; temperature <35 →2,
35.0–38.4 →0, ≥38.5 →2; AVPU Alert 0, Voice 1, Pain 2, Unresponsive 3 (new
confusion, outside AVPU, scores as Voice). High risk at total ≥ 5.

>>> from detectors.scores.base import ScoreInputs
>>> Mews().score(ScoreInputs(sbp_mmhg=80, heart_rate_bpm=115, resp_rate_per_min=22, temp_c=38.5, acvpu="V")).total
9
"""

from __future__ import annotations

from dataclasses import dataclass, field

from detectors.scores._bands import Band, BandTable, round_half_up
from detectors.scores.base import ScoreInputs, ScoreResult, stale_of

__all__ = ["Mews", "MewsBands"]

_USED = {"sbp": ("sbp_mmhg",), "heart_rate": ("heart_rate_bpm",), "resp_rate": ("resp_rate_per_min",),
         "temperature": ("temp_c",), "avpu": ("acvpu", "gcs_total")}


@dataclass(frozen=True, slots=True)
class MewsBands:
    sbp: BandTable = BandTable("MEWS systolic BP mmHg", (
        Band(None, 70, 3), Band(71, 80, 2), Band(81, 100, 1), Band(101, 199, 0), Band(200, None, 2)))
    heart_rate: BandTable = BandTable("MEWS heart rate /min", (
        Band(None, 40, 2), Band(41, 50, 1), Band(51, 100, 0), Band(101, 110, 1), Band(111, 129, 2),
        Band(130, None, 3)))
    resp_rate: BandTable = BandTable("MEWS respiration rate /min", (
        Band(None, 8, 2), Band(9, 14, 0), Band(15, 20, 1), Band(21, 29, 2), Band(30, None, 3)))
    temperature_tenths: BandTable = BandTable("MEWS temperature 0.1 °C", (
        Band(None, 349, 2), Band(350, 384, 0), Band(385, None, 2)))
    avpu: dict[str, int] = field(default_factory=lambda: {"A": 0, "C": 1, "V": 1, "P": 2, "U": 3})
    high_at: int = 5


@dataclass(frozen=True, slots=True)
class Mews:
    name: str = "mews"
    bands: MewsBands = field(default_factory=MewsBands)

    def score(self, inputs: ScoreInputs) -> ScoreResult:
        b = self.bands
        comp: dict[str, float] = {}
        missing: list[str] = []

        def put(name: str, points: int | None) -> None:
            if points is None:
                missing.append(name)
            comp[name] = 0 if points is None else points

        put("sbp", None if inputs.sbp_mmhg is None else b.sbp.points(round_half_up(inputs.sbp_mmhg)))
        put("heart_rate", None if inputs.heart_rate_bpm is None else
            b.heart_rate.points(round_half_up(inputs.heart_rate_bpm)))
        put("resp_rate", None if inputs.resp_rate_per_min is None else
            b.resp_rate.points(round_half_up(inputs.resp_rate_per_min)))
        put("temperature", None if inputs.temp_c is None else
            b.temperature_tenths.points(round_half_up(inputs.temp_c, 1)))
        level = inputs.consciousness()
        if level is not None and level not in b.avpu:
            raise ValueError(f"consciousness must be one of {sorted(b.avpu)}; got {level!r}")
        put("avpu", None if level is None else b.avpu[level])
        total = int(sum(comp.values()))
        return ScoreResult(self.name, total, comp, tuple(missing), stale_of(inputs, _USED),
                           positive=total >= b.high_at, label=f"MEWS {total}")
