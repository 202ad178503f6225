"""Alert policy: a Sans-I/O state machine. Scores and ``now_ms`` in, decisions out.

Clinical alerts (from NEWS2 and critical values)
    *Confirmation*: a condition alarms only when it has held for N scoring ticks
    spanning T seconds (``confirmation``); a *critical* value (``critical``) alarms at
    once at high priority. Priorities: high (NEWS2 ≥ high_at or a critical value),
    medium (≥ medium_at), low (a single parameter scoring 3) — IEC 60601-1-8.
    *Escalation*: a worse condition raises the priority at once; an alert nobody
    acknowledged within ``escalation.unacknowledged_minutes`` is escalated one step
    and sent to a second audience (the rapid-response role) — unless escalation is
    off for the patient (e.g. palliative care).
    *Hysteresis*: an alert resolves only when NEWS2 is ``hysteresis.points`` below the
    medium threshold, no single parameter scores 3 and no value is critical, for
    ``hysteresis.seconds``. It never de-escalates silently while the condition holds.
Acknowledge and snooze (commands carrying the user's id)
    Acknowledge stops the unacknowledged-escalation clock. Snooze needs a reason, is
    limited to ``snooze.max_minutes``, is directional (it silences the listed
    priorities only: an escalation to another priority is presented at once) and
    re-presents the alert by itself when it ends.
Model alerts (from the online risk models)
    A model's risk at or above its ``alert_at`` raises an alert of the configured
    priority carrying the model's name, version and top contributions next to the
    NEWS2 components; it resolves when the risk stays below ``alert_at × (1 − hysteresis)``
    for ``seconds``. One episode per model; acknowledge and snooze apply as above.
Technical alerts
    No valid value of a monitored vital for ``technical.stale_minutes`` (stale data),
    no reading at all for that long (a lost feed, one alarm), and an SpO2 probe off for
    ``technical.probe_off_seconds`` (sensor fault). The worker sends clock ticks
    (``Tick.reading=False``) so that these and the unacknowledged escalation fire even
    when no reading arrives.

Ids are derived from the data (patient, the reading time that opened the episode,
the step), never from a clock or randomness, so a restart or a replay reproduces them
and the sinks de-duplicate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from detectors.models import Risk
from detectors.schemas import Alert, AlertAction, FeatureContribution, ModelExplanation, Priority
from detectors.scores.news2 import News2Result
from detectors.thresholds import ConfirmationRule, Effective, ModelAlert, Thresholds

__all__ = ["CommandError", "Episode", "PolicyState", "Tick", "acknowledge", "model_threshold", "snooze", "step"]

_RANK = {Priority.LOW: 1, Priority.MEDIUM: 2, Priority.HIGH: 3}
_UP = {Priority.LOW: Priority.MEDIUM, Priority.MEDIUM: Priority.HIGH, Priority.HIGH: Priority.HIGH}


class CommandError(ValueError):
    """A command (acknowledge, snooze) that cannot be applied; the message says why."""


class Episode(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    alert_id: str
    source: Literal["news2", "critical", "model", "technical"]
    priority: Priority
    raised_ts_ms: int
    step: int = 1
    escalated: bool = False
    acked_by: str | None = None
    acked_ts_ms: int | None = None
    snoozed_until_ms: int | None = None
    snoozed: tuple[Priority, ...] = ()
    clear_since_ms: int | None = None


class PolicyState(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    candidate: Priority | None = None
    candidate_since_ms: int | None = None
    candidate_count: int = 0
    clinical: Episode | None = None
    technical: dict[str, Episode] = Field(default_factory=dict)
    #: one episode per online model (by model name)
    models: dict[str, Episode] = Field(default_factory=dict)


@dataclass(frozen=True)
class Tick:
    """What the policy sees at one scoring tick."""

    patient_id: str
    ward: str
    bed: str
    now_ms: int
    news2: News2Result
    #: latest artefact-filtered values (field name → value or NaN)
    latest: dict[str, float] = field(default_factory=dict)
    #: seconds since the last valid value of each vital seen so far
    staleness_s: dict[str, float] = field(default_factory=dict)
    #: seconds since the last SpO2 probe-off drop (None = none recently)
    probe_off_age_s: float | None = None
    scores: dict[str, float] = field(default_factory=dict)
    #: per-minute means of the last hour per vital (for the explanation on alerts)
    trend: dict[str, list[tuple[int, float]]] = field(default_factory=dict)
    #: False for a clock tick (no new reading): only time-driven rules run — snooze
    #: expiry, unacknowledged escalation, stale data and a lost feed.
    reading: bool = True
    #: the online models' risks (model name → risk, version, contributions)
    risks: dict[str, Risk] = field(default_factory=dict)


def _critical(tick: Tick, cfg: Effective) -> list[str]:
    c, v = cfg.critical, tick.latest
    out = []

    def val(name: str) -> float:
        x = v.get(name, math.nan)
        return x if x is not None else math.nan

    if val("spo2_pct") < c.spo2_pct_below:
        out.append(f"SpO2 {val('spo2_pct'):g} % < {c.spo2_pct_below:g}")
    if val("sbp_mmhg") < c.sbp_mmhg_below:
        out.append(f"SBP {val('sbp_mmhg'):g} mmHg < {c.sbp_mmhg_below:g}")
    if val("heart_rate_bpm") > c.heart_rate_bpm_above:
        out.append(f"HR {val('heart_rate_bpm'):g}/min > {c.heart_rate_bpm_above:g}")
    if val("heart_rate_bpm") < c.heart_rate_bpm_below:
        out.append(f"HR {val('heart_rate_bpm'):g}/min < {c.heart_rate_bpm_below:g}")
    if val("resp_rate_per_min") > c.resp_rate_per_min_above:
        out.append(f"RR {val('resp_rate_per_min'):g}/min > {c.resp_rate_per_min_above:g}")
    return out


def _target(n: News2Result, cfg: Effective) -> Priority | None:
    b = cfg.news2
    if n.total >= b.high_at:
        return Priority.HIGH
    if n.total >= b.medium_at:
        return Priority.MEDIUM
    if n.max_single >= b.single_parameter_at:
        return Priority.LOW
    return None


def _rule(cfg: Effective, n: News2Result, target: Priority | None) -> ConfirmationRule:
    """The confirmation rule: a parameter's own when one parameter scoring 3 drives a low alert."""
    c = cfg.confirmation
    if target is Priority.LOW and c.per_parameter:
        driving = [k for k, v in n.components.items() if v >= cfg.news2.single_parameter_at and k in c.per_parameter]
        if driving:
            rules = [c.per_parameter[k] for k in driving]
            return ConfirmationRule(readings=max(r.readings for r in rules), seconds=max(r.seconds for r in rules))
    return c


