"""Runtime settings: one frozen :class:`Settings`, read from ``EWS_*`` variables.

Nested sections use a double underscore: ``EWS_KAFKA__BOOTSTRAP=127.0.0.1:9092``,
``EWS_REDIS__PORT=6379``. Build it once at start-up and pass it down.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["KafkaSettings", "ModelSettings", "RedisSettings", "ScoringSettings", "Settings", "StackSettings", "WebSocketSettings"]

_FROZEN = ConfigDict(frozen=True, extra="forbid")


class KafkaSettings(BaseModel):
    model_config = _FROZEN

    bootstrap: str = Field(default="127.0.0.1:9092", description="host:port of the broker")
    controller_port: int = Field(default=9093, description="KRaft controller port of the local stack")
    app_id: str = Field(default="ews", description="Faust application id (consumer group)")
    topic_prefix: str = Field(default="", description="prefix for every topic (tests isolate with it)")
    partitions: int = Field(default=4, ge=1, description="partitions of each topic; all keyed by patient id")

    def topic(self, name: str) -> str:
        return f"{self.topic_prefix}{name}"

    @property
    def host(self) -> str:
        return self.bootstrap.rsplit(":", 1)[0]

    @property
    def port(self) -> int:
        return int(self.bootstrap.rsplit(":", 1)[1])


class RedisSettings(BaseModel):
    model_config = _FROZEN

    host: str = "127.0.0.1"
    port: int = 6379
    db: int = 0
    password: SecretStr | None = None
    key_prefix: str = Field(default="ews", description="prefix of every Redis key")
    stream_maxlen: int = Field(default=1_000_000, description="approximate cap of each decision Stream")

    @property
    def url(self) -> str:
        auth = f":{self.password.get_secret_value()}@" if self.password else ""
        return f"redis://{auth}{self.host}:{self.port}/{self.db}"


class WebSocketSettings(BaseModel):
    model_config = _FROZEN

    host: str = "127.0.0.1"
    port: int = 8765
    client_queue: int = Field(default=256, ge=1, description="messages buffered per client before it is cut")
    tokens: SecretStr | None = Field(
        default=None,
        description="screen tokens and the wards each may watch: 'token1=ward-a|ward-b;token2=*'",
    )
    heartbeat_s: float = Field(default=10.0, gt=0, description="a heartbeat to every screen when idle this long")

    def token_wards(self) -> dict[str, frozenset[str]]:
        """``{token: wards}`` (``*`` = every ward) from :attr:`tokens`."""
        out: dict[str, frozenset[str]] = {}
        if self.tokens is None:
            return out
        for part in self.tokens.get_secret_value().split(";"):
            token, _, wards = part.strip().partition("=")
            if token and wards:
                out[token] = frozenset(w.strip() for w in wards.split("|") if w.strip())
        return out


class ScoringSettings(BaseModel):
    model_config = _FROZEN

    tick_s: float = Field(default=0.0, ge=0, description="score each patient at most this often (0 = every reading)")
    stale_after_s: float = Field(default=3600.0, gt=0, description="a vital older than this is reported stale")
    clock_s: float = Field(default=30.0, gt=0, description="clock ticks for time-driven alert rules, every this many s")


class ModelSettings(BaseModel):
    """The online risk models (sepsis, deterioration); alert thresholds are in the thresholds file."""

    model_config = _FROZEN

    snapshot: Path | None = Field(default=None, description="model snapshot from `ews train` to start from")
    kind: Literal["logistic", "forest"] = Field(default="logistic",
                                                description="model kind when no snapshot is given")
    seed: int = 0
    history: int = Field(default=400, ge=1, le=5000, description="late-label snapshots kept per patient")
    snapshot_every_s: float = Field(default=900.0, gt=0, description="keep a patient's model inputs this often")
    learn_slice: int = Field(default=50, ge=1, description="snapshots learned between yields to the event loop")


class StackSettings(BaseModel):
    """The local development stack started by ``ews stack up``."""

    model_config = _FROZEN

    kafka_version: str = "4.4.0"
    cache_dir: Path = Field(default=Path.home() / ".cache" / "bedside-ews", description="Kafka jars (outside git)")
    run_dir: Path = Field(default=Path(".ews"), description="data, logs and pid files of the local stack")
    java_heap: str = "512m"
    ready_timeout_s: float = 90.0


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EWS_", env_nested_delimiter="__", frozen=True, extra="forbid")

    kafka: KafkaSettings = KafkaSettings()
    redis: RedisSettings = RedisSettings()
    websocket: WebSocketSettings = WebSocketSettings()
    scoring: ScoringSettings = ScoringSettings()
    models: ModelSettings = ModelSettings()
    stack: StackSettings = StackSettings()
    thresholds_path: Path = Field(default=Path("config/thresholds.yaml"),
                                  description="clinician-edited alert thresholds (reloaded on change)")
    log_level: str = "info"
