"""The online models inside the worker: loading, late labels in Redis, learning, checkpoints, drift.

Where things live
    * The models: in the worker's memory, shared by the scoring agent (predict on every
      tick) and the outcomes agent (learn at discharge).
    * Late-label snapshots: a Redis list per patient (``<prefix>:model:history:<patient>``),
      appended at most every ``snapshot_every_s``, trimmed to ``history`` entries
      (bounded memory per patient); event times in a hash (``…:model:events:<patient>``).
    * The checkpoint: ``<prefix>:model:checkpoint`` — the whole :class:`OnlineModels`
      (models, drift monitors, the outcome keys already learned), written after every
      discharge that taught something, *before* the patient's snapshots are deleted.

Restart
    At start the worker loads the checkpoint when it continues the configured snapshot
    file (same file hash), else the file (a newly deployed model), else untrained models.
    A discharge redelivered after a crash is recognised by its key and not learned twice;
    a crash before the checkpoint leaves the snapshots in Redis and the offset
    uncommitted, so the discharge is learned again from the same snapshots. No learning
    is lost.

Drift
    ADWIN on the prediction error at learning time: a detection is counted in the
    status hash (``…:model:status``, one JSON field per model) and raised as a technical
    alert on the ward whose discharge revealed it; it resolves at the first discharge
    learned without drift an hour or more later.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis

from detectors.models import LearnReport, OnlineModels, Snapshot, SnapshotError
from detectors.schemas import Alert, AlertAction, Outcome, Priority, RiskClass
from stream.settings import ModelSettings
from stream.sinks.redis_store import Keys

__all__ = ["ModelRuntime", "binary_client", "drift_alert"]

log = logging.getLogger(__name__)
_HOUR_MS = 3_600_000


def binary_client(url: str) -> aioredis.Redis:
    """A Redis client that returns bytes (snapshots and checkpoints are binary)."""
    return aioredis.Redis.from_url(url, decode_responses=False, health_check_interval=30)


@dataclass
class ModelRuntime:
    client: aioredis.Redis
    settings: ModelSettings
    prefix: str
    models: OnlineModels
    source: str = "untrained"
    source_sha: str = ""
    #: active drift alerts by model name (the raise decision), to resolve later
    drifting: dict[str, Alert] = field(default_factory=dict)
    #: how the models were loaded (logged once the worker's logging is up)
    started: str = ""

    # -- keys (named in stream.sinks.redis_store.Keys) ---------------------------------

    @property
    def keys(self) -> Keys:
        return Keys(self.prefix)

    # -- start -------------------------------------------------------------------------

    @classmethod
    def start(cls, client: aioredis.Redis, settings: ModelSettings, prefix: str,
              held: Mapping[bytes, bytes]) -> ModelRuntime:
        """Checkpoint ``held`` (when it continues the configured file), else the file, else untrained.

        Called once at worker start, before the event loop runs (it reads the snapshot file).
        """
        file_models: OnlineModels | None = None
        sha = ""
        if settings.snapshot is not None:
            path = Path(settings.snapshot)
            if not path.is_file():
                raise SnapshotError(f"model snapshot {path} (EWS_MODELS__SNAPSHOT) does not exist")
            raw = path.read_bytes()
            sha = hashlib.sha256(raw).hexdigest()[:16]
            file_models = OnlineModels.load(raw, str(path))
        if held and held.get(b"source_sha", b"").decode() == sha:
            try:
                models = OnlineModels.load(held[b"models"], "the Redis checkpoint")
                rt = cls(client, settings, prefix, models, held.get(b"source", b"").decode(), sha)
                rt.drifting = {k: Alert.model_validate_json(v)
                               for k, v in json.loads(held.get(b"drifting", b"{}")).items()}
                rt.started = f"models: resumed checkpoint {_versions(models)}"
                return rt
            except (SnapshotError, ValueError) as exc:
                problem = f"models: the checkpoint cannot be used ({exc}); "
            else:
                problem = ""
        else:
            problem = "models: the checkpoint continues another snapshot file; " if held else ""
        if file_models is not None:
            rt = cls(client, settings, prefix, file_models, str(settings.snapshot), sha)
            rt.started = f"{problem}models: loaded {settings.snapshot} {_versions(file_models)}"
            return rt
        rt = cls(client, settings, prefix, OnlineModels(settings.kind, seed=settings.seed))
        rt.started = (f"{problem}models: no snapshot configured; untrained {settings.kind} models "
                      "(they predict once they have learned)")
        return rt

    # -- scoring side ------------------------------------------------------------------

    async def keep(self, patient_id: str, snapshot: Snapshot) -> None:
        """Append a snapshot to the patient's bounded history."""
        key = self.keys.model_history(patient_id)
        async with self.client.pipeline(transaction=True) as tx:
            tx.rpush(key, snapshot.pack())
            tx.ltrim(key, -self.settings.history, -1)
            await tx.execute()

    # -- outcome side ------------------------------------------------------------------

    async def on_outcome(self, outcome: Outcome) -> tuple[LearnReport | None, list[Alert]]:
        """Record an event, or learn at discharge; returns what was learned and drift decisions."""
        pid = outcome.patient_id
        if outcome.kind.value != "discharge":
            await self.client.hsetnx(self.keys.model_events(pid), outcome.kind.value, str(outcome.ts_ms))
            return None, []
        raw: list[bytes] = await self.client.lrange(self.keys.model_history(pid), 0, -1)  # type: ignore[assignment]
        held: dict[bytes, bytes] = await self.client.hgetall(self.keys.model_events(pid))  # type: ignore[assignment]
        events = {k.decode(): int(v) for k, v in held.items()}
        snaps: list[Snapshot] = []
        for item in raw:
            try:
                snaps.append(Snapshot.unpack(bytes(item)))
            except SnapshotError as exc:
                log.warning("models: dropping an unreadable snapshot of %s: %s", pid, exc)
        observed = None if outcome.observed is None else [k.value for k in outcome.observed]
        key = f"{pid}:{outcome.ts_ms}"
        report = await self._learn(key, snaps, events, observed, outcome.ts_ms)
        decisions = self._drift_decisions(report, outcome)
        if sum(report.learned.values()) or decisions:
            await self.checkpoint()
        await self.client.delete(self.keys.model_history(pid), self.keys.model_events(pid))
        await self.write_status()
        return report, decisions

    async def _learn(self, key: str, snaps: list[Snapshot], events: Mapping[str, int],
                     observed: list[str] | None, now_ms: int) -> LearnReport:
        """Learn, yielding to the event loop after every ``learn_slice`` snapshots."""
        report: LearnReport | None = None
        for step in self.models.learning(key, snaps, events, observed, now_ms,
                                         pause_every=self.settings.learn_slice):
            if step is None:
                await asyncio.sleep(0)
            else:
                report = step
        assert report is not None  # learning always ends with its report
        return report

    def _drift_decisions(self, report: LearnReport, outcome: Outcome) -> list[Alert]:
        out: list[Alert] = []
        status = self.models.status()
        for name in self.models.models:
            active = self.drifting.get(name)
            if name in report.drift and active is None:
                raised = drift_alert(name, outcome.ward, outcome.ts_ms, AlertAction.RAISE, status[name],
                                     kinds=report.drift_kinds[name])
                self.drifting[name] = raised
                out.append(raised)
            elif (name not in report.drift and active is not None and report.learned.get(name)
                  and outcome.ts_ms - active.raised_ts_ms >= _HOUR_MS):
                out.append(drift_alert(name, active.ward, active.raised_ts_ms, AlertAction.RESOLVE, status[name],
                                       now_ms=outcome.ts_ms))
                del self.drifting[name]
        return out

    async def checkpoint(self) -> None:
        blob = self.models.dump()
        await self.client.hset(self.keys.model_checkpoint, mapping={
            "models": blob, "source": self.source, "source_sha": self.source_sha,
            "drifting": json.dumps({k: v.model_dump_json() for k, v in self.drifting.items()}),
        })

    async def write_status(self) -> None:
        status = self.models.status()
        await self.client.hset(self.keys.model_status, mapping={
            name: json.dumps({**s, "source": self.source, "drift_alert_active": name in self.drifting})
            for name, s in status.items()})


