"""The pure core stays pure: no I/O library is imported anywhere under detectors/."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import detectors

FORBIDDEN = {"faust", "mode", "aiokafka", "kafka", "redis", "websockets", "socket", "asyncio", "requests",
             "httpx", "aiohttp", "subprocess", "stream", "simulator"}
CORE = Path(detectors.__file__).parent


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("path", sorted(CORE.rglob("*.py")), ids=lambda p: str(p.relative_to(CORE)))
def test_core_imports_no_io(path: Path) -> None:
    bad = _imports(path) & FORBIDDEN
    assert not bad, f"{path} imports {sorted(bad)}"


def test_core_reads_no_clock_or_environment() -> None:
    for path in CORE.rglob("*.py"):
        text = path.read_text()
        for needle in ("time.time(", "datetime.now(", "os.environ", "time.monotonic("):
            assert needle not in text, f"{path} uses {needle}"


def test_the_checker_sees_a_forbidden_import(tmp_path: Path) -> None:
    bad = tmp_path / "m.py"
    bad.write_text("import redis.asyncio\nfrom aiokafka import AIOKafkaProducer\n")
    assert _imports(bad) & FORBIDDEN == {"redis", "aiokafka"}


def test_public_api_is_declared() -> None:
    for name in detectors.__all__:
        assert hasattr(detectors, name), name