def _clear(n: News2Result, cfg: Effective, critical: list[str]) -> bool:
    b = cfg.news2
    return not critical and n.total < b.medium_at - cfg.hysteresis.points and n.max_single < b.single_parameter_at


def _reason(tick: Tick, critical: list[str], prefix: str = "") -> str:
    n = tick.news2
    scored = ", ".join(f"{k} {v}" for k, v in n.components.items() if v > 0) or "no parameter scoring"
    text = f"{prefix}NEWS2 {n.total} ({n.risk.value.replace('_', '-')} risk): {scored}"
    if critical:
        text += "; critical: " + ", ".join(critical)
    if n.missing:
        text += f"; partial score, missing {', '.join(n.missing)}"
    if n.stale:
        text += f"; stale {', '.join(n.stale)}"
    return text


def _model_rule(cfg: Effective, name: str) -> ModelAlert:
    """The threshold file's rule for this model; a model the file does not name gets the defaults."""
    rule = getattr(cfg.models, name, None)
    return rule if isinstance(rule, ModelAlert) else _DEFAULT_MODEL_RULE


_DEFAULT_MODEL_RULE = ModelAlert()


def model_threshold(cfg: Effective, name: str, risk: Risk) -> float:
    """The threshold file's value for this model, else the one shipped with the model."""
    at = _model_rule(cfg, name).alert_at
    return at if at is not None else risk.alert_at


def _explanation(ep: Episode, tick: Tick, cfg: Effective) -> ModelExplanation | None:
    if ep.source != "model":
        return None
    name = ep.alert_id.split(":", 2)[1]
    risk = tick.risks.get(name)
    if risk is None:
        return None
    return ModelExplanation(name=name, version=risk.version, probability=round(risk.probability, 4),
                            alert_at=model_threshold(cfg, name, risk),
                            contributions=[FeatureContribution(feature=c.feature, value=round(c.value, 4),
                                                               contribution=round(c.contribution, 4))
                                           for c in risk.contributions])


