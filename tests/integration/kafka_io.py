"""Small real-Kafka helpers for integration tests (a producer and a topic reader)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import redis.asyncio as aioredis

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from websockets.asyncio.client import ClientConnection, connect

from stream.settings import Settings

T = TypeVar("T")


async def publish(settings: Settings, topic: str, messages: list[tuple[bytes | None, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka.bootstrap, acks="all")
    await producer.start()
    try:
        for key, value in messages:
            await producer.send_and_wait(topic, key=key, value=value)
    finally:
        await producer.stop()


async def read_topic(settings: Settings, topic: str, count: int, timeout_s: float) -> list[Any]:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=settings.kafka.bootstrap, auto_offset_reset="earliest",
                                enable_auto_commit=False, group_id=None)
    await consumer.start()
    records: list[Any] = []
    deadline = time.monotonic() + timeout_s
    try:
        while len(records) < count and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for recs in batch.values():
                records.extend(recs)
    finally:
        await consumer.stop()
    return records


async def subscribe(url: str, ward: str, token: str = "test-screen-all-wards",
                    last_event_id: str | None = None) -> tuple[ClientConnection, dict[str, Any]]:
    ws = await connect(url)
    msg: dict[str, Any] = {"type": "subscribe", "ward": ward, "token": token}
    if last_event_id is not None:
        msg["last_event_id"] = last_event_id
    await ws.send(json.dumps(msg))
    first = json.loads(await asyncio.wait_for(ws.recv(), 10))
    assert first["type"] in ("snapshot", "resume"), first
    return ws, first


async def next_message(ws: ClientConnection, timeout_s: float) -> dict[str, Any] | None:
    """The next alert event (heartbeats and score updates skipped), or None after ``timeout_s``."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        left = deadline - asyncio.get_running_loop().time()
        if left <= 0:
            return None
        try:
            msg = dict(json.loads(await asyncio.wait_for(ws.recv(), left)))
        except TimeoutError:
            return None
        if msg.get("type") not in ("heartbeat", "scores"):
            return msg


async def poll_redis(settings: Settings, read: Callable[[aioredis.Redis], Awaitable[T]], done: Callable[[T], bool],
                     timeout_s: float, every_s: float = 0.2) -> T:
    """Read from Redis until ``done(value)`` or the deadline; returns the last value read."""
    r = aioredis.Redis.from_url(settings.redis.url, decode_responses=True)
    try:
        deadline = time.monotonic() + timeout_s
        value = await read(r)
        while not done(value) and time.monotonic() < deadline:
            await asyncio.sleep(every_s)
            value = await read(r)
        return value
    finally:
        await r.aclose()
