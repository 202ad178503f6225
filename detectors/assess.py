"""The one core call the scoring agent makes per reading.

:class:`Assessor` keeps a :class:`~detectors.windows.WindowStore` as a working set
of the patients it has seen. The truth is the patient's state (which carries the
window bytes): when the cached slot does not match the state it is given (first
sight, after a restart, after a partition moved), the slot is reloaded from the
state, so the cache can never disagree with the table.

Per reading: merge the latest values, update the windows (artefact rules apply),
and on a scoring tick compute the features, every clinical score, the online models'
risks (when the assessor has models) and the alert decision. Every
``snapshot_every_ms`` the model inputs are handed back as a snapshot for late
labelling (the caller keeps them until the patient's outcome arrives).
"""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass, field, replace

import numpy as np
from pydantic import ValidationError


from detectors.features import FeatureConfig, build_features, score_inputs
from detectors.models import MODEL_FEATURES, OnlineModels, Risk, Snapshot, model_vector
from detectors.patient import PatientState, apply_reading
from detectors.policy import CommandError, Tick, acknowledge, model_threshold, snooze, step
from detectors.thresholds import Effective, PatientOverride, Thresholds
from detectors.schemas import Alert, Command, Reading
from detectors.scores import Mews, Qsofa, ScoreResult, ShockIndex, Sirs
from detectors.scores.news2 import News2, News2Result
from detectors.windows import UPDATE_CODES, VITALS, WindowConfig, WindowStore

__all__ = ["Assessment", "Assessor", "CommandOutcome", "ScoringConfig", "assess"]


@dataclass(frozen=True, slots=True)
class ScoringConfig:
    #: score on every reading (0) or at most once per this many ms per patient
    tick_ms: int = 0
    thresholds: Thresholds = field(default_factory=lambda: Thresholds(version=1))
    features: FeatureConfig = field(default_factory=FeatureConfig)
    windows: WindowConfig = field(default_factory=WindowConfig)
    #: keep the model inputs for late labelling at most this often per patient
    snapshot_every_ms: int = 15 * 60_000


@dataclass(frozen=True, slots=True)
class Assessment:
    state: PatientState
    #: None when this reading fell between scoring ticks
    news2: News2Result | None
    decisions: list[Alert]
    scores: dict[str, ScoreResult] = field(default_factory=dict)
    features: dict[str, float] = field(default_factory=dict)
    #: what the artefact rules did with each windowed vital of the reading
    vitals: dict[str, str] = field(default_factory=dict)
    #: the online models' risks at this tick (empty without models or between ticks)
    risks: dict[str, Risk] = field(default_factory=dict)
    #: model inputs to keep for late labelling (None: not due)
    snapshot: Snapshot | None = None


_VIDX = {name: i for i, name in enumerate(VITALS)}
_SEEN = 32  # command ids remembered per patient, for idempotence under redelivery


@dataclass(frozen=True, slots=True)
class CommandOutcome:
    state: PatientState
    decisions: list[Alert]
    #: "applied", "rejected" (``error`` says why) or "duplicate"
    status: str
    error: str


