"""Redis: the truth about alerts.

Keys (``p`` = ``settings.redis.key_prefix``)::

    p:patient:<patient_id>          HASH  current alert state of the patient
    p:ward:<ward>:active            HASH  patient_id → JSON of the active alert (snapshot)
    p:decisions                     STREAM every decision, all wards (audit log)
    p:ward:<ward>:decisions         STREAM every decision of one ward (live feed, resume)
    p:ward:<ward>:scores            HASH  patient_id → JSON of the latest clinical scores
    p:ward:<ward>:scores:stream     STREAM recent score updates (live screens; capped)
    p:seen:<decision_id>            STRING de-duplication marker (expires)
    p:metrics                       HASH  counters (e.g. deadletter:<code>)
    p:config:audit                  STREAM every load, change or rejection of the threshold file
    p:commands:audit                STREAM every acknowledge / snooze: who, what, applied or why not

One Lua script applies a decision atomically and at most once per ``decision_id``,
so a redelivered Kafka record or a replay never writes a second entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import redis.asyncio as aioredis

from detectors.schemas import Alert
from stream.settings import RedisSettings

__all__ = ["Keys", "RedisAlertSink", "redis_client"]

SEEN_TTL_S = 7 * 24 * 3600

_APPLY = """
-- KEYS: seen, patient, ward_active, all_stream, ward_stream
-- ARGV: ttl, maxlen, patient_id, action, alert_json, decision_id, alert_id, priority, ward, ts_ms
if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then
  return 0
end
local fields = {'decision_id', ARGV[6], 'alert_id', ARGV[7], 'action', ARGV[4],
                'priority', ARGV[8], 'patient_id', ARGV[3], 'ward', ARGV[9],
                'ts_ms', ARGV[10], 'alert', ARGV[5]}
redis.call('HSET', KEYS[2], unpack(fields))
if ARGV[4] == 'resolve' then
  redis.call('HDEL', KEYS[3], ARGV[3])
else
  redis.call('HSET', KEYS[3], ARGV[3], ARGV[5])
end
redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[2], '*', unpack(fields))
local id = redis.call('XADD', KEYS[5], 'MAXLEN', '~', ARGV[2], '*', unpack(fields))
return id
"""

@dataclass(frozen=True, slots=True)
class Keys:
    prefix: str

    def patient(self, patient_id: str) -> str:
        return f"{self.prefix}:patient:{patient_id}"

    def ward_active(self, ward: str) -> str:
        return f"{self.prefix}:ward:{ward}:active"

    def ward_stream(self, ward: str) -> str:
        return f"{self.prefix}:ward:{ward}:decisions"

    @property
    def all_stream(self) -> str:
        return f"{self.prefix}:decisions"

    def ward_scores(self, ward: str) -> str:
        return f"{self.prefix}:ward:{ward}:scores"

    def ward_scores_stream(self, ward: str) -> str:
        return f"{self.prefix}:ward:{ward}:scores:stream"

    def seen(self, decision_id: str) -> str:
        return f"{self.prefix}:seen:{decision_id}"

    @property
    def metrics(self) -> str:
        return f"{self.prefix}:metrics"

    @property
    def commands_audit(self) -> str:
        return f"{self.prefix}:commands:audit"

    @property
    def config_audit(self) -> str:
        return f"{self.prefix}:config:audit"

    @property
    def model_checkpoint(self) -> str:
        return f"{self.prefix}:model:checkpoint"

    @property
    def model_status(self) -> str:
        return f"{self.prefix}:model:status"

    def model_history(self, patient_id: str) -> str:
        return f"{self.prefix}:model:history:{patient_id}"

    def model_events(self, patient_id: str) -> str:
        return f"{self.prefix}:model:events:{patient_id}"


def redis_client(settings: RedisSettings) -> aioredis.Redis:
    return aioredis.Redis.from_url(settings.url, decode_responses=True, health_check_interval=30)

class RedisAlertSink:
    """Writes decisions to Redis: state per patient, active set per ward, two Streams."""

    def __init__(self, client: aioredis.Redis, settings: RedisSettings) -> None:
        self._client = client
        self._keys = Keys(settings.key_prefix)
        self._maxlen = settings.stream_maxlen
        self._script: Any = client.register_script(_APPLY)

    async def write(self, alert: Alert) -> bool:
        k = self._keys
        result = await self._script(
            keys=[k.seen(alert.decision_id), k.patient(alert.patient_id), k.ward_active(alert.ward),
                  k.all_stream, k.ward_stream(alert.ward)],
            args=[SEEN_TTL_S, self._maxlen, alert.patient_id, alert.action.value, alert.model_dump_json(),
                  alert.decision_id, alert.alert_id, alert.priority.value, alert.ward, alert.ts_ms],
        )
        return cast(int | str, result) != 0

    async def write_scores(self, ward: str, patient_id: str, payload: str) -> None:
        """Latest scores per patient (snapshot) and a short Stream of updates (live screens)."""
        async with self._client.pipeline(transaction=True) as pipe:
            pipe.hset(self._keys.ward_scores(ward), patient_id, payload)
            pipe.xadd(self._keys.ward_scores_stream(ward), {"scores": payload}, maxlen=5_000, approximate=True)
            await pipe.execute()

    async def audit_command(self, entry: dict[str, str]) -> None:
        await self._client.xadd(self._keys.commands_audit, entry, maxlen=self._maxlen,  # type: ignore[arg-type]
                                approximate=True)

    async def count(self, field: str, by: int = 1) -> None:
        await self._client.hincrby(self._keys.metrics, field, by)
