"""Bad input lands on the dead-letter topic with its reason and original bytes; the worker goes on."""

from __future__ import annotations

import asyncio
import time

import pytest
import redis.asyncio as aioredis

from stream.sinks.redis_store import Keys
from stream.topics import DEADLETTER_HEADERS, Topics
from tests.conftest import Isolated, Proc
from tests.helpers import BASE_TS, DETERIORATED, encode, reading
from tests.integration.kafka_io import publish, read_topic

pytestmark = pytest.mark.integration

BAD: list[tuple[str, bytes]] = [
    ("invalid_json", b'{"patient_id": "P9", "vitals": {'),
    ("missing_field", encode({k: v for k, v in reading("P9").items() if k != "ts_ms"})),
    ("impossible_value", encode(reading("P9", vitals={"heart_rate_bpm": -5}))),
    ("impossible_value", encode(reading("P9", vitals={"spo2_pct": 140}))),
    ("unknown_unit", encode(reading("P9", vitals={"temp_f": 101.2}))),
    ("empty_message", b""),
]


def test_bad_messages_are_dead_lettered_and_the_next_good_one_is_processed(isolated: Isolated, worker: Proc) -> None:
    s = isolated.settings
    topics = Topics.from_settings(s.kafka)
    good = [encode(reading("P9", "ward-dlq", BASE_TS + k * 60_000, DETERIORATED)) for k in (0, 1)]
    messages = [(f"bad-{i}".encode(), raw) for i, (_, raw) in enumerate(BAD)] + [(b"P9", g) for g in good]
    asyncio.run(publish(s, topics.raw, messages))

    records = asyncio.run(read_topic(s, topics.deadletter, len(BAD), timeout_s=30))
    assert len(records) == len(BAD), f"{len(records)} of {len(BAD)} dead letters arrived"
    by_key = {r.key: r for r in records}
    for i, (code, raw) in enumerate(BAD):
        rec = by_key[f"bad-{i}".encode()]
        headers = {k: v.decode() for k, v in rec.headers}
        assert set(DEADLETTER_HEADERS) <= set(headers), headers
        assert headers["ews.error.code"] == code, (raw, headers)
        assert headers["ews.error.reason"], "a reason is always given"
        assert headers["ews.source.topic"] == topics.raw
        assert (rec.value or b"") == raw, "the original bytes are kept exactly"

    async def after() -> tuple[dict[str, str], list[object]]:
        r = aioredis.Redis.from_url(s.redis.url, decode_responses=True)
        keys = Keys(s.redis.key_prefix)
        try:
            deadline = time.monotonic() + 30
            log: list[object] = []
            while time.monotonic() < deadline and not log:
                log = list(await r.xrange(keys.all_stream))
                await asyncio.sleep(0.2)
            return await r.hgetall(keys.metrics), log
        finally:
            await r.aclose()

    metrics, log = asyncio.run(after())
    assert len(log) == 1, "the good messages after the bad ones raised their alert"
    assert metrics == {"deadletter:invalid_json": "1", "deadletter:missing_field": "1",
                       "deadletter:impossible_value": "2", "deadletter:unknown_unit": "1",
                       "deadletter:empty_message": "1"}
    assert "dead-letter impossible_value" in worker.text()
