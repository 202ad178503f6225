"""The local stack's pure parts: generated configuration and prerequisite errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from detectors.errors import StackError
from stream import stack
from stream.settings import KafkaSettings, Settings


def test_kraft_properties_follow_settings(tmp_path: Path) -> None:
    s = Settings(kafka=KafkaSettings(bootstrap="127.0.0.1:19092", controller_port=19093, partitions=3))
    props = dict(line.split("=", 1) for line in stack._kafka_properties(s, tmp_path).splitlines()
                 if line and not line.startswith("#"))
    assert props["process.roles"] == "broker,controller"
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093"
    assert props["controller.quorum.voters"] == "1@127.0.0.1:19093"
    assert props["num.partitions"] == "3" and props["log.dirs"] == str(tmp_path)
    assert props["auto.create.topics.enable"] == "false"


def test_missing_java_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stack.shutil, "which", lambda name: None)
    with pytest.raises(StackError, match="Java 17"):
        stack._require_java()
    with pytest.raises(StackError, match="Maven"):
        stack._require_maven()


def test_pid_liveness_checks_the_command_line(tmp_path: Path) -> None:
    import os

    assert stack._alive(os.getpid(), "python")
    assert not stack._alive(os.getpid(), "kafka.Kafka")  # a reused pid is not mistaken for ours
    assert not stack._alive(None, "x")
    pidfile = tmp_path / "x.pid"
    pidfile.write_text("not a pid\n")
    assert stack._read_pid(pidfile) is None


def test_status_reports_a_stopped_stack(tmp_path: Path) -> None:
    from stream.settings import RedisSettings, StackSettings

    s = Settings(kafka=KafkaSettings(bootstrap="127.0.0.1:1"), redis=RedisSettings(port=1),
                 stack=StackSettings(run_dir=tmp_path))
    st = {x.name: x for x in stack.status(s)}
    assert not st["kafka"].running and not st["kafka"].answering
    assert not st["redis"].running and not st["redis"].answering
    assert stack.down(s) == []
