"""WebSocket feed for ward screens.

Protocol (JSON text frames; see README "WebSocket protocol"):

client → ``{"type": "subscribe", "ward": w, "token": t[, "last_event_id": id]}`` (first, within 10 s)
server → ``{"type": "snapshot", "ward": w, "alerts": [...], "last_event_id": id}`` (fresh subscription), or
server → ``{"type": "resume", "ward": w, "from": id, "count": n}`` then the n missed events (resume)
server → ``{"type": "alert", "ward": w, "event_id": id, "alert": {...}}`` for each decision
server → ``{"type": "heartbeat", "ts_ms": ...}`` when idle for ``heartbeat_s``
client → ``{"type": "override", "patient_id": p, "user_id": u, "reason": r, "minutes": m, "settings": {...}}``,
``{"type": "acknowledge", "alert_id": a, "user_id": u}`` or
``{"type": "snooze", "alert_id": a, "user_id": u, "minutes": m, "reason": r[, "priorities": [...]]}``
server → ``{"type": "command_accepted", "command_id": …}``; the outcome arrives as an alert event
server → ``{"type": "error", "error": "..."}`` for a message it cannot take

A bad token closes with 4401, a ward the token may not watch with 4403.

Redis holds the truth; this server only relays. One reader task per ward follows
that ward's decision Stream and fans entries out to per-client bounded queues; a
client whose queue fills is disconnected (close code 1013) so it cannot stall the
others, and re-syncs from a fresh snapshot when it reconnects.
"""

from __future__ import annotations

import asyncio
import contextlib
from http import HTTPStatus
from importlib import resources
import json
import logging
import re
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, cast

import redis.asyncio as aioredis
from pydantic import ValidationError
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.http11 import Request, Response
from websockets.exceptions import ConnectionClosed

from detectors.schemas import Command
from stream.settings import Settings
from stream.sinks.redis_store import Keys, redis_client
from stream.topics import Topics

__all__ = ["FeedServer", "run_server"]

log = logging.getLogger(__name__)

SUBSCRIBE_TIMEOUT_S = 10.0
CLOSE_TOO_SLOW = 1013  # "try again later": the client could not keep up
CLOSE_UNAUTHORISED = 4401
CLOSE_FORBIDDEN = 4403
PACE_S = 0.2
MAX_RESUME = 10_000  # events replayed on resume; beyond that the screen re-syncs from a snapshot


# redis-py's reply shapes with decode_responses=True (its stubs do not narrow them)
_Entries = list[tuple[str, dict[str, str]]]
_XReadReply = list[tuple[str, _Entries]]


