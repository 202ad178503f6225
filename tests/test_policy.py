"""Alert policy: confirmation, hysteresis, escalation timing, snooze expiry and direction, idempotence."""

from __future__ import annotations

import math

import pytest

from detectors.policy import CommandError, PolicyState, Tick, acknowledge, snooze, step
from detectors.schemas import AlertAction, Priority
from detectors.scores.news2 import News2Result, news2
from detectors.thresholds import Thresholds
from tests.helpers import BASE_TS, DETERIORATED, STABLE

MIN = 60_000
MEDIUM = dict(STABLE, resp_rate_per_min=22, heart_rate_bpm=115, temp_c=38.5)  # NEWS2 5
HIGH = dict(DETERIORATED)  # NEWS2 10
FIVE_MIN_LATER = 5 * MIN


def n2(v: dict[str, object]) -> News2Result:
    return news2(resp_rate_per_min=float(v["resp_rate_per_min"]), spo2_pct=float(v["spo2_pct"]),  # type: ignore[arg-type]
                 o2_supplemental=bool(v["o2_supplemental"]), sbp_mmhg=float(v["sbp_mmhg"]),  # type: ignore[arg-type]
                 heart_rate_bpm=float(v["heart_rate_bpm"]), acvpu=str(v["acvpu"]),  # type: ignore[arg-type]
                 temp_c=float(v["temp_c"]))  # type: ignore[arg-type]


def tick(v: dict[str, object], t: int, **kw: object) -> Tick:
    latest = {k: float(v[k]) for k in ("heart_rate_bpm", "resp_rate_per_min", "spo2_pct", "sbp_mmhg")}  # type: ignore[arg-type]
    return Tick("P1", "w", "1", t, n2(v), latest=latest, **kw)  # type: ignore[arg-type]


def cfg(**layer: object):  # type: ignore[no-untyped-def]
    return Thresholds.model_validate({"version": 1, "defaults": layer}).effective("w", "P1", BASE_TS)


PLAIN = cfg(confirmation={"readings": 1, "seconds": 0}, hysteresis={"points": 0, "seconds": 0},
            escalation={"enabled": False})
DEFAULT = cfg()


def run(seq: list[tuple[dict[str, object], int]], c=PLAIN, state: PolicyState | None = None):  # type: ignore[no-untyped-def]
    state = state or PolicyState()
    out = []
    for v, t in seq:
        state, ds = step(state, tick(v, t), c)
        out += ds
    return state, out


def test_without_confirmation_or_hysteresis_it_raises_escalates_and_resolves_at_once() -> None:
    seq = [(MEDIUM, BASE_TS), (MEDIUM, BASE_TS + MIN), (HIGH, BASE_TS + 2 * MIN), (MEDIUM, BASE_TS + 3 * MIN),
           (STABLE, BASE_TS + 4 * MIN)]
    _, out = run(seq)
    assert [(d.action, d.priority) for d in out] == [(AlertAction.RAISE, Priority.MEDIUM),
                                                     (AlertAction.ESCALATE, Priority.HIGH),
                                                     (AlertAction.RESOLVE, Priority.HIGH)]
    assert len({d.alert_id for d in out}) == 1 and out[0].alert_id == f"news2:P1:{BASE_TS}"


def test_confirmation_needs_readings_and_seconds() -> None:
    c = cfg(confirmation={"readings": 3, "seconds": 120})
    _, out = run([(MEDIUM, BASE_TS), (MEDIUM, BASE_TS + MIN)], c)
    assert out == []
    _, out = run([(MEDIUM, BASE_TS), (MEDIUM, BASE_TS + 30_000), (MEDIUM, BASE_TS + 60_000)], c)
    assert out == []  # three readings, but only 60 s
    _, out = run([(MEDIUM, BASE_TS), (MEDIUM, BASE_TS + MIN), (MEDIUM, BASE_TS + 2 * MIN)], c)
    assert [d.action for d in out] == [AlertAction.RAISE] and out[0].raised_ts_ms == BASE_TS + 2 * MIN


