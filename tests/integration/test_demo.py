"""The README's demo: worker, feed server and simulator started by `ews demo`; alerts reach the screen."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import ARTIFACTS, ROOT, Isolated

pytestmark = pytest.mark.integration


def test_demo_shows_alerts_arriving(isolated: Isolated) -> None:
    ward = f"demo-{isolated.tag}"
    proc = subprocess.run(
        [sys.executable, "-m", "stream.cli", "demo", "--no-stack", "--duration", "60", "--speed", "600",
         "--beds", "12", "--ward", ward],
        env=isolated.env, cwd=ROOT, capture_output=True, text=True, timeout=240, check=False,
    )
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "demo-output.txt").write_text(proc.stdout + proc.stderr)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    assert f"ews watch --ward {ward}" in out, "the demo tells the user how to watch"
    assert "snapshot: 0 active alert(s)" in out
    raised = [line for line in out.splitlines() if " RAISE " in line]
    assert raised, f"no alert arrived in the demo:\n{out[-3000:]}"
    assert "stopped worker, feed server and simulator" in out
