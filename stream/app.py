"""The Faust application: topics and the per-patient table, built from settings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import faust

from stream.settings import Settings
from stream.topics import Topics

__all__ = ["Pipeline", "create_app"]


@dataclass
class Pipeline:
    """Everything the agents need, created once per worker."""

    settings: Settings
    app: faust.App
    names: Topics
    raw: Any
    valid: Any
    alerts: Any
    scores: Any
    commands: Any
    outcomes: Any
    deadletter: Any
    patients: Any


def create_app(settings: Settings) -> Pipeline:
    k = settings.kafka
    datadir = (settings.stack.run_dir / "faust").resolve()
    datadir.mkdir(parents=True, exist_ok=True)
    app = faust.App(
        k.app_id,
        broker=f"kafka://{k.bootstrap}",
        # Table state lives in memory and is rebuilt from its Kafka changelog on
        # start, so a restart loses nothing without a local database.
        store="memory://",
        datadir=str(datadir),
        topic_partitions=k.partitions,
        topic_replication_factor=1,
        topic_allow_declare=True,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        # Table changelogs use these; the pipeline's own topics declare "raw" bytes.
        key_serializer="json",
        value_serializer="json",
        web_enabled=False,
        autodiscover=False,
    )
    names = Topics.from_settings(k)

    def raw_topic(name: str) -> Any:
        return app.topic(name, key_type=bytes, value_type=bytes, key_serializer="raw",
                         value_serializer="raw", partitions=k.partitions)

    patients = app.Table(
        "patients",
        default=None,
        partitions=k.partitions,
        # No key_type/value_type: values are plain JSON objects (PatientState dumps).
        # A value_type of ``dict`` breaks changelog recovery in faust-streaming 0.15.
        help="latest vitals and active alert per patient (PatientState as JSON)",
    )
    return Pipeline(
        settings=settings,
        app=app,
        names=names,
        raw=raw_topic(names.raw),
        valid=raw_topic(names.valid),
        alerts=raw_topic(names.alerts),
        scores=raw_topic(names.scores),
        commands=raw_topic(names.commands),
        outcomes=raw_topic(names.outcomes),
        deadletter=raw_topic(names.deadletter),
        patients=patients,
    )