def _decision(ep: Episode, action: AlertAction, tick: Tick, cfg: Effective, reason: str, *,
              audience: tuple[str, ...] = ("ward",), user_id: str | None = None) -> Alert:
    n = tick.news2
    return Alert(
        alert_id=ep.alert_id,
        decision_id=f"{ep.alert_id}:{ep.step}",
        action=action,
        patient_id=tick.patient_id,
        ward=tick.ward,
        bed=tick.bed,
        priority=ep.priority,
        source=ep.source,
        score_total=n.total,
        components=dict(n.components),
        risk=n.risk,
        complete=n.complete,
        missing=list(n.missing),
        stale=list(n.stale),
        scores=dict(tick.scores),
        reason=reason,
        ts_ms=tick.now_ms,
        raised_ts_ms=ep.raised_ts_ms,
        audience=list(audience),
        user_id=user_id,
        snoozed_until_ms=ep.snoozed_until_ms,
        overrides=list(cfg.overrides),
        trend=_behind(tick, ep),
        model=_explanation(ep, tick, cfg),
        risks={k: round(r.probability, 4) for k, r in tick.risks.items()},
    )


_COMPONENT_VITALS = {"resp_rate": ("resp_rate_per_min",), "spo2": ("spo2_pct",), "sbp": ("sbp_mmhg",),
                     "pulse": ("heart_rate_bpm",), "temperature": ("temp_c",)}


def _behind(tick: Tick, ep: Episode) -> dict[str, list[tuple[int, float]]]:
    """The trend of the vitals that scored (all of them for a technical alert)."""
    if ep.source in ("technical", "model"):
        return dict(tick.trend)
    wanted = {v for comp, points in tick.news2.components.items() if points > 0
              for v in _COMPONENT_VITALS.get(comp, ())}
    return {v: pts for v, pts in tick.trend.items() if v in wanted}


def _bump(ep: Episode, **update: object) -> Episode:
    return ep.model_copy(update={"step": ep.step + 1, **update})


def _visible(ep: Episode, now_ms: int) -> bool:
    return not (ep.snoozed_until_ms is not None and now_ms < ep.snoozed_until_ms and ep.priority in ep.snoozed)


def step(state: PolicyState, tick: Tick, cfg: Effective) -> tuple[PolicyState, list[Alert]]:
    """One scoring tick of one patient."""
    out: list[Alert] = []
    state, clinical = _clinical(state, tick, cfg)
    out += clinical
    state, technical = _technical(state, tick, cfg)
    out += technical
    state, model = _models(state, tick, cfg)
    out += model
    return state, out


def _model_reason(name: str, risk: Risk, at: float, prefix: str = "") -> str:
    drivers = ", ".join(f"{c.feature} {'+' if c.contribution > 0 else '−'}{abs(c.contribution):.2f}"
                        for c in risk.contributions[:3])
    text = f"{prefix}{name} risk {risk.probability:.2f} (alert at {at:.2f}, model {risk.version})"
    return text + (f": {drivers}" if drivers else "")


def _models(state: PolicyState, tick: Tick, cfg: Effective) -> tuple[PolicyState, list[Alert]]:
    now = tick.now_ms
    out: list[Alert] = []
    active = dict(state.models)
    for name in sorted(set(active) | set(tick.risks)):
        ep = active.get(name)
        rule = _model_rule(cfg, name)
        risk = tick.risks.get(name)
        if ep is not None and ep.snoozed_until_ms is not None and now >= ep.snoozed_until_ms:
            ep = _bump(ep, snoozed_until_ms=None, snoozed=())
            at = model_threshold(cfg, name, risk) if risk else 0.0
            out.append(_decision(ep, AlertAction.REPRESENT, tick, cfg,
                                 _model_reason(name, risk, at, "snooze ended: ") if risk else f"{name}: snooze ended"))
            active[name] = ep
        if not tick.reading or risk is None:
            continue  # a clock tick carries no new risk: the episode waits for readings
        at = model_threshold(cfg, name, risk)
        enabled = rule.enabled
        if ep is None:
            if enabled and risk.probability >= at:
                priority = Priority(rule.priority)
                new = Episode(alert_id=f"model:{name}:{tick.patient_id}:{now}", source="model", priority=priority,
                              raised_ts_ms=now)
                active[name] = new
                out.append(_decision(new, AlertAction.RAISE, tick, cfg, _model_reason(name, risk, at)))
            continue
        if not enabled or risk.probability < at * (1 - rule.hysteresis):
            since = ep.clear_since_ms if ep.clear_since_ms is not None else now
            if not enabled or now - since >= rule.seconds * 1000:
                done = _bump(ep, clear_since_ms=since)
                del active[name]
                out.append(_decision(done, AlertAction.RESOLVE, tick, cfg, _model_reason(name, risk, at, "resolved: ")))
                continue
            active[name] = ep.model_copy(update={"clear_since_ms": since})
        else:
            active[name] = ep.model_copy(update={"clear_since_ms": None})
    return state.model_copy(update={"models": active}), out


