"""Acknowledge and snooze from a screen: through Kafka to the worker's policy, back to every screen, audited."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
import redis.asyncio as aioredis

from stream.sinks.redis_store import Keys
from stream.topics import Topics
from tests.conftest import Isolated, Proc
from tests.helpers import BASE_TS, DETERIORATED, encode, reading
from tests.integration.kafka_io import poll_redis, next_message, publish, subscribe

pytestmark = pytest.mark.integration
MIN = 60_000


async def _audit(iso: Isolated, count: int, timeout_s: float = 30) -> list[dict[str, str]]:
    async def read(r: aioredis.Redis) -> list[dict[str, str]]:
        return [f for _, f in await r.xrange(Keys(iso.settings.redis.key_prefix).commands_audit)]

    return await poll_redis(iso.settings, read, lambda e: len(e) >= count, timeout_s)


def test_acknowledge_and_snooze_round_trip(isolated: Isolated, worker: Proc, feed: Proc) -> None:
    s = isolated.settings
    topics = Topics.from_settings(s.kafka)
    ward = f"cmd-{isolated.tag}"
    url = f"ws://127.0.0.1:{s.websocket.port}"

    async def scenario() -> tuple[list[dict[str, object]], list[dict[str, object]], list[dict[str, object]]]:
        nurse, _ = await subscribe(url, ward)
        other, _ = await subscribe(url, ward)
        await publish(s, topics.raw, [(b"PK", encode(reading("PK", ward, BASE_TS + k * MIN, DETERIORATED)))
                                      for k in (0, 1)])
        raised = await next_message(nurse, 30)
        assert raised is not None
        await next_message(other, 10)
        alert_id = raised["alert"]["alert_id"]  # type: ignore[index]
        replies = []
        for msg in (
            {"type": "acknowledge", "alert_id": alert_id, "user_id": "nurse.kim", "command_id": "c-1"},
            {"type": "acknowledge", "alert_id": alert_id, "user_id": "nurse.kim", "command_id": "c-1"},  # again
            {"type": "snooze", "alert_id": alert_id, "user_id": "nurse.kim", "minutes": 10, "reason": "",
             "command_id": "c-2"},
            {"type": "snooze", "alert_id": alert_id, "user_id": "nurse.kim", "minutes": 10,
             "reason": "repositioning", "command_id": "c-3"},
            {"type": "acknowledge", "alert_id": "news2:nobody:1", "user_id": "nurse.kim"},
            {"type": "acknowledge", "alert_id": alert_id},
        ):
            await nurse.send(json.dumps(msg))
            while True:  # the nurse's own screen also receives the resulting alert events
                reply = json.loads(await asyncio.wait_for(nurse.recv(), 10))
                if reply["type"] in ("command_accepted", "error"):
                    replies.append(reply)
                    break
        events = [m for m in [await next_message(other, 10) for _ in range(2)] if m is not None]
        await nurse.close()
        await other.close()
        return replies, events, await _audit(isolated, 4)

    replies, events, audit = asyncio.run(scenario())
    assert [r["type"] for r in replies] == ["command_accepted"] * 4 + ["error", "error"]
    assert "not active" in str(replies[4]["error"]) and "user_id" in str(replies[5]["error"])
    # every screen of the ward sees the acknowledgement and the snooze, with the user's id
    acts = [(e["alert"]["action"], e["alert"]["user_id"]) for e in events]  # type: ignore[index]
    assert acts == [("acknowledge", "nurse.kim"), ("snooze", "nurse.kim")]
    assert events[1]["alert"]["snoozed_until_ms"] is not None  # type: ignore[index]
    status: dict[str, tuple[str, str, str]] = {}
    for a in audit:
        status.setdefault(a["command_id"], (a["status"], a["error"], a["user_id"]))
    assert status["c-1"][0] == "applied" and status["c-1"][2] == "nurse.kim"
    assert [a["status"] for a in audit if a["command_id"] == "c-1"] == ["applied", "duplicate"]
    assert status["c-2"][0] == "rejected" and "reason" in status["c-2"][1]
    assert status["c-3"][0] == "applied"


def test_a_bedside_override_sets_scale2_for_a_copd_patient(isolated: Isolated, worker: Proc, feed: Proc) -> None:
    from tests.helpers import STABLE

    s = isolated.settings
    topics = Topics.from_settings(s.kafka)
    ward = f"ovr-{isolated.tag}"
    url = f"ws://127.0.0.1:{s.websocket.port}"
    copd = dict(STABLE, spo2_pct=90, o2_supplemental=True)  # Scale 1: SpO2 3 + oxygen 2 = 5, medium

    async def scenario() -> tuple[list[dict[str, object]], dict[str, object] | None]:
        ws, _ = await subscribe(url, ward)
        await publish(s, topics.raw, [(b"PO", encode(reading("PO", ward, BASE_TS, STABLE)))])
        r = aioredis.Redis.from_url(s.redis.url, decode_responses=True)
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and not await r.hexists(Keys(s.redis.key_prefix).ward_scores(ward), "PO"):
                await asyncio.sleep(0.2)
        finally:
            await r.aclose()
        replies = []
        for msg in ({"type": "override", "patient_id": "PO", "user_id": "dr.osei", "minutes": 60,
                     "reason": "COPD, prescribed target 88-92 %", "settings": {"spo2_scale": 2}},
                    {"type": "override", "patient_id": "PO", "user_id": "dr.osei", "minutes": 60, "reason": "x",
                     "settings": {"spo2_scale": 2}},
                    {"type": "override", "patient_id": "nobody", "user_id": "dr.osei", "minutes": 60,
                     "reason": "copd", "settings": {"spo2_scale": 2}}):
            await ws.send(json.dumps(msg))
            while True:
                reply = json.loads(await asyncio.wait_for(ws.recv(), 10))
                if reply["type"] in ("command_accepted", "error"):
                    replies.append(reply)
                    break
        await asyncio.sleep(2)
        await publish(s, topics.raw, [(b"PO", encode(reading("PO", ward, BASE_TS + k * MIN, copd))) for k in (1, 2, 3)])
        got = await next_message(ws, 8)
        await ws.close()
        return replies, got

    replies, got = asyncio.run(scenario())
    assert [r["type"] for r in replies[:2]] == ["command_accepted", "command_accepted"]
    assert replies[2]["type"] == "error" and "not on ward" in str(replies[2]["error"])
    assert got is None, f"a Scale-2 patient at SpO2 90 % on oxygen raised {got}"
    audit = asyncio.run(_audit(isolated, 2))
    assert [(a["kind"], a["status"]) for a in audit] == [("override", "applied"), ("override", "rejected")]
    assert "reason" in audit[1]["error"]
