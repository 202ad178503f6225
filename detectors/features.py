"""The feature vector of one patient at one scoring tick, and the score inputs.

Numeric vitals come from the window store (artefact-filtered: a spike or a
probe-off drop never reaches a score); categorical values (oxygen, ACVPU, GCS) and
labs from the patient's latest state. Every value older than its staleness limit is
reported stale, so a score on old data says so.

Feature names are ``<vital>.<feature>`` (e.g. ``heart_rate_bpm.m60_slope_per_h``;
see :data:`detectors.windows.FEATURE_FIELDS`) plus the derived ``shock_index``,
``pulse_pressure_mmhg`` and ``map_mmhg_derived`` (from SBP/DBP when MAP is absent), the
``urine_ml_per_h`` (charted urine since admission per hour) and ``mech_vent``, the
labs (:data:`~detectors.schemas.LAB_FIELDS`) and FiO2 with ``<lab>.age_h`` (hours
since each was measured), ``<name>.stay_min`` / ``<name>.stay_max`` (lowest and
highest since admission, for :data:`~detectors.patient.EXTREME_FIELDS`), and from
the patient context ``age_years``, ``sex_male`` (1 / 0), ``care_unit.<kind>`` (1 for
the patient's kind of unit, 0 for the others; missing when unknown) and
``hours_in_hospital_before_monitoring`` (from the hospital admission to the first
reading here).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from detectors.patient import PatientState
from detectors.schemas import CARE_UNITS, LAB_FIELDS
from detectors.scores.base import ScoreInputs
from detectors.windows import VITALS

__all__ = ["FeatureConfig", "build_features", "score_inputs"]

_CATEGORICAL = ("o2_supplemental", "acvpu", "gcs_total")
#: the labs a clinical score reads (SIRS); their staleness is reported with the score
_SCORE_LABS = ("wbc_10e3_per_ul", "band_neutrophils_pct", "paco2_mmhg", "lactate_mmol_l")


@dataclass(frozen=True, slots=True)
class FeatureConfig:
    #: a vital's latest value older than this is stale (ward observations are hourly or rarer)
    stale_after_s: float = 3600.0
    #: labs are stale after this
    labs_stale_after_s: float = 24 * 3600.0
    #: per-field overrides of ``stale_after_s``
    stale_after_overrides_s: dict[str, float] = field(default_factory=dict)

    def limit(self, name: str) -> float:
        if name in self.stale_after_overrides_s:
            return self.stale_after_overrides_s[name]
        return self.labs_stale_after_s if name in LAB_FIELDS else self.stale_after_s


def _finite(x: float) -> float | None:
    return x if not math.isnan(x) else None


def build_features(window: dict[str, dict[str, float]], state: PatientState, now_ms: int) -> dict[str, float]:
    """Flat feature vector from the window read-out and the patient's state."""
    out: dict[str, float] = {}
    for vital, feats in window.items():
        for name, value in feats.items():
            out[f"{vital}.{name}"] = value
    hr = window["heart_rate_bpm"]["latest"]
    sbp = window["sbp_mmhg"]["latest"]
    dbp = window["dbp_mmhg"]["latest"]
    mean_ap = window["map_mmhg"]["latest"]
    out["shock_index"] = hr / sbp if sbp > 0 else math.nan
    out["pulse_pressure_mmhg"] = sbp - dbp
    out["map_mmhg_derived"] = mean_ap if not math.isnan(mean_ap) else (sbp + 2.0 * dbp) / 3.0
    o2 = state.latest("o2_supplemental")
    out["o2_supplemental"] = math.nan if o2 is None else float(bool(o2))
    level = state.latest("acvpu")
    out["acvpu_not_alert"] = math.nan if level is None else float(level != "A")
    gcs = state.latest("gcs_total")
    out["gcs_total"] = math.nan if gcs is None else float(gcs)
    for lab in (*LAB_FIELDS, "fio2_pct"):
        v = state.latest(lab)
        out[lab] = float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else math.nan
        # How long ago it was measured: a lab drawn at all says a clinician was worried.
        sample = state.vitals.get(lab)
        out[f"{lab}.age_h"] = (now_ms - sample.ts_ms) / 3_600_000.0 if sample is not None else math.nan
    for name, (lo, hi) in state.extremes.items():
        out[f"{name}.stay_min"] = lo
        out[f"{name}.stay_max"] = hi
    hours = (now_ms - state.first_ts_ms) / 3_600_000.0 if state.first_ts_ms else math.nan
    out["hours_since_admission"] = hours
    # urine output since admission per hour (oliguria below 0.5 ml/kg/h); charted at all or not
    out["urine_ml_per_h"] = (state.urine_total_ml / max(1.0, hours if state.first_ts_ms else 0.0)
                             if "urine_ml" in state.vitals else math.nan)
    vent = state.latest("mech_vent")
    out["mech_vent"] = float(vent) if isinstance(vent, bool) else math.nan
    # time in hospital before the first reading here (the 2019 data's HospAdmTime): a
    # patient moved in after days on a ward is not one admitted straight from the door
    admit = state.hospital_admit_ts_ms
    out["hours_in_hospital_before_monitoring"] = (
        max(0.0, (state.first_ts_ms - admit) / 3_600_000.0) if admit is not None and state.first_ts_ms else math.nan)
    for unit in CARE_UNITS:
        out[f"care_unit.{unit}"] = math.nan if state.care_unit is None else float(state.care_unit == unit)
    out["age_years"] = state.age_years if state.age_years is not None else math.nan
    out["sex_male"] = {"male": 1.0, "female": 0.0}.get(state.sex or "", math.nan)
    return out


def score_inputs(window: dict[str, dict[str, float]], state: PatientState, now_ms: int,
                 config: FeatureConfig = FeatureConfig()) -> ScoreInputs:
    """Latest artefact-filtered values and which of them are stale."""
    stale: set[str] = set()
    values: dict[str, float | None] = {}
    for vital in VITALS:
        latest = _finite(window[vital]["latest"])
        values[vital] = latest
        age = window[vital]["staleness_s"]
        if latest is not None and age > config.limit(vital):
            stale.add(vital)
    for name in (*_CATEGORICAL, *_SCORE_LABS):
        sample = state.vitals.get(name)
        if sample is not None and (now_ms - sample.ts_ms) / 1000.0 > config.limit(name):
            stale.add(name)

    def num(name: str) -> float | None:
        v = state.latest(name)
        return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None

    o2 = state.latest("o2_supplemental")
    acvpu = state.latest("acvpu")
    gcs = state.latest("gcs_total")
    return ScoreInputs(
        resp_rate_per_min=values["resp_rate_per_min"],
        spo2_pct=values["spo2_pct"],
        o2_supplemental=o2 if isinstance(o2, bool) else None,
        sbp_mmhg=values["sbp_mmhg"],
        heart_rate_bpm=values["heart_rate_bpm"],
        acvpu=str(acvpu) if acvpu is not None else None,
        gcs_total=int(gcs) if isinstance(gcs, int) and not isinstance(gcs, bool) else None,
        temp_c=values["temp_c"],
        wbc_10e3_per_ul=num("wbc_10e3_per_ul"),
        band_neutrophils_pct=num("band_neutrophils_pct"),
        paco2_mmhg=num("paco2_mmhg"),
        stale=frozenset(stale),
    )
