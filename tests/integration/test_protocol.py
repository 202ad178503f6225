"""WebSocket protocol on the real stack: tokens, ward isolation, resume, slow clients, heartbeats."""

from __future__ import annotations

import asyncio
import json
import socket
import time

import pytest
import redis.asyncio as aioredis
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from stream.sinks.redis_store import Keys
from stream.topics import Topics
from tests.conftest import WARD_A_TOKEN, Isolated, Proc
from tests.helpers import BASE_TS, DETERIORATED, encode, reading
from tests.integration.kafka_io import next_message, publish, subscribe

pytestmark = pytest.mark.integration
MIN = 60_000


async def _closed_with(url: str, msg: dict[str, object]) -> tuple[int | None, dict[str, object]]:
    async with connect(url) as ws:
        await ws.send(json.dumps(msg))
        err = json.loads(await asyncio.wait_for(ws.recv(), 5))
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 5)
        return ws.close_code, err


def test_tokens_and_ward_permissions(isolated: Isolated, feed: Proc) -> None:
    url = f"ws://127.0.0.1:{isolated.settings.websocket.port}"
    code, err = asyncio.run(_closed_with(url, {"type": "subscribe", "ward": "ward-a", "token": "wrong"}))
    assert code == 4401 and "unauthorised" in str(err["error"])
    code, err = asyncio.run(_closed_with(url, {"type": "subscribe", "ward": "ward-a"}))
    assert code == 4401
    code, err = asyncio.run(_closed_with(url, {"type": "subscribe", "ward": "ward-b", "token": WARD_A_TOKEN}))
    assert code == 4403 and "ward-b" in str(err["error"])

    async def allowed() -> str:
        ws, first = await subscribe(url, "ward-a-only", token=WARD_A_TOKEN)
        await ws.close()
        return str(first["type"])

    assert asyncio.run(allowed()) == "snapshot"


def test_resume_after_a_disconnect_loses_nothing(isolated: Isolated, worker: Proc, feed: Proc) -> None:
    s = isolated.settings
    topics = Topics.from_settings(s.kafka)
    ward = f"res-{isolated.tag}"
    url = f"ws://127.0.0.1:{s.websocket.port}"

    def two(pid: bytes, t: int) -> list[tuple[bytes | None, bytes]]:
        return [(pid, encode(reading(pid.decode(), ward, t + k * MIN, DETERIORATED))) for k in (0, 1)]

    async def scenario() -> tuple[str, list[dict[str, object]], list[dict[str, object]]]:
        ws, _ = await subscribe(url, ward)
        await publish(s, topics.raw, two(b"R1", BASE_TS))
        first = await next_message(ws, 30)
        assert first is not None
        await ws.close()
        # While the screen is away, two more patients deteriorate.
        await publish(s, topics.raw, two(b"R2", BASE_TS) + two(b"R3", BASE_TS))
        r = aioredis.Redis.from_url(s.redis.url, decode_responses=True)
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and await r.xlen(Keys(s.redis.key_prefix).ward_stream(ward)) < 3:
                await asyncio.sleep(0.2)
        finally:
            await r.aclose()
        ws, head = await subscribe(url, ward, last_event_id=str(first["event_id"]))
        missed = [m for m in [await next_message(ws, 5) for _ in range(3)] if m is not None]
        await ws.close()
        return str(first["event_id"]), [head], missed

    first_id, head, missed = asyncio.run(scenario())
    assert head[0]["type"] == "resume" and head[0]["count"] == 2 and head[0]["from"] == first_id
    assert sorted(m["alert"]["patient_id"] for m in missed) == ["R2", "R3"]  # type: ignore[index]
    ids = [str(m["event_id"]) for m in missed]
    assert len(set(ids)) == 2 and all(i > first_id for i in ids)


def test_a_slow_client_is_cut_while_others_keep_receiving(isolated: Isolated) -> None:
    env = {**isolated.env, "EWS_WEBSOCKET__CLIENT_QUEUE": "64"}
    log = isolated.run_dir / "serve-slow.log"
    proc = Proc("serve", ["serve"], env, log)
    proc.wait_port(isolated.settings.websocket.port, 30)
    s = isolated.settings
    ward = f"slow-{isolated.tag}"
    url = f"ws://127.0.0.1:{s.websocket.port}"
    key = Keys(s.redis.key_prefix).ward_stream(ward)
    n = 3000

    async def scenario() -> int:
        fast, _ = await subscribe(url, ward)
        # The slow screen: a raw socket with a tiny receive buffer that completes the
        # handshake, subscribes, and never reads again (a client library would keep reading).
        slow = _raw_subscriber(s.websocket.port, ward)

        async def read_all() -> int:
            got = 0
            while got < n:
                m = await next_message(fast, 15)
                if m is None:
                    break
                got += 1
            return got

        reader = asyncio.create_task(read_all())
        r = aioredis.Redis.from_url(s.redis.url, decode_responses=True)
        payload = json.dumps({"patient_id": "X", "bed": "1", "pad": "x" * 16_000})  # 48 MB in all: more
        # than the socket buffers of the idle client can absorb
        try:
            for i in range(0, n, 50):
                async with r.pipeline(transaction=False) as pipe:
                    for j in range(i, min(n, i + 50)):
                        pipe.xadd(key, {"alert": payload, "decision_id": f"d{j}"})
                    await pipe.execute()
        finally:
            await r.aclose()
        got = await reader
        await fast.close()
        slow.close()
        return got

    try:
        got = asyncio.run(scenario())
    finally:
        proc.stop()
    assert got == n, f"the reading client received {got} of {n}"
    assert log.read_text().count("cannot keep up; disconnecting it") == 1, "exactly the slow client was cut"


def _raw_subscriber(port: int, ward: str) -> socket.socket:
    import base64
    import os

    raw = socket.socket()
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    raw.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    raw.sendall((f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += raw.recv(1)
    assert b" 101 " in head.split(b"\r\n")[0], head
    body = json.dumps({"type": "subscribe", "ward": ward, "token": "test-screen-all-wards"}).encode()
    assert len(body) < 126
    mask = os.urandom(4)
    raw.sendall(bytes([0x81, 0x80 | len(body)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(body)))
    return raw


def test_heartbeats_when_idle(isolated: Isolated) -> None:
    env = {**isolated.env, "EWS_WEBSOCKET__HEARTBEAT_S": "0.5"}
    proc = Proc("serve", ["serve"], env, isolated.run_dir / "serve-hb.log")
    proc.wait_port(isolated.settings.websocket.port, 30)
    url = f"ws://127.0.0.1:{isolated.settings.websocket.port}"

    async def scenario() -> list[str]:
        ws, _ = await subscribe(url, f"hb-{isolated.tag}")
        kinds = [json.loads(await asyncio.wait_for(ws.recv(), 3))["type"] for _ in range(2)]
        await ws.close()
        return kinds

    try:
        assert asyncio.run(scenario()) == ["heartbeat", "heartbeat"]
    finally:
        proc.stop()