def _clinical(state: PolicyState, tick: Tick, cfg: Effective) -> tuple[PolicyState, list[Alert]]:
    now, n = tick.now_ms, tick.news2
    critical = _critical(tick, cfg) if tick.reading else []
    target = Priority.HIGH if critical else _target(n, cfg)
    ep = state.clinical
    out: list[Alert] = []
    if not tick.reading:
        # A clock tick carries no new observation: confirmation and hysteresis wait for
        # readings; the time-driven rules below still run.
        if ep is None:
            return state, out
        target = None if _RANK.get(ep.priority) is None else ep.priority
        return _timed(state, ep, tick, cfg, target, critical, out)
    if ep is None:
        if target is None:
            return state.model_copy(update={"candidate": None, "candidate_since_ms": None, "candidate_count": 0}), out
        since = state.candidate_since_ms if state.candidate is not None else now
        count = state.candidate_count + 1 if state.candidate is not None else 1
        lowest = target if state.candidate is None or _RANK[target] < _RANK[state.candidate] else state.candidate
        c = _rule(cfg, n, target)
        confirmed = critical or (count >= c.readings and now - (since or now) >= c.seconds * 1000)
        if not confirmed:
            return state.model_copy(update={"candidate": lowest, "candidate_since_ms": since,
                                            "candidate_count": count}), out
        priority = Priority.HIGH if critical else target
        new = Episode(alert_id=f"news2:{tick.patient_id}:{now}", source="critical" if critical else "news2",
                      priority=priority, raised_ts_ms=now)
        out.append(_decision(new, AlertAction.RAISE, tick, cfg, _reason(tick, critical)))
        return PolicyState(clinical=new, technical=state.technical), out

    # An active episode.
    if _clear(n, cfg, critical):
        clear_since = ep.clear_since_ms if ep.clear_since_ms is not None else now
        if now - clear_since >= cfg.hysteresis.seconds * 1000:
            done = _bump(ep, clear_since_ms=clear_since)
            out.append(_decision(done, AlertAction.RESOLVE, tick, cfg, _reason(tick, [], "resolved: ")))
            return PolicyState(technical=state.technical), out
        ep = ep.model_copy(update={"clear_since_ms": clear_since})
    else:
        ep = ep.model_copy(update={"clear_since_ms": None})

    return _timed(state, ep, tick, cfg, target, critical, out)


def _timed(state: PolicyState, ep: Episode, tick: Tick, cfg: Effective, target: Priority | None,
           critical: list[str], out: list[Alert]) -> tuple[PolicyState, list[Alert]]:
    now = tick.now_ms
    if ep.snoozed_until_ms is not None and now >= ep.snoozed_until_ms:
        ep = _bump(ep, snoozed_until_ms=None, snoozed=())
        out.append(_decision(ep, AlertAction.REPRESENT, tick, cfg, _reason(tick, critical, "snooze ended: ")))

    if target is not None and _RANK[target] > _RANK[ep.priority]:
        ep = _bump(ep, priority=target, source="critical" if critical else ep.source)
        if ep.priority not in ep.snoozed:
            ep = ep.model_copy(update={"snoozed_until_ms": None, "snoozed": ()})  # a worse alarm is never silent
        out.append(_decision(ep, AlertAction.ESCALATE, tick, cfg, _reason(tick, critical, "worse: ")))

    esc = cfg.escalation
    limit = esc.unacknowledged_minutes.get(ep.priority.value)
    if (esc.enabled and limit is not None and ep.acked_by is None and not ep.escalated
            and _visible(ep, now) and now - ep.raised_ts_ms >= limit * 60_000):
        ep = _bump(ep, priority=_UP[ep.priority], escalated=True)
        out.append(_decision(ep, AlertAction.ESCALATE, tick, cfg,
                             _reason(tick, critical, f"unacknowledged for {limit:g} min: "),
                             audience=("ward", esc.audience)))
    return state.model_copy(update={"clinical": ep, "candidate": None, "candidate_since_ms": None,
                                    "candidate_count": 0}), out


