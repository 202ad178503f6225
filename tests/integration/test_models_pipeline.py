"""The online models in the worker, on the real stack: a warm-started model alerts with its
version and explanation, learns from a late outcome, checkpoints, and loses nothing on restart."""

from __future__ import annotations

import asyncio
import json
import random
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from detectors.models import OnlineModels, Snapshot
from stream.models_runtime import ModelRuntime, binary_client
from stream.topics import Topics
from tests.conftest import Isolated, start_worker
from tests.helpers import BASE_TS, STABLE, encode, reading
from tests.integration.kafka_io import poll_redis, publish, read_topic

pytestmark = pytest.mark.integration

MIN = 60_000
H = 60 * MIN
FEVER = dict(STABLE, heart_rate_bpm=128, resp_rate_per_min=27, temp_c=39.2)


def _snapshot_file(path: Path) -> str:
    """A sepsis model warm-started on synthetic snapshots: fast breathing and a fast pulse mean sepsis."""
    models = OnlineModels("logistic", seed=1)
    r = random.Random(3)
    for i in range(3000):
        hr, rr = r.gauss(85, 15), r.gauss(17, 4)
        septic = (hr - 85) / 15 + (rr - 17) / 4 > 1.5
        snap = Snapshot(0, {"heart_rate_bpm.latest": hr, "resp_rate_per_min.latest": rr})
        models.learn(f"warm{i}", [snap], {"sepsis_onset": 0} if septic else {}, ["sepsis_onset"], 0)
    models.with_alert_at("sepsis", 0.2)  # between a stable patient (0.12) and a feverish one (0.26)
    path.write_bytes(models.dump({"dataset": "synthetic", "stay_ids": []}, rebase=True, created="test"))
    return models.version("sepsis")


async def _status(r: aioredis.Redis, prefix: str) -> dict[str, Any]:
    raw = await r.hgetall(f"{prefix}:model:status")
    return {k: json.loads(v) for k, v in raw.items()}


def test_model_alert_learning_checkpoint_and_restart(isolated: Isolated) -> None:
    s = isolated.settings
    topics = Topics.from_settings(s.kafka)
    prefix = s.redis.key_prefix
    ward = f"m-{isolated.tag}"
    version = _snapshot_file(isolated.run_dir / "models.bin")
    isolated.env["EWS_MODELS__SNAPSHOT"] = str(isolated.run_dir / "models.bin")
    isolated.env["EWS_MODELS__SNAPSHOT_EVERY_S"] = "60"

    first = start_worker(isolated, "worker-models-1.log")
    try:
        first.wait_for("models: loaded", 5)
        readings = [(b"S1", encode(reading("S1", ward, BASE_TS + i * 10 * MIN, STABLE))) for i in range(3)]
        readings += [(b"S1", encode(reading("S1", ward, BASE_TS + (3 + i) * 10 * MIN, FEVER))) for i in range(3)]
        asyncio.run(publish(s, topics.raw, readings))
        alerts = asyncio.run(read_topic(s, topics.alerts, 3, 30))  # NEWS2 raise and escalation, the model's raise
        model_alerts = [json.loads(a.value) for a in alerts if json.loads(a.value)["source"] == "model"]
        assert model_alerts, [json.loads(a.value)["reason"] for a in alerts]
        a = model_alerts[0]
        assert a["action"] == "raise" and a["patient_id"] == "S1" and a["ts_ms"] == BASE_TS + 30 * MIN
        assert a["model"]["name"] == "sepsis" and a["model"]["version"] == version
        assert a["model"]["probability"] >= 0.2 and a["model"]["alert_at"] == 0.2
        top = {c["feature"]: c["contribution"] for c in a["model"]["contributions"]}
        assert top["heart_rate_bpm.latest"] > 0 and top["resp_rate_per_min.latest"] > 0
        assert a["components"]["resp_rate"] == 3 and a["score_total"] >= 5  # the clinical score beside it

        # The screen's score record carries the model risk.
        scores = asyncio.run(poll_redis(s, lambda r: r.hgetall(f"{prefix}:ward:{ward}:scores"),
                                        lambda v: "S1" in v and json.loads(v["S1"])["risks"], 20))
        assert json.loads(scores["S1"])["risks"]["sepsis"]["version"] == version

        # A late outcome: onset at 50 min, discharge at 2 h. Six snapshots (one per 10 min ≥ 60 s apart),
        # all kept before the outcome is published (a busy machine may still be scoring the last).
        held = asyncio.run(poll_redis(s, lambda r: r.llen(f"{prefix}:model:history:S1"), lambda v: v == 6, 30))
        assert held == 6
        outcomes = [
            {"patient_id": "S1", "ward": ward, "kind": "sepsis_onset", "ts_ms": BASE_TS + 50 * MIN},
            {"patient_id": "S1", "ward": ward, "kind": "discharge", "ts_ms": BASE_TS + 2 * H,
             "observed": ["sepsis_onset"]},
        ]
        asyncio.run(publish(s, topics.outcomes, [(b"S1", json.dumps(o).encode()) for o in outcomes]))
        status = asyncio.run(poll_redis(s, lambda r: _status(r, prefix),
                                        lambda v: v.get("sepsis", {}).get("learned_since_snapshot", 0) > 0, 30))
        assert status["sepsis"]["learned_since_snapshot"] == 6
        assert status["sepsis"]["version"] == version.replace("+0", "+6")
        assert status["deterioration"]["learned"] == 0  # the source does not record deaths
        # The patient's history is gone once learned; the checkpoint holds the learning.
        keys = asyncio.run(poll_redis(s, lambda r: r.keys(f"{prefix}:model:history:*"), lambda v: not v, 10))
        assert keys == []
    finally:
        first.stop()

    second = start_worker(isolated, "worker-models-2.log")
    try:
        second.wait_for("models: resumed checkpoint", 5)
        assert "sepsis-logistic" in second.text() and "+6" in second.text()
        # The same discharge redelivered (e.g. an uncommitted offset): not learned twice.
        asyncio.run(publish(s, topics.outcomes, [(b"S1", json.dumps(outcomes[1]).encode())]))
        second.wait_for("duplicate, skipped", 30)
        status = asyncio.run(poll_redis(s, lambda r: _status(r, prefix), lambda v: bool(v), 5))
        assert status["sepsis"]["learned_since_snapshot"] == 6
        # A malformed outcome goes to the dead-letter topic with its reason.
        asyncio.run(publish(s, topics.outcomes, [(b"S1", b'{"patient_id": "S1", "kind": "teleport"}')]))
        dead = asyncio.run(read_topic(s, topics.deadletter, 1, 30))
        assert dead and dict(dead[0].headers)["ews.error.code"] == b"invalid_outcome"
        assert dead[0].value == b'{"patient_id": "S1", "kind": "teleport"}'
    finally:
        second.stop()


