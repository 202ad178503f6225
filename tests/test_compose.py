"""docker-compose.yml stays true to the code: it parses, and its settings exist."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from stream.settings import Settings
from tests.conftest import REQUIRE_SERVICES

COMPOSE = Path(__file__).resolve().parent.parent / "docker-compose.yml"
EWS_SERVICES = {"worker": "worker", "server": "serve", "simulator": "simulate"}


@pytest.fixture(scope="module")
def resolved() -> dict[str, Any]:
    """The file as `docker-compose config` resolves it (anchors, merges, defaults)."""
    exe = shutil.which("docker-compose")
    if exe is None:
        if REQUIRE_SERVICES:
            pytest.fail("docker-compose (Debian package) is needed to validate docker-compose.yml")
        pytest.skip("docker-compose not installed (`apt-get install -y docker-compose`)")
    proc = subprocess.run([exe, "-f", str(COMPOSE), "config"], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    doc = yaml.safe_load(proc.stdout)
    assert isinstance(doc, dict)
    return doc


def _setting_exists(name: str) -> bool:
    """EWS_KAFKA__BOOTSTRAP → Settings.kafka.bootstrap."""
    parts = name.removeprefix("EWS_").lower().split("__")
    model: type[BaseModel] = Settings
    for i, part in enumerate(parts):
        field = model.model_fields.get(part)
        if field is None:
            return False
        ann = field.annotation
        if i < len(parts) - 1:
            if not (isinstance(ann, type) and issubclass(ann, BaseModel)):
                return False
            model = ann
    return True


def test_the_checker_rejects_unknown_settings() -> None:
    assert _setting_exists("EWS_KAFKA__BOOTSTRAP") and _setting_exists("EWS_LOG_LEVEL")
    assert not _setting_exists("EWS_KAFKA__BOOTSTRAPS") and not _setting_exists("EWS_NOPE__X")


def test_services_are_all_there(resolved: dict[str, Any]) -> None:
    assert set(resolved["services"]) == {"kafka", "redis", "worker", "server", "simulator"}


@pytest.mark.parametrize(("service", "command"), sorted(EWS_SERVICES.items()))
def test_ews_services_run_a_real_subcommand_with_real_settings(resolved: dict[str, Any], service: str,
                                                               command: str) -> None:
    from stream.cli import build_parser

    svc = resolved["services"][service]
    assert svc["command"][0] == command
    build_parser().parse_args(svc["command"])  # the arguments are ones `ews` accepts
    env = svc["environment"]
    unknown = [k for k in env if k.startswith("EWS_") and not _setting_exists(k)]
    assert unknown == [], f"{service} sets settings that do not exist: {unknown}"
    assert env["EWS_KAFKA__BOOTSTRAP"] == "kafka:9092"
    assert env["EWS_REDIS__HOST"] == "redis"


def test_kafka_is_the_official_image_in_kraft_mode_at_the_stacks_version(resolved: dict[str, Any]) -> None:
    kafka = resolved["services"]["kafka"]
    assert kafka["image"] == f"apache/kafka:{Settings().stack.kafka_version}"
    assert kafka["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert "kafka:9092" in kafka["environment"]["KAFKA_ADVERTISED_LISTENERS"]


def test_feed_port_is_published(resolved: dict[str, Any]) -> None:
    server = resolved["services"]["server"]
    port = int(server["environment"]["EWS_WEBSOCKET__PORT"])
    published = {(int(p["published"]), int(p["target"])) if isinstance(p, dict) else tuple(map(int, str(p).split(":")))
                 for p in server["ports"]}
    assert (port, port) in published
    assert server["environment"]["EWS_WEBSOCKET__HOST"] == "0.0.0.0"
