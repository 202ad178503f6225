"""Shared fixtures. Integration tests use the real Kafka broker and Redis.

Locally they skip, with the reason, when the stack is not running (`ews stack up`).
With ``CI=true`` or ``EWS_REQUIRE_SERVICES=1`` (the README's test command sets it)
a missing service is a failure, never a skip.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from stream.settings import Settings

REQUIRE_SERVICES = os.environ.get("CI", "").lower() == "true" or os.environ.get("EWS_REQUIRE_SERVICES") == "1"
ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
SCREEN_TOKEN = "test-screen-all-wards"
WARD_A_TOKEN = "test-screen-ward-a"


def _missing(reason: str) -> None:
    if REQUIRE_SERVICES:
        pytest.fail(f"required service unavailable: {reason}", pytrace=False)
    pytest.skip(f"{reason} (start the stack with `ews stack up`; CI=true makes this a failure)")


async def _probe(settings: Settings) -> str | None:
    import redis.asyncio as aioredis
    from aiokafka.admin import AIOKafkaAdminClient

    client = aioredis.Redis.from_url(settings.redis.url, socket_timeout=2)
    try:
        await client.ping()
    except Exception as exc:  # noqa: BLE001
        return f"Redis not reachable at {settings.redis.host}:{settings.redis.port} ({exc})"
    finally:
        await client.aclose()
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka.bootstrap, request_timeout_ms=3000)
    try:
        await asyncio.wait_for(admin.start(), 10)
        await admin.list_topics()
    except Exception as exc:  # noqa: BLE001
        return f"Kafka not reachable at {settings.kafka.bootstrap} ({type(exc).__name__})"
    finally:
        await admin.close()
    return None


@pytest.fixture(scope="session")
def services() -> Settings:
    settings = Settings()
    problem = asyncio.run(_probe(settings))
    if problem:
        _missing(problem)
    return settings


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Isolated:
    """One test's own topics, consumer group, Redis keys and ports."""

    tag: str
    env: dict[str, str]
    settings: Settings
    run_dir: Path

    @property
    def thresholds(self) -> Path:
        return Path(self.env["EWS_THRESHOLDS_PATH"])


@pytest.fixture
def isolated(services: Settings, tmp_path: Path) -> Isolated:
    tag = uuid.uuid4().hex[:10]
    thresholds = tmp_path / "thresholds.yaml"
    thresholds.write_text((ROOT / "config" / "thresholds.yaml").read_text())
    env = {
        "EWS_THRESHOLDS_PATH": str(thresholds),
        "EWS_WEBSOCKET__TOKENS": f"{SCREEN_TOKEN}=*;{WARD_A_TOKEN}=ward-a-only",
        **os.environ,
        "EWS_KAFKA__TOPIC_PREFIX": f"t{tag}.",
        "EWS_KAFKA__APP_ID": f"ews-test-{tag}",
        "EWS_REDIS__KEY_PREFIX": f"test:{tag}",
        "EWS_WEBSOCKET__PORT": str(free_port()),
        "EWS_STACK__RUN_DIR": str(tmp_path / "run"),
        "EWS_LOG_LEVEL": "info",
        "PYTHONUNBUFFERED": "1",
    }
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        settings = Settings()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return Isolated(tag=tag, env=env, settings=settings, run_dir=tmp_path)


class Proc:
    """A project command run as a child process, its output in a log file."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], log: Path) -> None:
        self.name = name
        self.log = log
        self._fh = open(log, "ab")  # noqa: SIM115
        self.proc = subprocess.Popen([sys.executable, "-m", "stream.cli", *args], env=env, cwd=ROOT,
                                     stdout=self._fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for(self, needle: str, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if needle in self.text():
                return
            if self.proc.poll() is not None:
                raise AssertionError(f"{self.name} exited ({self.proc.returncode}):\n{self.text()[-4000:]}")
            time.sleep(0.2)
        raise AssertionError(f"{self.name}: {needle!r} not seen in {timeout_s:.0f}s:\n{self.text()[-4000:]}")

    def wait_port(self, port: int, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    return
            if self.proc.poll() is not None:
                raise AssertionError(f"{self.name} exited ({self.proc.returncode}):\n{self.text()[-4000:]}")
            time.sleep(0.2)
        raise AssertionError(f"{self.name} did not listen on {port} in {timeout_s:.0f}s:\n{self.text()[-4000:]}")

    def stop(self, timeout_s: float = 30.0) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._fh.close()
        return int(self.proc.returncode)


WORKER_READY = "[^Worker]: Ready"


def start_worker(iso: Isolated, log_name: str = "worker.log") -> Proc:
    w = Proc("worker", ["worker"], iso.env, iso.run_dir / log_name)
    try:
        w.wait_for(WORKER_READY, 90)
    except BaseException:
        w.stop()
        _keep_log(w)
        raise
    return w


@pytest.fixture
def worker(isolated: Isolated) -> Iterator[Proc]:
    w = start_worker(isolated)
    yield w
    w.stop()
    _keep_log(w)


@pytest.fixture
def feed(isolated: Isolated) -> Iterator[Proc]:
    s = Proc("serve", ["serve"], isolated.env, isolated.run_dir / "serve.log")
    try:
        s.wait_port(isolated.settings.websocket.port, 30)
    except BaseException:
        s.stop()
        raise
    yield s
    s.stop()
    _keep_log(s)


def _keep_log(p: Proc) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / f"{p.log.parent.name}-{p.log.name}").write_text(p.text())
