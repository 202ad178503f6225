"""Alert policy: a state machine with no I/O.

Feed it the patient's active alert, a NEWS2 result and the reading time; get back
the new active alert and the decisions to publish. It never reads a clock.

Rule (RCP NEWS2 Chart 2, as the first cut of the product's policy):

===========================================  =========================
NEWS2 condition                              alarm priority (IEC 60601-1-8)
===========================================  =========================
aggregate ≥ ``high_at`` (7)                  high
aggregate ≥ ``medium_at`` (5)                medium
any single parameter scoring 3               low  (RCP "low–medium")
otherwise                                    no alert
===========================================  =========================

An active alert is never raised twice: a higher priority escalates it, and it
resolves when the condition clears. It does not de-escalate while the condition
holds (a high alert does not fall silently to medium on one better reading);
hysteresis and confirmation come with the clinician-tuned policy. Ids are derived
from the patient and the reading time that opened the episode, so a replay of the
same readings produces the same ids.

>>> from detectors.scores import news2
>>> r = news2(resp_rate_per_min=26, spo2_pct=95, o2_supplemental=False, sbp_mmhg=105,
...           heart_rate_bpm=115, acvpu="A", temp_c=38.4)
>>> active, out = decide(None, r, patient_id="P1", ward="w", bed="1", ts_ms=1_700_000_000_000)
>>> [(d.action.value, d.priority.value, d.alert_id) for d in out]
[('raise', 'high', 'news2:P1:1700000000000')]
>>> decide(active, r, patient_id="P1", ward="w", bed="1", ts_ms=1_700_000_060_000)[1]
[]
"""

from __future__ import annotations

from dataclasses import dataclass

from detectors.patient import ActiveAlert
from detectors.schemas import Alert, AlertAction, Priority
from detectors.scores.news2 import News2Result

__all__ = ["AlertRules", "decide", "priority_for"]


@dataclass(frozen=True, slots=True)
class AlertRules:
    medium_at: int = 5
    high_at: int = 7
    single_parameter_at: int = 3

    def __post_init__(self) -> None:
        if not 0 < self.medium_at < self.high_at <= 20:
            raise ValueError(f"need 0 < medium_at < high_at ≤ 20, got {self.medium_at}, {self.high_at}")


def priority_for(result: News2Result, rules: AlertRules = AlertRules()) -> Priority | None:
    if result.total >= rules.high_at:
        return Priority.HIGH
    if result.total >= rules.medium_at:
        return Priority.MEDIUM
    if result.max_single >= rules.single_parameter_at:
        return Priority.LOW
    return None


def decide(
    active: ActiveAlert | None,
    result: News2Result,
    *,
    patient_id: str,
    ward: str,
    bed: str,
    ts_ms: int,
    rules: AlertRules = AlertRules(),
    scores: dict[str, float] | None = None,
) -> tuple[ActiveAlert | None, list[Alert]]:
    """One policy step. Returns the new active alert and zero or one decision.

    ``scores`` (other clinical scores at the same tick) travel with the decision
    as context; they do not drive it.
    """
    ctx = dict(scores or {})
    target = priority_for(result, rules)
    if active is None:
        if target is None:
            return None, []
        alert_id = f"news2:{patient_id}:{ts_ms}"
        new = ActiveAlert(alert_id=alert_id, priority=target, raised_ts_ms=ts_ms, step=1, score_total=result.total)
        return new, [_decision(new, AlertAction.RAISE, result, patient_id, ward, bed, ts_ms, ctx)]
    if target is None:
        done = active.model_copy(update={"step": active.step + 1, "score_total": result.total})
        return None, [_decision(done, AlertAction.RESOLVE, result, patient_id, ward, bed, ts_ms, ctx)]
    if target.rank <= active.priority.rank:
        return active, []
    new = active.model_copy(update={"priority": target, "step": active.step + 1, "score_total": result.total})
    return new, [_decision(new, AlertAction.ESCALATE, result, patient_id, ward, bed, ts_ms, ctx)]


def _decision(
    alert: ActiveAlert,
    action: AlertAction,
    result: News2Result,
    patient_id: str,
    ward: str,
    bed: str,
    ts_ms: int,
    scores: dict[str, float],
) -> Alert:
    return Alert(
        alert_id=alert.alert_id,
        decision_id=f"{alert.alert_id}:{alert.step}",
        action=action,
        patient_id=patient_id,
        ward=ward,
        bed=bed,
        priority=alert.priority,
        score_total=result.total,
        components=dict(result.components),
        risk=result.risk,
        complete=result.complete,
        missing=list(result.missing),
        stale=list(result.stale),
        scores=scores,
        reason=_reason(action, result),
        ts_ms=ts_ms,
        raised_ts_ms=alert.raised_ts_ms,
    )


def _reason(action: AlertAction, result: News2Result) -> str:
    scored = ", ".join(f"{k} {v}" for k, v in result.components.items() if v > 0) or "no parameter scoring"
    text = f"NEWS2 {result.total} ({result.risk.value.replace('_', '-')} risk): {scored}"
    if action is AlertAction.RESOLVE:
        text = f"resolved: {text}"
    if result.missing:
        text += f"; partial score, missing {', '.join(result.missing)}"
    if result.stale:
        text += f"; stale {', '.join(result.stale)}"
    return text
