"""Topic names, one per stage, all keyed by patient id.

``vitals.raw`` → (validate) → ``vitals.valid`` → (score) → ``alerts`` and ``scores`` → sinks;
screens' acknowledge / snooze commands arrive on ``commands``; anything ingest rejects
goes to ``vitals.deadletter`` with the original bytes as
its value and the reason in its headers; ground truth arrives on ``outcomes``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from detectors.errors import StackError
from stream.settings import KafkaSettings

__all__ = ["DEADLETTER_HEADERS", "Topics", "ensure_topics"]

log = logging.getLogger(__name__)

#: Headers every dead-letter record carries (values are UTF-8 strings).
DEADLETTER_HEADERS = (
    "ews.error.code",
    "ews.error.reason",
    "ews.source.format",
    "ews.source.topic",
    "ews.source.partition",
    "ews.source.offset",
    "ews.received.ts_ms",
)


@dataclass(frozen=True, slots=True)
class Topics:
    raw: str
    valid: str
    alerts: str
    scores: str
    commands: str
    outcomes: str
    deadletter: str

    @classmethod
    def from_settings(cls, kafka: KafkaSettings) -> Topics:
        return cls(
            raw=kafka.topic("vitals.raw"),
            valid=kafka.topic("vitals.valid"),
            alerts=kafka.topic("alerts"),
            scores=kafka.topic("scores"),
            commands=kafka.topic("commands"),
            outcomes=kafka.topic("outcomes"),
            deadletter=kafka.topic("vitals.deadletter"),
        )

    def all(self) -> tuple[str, ...]:
        return (self.raw, self.valid, self.alerts, self.scores, self.commands, self.outcomes, self.deadletter)


async def ensure_topics(kafka: KafkaSettings) -> list[str]:
    """Create the pipeline's topics that do not exist yet. Returns those created.

    Topics are created up front (the local broker has auto-creation off) so that
    every topic has the configured partition count and consumers subscribe to
    topics that exist.
    """
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic
    from aiokafka.errors import TopicAlreadyExistsError

    topics = Topics.from_settings(kafka)
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka.bootstrap, request_timeout_ms=10_000)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in topics.all() if t not in existing]
        if missing:
            response = await admin.create_topics(
                [NewTopic(name=t, num_partitions=kafka.partitions, replication_factor=1) for t in missing]
            )
            for name, code, message in (tuple(e)[:3] for e in response.topic_errors):
                # 36 = TOPIC_ALREADY_EXISTS: another process created it first.
                if code not in (0, TopicAlreadyExistsError.errno):
                    raise StackError(f"cannot create topic {name!r}: error {code} {message or ''}".strip())
            log.info("created topics %s", ", ".join(missing))
        return missing
    finally:
        await admin.close()
