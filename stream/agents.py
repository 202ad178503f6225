"""Faust agents. Each one decodes, calls one core function, and emits.

* ``validate_readings``: ``vitals.raw`` → ``vitals.valid`` (or ``vitals.deadletter``)
* ``score_readings``:    ``vitals.valid`` → patient table, ``alerts``, ``scores``
* ``publish_alerts``:    ``alerts`` → Redis (state, Streams)
* ``publish_scores``:    ``scores`` → Redis (latest scores per ward)
* ``apply_commands``:    ``commands`` (acknowledge, snooze) → patient table, ``alerts``, audit
* ``learn_outcomes``:    ``outcomes`` → late labels, model learning and checkpoint, drift alerts

No agent dies on bad input: a message that cannot be decoded is sent to the
dead-letter topic with its original bytes and the reason, counted, and the
stream goes on. A sink that cannot be reached is retried, never skipped, so the
offset of an alert is only committed once Redis has it.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
import logging
import math
import time
from typing import Any

import redis.exceptions

from detectors.assess import Assessment, Assessor, ScoringConfig
from detectors.features import FeatureConfig
from detectors.errors import InvalidReading
from detectors.ingest import decode_message, detect_format
from detectors.patient import PatientState
from detectors.schemas import Alert, Command, Outcome, Reading
from detectors.scores import ScoreResult
from stream.app import Pipeline
from stream.models_runtime import ModelRuntime, binary_client
from stream.settings import Settings
from stream.sinks.redis_store import Keys, RedisAlertSink, redis_client
from stream.thresholds_watch import ThresholdsWatcher

__all__ = ["register_agents"]

log = logging.getLogger(__name__)


def scores_message(reading: Reading, result: Assessment) -> bytes:
    """The per-tick record on the ``scores`` topic (NaN features become null)."""

    def one(r: ScoreResult) -> dict[str, Any]:
        total = None if math.isnan(r.total) else r.total
        return {"total": total, "components": r.components, "complete": r.complete, "missing": list(r.missing),
                "stale": list(r.stale), "positive": r.positive, "label": r.label}

    state = result.state
    doc = {
        "patient_id": state.patient_id,
        "ward": state.ward,
        "bed": state.bed,
        "ts_ms": state.last_ts_ms,
        "scores": {name: one(r) for name, r in result.scores.items()},
        "features": {k: (None if math.isnan(v) else v) for k, v in result.features.items()},
        "artefacts": {k: v for k, v in result.vitals.items() if v != "accepted"},
        "risks": {name: {"probability": round(r.probability, 4), "alert_at": r.alert_at, "version": r.version}
                  for name, r in result.risks.items()},
    }
    return json.dumps(doc, separators=(",", ":")).encode()


def register_agents(p: Pipeline) -> None:
    client = redis_client(p.settings.redis)
    sink = RedisAlertSink(client, p.settings.redis)
    sc = p.settings.scoring
    watcher = ThresholdsWatcher(p.settings.thresholds_path, client, Keys(p.settings.redis.key_prefix).config_audit,
                                apply=lambda t: setattr(assessor, "config", replace(assessor.config, thresholds=t)))
    prefix = p.settings.redis.key_prefix
    model_client = binary_client(p.settings.redis.url)
    runtime = ModelRuntime.start(model_client, p.settings.models, prefix, _held_checkpoint(p.settings))
    assessor = Assessor(ScoringConfig(tick_ms=int(sc.tick_s * 1000), thresholds=watcher.thresholds,
                                      features=FeatureConfig(stale_after_s=sc.stale_after_s),
                                      snapshot_every_ms=int(p.settings.models.snapshot_every_s * 1000)),
                        models=runtime.models)
    assessor.store.warm()  # compile (or load cached) kernels before the first reading

    @p.app.task  # type: ignore[untyped-decorator]
    async def audit_thresholds_at_start() -> None:
        await watcher.record_start()

    @p.app.timer(interval=2.0)  # type: ignore[untyped-decorator]
    async def reload_thresholds() -> None:
        await watcher.check()

    async def dead_letter(event: Any, code: str, reason: str) -> None:
        msg = event.message
        value = event.value if isinstance(event.value, bytes) else b""
        headers = {
            "ews.error.code": code.encode(),
            "ews.source.format": detect_format(value).encode(),
            "ews.error.reason": reason.encode(),
            "ews.source.topic": str(msg.topic).encode(),
            "ews.source.partition": str(msg.partition).encode(),
            "ews.source.offset": str(msg.offset).encode(),
            "ews.received.ts_ms": str(int(time.time() * 1000)).encode(),
        }
        key = event.key if isinstance(event.key, bytes) else None
        await p.deadletter.send(key=key, value=value, headers=headers)
        log.warning("dead-letter %s from %s[%s]@%s: %s", code, msg.topic, msg.partition, msg.offset, reason)
        await _retry(lambda: sink.count(f"deadletter:{code}"), "count dead letter")

    async def emit(decisions: list[Alert]) -> None:
        for decision in decisions:
            await p.alerts.send(key=decision.patient_id.encode(), value=decision.model_dump_json().encode())

    @p.app.agent(p.raw, name="validate_readings")
    async def validate_readings(stream: Any) -> None:
        async for event in stream.events():
            try:
                _fmt, readings = decode_message(event.value)
            except InvalidReading as exc:
                await dead_letter(event, exc.code, exc.message)
                continue
            except Exception as exc:  # noqa: BLE001 - never die on input; record it
                log.exception("unexpected error validating a message")
                await dead_letter(event, "internal_error", f"{type(exc).__name__}: {exc}")
                continue
            for reading in readings:
                await p.valid.send(key=reading.patient_id.encode(), value=reading.model_dump_json().encode())

    @p.app.agent(p.valid, name="score_readings")
    async def score_readings(stream: Any) -> None:
        async for event in stream.events():
            try:
                reading = Reading.model_validate_json(event.value)
                held = p.patients.get(reading.patient_id)
                state = PatientState.model_validate(held) if held is not None else None
                result = assessor.assess(state, reading)
            except Exception as exc:  # noqa: BLE001 - never die on input; record it
                log.exception("cannot score a validated reading")
                await dead_letter(event, "internal_error", f"{type(exc).__name__}: {exc}")
                continue
            p.patients[reading.patient_id] = result.state.model_dump(mode="json")
            await emit(result.decisions)
            if result.snapshot is not None:
                snap = result.snapshot
                await _retry(lambda: runtime.keep(reading.patient_id, snap), "keep a model snapshot")
            if result.scores:
                await p.scores.send(key=reading.patient_id.encode(), value=scores_message(reading, result))

    @p.app.agent(p.alerts, name="publish_alerts")
    async def publish_alerts(stream: Any) -> None:
        async for event in stream.events():
            try:
                alert = Alert.model_validate_json(event.value)
            except Exception as exc:  # noqa: BLE001 - never die on input; record it
                await dead_letter(event, "invalid_alert", f"{type(exc).__name__}: {exc}")
                continue
            new = await _retry(lambda: sink.write(alert), f"write alert {alert.decision_id}")
            if new:
                log.info("%s %s %s %s", alert.action.value, alert.priority.value, alert.patient_id, alert.reason)

    @p.app.timer(interval=sc.clock_s)  # type: ignore[untyped-decorator]
    async def clock() -> None:
        """Time-driven rules (escalation, snooze expiry, stale data, lost feed) need no reading:
        a tick per local patient goes through the commands topic, in the patient's partition."""
        now = int(time.time() * 1000)
        for pid, held in list(p.patients.items()):
            if not isinstance(held, dict):
                continue
            tick = Command(command_id=f"tick:{now}", kind="tick", patient_id=pid, ward=str(held.get("ward", "")),
                           user_id="clock", ts_ms=now)
            await p.commands.send(key=pid.encode(), value=tick.model_dump_json().encode())

    @p.app.agent(p.commands, name="apply_commands")
    async def apply_commands(stream: Any) -> None:
        async for event in stream.events():
            try:
                cmd = Command.model_validate_json(event.value)
                held = p.patients.get(cmd.patient_id)
                if held is None:
                    raise LookupError(f"no state for patient {cmd.patient_id!r}")
                outcome = assessor.command(PatientState.model_validate(held), cmd)
            except Exception as exc:  # noqa: BLE001 - never die on input; record it
                await dead_letter(event, "invalid_command", f"{type(exc).__name__}: {exc}")
                continue
            p.patients[cmd.patient_id] = outcome.state.model_dump(mode="json")
            await emit(outcome.decisions)
            if cmd.kind == "tick":
                continue  # the worker's own clock: not a user action, not audited
            entry = {"command_id": cmd.command_id, "kind": cmd.kind, "alert_id": cmd.alert_id,
                     "patient_id": cmd.patient_id, "ward": cmd.ward, "user_id": cmd.user_id,
                     "ts_ms": str(cmd.ts_ms), "status": outcome.status, "error": outcome.error,
                     "command": cmd.model_dump_json()}
            await _retry(lambda: sink.audit_command(entry), f"audit command {cmd.command_id}")

    @p.app.task  # type: ignore[untyped-decorator]
    async def model_status_at_start() -> None:
        log.info("%s", runtime.started)
        await _retry(runtime.write_status, "write model status")

    @p.app.agent(p.outcomes, name="learn_outcomes")
    async def learn_outcomes(stream: Any) -> None:
        async for event in stream.events():
            try:
                outcome = Outcome.model_validate_json(event.value)
            except Exception as exc:  # noqa: BLE001 - never die on input; record it
                await dead_letter(event, "invalid_outcome", f"{type(exc).__name__}: {exc}")
                continue
            report, decisions = await _retry(lambda: runtime.on_outcome(outcome), f"learn from {outcome.patient_id}")
            if report is not None:
                for name, n in report.learned.items():
                    if n:
                        await _retry(lambda: sink.count(f"model:{name}:learned", n), "count learning")
                for name in report.drift:
                    await _retry(lambda: sink.count(f"model:{name}:drift"), "count drift")
                log.info("learned from %s: %s (positives %s)%s", outcome.patient_id, report.learned,
                         report.positives, " — duplicate, skipped" if report.duplicate else "")
            await emit(decisions)

    @p.app.agent(p.scores, name="publish_scores")
    async def publish_scores(stream: Any) -> None:
        async for event in stream.events():
            try:
                doc = json.loads(event.value)
                summary = json.dumps({"patient_id": doc["patient_id"], "bed": doc["bed"], "ts_ms": doc["ts_ms"],
                                      "scores": doc["scores"], "risks": doc.get("risks", {})})
                ward, pid = str(doc["ward"]), str(doc["patient_id"])
            except Exception as exc:  # noqa: BLE001 - never die on input; record it
                await dead_letter(event, "invalid_scores", f"{type(exc).__name__}: {exc}")
                continue
            await _retry(lambda: sink.write_scores(ward, pid, summary), f"write scores of {pid}")

    @p.app.on_before_shutdown.connect  # type: ignore[arg-type]
    async def close_redis(app: Any, **kwargs: Any) -> None:
        await client.aclose()
        await model_client.aclose()


def _held_checkpoint(settings: Settings) -> dict[bytes, bytes]:
    """The model checkpoint in Redis, read once before the event loop starts (sync client)."""
    import redis as sync_redis

    r = settings.redis
    client = sync_redis.Redis(host=r.host, port=r.port, db=r.db,
                              password=r.password.get_secret_value() if r.password else None)
    try:
        held: dict[bytes, bytes] = client.hgetall(Keys(r.key_prefix).model_checkpoint)  # type: ignore[assignment]
        return held
    finally:
        client.close()


_TRANSIENT = (
    ConnectionError,
    OSError,
    TimeoutError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    redis.exceptions.BusyLoadingError,
)


async def _retry(op: Any, what: str, first_delay_s: float = 0.2, max_delay_s: float = 5.0) -> Any:
    """Run ``op`` until it succeeds, backing off; a sink outage stalls, never drops."""
    delay = first_delay_s
    while True:
        try:
            return await op()
        except _TRANSIENT as exc:
            log.warning("%s failed (%s); retrying in %.1fs", what, exc, delay)
        await asyncio.sleep(delay)
        delay = min(delay * 2, max_delay_s)
