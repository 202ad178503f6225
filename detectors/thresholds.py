"""Clinician-edited alert thresholds: the model of ``config/thresholds.yaml``.

Three layers, the most specific winning field by field: ``defaults`` → ``wards.<ward>``
→ ``patients.<patient id>``. Every patient override carries its ``author``, ``reason``
and ``expires`` time; an expired override no longer applies. Errors name the field and
the value (pydantic's location, e.g. ``patients.P001.expires``).

>>> t = Thresholds.model_validate({"version": 1})
>>> t.effective("ward-a", "P1", now_ms=0).news2.high_at
7
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from detectors.errors import ConfigError

__all__ = ["Effective", "PatientOverride", "Thresholds", "parse_thresholds"]

_STRICT = ConfigDict(extra="forbid", frozen=True)


class News2Bands(BaseModel):
    model_config = _STRICT
    medium_at: int = Field(default=5, ge=1, le=20)
    high_at: int = Field(default=7, ge=1, le=20)
    single_parameter_at: int = Field(default=3, ge=1, le=3)

    @model_validator(mode="after")
    def _ordered(self) -> News2Bands:
        if not self.medium_at < self.high_at:
            raise ValueError(f"medium_at ({self.medium_at}) must be below high_at ({self.high_at})")
        return self


class ConfirmationRule(BaseModel):
    model_config = _STRICT
    readings: int = Field(default=2, ge=1, le=60)
    seconds: float = Field(default=60.0, ge=0, le=3600)


_NEWS2_PARAMETERS = {"resp_rate", "spo2", "air_or_oxygen", "sbp", "pulse", "consciousness", "temperature"}


class Confirmation(ConfirmationRule):
    """A condition must hold for ``readings`` scoring ticks spanning ``seconds`` before it alarms.

    ``per_parameter`` sets another rule for a condition driven by one NEWS2 parameter
    scoring 3 (e.g. a longer one for ``spo2``, whose probes wander), keyed by the
    parameter names of NEWS2 components.
    """

    per_parameter: dict[str, ConfirmationRule] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _known(self) -> Confirmation:
        unknown = set(self.per_parameter) - _NEWS2_PARAMETERS
        if unknown:
            raise ValueError(f"unknown NEWS2 parameters {sorted(unknown)}; known: {sorted(_NEWS2_PARAMETERS)}")
        return self


class Critical(BaseModel):
    """Values that alarm at once, high priority, without confirmation."""

    model_config = _STRICT
    spo2_pct_below: float = Field(default=85.0, ge=50, le=100)
    sbp_mmhg_below: float = Field(default=80.0, ge=40, le=200)
    heart_rate_bpm_above: float = Field(default=150.0, ge=60, le=300)
    heart_rate_bpm_below: float = Field(default=35.0, ge=10, le=100)
    resp_rate_per_min_above: float = Field(default=35.0, ge=10, le=80)


class Hysteresis(BaseModel):
    """An alert resolves only when NEWS2 is ``points`` below its threshold for ``seconds``."""

    model_config = _STRICT
    points: int = Field(default=1, ge=0, le=5)
    seconds: float = Field(default=300.0, ge=0, le=7200)


class Escalation(BaseModel):
    model_config = _STRICT
    enabled: bool = True
    unacknowledged_minutes: dict[str, float] = Field(default_factory=lambda: {"high": 5.0, "medium": 15.0,
                                                                              "low": 30.0})
    audience: str = "rapid_response"

    @model_validator(mode="after")
    def _priorities(self) -> Escalation:
        unknown = set(self.unacknowledged_minutes) - {"high", "medium", "low"}
        if unknown:
            raise ValueError(f"unknown priorities {sorted(unknown)} (high, medium, low)")
        return self


class Snooze(BaseModel):
    model_config = _STRICT
    max_minutes: float = Field(default=30.0, gt=0, le=240)


class Technical(BaseModel):
    """Technical alerts: no valid reading of a vital for this long, a probe off for this long."""

    model_config = _STRICT
    stale_minutes: float = Field(default=300.0, gt=0, le=24 * 60)
    probe_off_seconds: float = Field(default=60.0, gt=0, le=3600)


class ModelAlert(BaseModel):
    """When an online risk model alerts: its probability at or above ``alert_at``.

    ``alert_at`` left empty uses the operating threshold recommended with the model
    snapshot (chosen on its warm-start data, see ``ews train``). The alert resolves when
    the risk stays below ``alert_at × (1 − hysteresis)`` for ``seconds``: the margin is a
    fraction of the threshold, so it means the same at a threshold of 0.05 as at 0.5.
    """

    model_config = _STRICT
    enabled: bool = True
    alert_at: float | None = Field(default=None, gt=0, lt=1)
    priority: Literal["low", "medium", "high"] = "medium"
    hysteresis: float = Field(default=0.2, ge=0, lt=1)
    seconds: float = Field(default=1800.0, ge=0, le=24 * 3600)


class ModelAlerts(BaseModel):
    model_config = _STRICT
    sepsis: ModelAlert = ModelAlert()
    deterioration: ModelAlert = ModelAlert()


class Layer(BaseModel):
    """One layer of settings; ``None`` fields fall through to the layer below."""

    model_config = _STRICT
    news2: News2Bands | None = None
    confirmation: Confirmation | None = None
    critical: Critical | None = None
    hysteresis: Hysteresis | None = None
    escalation: Escalation | None = None
    snooze: Snooze | None = None
    technical: Technical | None = None
    models: ModelAlerts | None = None
    spo2_scale: int | None = Field(default=None, ge=1, le=2)
    #: heart rates up to this score 0 in NEWS2 for this patient (e.g. known, rate-controlled AF)
    pulse_scores_zero_up_to: int | None = Field(default=None, ge=91, le=140)


class PatientOverride(Layer):
    author: str = Field(min_length=1)
    reason: str = Field(min_length=3)
    expires: datetime

    @model_validator(mode="after")
    def _aware(self) -> PatientOverride:
        if self.expires.tzinfo is None:
            raise ValueError("expires needs a UTC offset, e.g. 2026-12-31T00:00:00Z")
        return self


class Defaults(Layer):
    news2: News2Bands = News2Bands()
    confirmation: Confirmation = Confirmation()
    critical: Critical = Critical()
    hysteresis: Hysteresis = Hysteresis()
    escalation: Escalation = Escalation()
    snooze: Snooze = Snooze()
    technical: Technical = Technical()
    models: ModelAlerts = ModelAlerts()
    spo2_scale: int = Field(default=1, ge=1, le=2)


class Effective(BaseModel):
    """The settings that apply to one patient now, and the overrides behind them."""

    model_config = _STRICT
    news2: News2Bands
    confirmation: Confirmation
    critical: Critical
    hysteresis: Hysteresis
    escalation: Escalation
    snooze: Snooze
    technical: Technical
    models: ModelAlerts
    spo2_scale: int
    pulse_scores_zero_up_to: int | None = None
    overrides: tuple[str, ...] = ()


class Thresholds(BaseModel):
    model_config = _STRICT
    version: int = Field(ge=1, le=1)
    #: who made the last change, and why (recorded in the audit Stream)
    changed_by: str | None = None
    change_note: str | None = None
    defaults: Defaults = Defaults()
    wards: dict[str, Layer] = Field(default_factory=dict)
    patients: dict[str, PatientOverride] = Field(default_factory=dict)

    def effective(self, ward: str, patient_id: str, now_ms: int,
                  bedside: PatientOverride | None = None) -> Effective:
        """Settings for one patient; ``bedside`` is an override set from a ward screen (it wins)."""
        merged: dict[str, Any] = {k: getattr(self.defaults, k) for k in Effective.model_fields if k != "overrides"}
        notes: list[str] = []
        layers: list[tuple[str, Layer]] = []
        if ward in self.wards:
            layers.append((f"ward {ward}", self.wards[ward]))
        p = self.patients.get(patient_id)
        if p is not None and p.expires.timestamp() * 1000 > now_ms:
            layers.append((f"patient {patient_id} by {p.author}: {p.reason} (until {p.expires.isoformat()})", p))
        if bedside is not None and bedside.expires.timestamp() * 1000 > now_ms:
            layers.append((f"bedside override by {bedside.author}: {bedside.reason} "
                           f"(until {bedside.expires.isoformat()})", bedside))
        for label, layer in layers:
            changed = [k for k in merged if getattr(layer, k) is not None]
            for k in changed:
                merged[k] = getattr(layer, k)
            if changed:
                notes.append(f"{label}: {', '.join(changed)}")
        return Effective(**merged, overrides=tuple(notes))


def parse_thresholds(text: str, source: str = "thresholds") -> Thresholds:
    """YAML text → :class:`Thresholds`, or :class:`ConfigError` naming each bad field and value."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML: {exc}") from None
    if not isinstance(doc, dict):
        raise ConfigError(f"{source}: expected a mapping at the top level")
    try:
        return Thresholds.model_validate(doc)
    except ValidationError as exc:
        lines = []
        for err in exc.errors(include_url=False):
            loc = ".".join(str(x) for x in err["loc"])
            lines.append(f"{loc} = {err.get('input')!r}: {err['msg']}")
        raise ConfigError(f"{source}: " + "; ".join(lines)) from None