def _technical(state: PolicyState, tick: Tick, cfg: Effective) -> tuple[PolicyState, list[Alert]]:
    now = tick.now_ms
    t = cfg.technical
    faults: dict[str, str] = {}
    for vital, age in tick.staleness_s.items():
        if not math.isnan(age) and age > t.stale_minutes * 60:
            faults[f"stale:{vital}"] = f"no valid {vital} for {age / 60:.0f} min (limit {t.stale_minutes:g} min)"
    ages = [a for a in tick.staleness_s.values() if not math.isnan(a)]
    if ages and min(ages) > t.stale_minutes * 60:
        # Nothing at all for that long: the feed is lost, one alarm instead of one per vital.
        faults = {"lost_feed:all": f"no reading at all for {min(ages) / 60:.0f} min: the feed is lost"}
    spo2_age = tick.staleness_s.get("spo2_pct", math.nan)
    if (tick.probe_off_age_s is not None and tick.probe_off_age_s < t.probe_off_seconds
            and not math.isnan(spo2_age) and spo2_age >= t.probe_off_seconds):
        faults["probe_off:spo2_pct"] = f"SpO2 probe off: no valid SpO2 for {spo2_age:.0f} s"
    active = dict(state.technical)
    out: list[Alert] = []
    for key, reason in sorted(faults.items()):
        if key not in active:
            ep = Episode(alert_id=f"tech:{key}:{tick.patient_id}:{now}", source="technical", priority=Priority.LOW,
                         raised_ts_ms=now)
            active[key] = ep
            out.append(_decision(ep, AlertAction.RAISE, tick, cfg, f"technical: {reason}"))
    for key in sorted(set(active) - set(faults)):
        ep = _bump(active.pop(key))
        out.append(_decision(ep, AlertAction.RESOLVE, tick, cfg, f"technical resolved: {key.split(':')[0]}"))
    return state.model_copy(update={"technical": active}), out


# -- commands ------------------------------------------------------------------------


def _find(state: PolicyState, alert_id: str) -> tuple[str | None, Episode]:
    if state.clinical is not None and state.clinical.alert_id == alert_id:
        return None, state.clinical
    for key, ep in state.technical.items():
        if ep.alert_id == alert_id:
            return key, ep
    for key, ep in state.models.items():
        if ep.alert_id == alert_id:
            return f"model:{key}", ep
    raise CommandError(f"alert {alert_id!r} is not active")


def _put(state: PolicyState, key: str | None, ep: Episode) -> PolicyState:
    if key is None:
        return state.model_copy(update={"clinical": ep})
    if key.startswith("model:"):
        return state.model_copy(update={"models": {**state.models, key[6:]: ep}})
    return state.model_copy(update={"technical": {**state.technical, key: ep}})


def acknowledge(state: PolicyState, tick: Tick, cfg: Effective, alert_id: str,
                user_id: str) -> tuple[PolicyState, list[Alert]]:
    if not user_id:
        raise CommandError("acknowledge needs the user's id")
    key, ep = _find(state, alert_id)
    if ep.acked_by is not None:
        return state, []  # idempotent: a repeated acknowledge changes nothing
    ep = _bump(ep, acked_by=user_id, acked_ts_ms=tick.now_ms)
    return _put(state, key, ep), [_decision(ep, AlertAction.ACKNOWLEDGE, tick, cfg, f"acknowledged by {user_id}",
                                            user_id=user_id)]


def snooze(state: PolicyState, tick: Tick, cfg: Effective, alert_id: str, user_id: str, minutes: float,
           reason: str, priorities: tuple[Priority, ...] | None = None) -> tuple[PolicyState, list[Alert]]:
    if not user_id:
        raise CommandError("snooze needs the user's id")
    if not reason or len(reason.strip()) < 3:
        raise CommandError("snooze needs a reason")
    if not 0 < minutes <= cfg.snooze.max_minutes:
        raise CommandError(f"snooze of {minutes:g} min is outside 0–{cfg.snooze.max_minutes:g} min")
    key, ep = _find(state, alert_id)
    silenced = priorities if priorities else (ep.priority,)
    if ep.priority not in silenced:
        raise CommandError(f"the alert is {ep.priority.value}; snoozing {[p.value for p in silenced]} would not silence it")
    ep = _bump(ep, snoozed_until_ms=tick.now_ms + int(minutes * 60_000), snoozed=tuple(silenced))
    return _put(state, key, ep), [_decision(ep, AlertAction.SNOOZE, tick, cfg,
                                            f"snoozed by {user_id} for {minutes:g} min: {reason.strip()}",
                                            user_id=user_id)]


def default_effective(thresholds: Thresholds | None = None, ward: str = "", patient_id: str = "",
                      now_ms: int = 0) -> Effective:
    return (thresholds or Thresholds(version=1)).effective(ward, patient_id, now_ms)