def _stream_id(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


@dataclass(eq=False)
class _Client:
    ws: ServerConnection
    queue: asyncio.Queue[dict[str, Any]]
    too_slow: bool = False


@dataclass(eq=False)
class _WardFeed:
    """Follows one ward's decision Stream (and its score updates) and fans out to clients."""

    ward: str
    key: str
    redis: aioredis.Redis
    scores_key: str = ""
    scores_id: str = "$"
    clients: set[_Client] = field(default_factory=set)
    task: asyncio.Task[None] | None = None
    last_id: str = "0-0"
    batch: int = 100

    async def start(self) -> None:
        newest = cast(_Entries, await self.redis.xrevrange(self.key, count=1))
        self.last_id = newest[0][0] if newest else "0-0"
        if self.scores_key:
            latest = cast(_Entries, await self.redis.xrevrange(self.scores_key, count=1))
            self.scores_id = latest[0][0] if latest else "0-0"
        self.task = asyncio.create_task(self._follow(), name=f"ward-feed:{self.ward}")

    async def _follow(self) -> None:
        while True:
            try:
                streams: dict[Any, Any] = {self.key: self.last_id}
                if self.scores_key:
                    streams[self.scores_key] = self.scores_id
                batches = cast(_XReadReply, await self.redis.xread(streams, block=1000, count=self.batch))
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - keep following through Redis restarts
                log.warning("ward %s: reading %s failed (%s); retrying", self.ward, self.key, exc)
                await asyncio.sleep(1.0)
                continue
            for key, entries in batches:
                for entry_id, fields in entries:
                    message: dict[str, Any]
                    if key == self.scores_key:
                        self.scores_id = entry_id
                        message = {"type": "scores", "ward": self.ward, "scores": json.loads(fields["scores"])}
                    else:
                        self.last_id = entry_id
                        message = {"type": "alert", "ward": self.ward, "event_id": entry_id,
                                   "alert": json.loads(fields["alert"])}
                    for client in list(self.clients):
                        self._offer(client, message)
            # Give healthy clients a moment (at most PACE_S per batch) to drain before the next
            # batch, so a queue measures how far a client lags, not how large one Redis read was.
            # A client that stays behind overflows its queue and is cut; the others go on.
            deadline = asyncio.get_running_loop().time() + PACE_S
            while asyncio.get_running_loop().time() < deadline and any(
                    not c.too_slow and c.queue.qsize() > c.queue.maxsize // 2 for c in self.clients):
                await asyncio.sleep(0.005)

    def _offer(self, client: _Client, message: dict[str, Any]) -> None:
        if client.too_slow:
            return
        try:
            client.queue.put_nowait(message)
        except asyncio.QueueFull:
            client.too_slow = True
            log.warning("ward %s: client %s cannot keep up; disconnecting it", self.ward, client.ws.remote_address)
            asyncio.create_task(client.ws.close(CLOSE_TOO_SLOW, "client too slow; reconnect to re-sync"))

    async def stop(self) -> None:
        if self.task:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task


class FeedServer:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._keys = Keys(settings.redis.key_prefix)
        self._redis = redis_client(settings.redis)
        self._feeds: dict[str, _WardFeed] = {}
        self._lock = asyncio.Lock()
        self._tokens = settings.websocket.token_wards()
        self._topics = Topics.from_settings(settings.kafka)
        self._producer: Any = None
        if not self._tokens:
            log.error("no screen tokens configured (EWS_WEBSOCKET__TOKENS): every screen will be refused")

    async def _feed(self, ward: str) -> _WardFeed:
        async with self._lock:
            feed = self._feeds.get(ward)
            if feed is None:
                feed = _WardFeed(ward, self._keys.ward_stream(ward), self._redis,
                                 scores_key=self._keys.ward_scores_stream(ward),
                                 batch=max(1, min(100, self._settings.websocket.client_queue // 2)))
                await feed.start()
                self._feeds[ward] = feed
            return feed

    async def _snapshot(self, ward: str) -> tuple[list[dict[str, Any]], str, dict[str, Any]]:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hgetall(self._keys.ward_active(ward))
            pipe.xrevrange(self._keys.ward_stream(ward), count=1)
            pipe.hgetall(self._keys.ward_scores(ward))
            active, newest, scores = await pipe.execute()
        alerts = [json.loads(v) for v in active.values()]
        rank = {"high": 3, "medium": 2, "low": 1}
        alerts.sort(key=lambda a: (-rank.get(a.get("priority", ""), 0), a.get("raised_ts_ms", 0)))
        patients = {pid: json.loads(v) for pid, v in scores.items()}
        return alerts, (newest[0][0] if newest else "0-0"), patients

    async def handler(self, ws: ServerConnection) -> None:
        try:
            first = await asyncio.wait_for(ws.recv(), SUBSCRIBE_TIMEOUT_S)
        except (TimeoutError, ConnectionClosed):
            await ws.close(1008, "subscribe first")
            return
        sub = _parse_subscribe(first)
        if sub is None:
            await ws.send(json.dumps({"type": "error",
                                      "error": 'expected {"type": "subscribe", "ward": "<ward>", "token": "<token>"}'}))
            await ws.close(1008, "subscribe first")
            return
        ward, token, resume_from = sub
        allowed = self._tokens.get(token) if token else None
        if allowed is None:
            await ws.send(json.dumps({"type": "error", "error": "unauthorised: unknown screen token"}))
            await ws.close(CLOSE_UNAUTHORISED, "unauthorised")
            return
        if "*" not in allowed and ward not in allowed:
            await ws.send(json.dumps({"type": "error", "error": f"this screen may not watch ward {ward!r}"}))
            await ws.close(CLOSE_FORBIDDEN, "forbidden ward")
            return
        client = _Client(ws, asyncio.Queue(maxsize=self._settings.websocket.client_queue))
        feed = await self._feed(ward)
        feed.clients.add(client)  # register before reading Redis: nothing falls between
        try:
            after_id = await self._catch_up(ws, ward, resume_from)
            sender = asyncio.create_task(self._send(client, after_id))
            try:
                async for message in ws:
                    await ws.send(json.dumps(await self._command(ward, message)))
            finally:
                sender.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sender
        except ConnectionClosed:
            pass
        finally:
            feed.clients.discard(client)

    async def _catch_up(self, ws: ServerConnection, ward: str, resume_from: str | None) -> str:
        """Snapshot for a fresh screen; the missed events for a resuming one. Returns the last id sent."""
        key = self._keys.ward_stream(ward)
        if resume_from is not None:
            oldest = cast(_Entries, await self._redis.xrange(key, count=1))
            missed = cast(_Entries, await self._redis.xrange(key, min=f"({resume_from}", count=MAX_RESUME + 1))
            complete = (not oldest or _stream_id(oldest[0][0]) <= _stream_id(resume_from)
                        or resume_from == "0-0")
            if complete and len(missed) <= MAX_RESUME:
                await ws.send(json.dumps({"type": "resume", "ward": ward, "from": resume_from, "count": len(missed)}))
                last = resume_from
                for entry_id, fields in missed:
                    await ws.send(json.dumps({"type": "alert", "ward": ward, "event_id": entry_id,
                                              "alert": json.loads(fields["alert"])}))
                    last = entry_id
                return last
            # The screen was away longer than the Stream keeps: it re-syncs from a snapshot.
        alerts, snapshot_id, patients = await self._snapshot(ward)
        await ws.send(json.dumps({"type": "snapshot", "ward": ward, "alerts": alerts, "last_event_id": snapshot_id,
                                  "patients": patients, "resync": resume_from is not None}))
        return snapshot_id

    async def _send(self, client: _Client, after_id: str) -> None:
        after = _stream_id(after_id)
        beat = self._settings.websocket.heartbeat_s
        with contextlib.suppress(ConnectionClosed):
            while True:
                try:
                    message = await asyncio.wait_for(client.queue.get(), beat)
                except TimeoutError:
                    await client.ws.send(json.dumps({"type": "heartbeat", "ts_ms": int(time.time() * 1000)}))
                    continue
                if "event_id" in message and _stream_id(message["event_id"]) <= after:
                    continue  # already sent (snapshot or resume)
                await client.ws.send(json.dumps(message))

    async def _command(self, ward: str, raw: str | bytes) -> dict[str, Any]:
        """A screen's acknowledge or snooze → the ``commands`` topic (keyed by patient)."""
        try:
            doc = json.loads(raw)
        except (ValueError, TypeError):
            return {"type": "error", "error": "not JSON"}
        kind = doc.get("type") if isinstance(doc, dict) else None
        if kind not in ("acknowledge", "snooze", "override"):
            return {"type": "error", "error": f"unsupported message type {kind!r} (acknowledge, snooze, override)"}
        alert_id, user_id = doc.get("alert_id", ""), doc.get("user_id")
        if not isinstance(user_id, str) or not user_id.strip():
            return {"type": "error", "error": f"{kind} needs the user's user_id"}
        if kind == "override":
            patient = doc.get("patient_id")
            known = await self._redis.hexists(self._keys.ward_scores(ward), str(patient))
            if not isinstance(patient, str) or not known:
                return {"type": "error", "error": f"patient {patient!r} is not on ward {ward!r}"}
        else:
            if not isinstance(alert_id, str) or not alert_id:
                return {"type": "error", "error": f"{kind} needs alert_id"}
            active = cast(dict[str, str], await self._redis.hgetall(self._keys.ward_active(ward)))
            patient = next((pid for pid, js in active.items() if json.loads(js).get("alert_id") == alert_id), None)
            if patient is None:
                return {"type": "error", "error": f"alert {alert_id!r} is not active on ward {ward!r}"}
        try:
            cmd = Command(command_id=str(doc.get("command_id") or uuid.uuid4().hex), kind=kind, alert_id=alert_id,
                          patient_id=patient, ward=ward, user_id=user_id.strip(), ts_ms=int(time.time() * 1000),
                          minutes=doc.get("minutes"), reason=doc.get("reason"), priorities=doc.get("priorities") or [],
                          settings=doc.get("settings"))
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            return {"type": "error", "error": f"{'.'.join(map(str, first['loc']))}: {first['msg']}"}
        producer = await self._kafka()
        await producer.send_and_wait(self._topics.commands, key=patient.encode(), value=cmd.model_dump_json().encode())
        return {"type": "command_accepted", "command_id": cmd.command_id, "kind": kind, "alert_id": alert_id}

    async def _kafka(self) -> Any:
        if self._producer is None:
            from aiokafka import AIOKafkaProducer

            producer = AIOKafkaProducer(bootstrap_servers=self._settings.kafka.bootstrap, acks="all")
            await producer.start()
            self._producer = producer
        return self._producer

    async def close(self) -> None:
        for feed in self._feeds.values():
            await feed.stop()
        if self._producer is not None:
            await self._producer.stop()
        await self._redis.aclose()

    def http(self, connection: ServerConnection, request: Request) -> Response | None:
        """Plain HTTP on the same port: the ward screen page; everything else upgrades."""
        path = request.path.split("?", 1)[0]
        if path in ("/screen", "/screen/"):
            response = connection.respond(HTTPStatus.OK, _SCREEN_HTML)
            response.headers["Content-Type"] = "text/html; charset=utf-8"
            response.headers["Cache-Control"] = "no-store"
            return response
        if path == "/healthz":
            return connection.respond(HTTPStatus.OK, "ok\n")
        return None

    async def start(self) -> Server:
        ws = self._settings.websocket
        return await serve(self.handler, ws.host, ws.port, ping_interval=20, ping_timeout=20, max_size=2**16,
                           process_request=self.http)


_SCREEN_HTML = resources.files("stream").joinpath("static/screen.html").read_text(encoding="utf-8")
_EVENT_ID = re.compile(r"^\d{1,20}-\d{1,20}$")


def _parse_subscribe(raw: str | bytes) -> tuple[str, str | None, str | None] | None:
    try:
        doc = json.loads(raw)
    except (ValueError, TypeError):
        return None
    if not isinstance(doc, dict) or doc.get("type") != "subscribe":
        return None
    ward = doc.get("ward")
    if not isinstance(ward, str) or not 0 < len(ward) <= 64:
        return None
    token = doc.get("token")
    last = doc.get("last_event_id")
    if last is not None and (not isinstance(last, str) or not _EVENT_ID.match(last)):
        return None
    return ward, token if isinstance(token, str) else None, last


async def run_server(settings: Settings, ready: asyncio.Event | None = None) -> None:
    feed = FeedServer(settings)
    server = await feed.start()
    log.info("ward feed on ws://%s:%s", settings.websocket.host, settings.websocket.port)
    if ready is not None:
        ready.set()
    try:
        await server.serve_forever()
    finally:
        server.close()
        await server.wait_closed()
        await feed.close()
