"""Where alert decisions go: Redis (the truth) and, through it, the WebSocket feed."""

from __future__ import annotations

from stream.sinks.base import AlertSink, ListSink
from stream.sinks.redis_store import Keys, RedisAlertSink, redis_client

__all__ = ["AlertSink", "Keys", "ListSink", "RedisAlertSink", "redis_client"]