def test_a_transient_does_not_alarm_under_confirmation() -> None:
    _, out = run([(MEDIUM, BASE_TS), (STABLE, BASE_TS + MIN), (MEDIUM, BASE_TS + 2 * MIN)], DEFAULT)
    assert out == []


def test_critical_values_alarm_at_once_at_high_priority() -> None:
    critical = dict(STABLE, spo2_pct=82)  # NEWS2 3 alone, but SpO2 < 85 is critical
    _, out = run([(critical, BASE_TS)], DEFAULT)
    assert [(d.action, d.priority, d.source) for d in out] == [(AlertAction.RAISE, Priority.HIGH, "critical")]
    assert "critical: SpO2 82 % < 85" in out[0].reason


def test_hysteresis_holds_the_alert_at_the_band_edge() -> None:
    c = cfg(confirmation={"readings": 1, "seconds": 0}, hysteresis={"points": 1, "seconds": 300})
    four = dict(STABLE, resp_rate_per_min=22, heart_rate_bpm=115)  # NEWS2 4: below 5 but not 1 below
    three = dict(STABLE, resp_rate_per_min=22, heart_rate_bpm=95)  # NEWS2 3
    seq = [(MEDIUM, BASE_TS)] + [(four if i % 2 else MEDIUM, BASE_TS + i * MIN) for i in range(1, 10)]
    state, out = run(seq, c)
    assert [d.action for d in out] == [AlertAction.RAISE]  # flapping 5/4/5/4 never resolves
    state, out = run([(three, BASE_TS + 10 * MIN), (three, BASE_TS + 13 * MIN)], c, state)
    assert out == []  # clear for 3 min only
    state, out = run([(three, BASE_TS + 15 * MIN)], c, state)
    assert [d.action for d in out] == [AlertAction.RESOLVE]


def test_unacknowledged_alerts_escalate_to_the_rapid_response_team() -> None:
    c = cfg(confirmation={"readings": 1, "seconds": 0}, escalation={"unacknowledged_minutes": {"medium": 15}})
    state, out = run([(MEDIUM, BASE_TS), (MEDIUM, BASE_TS + 14 * MIN)], c)
    assert [d.action for d in out] == [AlertAction.RAISE]
    state, out = run([(MEDIUM, BASE_TS + 15 * MIN), (MEDIUM, BASE_TS + 20 * MIN)], c, state)
    assert [(d.action, d.priority, d.audience) for d in out] == [
        (AlertAction.ESCALATE, Priority.HIGH, ["ward", "rapid_response"])]


def test_acknowledge_stops_escalation_and_is_idempotent() -> None:
    c = cfg(confirmation={"readings": 1, "seconds": 0}, escalation={"unacknowledged_minutes": {"medium": 15}})
    state, out = run([(MEDIUM, BASE_TS)], c)
    alert_id = out[0].alert_id
    state, acked = acknowledge(state, tick(MEDIUM, BASE_TS + MIN), c, alert_id, "nurse.kim")
    assert [(d.action, d.user_id) for d in acked] == [(AlertAction.ACKNOWLEDGE, "nurse.kim")]
    assert acknowledge(state, tick(MEDIUM, BASE_TS + 2 * MIN), c, alert_id, "nurse.kim") == (state, [])
    state, out = run([(MEDIUM, BASE_TS + 30 * MIN)], c, state)
    assert out == []


