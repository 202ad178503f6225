"""The Redis sink applies each decision once, whatever the redelivery."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis

from detectors.assess import ScoringConfig, assess
from detectors.ingest import decode_reading
from stream.sinks.base import AlertSink, ListSink
from stream.sinks.redis_store import Keys, RedisAlertSink
from tests.conftest import Isolated
from tests.helpers import BASE_TS, DETERIORATED, STABLE, encode, plain_thresholds, reading

pytestmark = pytest.mark.integration


def _decisions() -> list:  # type: ignore[type-arg]
    plain = ScoringConfig(thresholds=plain_thresholds())
    raised = assess(None, decode_reading(encode(reading("PS", "ward-s", BASE_TS, DETERIORATED))), plain)
    resolved = assess(raised.state, decode_reading(encode(reading("PS", "ward-s", BASE_TS + 60_000, STABLE))), plain)
    return raised.decisions + resolved.decisions


def test_redelivered_decisions_are_written_once(isolated: Isolated) -> None:
    s = isolated.settings
    keys = Keys(s.redis.key_prefix)

    async def run() -> None:
        client = aioredis.Redis.from_url(s.redis.url, decode_responses=True)
        try:
            sink = RedisAlertSink(client, s.redis)
            assert isinstance(sink, AlertSink)
            raise_, resolve = _decisions()
            assert await sink.write(raise_) is True
            assert await sink.write(raise_) is False  # redelivery
            assert list(await client.hgetall(keys.ward_active("ward-s"))) == ["PS"]
            assert (await client.hgetall(keys.patient("PS")))["action"] == "raise"
            assert await sink.write(resolve) is True
            assert await sink.write(raise_) is False  # a late duplicate never re-opens the alert
            assert await client.hgetall(keys.ward_active("ward-s")) == {}
            assert (await client.hgetall(keys.patient("PS")))["action"] == "resolve"
            assert await client.xlen(keys.all_stream) == 2
            assert await client.xlen(keys.ward_stream("ward-s")) == 2
        finally:
            await client.aclose()

    asyncio.run(run())


def test_list_sink_matches_the_protocol() -> None:
    async def run() -> None:
        sink = ListSink()
        assert isinstance(sink, AlertSink)
        a, b = _decisions()
        assert [await sink.write(x) for x in (a, a, b)] == [True, False, True]
        assert sink.alerts == [a, b]

    asyncio.run(run())
