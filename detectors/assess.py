"""The one core call the scoring agent makes per reading."""

from __future__ import annotations

from dataclasses import dataclass

from detectors.alerting import AlertRules, decide
from detectors.patient import PatientState, apply_reading
from detectors.schemas import Alert, Reading
from detectors.scores.news2 import News2Result, news2

__all__ = ["Assessment", "assess", "news2_for"]


@dataclass(frozen=True, slots=True)
class Assessment:
    state: PatientState
    news2: News2Result
    decisions: list[Alert]


def news2_for(state: PatientState) -> News2Result:
    """NEWS2 from the patient's latest vitals (GCS 15 counts as Alert, < 15 as not)."""
    acvpu = state.latest("acvpu")
    if acvpu is None:
        gcs = state.latest("gcs_total")
        if isinstance(gcs, int):
            acvpu = "A" if gcs >= 15 else "C"

    def num(name: str) -> float | None:
        v = state.latest(name)
        return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None

    o2 = state.latest("o2_supplemental")
    return news2(
        resp_rate_per_min=num("resp_rate_per_min"),
        spo2_pct=num("spo2_pct"),
        o2_supplemental=o2 if isinstance(o2, bool) else None,
        sbp_mmhg=num("sbp_mmhg"),
        heart_rate_bpm=num("heart_rate_bpm"),
        acvpu=str(acvpu) if acvpu is not None else None,
        temp_c=num("temp_c"),
        spo2_scale=state.spo2_scale,
    )


def assess(state: PatientState | None, reading: Reading, rules: AlertRules = AlertRules()) -> Assessment:
    """Merge the reading, score NEWS2, step the alert policy."""
    merged = apply_reading(state, reading)
    result = news2_for(merged)
    active, decisions = decide(
        merged.alert,
        result,
        patient_id=merged.patient_id,
        ward=merged.ward,
        bed=merged.bed,
        ts_ms=merged.last_ts_ms,
        rules=rules,
    )
    return Assessment(state=merged.model_copy(update={"alert": active}), news2=result, decisions=decisions)
