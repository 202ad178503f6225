"""Clinician threshold file: hot reload takes effect, bad files are rejected precisely, all is audited."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis

from stream.sinks.redis_store import Keys
from stream.topics import Topics
from tests.conftest import Isolated, Proc
from tests.helpers import BASE_TS, STABLE, encode, reading
from tests.integration.kafka_io import poll_redis, next_message, publish, subscribe

pytestmark = pytest.mark.integration

MEDIUM = dict(STABLE, resp_rate_per_min=22, heart_rate_bpm=115, temp_c=38.5)  # NEWS2 5
MIN = 60_000


async def _audit(iso: Isolated, count: int, timeout_s: float = 20) -> list[dict[str, str]]:
    async def read(r: aioredis.Redis) -> list[dict[str, str]]:
        return [f for _, f in await r.xrange(Keys(iso.settings.redis.key_prefix).config_audit)]

    return await poll_redis(iso.settings, read, lambda e: len(e) >= count, timeout_s)


def test_reload_applies_valid_files_rejects_bad_ones_and_audits_both(isolated: Isolated, worker: Proc,
                                                                       feed: Proc) -> None:
    s = isolated.settings
    topics = Topics.from_settings(s.kafka)
    ward = f"cfg-{isolated.tag}"
    url = f"ws://127.0.0.1:{s.websocket.port}"
    assert [e["status"] for e in asyncio.run(_audit(isolated, 1))] == ["loaded"]

    original = isolated.thresholds.read_text()
    raised = original.replace("medium_at: 5", "medium_at: 6").replace(
        "changed_by: bedside-ews defaults", "changed_by: dr.lee").replace("change_note: shipped defaults",
                                                                        "change_note: ward policy 2026-12")
    isolated.thresholds.write_text(raised)
    audit = asyncio.run(_audit(isolated, 2))
    assert audit[1]["status"] == "applied" and audit[1]["changed_by"] == "dr.lee"
    assert "-    medium_at: 5" in audit[1]["diff"] and "+    medium_at: 6" in audit[1]["diff"]

    # With medium at 6, a NEWS2 of 5 held for two minutes raises nothing.
    async def quiet() -> dict[str, object] | None:
        ws, _ = await subscribe(url, ward)
        await publish(s, topics.raw, [(b"PC", encode(reading("PC", ward, BASE_TS + k * MIN, MEDIUM)))
                                      for k in range(3)])
        got = await next_message(ws, 8.0)
        await ws.close()
        return got

    assert asyncio.run(quiet()) is None

    # A bad file is rejected with the field and value named; the running thresholds stay.
    isolated.thresholds.write_text(raised.replace("high_at: 7", "high_at: 3"))
    audit = asyncio.run(_audit(isolated, 3))
    assert audit[2]["status"] == "rejected"
    assert "defaults.news2" in audit[2]["error"] and "medium_at (6) must be below high_at (3)" in audit[2]["error"]
    isolated.thresholds.write_text(raised.replace("readings: 2", "readings: many"))
    audit = asyncio.run(_audit(isolated, 4))
    assert audit[3]["status"] == "rejected" and "defaults.confirmation.readings = 'many'" in audit[3]["error"]
    assert "threshold file rejected" in worker.text()

    async def still_quiet() -> dict[str, object] | None:
        ws, _ = await subscribe(url, ward)
        await publish(s, topics.raw, [(b"PC", encode(reading("PC", ward, BASE_TS + (3 + k) * MIN, MEDIUM)))
                                      for k in range(2)])
        got = await next_message(ws, 6.0)
        await ws.close()
        return got

    assert asyncio.run(still_quiet()) is None, "the rejected file did not replace the running thresholds"

    # Back to the shipped file: NEWS2 5 alarms again.
    isolated.thresholds.write_text(original)
    assert asyncio.run(_audit(isolated, 5))[4]["status"] == "applied"

    async def alarms() -> dict[str, object] | None:
        ws, _ = await subscribe(url, ward)
        await publish(s, topics.raw, [(b"PC", encode(reading("PC", ward, BASE_TS + (5 + k) * MIN, MEDIUM)))
                                      for k in range(2)])
        got = await next_message(ws, 20.0)
        await ws.close()
        return got

    got = asyncio.run(alarms())
    assert got is not None and got["alert"]["priority"] == "medium"  # type: ignore[index]