class Assessor:
    """Scores readings; ``models`` adds the online risks; ``persist_windows=False`` (offline
    evaluation, where this working set is the only copy) skips writing the window bytes
    into the returned state."""

    def __init__(self, config: ScoringConfig | None = None, capacity: int = 64, *,
                 models: OnlineModels | None = None, persist_windows: bool = True) -> None:
        self.config = config or ScoringConfig()
        self.models = models
        self.persist_windows = persist_windows
        self.store = WindowStore(self.config.windows, capacity=capacity)
        self._synced: dict[str, int] = {}  # patient → readings count the cached slot reflects
        self._others = (Qsofa(), Sirs(), Mews(), ShockIndex())

    def _sync(self, state: PatientState | None, patient_id: str) -> None:
        held = state.readings if state else 0
        if self._synced.get(patient_id) == held:
            return
        self.store.evict(patient_id)
        if state is not None and state.windows:
            try:
                self.store.load(patient_id, base64.b64decode(state.windows))
            except ValueError:
                # Window state of an older layout (after an upgrade): the windows restart
                # empty for this patient rather than failing every reading.
                self.store.evict(patient_id)
                self.store.slot(patient_id)
        else:
            self.store.slot(patient_id)
        self._synced[patient_id] = held

    def forget(self, patient_id: str) -> None:
        """Drop a patient from the working set (e.g. at discharge)."""
        self.store.evict(patient_id)
        self._synced.pop(patient_id, None)

    def _tick(self, state: PatientState, now: int, predict: bool = False
              ) -> tuple[Tick, Effective, dict[str, ScoreResult], dict[str, float]]:
        """Features, every score and the policy's view of the patient at ``now``."""
        pid = state.patient_id
        window = self.store.features(pid, float(now))
        features = build_features(window, state, now)
        inputs = score_inputs(window, state, now, self.config.features)
        settings = self.config.thresholds.effective(state.ward, pid, now, state.bedside_override)
        news2_scorer = News2(spo2_scale=settings.spo2_scale, pulse_scores_zero_up_to=settings.pulse_scores_zero_up_to)
        news = news2_scorer.result(inputs)
        scores: dict[str, ScoreResult] = {"news2": news2_scorer.score(inputs)}
        scores.update({s.name: s.score(inputs) for s in self._others})
        summary = {name: float(r.total) for name, r in scores.items() if name != "news2"}
        probe = window["spo2_pct"]["probe_off_age_s"]
        risks: dict[str, Risk] = {}
        if predict and self.models is not None:
            vector = model_vector(features, {**summary, "news2": float(news.total)}, news.components)
            features = {**features, **{k: v for k, v in vector.items() if k not in features}}
            for name, risk in self.models.predict(vector).items():
                if risk.probability >= model_threshold(settings, name, risk):  # explain only where an alert may need it
                    risk = replace(risk, contributions=self.models.explain(name, vector))
                risks[name] = risk
        tick = Tick(
            patient_id=pid, ward=state.ward, bed=state.bed, now_ms=now, news2=news,
            latest={v: window[v]["latest"] for v in VITALS},
            staleness_s={v: window[v]["staleness_s"] for v in VITALS if not math.isnan(window[v]["latest"])},
            probe_off_age_s=None if math.isnan(probe) else probe,
            scores=summary,
            trend=self.store.trend(pid, 60),
            risks=risks,
        )
        return tick, settings, scores, features

    def command(self, state: PatientState, cmd: Command) -> CommandOutcome:
        """Apply an acknowledge or snooze from a screen. Idempotent per ``command_id``."""
        if cmd.command_id in state.commands_seen:
            return CommandOutcome(state, [], "duplicate", "")
        self._sync(state, state.patient_id)
        now = max(cmd.ts_ms, state.last_ts_ms)
        tick, settings, _, _ = self._tick(state, now)
        if cmd.kind == "tick":
            policy, decisions = step(state.policy, replace(tick, reading=False), settings)
            blob = base64.b64encode(self.store.dump(state.patient_id)).decode("ascii")
            return CommandOutcome(state.model_copy(update={"policy": policy, "windows": blob}), decisions,
                                  "applied", "")
        if cmd.kind == "override":
            seen = (*state.commands_seen, cmd.command_id)[-_SEEN:]
            try:
                override = _bedside_override(cmd, now)
            except (ValueError, ValidationError) as exc:
                return CommandOutcome(state.model_copy(update={"commands_seen": seen}), [], "rejected", str(exc))
            return CommandOutcome(state.model_copy(update={"bedside_override": override, "commands_seen": seen}), [],
                                  "applied", "")
        try:
            if cmd.kind == "acknowledge":
                policy, decisions = acknowledge(state.policy, tick, settings, cmd.alert_id, cmd.user_id)
            else:
                policy, decisions = snooze(state.policy, tick, settings, cmd.alert_id, cmd.user_id,
                                           cmd.minutes or 0.0, cmd.reason or "", tuple(cmd.priorities) or None)
        except CommandError as exc:
            seen = (*state.commands_seen, cmd.command_id)[-_SEEN:]
            return CommandOutcome(state.model_copy(update={"commands_seen": seen}), [], "rejected", str(exc))
        seen = (*state.commands_seen, cmd.command_id)[-_SEEN:]
        return CommandOutcome(state.model_copy(update={"policy": policy, "commands_seen": seen}), decisions,
                              "applied", "")

    def assess(self, state: PatientState | None, reading: Reading) -> Assessment:
        pid = reading.patient_id
        self._sync(state, pid)
        merged = apply_reading(state, reading)
        present = reading.vitals.present()
        names = [n for n in VITALS if n in present]
        outcome: dict[str, str] = {}
        if names:
            slot = self.store.slot(pid)
            codes = self.store.update_batch(
                np.full(len(names), slot, dtype=np.int64),
                np.array([_VIDX[n] for n in names], dtype=np.int64),
                np.full(len(names), float(reading.ts_ms)),
                np.array([float(present[n]) for n in names]),
            )
            outcome = {n: UPDATE_CODES[int(c)] for n, c in zip(names, codes)}

        now = merged.last_ts_ms
        due = self.config.tick_ms <= 0 or now - merged.last_scored_ts_ms >= self.config.tick_ms
        news: News2Result | None = None
        scores: dict[str, ScoreResult] = {}
        features: dict[str, float] = {}
        decisions: list[Alert] = []
        policy = merged.policy
        risks: dict[str, Risk] = {}
        snapshot: Snapshot | None = None
        last_snapshot = merged.last_snapshot_ts_ms
        if due:
            tick, settings, scores, features = self._tick(merged, now, predict=True)
            news = tick.news2
            risks = tick.risks
            policy, decisions = step(merged.policy, tick, settings)
            if self.models is not None and (not last_snapshot
                                            or now - last_snapshot >= self.config.snapshot_every_ms):
                snapshot = Snapshot(now, {k: features[k] for k in MODEL_FEATURES
                                          if math.isfinite(features.get(k, math.nan))},
                                    risks["sepsis"].probability if "sepsis" in risks else math.nan)
                last_snapshot = now
        blob = base64.b64encode(self.store.dump(pid)).decode("ascii") if self.persist_windows else None
        new_state = merged.model_copy(update={
            "policy": policy,
            "windows": blob,
            "last_scored_ts_ms": now if due else merged.last_scored_ts_ms,
            "last_snapshot_ts_ms": last_snapshot,
        })
        self._synced[pid] = new_state.readings
        return Assessment(new_state, news, decisions, scores, features, outcome, risks, snapshot)


def _bedside_override(cmd: Command, now_ms: int) -> PatientOverride:
    """An override command → a patient layer: author = the user, a reason, an expiry (at most 7 days)."""
    from datetime import datetime, timezone

    if not cmd.reason or len(cmd.reason.strip()) < 3:
        raise ValueError("an override needs a reason")
    if cmd.minutes is None or not 0 < cmd.minutes <= 7 * 24 * 60:
        raise ValueError("an override needs minutes between 0 and 7 days")
    if not cmd.settings:
        raise ValueError("an override needs settings (e.g. {\"spo2_scale\": 2})")
    # Expiry on the patient's clock (the later of the command's and the last reading's time).
    expires = datetime.fromtimestamp((now_ms + cmd.minutes * 60_000) / 1000, tz=timezone.utc)
    return PatientOverride.model_validate({**cmd.settings, "author": cmd.user_id, "reason": cmd.reason.strip(),
                                           "expires": expires})


def assess(state: PatientState | None, reading: Reading, config: ScoringConfig | None = None) -> Assessment:
    """One-off assessment (a fresh working set; the worker keeps an :class:`Assessor`)."""
    return Assessor(config, capacity=1).assess(state, reading)
