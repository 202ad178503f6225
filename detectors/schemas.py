"""Wire schemas shared by every stage: device readings, alert decisions, outcomes.

All messages are JSON objects. Units live in field names (``heart_rate_bpm``,
``temp_c``), so a message in the wrong unit fails validation instead of being
scored in the wrong unit. Models are frozen and forbid unknown fields.

Example
-------
>>> r = Reading.model_validate_json(
...     b'{"patient_id": "P1", "ward": "ward-a", "bed": "07", "device_id": "mon-07",'
...     b' "ts_ms": 1700000000000, "vitals": {"heart_rate_bpm": 88}}'
... )
>>> r.vitals.heart_rate_bpm
88.0
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "ACVPU",
    "CARE_UNITS",
    "Alert",
    "AlertAction",
    "Command",
    "FeatureContribution",
    "LAB_FIELDS",
    "ModelExplanation",
    "Outcome",
    "OutcomeKind",
    "PatientContext",
    "Priority",
    "Reading",
    "RiskClass",
    "Vitals",
    "VITAL_FIELDS",
]

Identifier = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:\-]+$")]
TimestampMs = Annotated[int, Field(gt=946_684_800_000, lt=4_102_444_800_000)]  # 2000..2100
ACVPU = Literal["A", "C", "V", "P", "U"]

_STRICT = ConfigDict(strict=True, extra="forbid", frozen=True, allow_inf_nan=False)


class Vitals(BaseModel):
    """One or more vital-sign values, each in the unit its name carries.

    Bounds reject values no monitor can measure on a living patient (HR −5,
    SpO2 140); plausibility checks of values inside the bounds (spikes, probe-off)
    belong to the feature stage, not to ingest.
    """

    model_config = _STRICT

    heart_rate_bpm: Annotated[float, Field(ge=0, le=350)] | None = None
    resp_rate_per_min: Annotated[float, Field(ge=0, le=120)] | None = None
    spo2_pct: Annotated[float, Field(ge=0, le=100)] | None = None
    temp_c: Annotated[float, Field(ge=15, le=46)] | None = None
    sbp_mmhg: Annotated[float, Field(ge=0, le=350)] | None = None
    dbp_mmhg: Annotated[float, Field(ge=0, le=300)] | None = None
    map_mmhg: Annotated[float, Field(ge=0, le=300)] | None = None
    o2_flow_l_min: Annotated[float, Field(ge=0, le=80)] | None = None
    fio2_pct: Annotated[float, Field(ge=21, le=100)] | None = None
    o2_supplemental: bool | None = None
    acvpu: ACVPU | None = None
    gcs_total: Annotated[int, Field(ge=3, le=15)] | None = None
    # Charted by nurses (fluid balance, ventilator): inputs of the risk models only.
    #: urine voided or drained since the previous charting
    urine_ml: Annotated[float, Field(ge=0, le=5000)] | None = None
    mech_vent: bool | None = None
    # Laboratory values that travel with readings when a gateway has them (used by SIRS).
    wbc_10e3_per_ul: Annotated[float, Field(ge=0, le=500)] | None = None
    band_neutrophils_pct: Annotated[float, Field(ge=0, le=100)] | None = None
    paco2_mmhg: Annotated[float, Field(ge=5, le=200)] | None = None
    lactate_mmol_l: Annotated[float, Field(ge=0, le=40)] | None = None
    # Further laboratory values (chemistry, haematology, blood gas): inputs of the risk
    # models only, no clinical score uses them. Bounds reject what no analyser reports on
    # a living patient (a pH of 735 is a unit slip), not abnormal results.
    creatinine_mg_dl: Annotated[float, Field(gt=0, le=50)] | None = None
    bun_mg_dl: Annotated[float, Field(ge=0, le=300)] | None = None
    platelets_10e3_per_ul: Annotated[float, Field(ge=0, le=3000)] | None = None
    bilirubin_mg_dl: Annotated[float, Field(ge=0, le=80)] | None = None
    glucose_mg_dl: Annotated[float, Field(gt=0, le=3000)] | None = None
    potassium_mmol_l: Annotated[float, Field(gt=0, le=20)] | None = None
    sodium_mmol_l: Annotated[float, Field(ge=80, le=220)] | None = None
    hco3_mmol_l: Annotated[float, Field(ge=0, le=80)] | None = None
    base_excess_mmol_l: Annotated[float, Field(ge=-50, le=50)] | None = None
    arterial_ph: Annotated[float, Field(ge=6.0, le=8.5)] | None = None
    pao2_mmhg: Annotated[float, Field(gt=0, le=800)] | None = None
    hct_pct: Annotated[float, Field(gt=0, le=100)] | None = None
    hgb_g_dl: Annotated[float, Field(gt=0, le=30)] | None = None

    @model_validator(mode="after")
    def _at_least_one(self) -> Vitals:
        if all(getattr(self, name) is None for name in VITAL_FIELDS):
            raise ValueError("a reading needs at least one vital value")
        return self

    def present(self) -> dict[str, float | bool | str | int]:
        """The vitals this reading carries, by field name."""
        return {k: v for k, v in self.model_dump().items() if v is not None}


VITAL_FIELDS: tuple[str, ...] = tuple(Vitals.model_fields)

#: The laboratory fields of :class:`Vitals` (drawn and analysed, not measured at the bedside).
LAB_FIELDS: tuple[str, ...] = (
    "wbc_10e3_per_ul", "band_neutrophils_pct", "paco2_mmhg", "lactate_mmol_l",
    "creatinine_mg_dl", "bun_mg_dl", "platelets_10e3_per_ul", "bilirubin_mg_dl", "glucose_mg_dl",
    "potassium_mmol_l", "sodium_mmol_l", "hco3_mmol_l", "base_excess_mmol_l", "arterial_ph", "pao2_mmhg",
    "hct_pct", "hgb_g_dl",
)

#: Stem of each vital name → the field (with its unit) that carries it; used to
#: tell "unknown unit" (``temp_f``) apart from "unknown field" at ingest.
VITAL_STEMS: dict[str, str] = {
    "heart_rate": "heart_rate_bpm",
    "hr": "heart_rate_bpm",
    "pulse": "heart_rate_bpm",
    "resp_rate": "resp_rate_per_min",
    "rr": "resp_rate_per_min",
    "spo2": "spo2_pct",
    "temp": "temp_c",
    "temperature": "temp_c",
    "sbp": "sbp_mmhg",
    "dbp": "dbp_mmhg",
    "map": "map_mmhg",
    "o2_flow": "o2_flow_l_min",
    "urine": "urine_ml",
    "fio2": "fio2_pct",
    "wbc": "wbc_10e3_per_ul",
    "bands": "band_neutrophils_pct",
    "paco2": "paco2_mmhg",
    "lactate": "lactate_mmol_l",
    "creatinine": "creatinine_mg_dl",
    "bun": "bun_mg_dl",
    "urea": "bun_mg_dl",
    "platelets": "platelets_10e3_per_ul",
    "bilirubin": "bilirubin_mg_dl",
    "glucose": "glucose_mg_dl",
    "potassium": "potassium_mmol_l",
    "sodium": "sodium_mmol_l",
    "hco3": "hco3_mmol_l",
    "bicarbonate": "hco3_mmol_l",
    "base_excess": "base_excess_mmol_l",
    "pao2": "pao2_mmhg",
    "hct": "hct_pct",
    "hematocrit": "hct_pct",
    "hgb": "hgb_g_dl",
    "hemoglobin": "hgb_g_dl",
}


#: The kind of unit a patient is cared for in (ADT; the 2012 data's ICUType, the 2019
#: data's Unit1 / Unit2), as a model input: mortality after cardiac surgery is not
#: mortality in a medical ICU.
CareUnit = Literal["medical_icu", "surgical_icu", "coronary_care", "cardiac_surgery_recovery", "general_ward"]
CARE_UNITS: tuple[str, ...] = get_args(CareUnit)


class PatientContext(BaseModel):
    """Who the patient is and where in the stay, as far as the sender knows (from ADT:
    HL7 v2 PID and PV1, FHIR Patient and Encounter).

    Optional on any reading; the worker keeps the latest of each field. The risk models
    use them; the clinical scores do not.
    """

    model_config = _STRICT

    age_years: Annotated[float, Field(ge=0, le=130)] | None = None
    #: FHIR administrative gender
    sex: Literal["female", "male", "other", "unknown"] | None = None
    care_unit: CareUnit | None = None
    #: admission to hospital (HL7 PV1-44, FHIR Encounter.period.start), which may be
    #: days before the admission to this unit
    hospital_admit_ts_ms: TimestampMs | None = None


#: how far a sender's hospital admission time may lie after a reading (clocks of ADT and
#: devices differ) before the reading is refused
ADMIT_SKEW_MS = 5 * 60_000


class Reading(BaseModel):
    """A validated device reading: who, where, which device, when, and what."""

    model_config = _STRICT

    schema_version: Literal[1] = 1
    patient_id: Identifier
    ward: Identifier
    bed: Annotated[str, Field(min_length=1, max_length=32)]
    device_id: Identifier
    ts_ms: TimestampMs
    vitals: Vitals
    patient: PatientContext | None = None

    @model_validator(mode="after")
    def _admitted_before_measured(self) -> Reading:
        admit = self.patient.hospital_admit_ts_ms if self.patient is not None else None
        if admit is not None and admit > self.ts_ms + ADMIT_SKEW_MS:
            raise ValueError(f"patient.hospital_admit_ts_ms {admit} is after the reading's ts_ms {self.ts_ms}: "
                             "a patient is admitted before being measured")
        return self


class Priority(str, Enum):
    """Alarm priorities, IEC 60601-1-8 vocabulary."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"

    @property
    def rank(self) -> int:
        return _PRIORITY_RANK[self]