def test_snooze_is_directional_time_limited_and_re_presents() -> None:
    c = cfg(confirmation={"readings": 1, "seconds": 0}, escalation={"enabled": False}, snooze={"max_minutes": 30})
    state, out = run([(MEDIUM, BASE_TS)], c)
    alert_id = out[0].alert_id
    with pytest.raises(CommandError, match="reason"):
        snooze(state, tick(MEDIUM, BASE_TS), c, alert_id, "nurse.kim", 10, "")
    with pytest.raises(CommandError, match="outside"):
        snooze(state, tick(MEDIUM, BASE_TS), c, alert_id, "nurse.kim", 45, "family at bedside")
    with pytest.raises(CommandError, match="would not silence"):
        snooze(state, tick(MEDIUM, BASE_TS), c, alert_id, "nurse.kim", 10, "washing", (Priority.HIGH,))
    state, out = snooze(state, tick(MEDIUM, BASE_TS + MIN), c, alert_id, "nurse.kim", 10, "repositioning")
    assert out[0].action is AlertAction.SNOOZE and out[0].snoozed_until_ms == BASE_TS + 11 * MIN
    # still medium during the snooze: silent; the snooze ends by itself and re-presents
    state, out = run([(MEDIUM, BASE_TS + 5 * MIN)], c, state)
    assert out == []
    state, out = run([(MEDIUM, BASE_TS + 11 * MIN)], c, state)
    assert [d.action for d in out] == [AlertAction.REPRESENT]
    # snoozing medium does not silence a new high
    state, _ = snooze(state, tick(MEDIUM, BASE_TS + 12 * MIN), c, alert_id, "nurse.kim", 10, "repositioning")
    state, out = run([(HIGH, BASE_TS + 13 * MIN)], c, state)
    assert [(d.action, d.priority, d.snoozed_until_ms) for d in out] == [(AlertAction.ESCALATE, Priority.HIGH, None)]


def test_replay_gives_the_same_ids() -> None:
    seq = [(MEDIUM, BASE_TS + i * MIN) for i in range(5)] + [(HIGH, BASE_TS + 6 * MIN)] + \
          [(STABLE, BASE_TS + (7 + i) * MIN) for i in range(8)]
    a, b = run(seq, DEFAULT)[1], run(seq, DEFAULT)[1]
    assert [d.decision_id for d in a] == [d.decision_id for d in b]
    assert len({d.decision_id for d in a}) == len(a) >= 3


def test_technical_alerts_for_stale_data_and_probe_off() -> None:
    c = cfg(technical={"stale_minutes": 10, "probe_off_seconds": 30})
    state, out = step(PolicyState(), tick(STABLE, BASE_TS, staleness_s={"temp_c": 11 * 60.0, "heart_rate_bpm": 1.0}),
                      c)
    assert [(d.action, d.source, d.priority) for d in out] == [(AlertAction.RAISE, "technical", Priority.LOW)]
    assert "temp_c" in out[0].reason and out[0].alert_id.startswith("tech:stale:temp_c:P1:")
    state, out = step(state, tick(STABLE, BASE_TS + MIN, staleness_s={"temp_c": 5.0, "spo2_pct": 45.0},
                                  probe_off_age_s=2.0), c)
    assert [(d.action, d.alert_id.split(":")[1]) for d in out] == [(AlertAction.RAISE, "probe_off"),
                                                                    (AlertAction.RESOLVE, "stale")]
    state, out = step(state, tick(STABLE, BASE_TS + 2 * MIN, staleness_s={"spo2_pct": 1.0}), c)
    assert [d.action for d in out] == [AlertAction.RESOLVE]
    assert not state.technical


def test_overrides_are_marked_on_every_alert() -> None:
    t = Thresholds.model_validate({"version": 1, "defaults": {"confirmation": {"readings": 1, "seconds": 0}},
                                   "patients": {"P1": {"news2": {"medium_at": 6, "high_at": 8}, "author": "dr.lee",
                                                       "reason": "chronic tachycardia",
                                                       "expires": "2099-01-01T00:00:00Z"}}})
    c = t.effective("w", "P1", BASE_TS)
    _, out = run([(MEDIUM, BASE_TS)], c)
    assert out == []  # 5 is below this patient's medium threshold of 6
    _, out = run([(HIGH, BASE_TS)], c)
    assert out and "dr.lee" in out[0].overrides[0] and "chronic tachycardia" in out[0].overrides[0]
    assert not math.isnan(out[0].score_total)


