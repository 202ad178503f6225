"""`ews replay` follows the replay protocol into the running pipeline."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

import pytest

from stream.sinks.redis_store import Keys
from stream.topics import Topics
from tests.conftest import ROOT, Isolated, Proc
from tests.data import archive
from tests.integration.kafka_io import poll_redis, read_topic

pytestmark = pytest.mark.integration


def test_replayed_stays_are_scored_and_outcomes_follow_their_readings(isolated: Isolated, worker: Proc) -> None:
    path = archive("physionet2012")
    s = isolated.settings
    topics = Topics.from_settings(s.kafka)
    ward = f"rp-{isolated.tag}"
    proc = subprocess.run([sys.executable, "-m", "stream.cli", "replay", "physionet2012", str(path), "--limit", "6",
                           "--beds", "3", "--speed", "0", "--ward", ward, "--no-progress"],
                          env=isolated.env, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "for 6 stays" in proc.stdout

    outcomes = asyncio.run(read_topic(s, topics.outcomes, 6, timeout_s=20))
    raw = asyncio.run(read_topic(s, topics.raw, 10**6, timeout_s=5))
    docs = [json.loads(o.value) for o in outcomes]
    discharged = {d["patient_id"] for d in docs if d["kind"] == "discharge"}
    assert len(discharged) == 6
    last_reading: dict[str, int] = {}
    for rec in raw:
        doc = json.loads(rec.value)
        last_reading[doc["patient_id"]] = max(last_reading.get(doc["patient_id"], 0), rec.timestamp)
    for rec, doc in zip(outcomes, docs):
        assert rec.timestamp >= last_reading[doc["patient_id"]], "an outcome was published before its stay ended"
    # three beds: the fourth stay starts when the first one leaves, 48 h after the replay began
    beds = {json.loads(r.value)["patient_id"]: json.loads(r.value)["bed"] for r in raw}
    assert sorted(set(beds.values())) == ["01", "02", "03"]

    scores = asyncio.run(poll_redis(s, lambda r: r.hgetall(Keys(s.redis.key_prefix).ward_scores(ward)),
                                    lambda g: len(g) >= 6, timeout_s=60, every_s=0.5))
    assert set(scores) == set(discharged), "every replayed stay was scored by the worker"
