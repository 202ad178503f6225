"""The simulator's only Kafka code: publish a ward's readings at real or accelerated time."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from aiokafka import AIOKafkaProducer

from simulator.ward import Ward
from stream.settings import Settings
from stream.topics import Topics, ensure_topics

__all__ = ["run_simulation"]

log = logging.getLogger(__name__)


async def run_simulation(
    settings: Settings,
    ward: Ward,
    *,
    speed: float,
    duration_s: float | None = None,
    tick_s: float = 0.2,
    on_tick: Callable[[int, int], None] | None = None,
) -> tuple[int, int]:
    """Publish until ``duration_s`` of wall time passes (forever if None).

    Simulated time runs ``speed`` times faster than the wall clock from
    ``ward.start_ms``. Returns (readings, outcomes) published.
    """
    if speed <= 0:
        raise ValueError("speed must be positive")
    await ensure_topics(settings.kafka)
    topics = Topics.from_settings(settings.kafka)
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka.bootstrap, acks="all", linger_ms=5)
    await producer.start()
    sent_r = sent_o = 0
    t0 = time.monotonic()
    try:
        while duration_s is None or time.monotonic() - t0 < duration_s:
            now_ms = ward.start_ms + int((time.monotonic() - t0) * speed * 1000)
            readings, outcomes = ward.due(now_ms)
            for r in readings:
                await producer.send(topics.raw, key=r.patient_id.encode(), value=r.model_dump_json().encode())
            for o in outcomes:
                await producer.send(topics.outcomes, key=o.patient_id.encode(), value=o.model_dump_json().encode())
            sent_r += len(readings)
            sent_o += len(outcomes)
            if on_tick is not None:
                on_tick(sent_r, sent_o)
            await asyncio.sleep(tick_s)
        await producer.flush()
    finally:
        await producer.stop()
    return sent_r, sent_o