def test_clock_ticks_escalate_and_detect_a_lost_feed_without_readings() -> None:
    from dataclasses import replace

    c = cfg(confirmation={"readings": 1, "seconds": 0}, escalation={"unacknowledged_minutes": {"medium": 15}},
            technical={"stale_minutes": 10})
    state, out = run([(MEDIUM, BASE_TS)], c)
    assert [d.action for d in out] == [AlertAction.RAISE]
    # no reading for 20 minutes: the clock alone escalates and raises the lost-feed alarm
    clock = replace(tick(MEDIUM, BASE_TS + 20 * MIN,
                         staleness_s={"heart_rate_bpm": 1200.0, "spo2_pct": 1200.0}), reading=False)
    state, out = step(state, clock, c)
    assert [(d.action, d.source) for d in out] == [(AlertAction.ESCALATE, "news2"), (AlertAction.RAISE, "technical")]
    assert "feed is lost" in out[1].reason and out[1].alert_id.startswith("tech:lost_feed:all:")
    # a clock tick never confirms or resolves a clinical condition by itself
    quiet = replace(tick(STABLE, BASE_TS + 30 * MIN, staleness_s={"heart_rate_bpm": 1.0}), reading=False)
    state, out = step(state, quiet, c)
    assert [d.source for d in out] == ["technical"] and state.clinical is not None
    fresh, out = step(PolicyState(), replace(tick(HIGH, BASE_TS), reading=False), c)
    assert out == [] and fresh.candidate is None


def test_confirmation_per_parameter() -> None:
    c = cfg(confirmation={"readings": 1, "seconds": 0, "per_parameter": {"spo2": {"readings": 3, "seconds": 120}}})
    low_spo2 = dict(STABLE, spo2_pct=90)  # SpO2 scores 3 alone: a low alert driven by one parameter
    _, out = run([(low_spo2, BASE_TS), (low_spo2, BASE_TS + MIN)], c)
    assert out == []  # the SpO2 rule wants 3 readings over 2 minutes
    _, out = run([(low_spo2, BASE_TS + k * MIN) for k in range(3)], c)
    assert [d.action for d in out] == [AlertAction.RAISE]
    low_pulse = dict(STABLE, heart_rate_bpm=135)  # another parameter: the default rule (at once)
    _, out = run([(low_pulse, BASE_TS)], c)
    assert [d.action for d in out] == [AlertAction.RAISE]
    with pytest.raises(Exception, match="unknown NEWS2 parameters"):
        cfg(confirmation={"per_parameter": {"heart": {"readings": 2}}})


def test_a_heart_rate_band_for_a_known_af_patient() -> None:
    from detectors.scores import News2, ScoreInputs

    t = Thresholds.model_validate({"version": 1, "patients": {"P1": {
        "pulse_scores_zero_up_to": 120, "author": "dr.lee", "reason": "rate-controlled AF",
        "expires": "2099-01-01T00:00:00Z"}}})
    e = t.effective("w", "P1", BASE_TS)
    assert e.pulse_scores_zero_up_to == 120
    scorer = News2(pulse_scores_zero_up_to=e.pulse_scores_zero_up_to)
    base = dict(resp_rate_per_min=16, spo2_pct=97, o2_supplemental=False, sbp_mmhg=120, acvpu="A", temp_c=37.0)
    assert scorer.result(ScoreInputs(heart_rate_bpm=118, **base)).components["pulse"] == 0  # type: ignore[arg-type]
    assert scorer.result(ScoreInputs(heart_rate_bpm=121, **base)).components["pulse"] == 2  # type: ignore[arg-type]
    assert scorer.result(ScoreInputs(heart_rate_bpm=45, **base)).components["pulse"] == 1  # type: ignore[arg-type]
    assert t.effective("w", "P2", BASE_TS).pulse_scores_zero_up_to is None


# -- model-driven alerts -----------------------------------------------------------


def _risk(p: float, at: float = 0.3):  # type: ignore[no-untyped-def]
    from detectors.models import Contribution, Risk

    return {"sepsis": Risk("sepsis", "sepsis-logistic-abcd1234+10", p, at,
                           (Contribution("temp_c.latest", 39.4, 0.8), Contribution("heart_rate_bpm.latest", 118, 0.5)))}


def run_model(seq: list[tuple[float, int]], c=PLAIN, reading: bool = True):  # type: ignore[no-untyped-def]
    state, out = PolicyState(), []
    for p, t in seq:
        state, ds = step(state, tick(STABLE, t, risks=_risk(p), reading=reading), c)
        out += ds
    return state, out


