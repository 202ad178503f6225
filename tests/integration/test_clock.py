"""The worker's clock raises time-driven alarms (a lost feed) when no reading arrives."""

from __future__ import annotations

import asyncio
import time

import pytest

from stream.topics import Topics
from tests.conftest import Isolated, Proc, start_worker
from tests.helpers import STABLE, encode, reading
from tests.integration.kafka_io import next_message, publish, subscribe

pytestmark = pytest.mark.integration


def test_a_patient_whose_feed_stops_raises_a_lost_feed_alarm(isolated: Isolated, feed: Proc) -> None:
    isolated.thresholds.write_text(isolated.thresholds.read_text().replace("stale_minutes: 300", "stale_minutes: 5"))
    isolated.env["EWS_SCORING__CLOCK_S"] = "1"
    worker = start_worker(isolated, "worker-clock.log")
    s = isolated.settings
    ward = f"clk-{isolated.tag}"
    url = f"ws://127.0.0.1:{s.websocket.port}"
    ten_minutes_ago = int(time.time() * 1000) - 10 * 60_000
    try:
        async def scenario() -> dict[str, object] | None:
            ws, _ = await subscribe(url, ward)
            await publish(s, Topics.from_settings(s.kafka).raw,
                          [(b"PL", encode(reading("PL", ward, ten_minutes_ago, STABLE)))])
            got = await next_message(ws, 30)
            await ws.close()
            return got

        got = asyncio.run(scenario())
    finally:
        worker.stop()
    assert got is not None, "no alarm although the only reading is 10 minutes old"
    alert = got["alert"]
    assert alert["source"] == "technical" and alert["action"] == "raise"  # type: ignore[index]
    assert "feed is lost" in alert["reason"]  # type: ignore[index]