def test_drift_raises_and_resolves_a_technical_alert(isolated: Isolated) -> None:
    """ModelRuntime against real Redis: the relation the model learned flips; ADWIN sees the error change."""
    from detectors.schemas import Outcome
    from stream.settings import ModelSettings

    s = isolated.settings

    async def scenario() -> list[Any]:
        client = binary_client(s.redis.url)
        rt = ModelRuntime.start(client, ModelSettings(), s.redis.key_prefix, {})
        r = random.Random(5)
        decisions: list[Any] = []
        try:
            for i in range(2400):
                pid = f"D{i}"
                hr = r.gauss(90, 20)
                died = (hr > 110) != (800 <= i < 1600)   # the relation flips, then flips back
                ts = BASE_TS + i * 10 * MIN
                await rt.keep(pid, Snapshot(ts - MIN, {"heart_rate_bpm.latest": hr}))
                if died:
                    await rt.on_outcome(Outcome(patient_id=pid, ward="w", kind="death", ts_ms=ts))  # type: ignore[arg-type]
                _, ds = await rt.on_outcome(Outcome(patient_id=pid, ward="w", kind="discharge", ts_ms=ts,  # type: ignore[arg-type]
                                                    observed=["death"]))  # type: ignore[list-item]
                decisions += ds
            status = await client.hgetall(rt.keys.model_status)
            assert json.loads(status[b"deterioration"])["drift_error"] >= 1
            assert (await client.hget(rt.keys.model_checkpoint, "models"))[:40].startswith(b'{"format"')
        finally:
            await client.aclose()
        return decisions

    decisions = asyncio.run(scenario())
    raised = [d for d in decisions if d.action.value == "raise"]
    assert raised and raised[0].source == "technical" and raised[0].patient_id == "model-deterioration"
    assert "deterioration model drift" in raised[0].reason and raised[0].audience == ["ward", "clinical_informatics"]
    assert any(d.action.value == "resolve" and d.alert_id == raised[0].alert_id for d in decisions)


def test_a_patients_late_label_history_is_bounded(isolated: Isolated) -> None:
    from stream.settings import ModelSettings

    s = isolated.settings

    async def scenario() -> tuple[int, int]:
        client = binary_client(s.redis.url)
        rt = ModelRuntime.start(client, ModelSettings(history=400), s.redis.key_prefix, {})
        try:
            for i in range(500):
                await rt.keep("LONG", Snapshot(BASE_TS + i * 15 * MIN, {"heart_rate_bpm.latest": 80.0 + i % 7}))
            held = await client.lrange(rt.keys.model_history("LONG"), 0, -1)
            return len(held), Snapshot.unpack(held[0]).ts_ms
        finally:
            await client.aclose()

    n, oldest = asyncio.run(scenario())
    assert n == 400 and oldest == BASE_TS + 100 * 15 * MIN  # the oldest 100 went first