_PRIORITY_RANK = {Priority.LOW: 1, Priority.MEDIUM: 2, Priority.HIGH: 3}


class RiskClass(str, Enum):
    """NEWS2 clinical risk (RCP 2017)."""

    LOW = "low"
    LOW_MEDIUM = "low_medium"
    MEDIUM = "medium"
    HIGH = "high"


class AlertAction(str, Enum):
    RAISE = "raise"
    ESCALATE = "escalate"
    ACKNOWLEDGE = "acknowledge"
    SNOOZE = "snooze"
    REPRESENT = "represent"
    RESOLVE = "resolve"


class FeatureContribution(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    feature: str
    value: float
    #: signed, > 0 raises the risk (logistic: log-odds; forest: change in probability)
    contribution: float


class ModelExplanation(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    version: str
    probability: float
    alert_at: float
    #: the largest contributions to this risk, largest first
    contributions: list[FeatureContribution] = Field(default_factory=list)


class Alert(BaseModel):
    """One alert decision. ``alert_id`` names the episode; ``decision_id`` this step.

    Both are derived from the patient's own data (patient id, the reading time that
    opened the episode, the step number), never from a clock or a random source, so
    replaying the same readings yields the same ids and sinks can de-duplicate.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    alert_id: str
    decision_id: str
    action: AlertAction
    patient_id: Identifier
    ward: Identifier
    bed: str
    priority: Priority
    #: what drove it: "news2", "critical" (a critical value), "model" (an online risk model) or "technical"
    source: Literal["news2", "critical", "model", "technical"] = "news2"
    score_total: int
    components: dict[str, int]
    risk: RiskClass
    complete: bool
    missing: list[str] = Field(default_factory=list)
    stale: list[str] = Field(default_factory=list)
    #: the other clinical scores at the same tick (qSOFA, SIRS, MEWS, shock index)
    scores: dict[str, float] = Field(default_factory=dict)
    reason: str
    ts_ms: int
    raised_ts_ms: int
    #: who is to be told: "ward", plus e.g. "rapid_response" after escalation
    audience: list[str] = Field(default_factory=lambda: ["ward"])
    #: the user behind an acknowledge or snooze
    user_id: str | None = None
    snoozed_until_ms: int | None = None
    #: clinician overrides in force for this patient (author, reason, expiry)
    overrides: list[str] = Field(default_factory=list)
    #: the last hour of the vitals behind the alert, per-minute means: {vital: [(ts_ms, value)]}
    trend: dict[str, list[tuple[int, float]]] = Field(default_factory=dict)
    #: on a model-driven alert: the model, its version, the risk and what drove it
    model: ModelExplanation | None = None
    #: the online models' risks at this tick (model name → probability)
    risks: dict[str, float] = Field(default_factory=dict)


class Command(BaseModel):
    """A screen's command on an alert, carrying the user's id; applied by the worker."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    command_id: Annotated[str, Field(min_length=1, max_length=64)]
    #: "tick" is the worker's clock: time-driven policy rules without a new reading;
    #: "override" sets this patient's settings (``settings``: a threshold-file layer) until ``minutes`` from now
    kind: Literal["acknowledge", "snooze", "override", "tick"]
    alert_id: Annotated[str, Field(max_length=200)] = ""
    patient_id: Identifier
    ward: Identifier
    user_id: Annotated[str, Field(min_length=1, max_length=64)]
    ts_ms: int
    minutes: float | None = None
    reason: Annotated[str, Field(max_length=500)] | None = None
    priorities: list[Priority] = Field(default_factory=list)
    settings: dict[str, Any] | None = None


class OutcomeKind(str, Enum):
    SEPSIS_ONSET = "sepsis_onset"
    DETERIORATION = "deterioration"
    RAPID_RESPONSE = "rapid_response"
    ICU_TRANSFER = "icu_transfer"
    CARDIAC_ARREST = "cardiac_arrest"
    DEATH = "death"
    DISCHARGE = "discharge"


class Outcome(BaseModel):
    """Ground truth or clinical outcome for a patient, usually arriving late."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    patient_id: Identifier
    ward: Identifier
    kind: OutcomeKind
    ts_ms: int
    detail: str | None = None
    #: on a discharge: the event kinds this source records (None = all). A model learns
    #: "no event" only from a source that would have recorded its event.
    observed: list[OutcomeKind] | None = None