def _versions(models: OnlineModels) -> str:
    return ", ".join(f"{n} {models.version(n)}" for n in models.models)


_CHANGED = {"error": "its prediction error", "risk": "the risks it gives"}


def drift_alert(name: str, ward: str, raised_ms: int, action: AlertAction, status: Mapping[str, Any],
                now_ms: int | None = None, kinds: tuple[str, ...] = ("error",)) -> Alert:
    """A technical alert about a model (not a patient): its error or its risk distribution changed."""
    alert_id = f"tech:model_drift:{name}:{raised_ms}"
    step = 1 if action is AlertAction.RAISE else 2
    changed = " and ".join(_CHANGED[k] for k in kinds)
    what = (f"technical: {name} model drift — {changed} changed (ADWIN; {status['drift_error']} error and "
            f"{status['drift_risk']} risk detections, {status['learned']} labelled snapshots, model "
            f"{status['version']}); review its alerts"
            if action is AlertAction.RAISE else f"technical resolved: {name} model drift")
    return Alert(alert_id=alert_id, decision_id=f"{alert_id}:{step}", action=action, patient_id=f"model-{name}",
                 ward=ward, bed="-", priority=Priority.LOW, source="technical", score_total=0, components={},
                 risk=RiskClass.LOW, complete=False, reason=what, ts_ms=now_ms or raised_ms, raised_ts_ms=raised_ms,
                 audience=["ward", "clinical_informatics"])
