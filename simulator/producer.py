"""The simulator's only Kafka code: publish a simulated ward, or a replayed data set, at real or accelerated time."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import time
from collections.abc import Callable, Iterable

from aiokafka import AIOKafkaProducer

from simulator.replay import ReplayEvent
from simulator.ward import Ward
from stream.settings import Settings
from stream.topics import Topics, ensure_topics

__all__ = ["run_replay", "run_simulation"]

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
                await producer.send(topics.raw, key=r["patient_id"].encode(), value=json.dumps(r).encode())
            for o in outcomes:
                await producer.send(topics.outcomes, key=o["patient_id"].encode(), value=json.dumps(o).encode())
            sent_r += len(readings)
            sent_o += len(outcomes)
            if on_tick is not None:
                on_tick(sent_r, sent_o)
            await asyncio.sleep(tick_s)
        await producer.flush()
    finally:
        await producer.stop()
    return sent_r, sent_o


async def run_replay(
    settings: Settings,
    events: Iterable[ReplayEvent],
    *,
    speed: float,
    total_stays: int | None = None,
    progress: bool = True,
) -> tuple[int, int, int]:
    """Publish replay events, ``speed`` simulated seconds per wall second (0 = as fast as possible).

    Returns (readings, outcomes, stays discharged).
    """
    from tqdm import tqdm

    if speed < 0:
        raise ValueError("speed must be ≥ 0")
    await ensure_topics(settings.kafka)
    topics = Topics.from_settings(settings.kafka)
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka.bootstrap, acks="all", linger_ms=20)
    await producer.start()
    n_r = n_o = n_s = 0
    bar = tqdm(total=total_stays, unit="stay", desc="replay", disable=not progress, file=sys.stderr)
    t0 = time.monotonic()
    try:
        for ev in events:
            if speed > 0:
                due = t0 + ev.at_ms / 1000.0 / speed
                delay = due - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            topic = topics.raw if ev.kind == "reading" else topics.outcomes
            await producer.send(topic, key=ev.key.encode(), value=json.dumps(ev.doc).encode())
            if ev.kind == "reading":
                n_r += 1
            else:
                n_o += 1
            if ev.discharged is not None:
                n_s += 1
                bar.update(1)
        await producer.flush()
    finally:
        bar.close()
        await producer.stop()
    return n_r, n_o, n_s