def test_a_model_alert_carries_version_risk_and_contributions_next_to_news2() -> None:
    _, out = run_model([(0.1, BASE_TS), (0.35, BASE_TS + MIN)])
    assert [d.action for d in out] == [AlertAction.RAISE]
    a = out[0]
    assert a.source == "model" and a.priority is Priority.MEDIUM and a.alert_id == f"model:sepsis:P1:{BASE_TS + MIN}"
    assert a.model is not None and a.model.version == "sepsis-logistic-abcd1234+10" and a.model.probability == 0.35
    assert [(c.feature, c.contribution) for c in a.model.contributions] == [("temp_c.latest", 0.8),
                                                                             ("heart_rate_bpm.latest", 0.5)]
    assert a.score_total == 0 and "components" in a.model_dump() and a.risks == {"sepsis": 0.35}
    assert "sepsis risk 0.35 (alert at 0.30" in a.reason


def test_a_model_alert_resolves_only_below_the_margin_for_the_hold_time() -> None:
    c = cfg(models={"sepsis": {"hysteresis": 0.2, "seconds": 600}}, escalation={"enabled": False})
    # alert at 0.30, margin 20 % of it: resolves below 0.24
    seq = [(0.4, BASE_TS), (0.25, BASE_TS + MIN),            # below the threshold but inside the margin: held
           (0.2, BASE_TS + 2 * MIN), (0.2, BASE_TS + 8 * MIN),  # below the margin, not yet for 10 min
           (0.2, BASE_TS + 12 * MIN)]
    state, out = run_model(seq, c)
    assert [d.action for d in out] == [AlertAction.RAISE, AlertAction.RESOLVE]
    assert out[1].ts_ms == BASE_TS + 12 * MIN and state.models == {}


def test_the_model_margin_is_a_fraction_of_the_threshold_so_a_low_threshold_still_resolves() -> None:
    # calibrated sepsis thresholds are small (hourly prevalence is a few %): an absolute
    # margin of 0.05 below 0.04 could never be crossed and the alert would never end
    state, out = PolicyState(), []
    for p, t in [(0.06, BASE_TS), (0.033, BASE_TS + MIN), (0.03, BASE_TS + 2 * MIN), (0.03, BASE_TS + 33 * MIN)]:
        state, ds = step(state, tick(STABLE, t, risks=_risk(p, at=0.04), reading=True), PLAIN)
        out += ds
    # 0.033 is above 0.04 × 0.8 = 0.032: held; 0.03 from minute 2 for the shipped 30 min: resolved
    assert [(d.action, d.ts_ms) for d in out] == [(AlertAction.RAISE, BASE_TS), (AlertAction.RESOLVE, BASE_TS + 33 * MIN)]


def test_the_threshold_file_sets_the_model_threshold_priority_or_turns_it_off() -> None:
    high = cfg(models={"sepsis": {"alert_at": 0.6, "priority": "high"}})
    _, out = run_model([(0.5, BASE_TS)], high)
    assert out == []  # tick risks carry alert_at 0.3 but the file says 0.6
    _, out = run_model([(0.7, BASE_TS)], high)
    assert out[0].priority is Priority.HIGH and out[0].model is not None and out[0].model.alert_at == 0.6
    off = cfg(models={"sepsis": {"enabled": False}})
    assert run_model([(0.9, BASE_TS)], off)[1] == []


def test_clock_ticks_do_not_raise_or_resolve_model_alerts_and_acknowledge_finds_them() -> None:
    state, out = run_model([(0.9, BASE_TS)])
    alert_id = out[0].alert_id
    state, ds = step(state, tick(STABLE, BASE_TS + 60 * MIN, reading=False), PLAIN)
    assert ds == [] and "sepsis" in state.models
    state, ds = acknowledge(state, tick(STABLE, BASE_TS + 61 * MIN, risks=_risk(0.9)), PLAIN, alert_id, "rn.kim")
    assert ds[0].action is AlertAction.ACKNOWLEDGE and state.models["sepsis"].acked_by == "rn.kim"
    _, none = run_model([(0.9, BASE_TS)], reading=False)
    assert none == []
