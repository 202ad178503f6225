"""Unit conversion for gateway messages: only known units, never a guess.

Each target field of :class:`~detectors.schemas.Vitals` accepts a small set of units
(UCUM codes and IEEE 11073 MDC unit mnemonics); anything else raises
``InvalidReading("unknown_unit", …)`` naming the unit and what would be accepted.
"""

from __future__ import annotations

from collections.abc import Callable

from detectors.errors import InvalidReading

__all__ = ["convert"]

_same: Callable[[float], float] = lambda x: x  # noqa: E731

_PER_MIN = {"/min": _same, "1/min": _same, "MDC_DIM_PER_MIN": _same}
_HR = {**_PER_MIN, "{beats}/min": _same, "{beat}/min": _same, "bpm": _same, "MDC_DIM_BEAT_PER_MIN": _same,
       "264864": _same}
_RR = {**_PER_MIN, "{breaths}/min": _same, "{breath}/min": _same, "MDC_DIM_RESP_PER_MIN": _same, "264928": _same}
_PERCENT = {"%": _same, "MDC_DIM_PERCENT": _same, "262688": _same}
_TEMP = {"Cel": _same, "MDC_DIM_DEGC": _same, "268192": _same,
         "[degF]": lambda f: (f - 32.0) * 5.0 / 9.0, "MDC_DIM_FAHR": lambda f: (f - 32.0) * 5.0 / 9.0}
_PRESSURE = {"mm[Hg]": _same, "mmHg": _same, "MDC_DIM_MMHG": _same, "266016": _same,
             "kPa": lambda k: k * 7.500615758, "MDC_DIM_KILO_PASCAL": lambda k: k * 7.500615758}
_FLOW = {"L/min": _same, "l/min": _same, "MDC_DIM_L_PER_MIN": _same}

UNITS: dict[str, dict[str, Callable[[float], float]]] = {
    "heart_rate_bpm": _HR,
    "resp_rate_per_min": _RR,
    "spo2_pct": _PERCENT,
    "fio2_pct": {**_PERCENT, "1": lambda x: x * 100.0},
    "temp_c": _TEMP,
    "sbp_mmhg": _PRESSURE,
    "dbp_mmhg": _PRESSURE,
    "map_mmhg": _PRESSURE,
    "paco2_mmhg": _PRESSURE,
    "o2_flow_l_min": _FLOW,
    "gcs_total": {"{score}": _same, "1": _same, "": _same},
}


def convert(field: str, value: float, unit: str | None, where: str) -> float:
    """``value`` in ``unit`` → the unit of ``field`` (e.g. °F → °C, kPa → mmHg)."""
    table = UNITS.get(field)
    if table is None:
        raise InvalidReading("unmapped_code", f"{where}: no unit table for {field}")
    key = (unit or "").strip()
    fn = table.get(key)
    if fn is None:
        accepted = ", ".join(sorted(k for k in table if k and not k.isdigit()))
        raise InvalidReading("unknown_unit", f"{where}: unit {unit!r} is not accepted for {field} ({accepted})")
    return float(fn(value))
