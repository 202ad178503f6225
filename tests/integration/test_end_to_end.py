"""Device → Kafka → Faust worker → NEWS2 → alert → Redis + WebSocket, on the real stack."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
import redis.asyncio as aioredis

from stream.sinks.redis_store import Keys
from stream.topics import Topics
from tests.conftest import Isolated, Proc, start_worker
from tests.helpers import BASE_TS, DETERIORATED, STABLE, encode, reading
from tests.integration.kafka_io import next_message, publish, subscribe

pytestmark = pytest.mark.integration

DEADLINE_S = 30.0
MIN = 60_000


def test_deteriorating_patient_reaches_only_its_wards_screen(isolated: Isolated, worker: Proc, feed: Proc) -> None:
    s = isolated.settings
    topics = Topics.from_settings(s.kafka)
    ward_a, ward_b = f"a-{isolated.tag}", f"b-{isolated.tag}"
    url = f"ws://127.0.0.1:{s.websocket.port}"

    async def scenario() -> tuple[dict[str, object], float, list[dict[str, object]]]:
        ws_a, snap_a = await subscribe(url, ward_a)
        ws_b, snap_b = await subscribe(url, ward_b)
        assert snap_a["alerts"] == [] and snap_b["alerts"] == []
        msgs = [(b"PA", encode(reading("PA", ward_a, BASE_TS + i * MIN, STABLE))) for i in range(3)]
        msgs += [(b"PB", encode(reading("PB", ward_b, BASE_TS + i * MIN, STABLE))) for i in range(3)]
        await publish(s, topics.raw, msgs)
        # Two deteriorated readings a minute apart: the default confirmation (2 ticks, 60 s).
        await publish(s, topics.raw, [(b"PA", encode(reading("PA", ward_a, BASE_TS + 10 * MIN, DETERIORATED)))])
        sent = time.monotonic()
        await publish(s, topics.raw, [(b"PA", encode(reading("PA", ward_a, BASE_TS + 11 * MIN, DETERIORATED)))])
        got = await next_message(ws_a, DEADLINE_S)
        latency = time.monotonic() - sent
        assert got is not None, f"no alert on ward A within {DEADLINE_S}s"
        # Ward B must see nothing: give the pipeline time to misroute if it would.
        leaked = []
        extra = await next_message(ws_b, 3.0)
        if extra is not None:
            leaked.append(extra)
        await ws_a.close()
        await ws_b.close()
        return got, latency, leaked

    got, latency, leaked = asyncio.run(scenario())
    print(f"reading published → alert on the ward screen: {latency * 1000:.0f} ms")
    alert = got["alert"]
    assert got["type"] == "alert" and isinstance(alert, dict)
    assert alert["patient_id"] == "PA" and alert["action"] == "raise" and alert["priority"] == "high"
    assert alert["score_total"] == 10 and alert["components"]["resp_rate"] == 3
    assert leaked == [], f"ward B received {leaked}"

    async def redis_state() -> tuple[list[tuple[str, dict[str, str]]], dict[str, str], dict[str, str], dict[str, str]]:
        r = aioredis.Redis.from_url(s.redis.url, decode_responses=True)
        keys = Keys(s.redis.key_prefix)
        try:
            deadline = time.monotonic() + DEADLINE_S
            while time.monotonic() < deadline:
                scores = await r.hgetall(keys.ward_scores(ward_a))
                if "PA" in scores and json.loads(scores["PA"])["ts_ms"] == BASE_TS + 11 * MIN:
                    break
                await asyncio.sleep(0.2)
            return (await r.xrange(keys.all_stream), await r.hgetall(keys.ward_active(ward_a)),
                    await r.hgetall(keys.ward_active(ward_b)), scores)
        finally:
            await r.aclose()

    log, active_a, active_b, scores = asyncio.run(redis_state())
    assert [f["decision_id"] for _, f in log] == [alert["decision_id"]]
    assert json.loads(log[0][1]["alert"]) == alert
    assert list(active_a) == ["PA"] and active_b == {}
    # Every clinical score of the latest tick is in Redis for the ward screen.
    latest = json.loads(scores["PA"])["scores"]
    assert set(latest) == {"news2", "qsofa", "sirs", "mews", "shock_index"}
    assert latest["news2"]["total"] == 10 and latest["qsofa"]["total"] == 2  # RR 26, SBP 95
    assert latest["sirs"]["missing"] == ["wbc"] and latest["shock_index"]["total"] == round(120 / 95, 3)
    assert set(alert["scores"]) == {"qsofa", "sirs", "mews", "shock_index"}


def test_state_survives_a_worker_restart(isolated: Isolated, feed: Proc) -> None:
    """The patient table is rebuilt from its changelog: no duplicate raise, same episode resolves."""
    s = isolated.settings
    topics = Topics.from_settings(s.kafka)
    ward = f"r-{isolated.tag}"
    url = f"ws://127.0.0.1:{s.websocket.port}"

    first = start_worker(isolated, "worker-1.log")
    try:
        async def before() -> dict[str, object]:
            ws, _ = await subscribe(url, ward)
            await publish(s, topics.raw, [(b"PR", encode(reading("PR", ward, BASE_TS, DETERIORATED))),
                                          (b"PR", encode(reading("PR", ward, BASE_TS + MIN, DETERIORATED)))])
            got = await next_message(ws, DEADLINE_S)
            await ws.close()
            assert got is not None, "no alert before the restart"
            return got
        raised = asyncio.run(before())["alert"]
    finally:
        assert first.stop() in (0, -15)

    second = start_worker(isolated, "worker-2.log")
    try:
        async def after() -> list[dict[str, object]]:
            ws, snap = await subscribe(url, ward)
            assert [a["alert_id"] for a in snap["alerts"]] == [raised["alert_id"]]  # type: ignore[index]
            await publish(s, topics.raw, [
                (b"PR", encode(reading("PR", ward, BASE_TS + 2 * MIN, DETERIORATED))),  # still high: nothing new
                (b"PR", encode(reading("PR", ward, BASE_TS + 3 * MIN, STABLE))),  # clear: hysteresis starts
                (b"PR", encode(reading("PR", ward, BASE_TS + 9 * MIN, STABLE))),  # clear for 6 min: resolves
            ])
            seen = []
            while (msg := await next_message(ws, DEADLINE_S if not seen else 3.0)) is not None:
                seen.append(msg["alert"])
            await ws.close()
            return seen
        seen = asyncio.run(after())
    finally:
        second.stop()
    assert [(a["action"], a["alert_id"]) for a in seen] == [("resolve", raised["alert_id"])]  # type: ignore[index]
