"""Unit conversion for gateway messages: only known units, never a guess.

Each target field of :class:`~detectors.schemas.Vitals` accepts a small set of units
(UCUM codes and IEEE 11073 MDC unit mnemonics); anything else raises
``InvalidReading("unknown_unit", …)`` naming the unit and what would be accepted.
"""

from __future__ import annotations

from collections.abc import Callable

from detectors.errors import InvalidReading

__all__ = ["age_years", "convert"]

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
# Laboratory units (UCUM). SI results are converted to the conventional unit a field names;
# the factors are the molar masses (creatinine 113.12 g/mol → 88.42 µmol/L per mg/dL;
# urea nitrogen 28.01 → 0.357 mmol/L per mg/dL; glucose 180.16 → 0.0555; bilirubin 584.7 → 17.1).
_MMOL_L = {"mmol/L": _same, "meq/L": _same, "mEq/L": _same}
_COUNT = {"10*3/uL": _same, "10*9/L": _same, "10^3/uL": _same, "K/uL": _same}
_MG_DL = {"mg/dL": _same}

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
    "wbc_10e3_per_ul": _COUNT,
    "platelets_10e3_per_ul": _COUNT,
    "band_neutrophils_pct": _PERCENT,
    "lactate_mmol_l": _MMOL_L,
    "potassium_mmol_l": _MMOL_L,
    "sodium_mmol_l": _MMOL_L,
    "hco3_mmol_l": _MMOL_L,
    "base_excess_mmol_l": _MMOL_L,
    "creatinine_mg_dl": {**_MG_DL, "umol/L": lambda x: x / 88.42},
    "bun_mg_dl": {**_MG_DL, "mmol/L": lambda x: x / 0.357},
    "glucose_mg_dl": {**_MG_DL, "mmol/L": lambda x: x / 0.0555},
    "bilirubin_mg_dl": {**_MG_DL, "umol/L": lambda x: x / 17.1},
    "arterial_ph": {"[pH]": _same, "1": _same, "": _same},
    "pao2_mmhg": _PRESSURE,
    "hct_pct": {**_PERCENT, "L/L": lambda x: x * 100.0},
    "hgb_g_dl": {"g/dL": _same, "g/L": lambda x: x / 10.0},
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


_YEAR_S = 365.2425 * 86_400


def age_years(born_utc_s: float, ts_ms: int) -> float:
    """Age in years (2 decimals) at ``ts_ms`` of someone born at ``born_utc_s`` (epoch seconds).

    >>> age_years(0.0, int(365.2425 * 86_400 * 1000 * 70))
    70.0
    """
    return round((ts_ms / 1000.0 - born_utc_s) / _YEAR_S, 2)
