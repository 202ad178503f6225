"""Per-patient state kept by the worker: the latest value of each vital, the window
bytes and the alert policy's state. Pure data; serialised to JSON for the Faust table's changelog.

Memory is bounded: one sample per vital (a fixed set of fields), fixed-size windows,
one clinical episode and at most one technical episode per vital, and the lowest and
highest value since admission of each of :data:`EXTREME_FIELDS`.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from detectors.policy import PolicyState
from detectors.thresholds import PatientOverride
from detectors.schemas import LAB_FIELDS, PatientContext, Reading

__all__ = ["EXTREME_FIELDS", "PatientState", "VitalSample", "apply_reading"]

#: Values whose lowest and highest since admission the patient keeps: GCS and the labs,
#: charted by clinicians (no monitor artefacts). Severity scores read the worst of a
#: period (SAPS II and APACHE II: of the first 24 h), not only the latest value.
EXTREME_FIELDS: tuple[str, ...] = ("gcs_total", *LAB_FIELDS)


class VitalSample(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    value: bool | int | float | str
    ts_ms: int
    device_id: str


class PatientState(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    patient_id: str
    ward: str
    bed: str
    vitals: dict[str, VitalSample] = Field(default_factory=dict)
    policy: PolicyState = Field(default_factory=PolicyState)
    first_ts_ms: int = 0
    last_ts_ms: int = 0
    readings: int = 0
    last_scored_ts_ms: int = 0
    #: when the model inputs were last kept for late labelling (see detectors.models)
    last_snapshot_ts_ms: int = 0
    #: the window store's bytes for this patient (base64), see detectors.windows
    windows: str | None = None
    #: ids of the last commands applied (acknowledge, snooze), for idempotence
    commands_seen: tuple[str, ...] = ()
    #: an override set from a ward screen (author, reason, expiry), on top of the threshold file
    bedside_override: PatientOverride | None = None
    #: from the readings' patient context (the latest a sender gave)
    age_years: float | None = None
    sex: str | None = None
    care_unit: str | None = None
    hospital_admit_ts_ms: int | None = None
    #: name → (lowest, highest) since admission, for :data:`EXTREME_FIELDS`
    extremes: dict[str, tuple[float, float]] = Field(default_factory=dict)
    #: urine charted since admission (a charting older than the latest is not added, so a
    #: redelivered message never counts twice)
    urine_total_ml: float = 0.0

    def latest(self, name: str) -> bool | int | float | str | None:
        sample = self.vitals.get(name)
        return None if sample is None else sample.value


def apply_reading(state: PatientState | None, reading: Reading) -> PatientState:
    """Merge a reading into the patient's latest vitals.

    A value older than the one held (a late or out-of-order message) does not
    replace it; location follows the newest reading.
    """
    vitals = dict(state.vitals) if state else {}
    extremes = dict(state.extremes) if state else {}
    urine = state.urine_total_ml if state else 0.0
    for name, value in reading.vitals.present().items():
        held = vitals.get(name)
        if name == "urine_ml" and isinstance(value, float) and (held is None or reading.ts_ms > held.ts_ms):
            urine += value
        if held is None or reading.ts_ms >= held.ts_ms:
            vitals[name] = VitalSample(value=value, ts_ms=reading.ts_ms, device_id=reading.device_id)
        if name in _EXTREMES and isinstance(value, (int, float)) and not isinstance(value, bool):
            lo, hi = extremes.get(name, (float(value), float(value)))
            extremes[name] = (min(lo, float(value)), max(hi, float(value)))
    newest = state is None or reading.ts_ms >= state.last_ts_ms
    # the latest the senders gave of each context field (one sender may know only some)
    context = {k: getattr(state, k) if state else None for k in _CONTEXT}
    if reading.patient is not None:
        context.update(reading.patient.model_dump(exclude_none=True))
    return PatientState(
        patient_id=reading.patient_id,
        ward=reading.ward if newest or state is None else state.ward,
        bed=reading.bed if newest or state is None else state.bed,
        vitals=vitals,
        policy=state.policy if state else PolicyState(),
        first_ts_ms=min(reading.ts_ms, state.first_ts_ms) if state and state.first_ts_ms else reading.ts_ms,
        last_ts_ms=max(reading.ts_ms, state.last_ts_ms if state else 0),
        readings=(state.readings if state else 0) + 1,
        last_scored_ts_ms=state.last_scored_ts_ms if state else 0,
        last_snapshot_ts_ms=state.last_snapshot_ts_ms if state else 0,
        windows=state.windows if state else None,
        commands_seen=state.commands_seen if state else (),
        bedside_override=state.bedside_override if state else None,
        extremes=extremes,
        urine_total_ml=urine,
        **context,
    )


_EXTREMES = frozenset(EXTREME_FIELDS)
_CONTEXT = tuple(PatientContext.model_fields)
