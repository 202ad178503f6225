"""An independent Kafka client (kcat) publishes native JSON, FHIR and HL7 v2 into the running pipeline."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from stream.sinks.redis_store import Keys
from stream.topics import Topics
from tests.conftest import REQUIRE_SERVICES, Isolated, Proc
from tests.gateway_messages import dumps, fhir_blood_pressure, fhir_bundle, fhir_observation, hl7_oru
from tests.helpers import DETERIORATED, encode, reading
from tests.integration.kafka_io import poll_redis, read_topic

pytestmark = pytest.mark.integration


def _kcat() -> str:
    exe = shutil.which("kcat")
    if exe is None:
        if REQUIRE_SERVICES:
            pytest.fail("kcat (Debian package kcat) is required for this test")
        pytest.skip("kcat not installed (`apt-get install -y kcat`)")
    return exe


def _publish(kcat: str, bootstrap: str, topic: str, key: str, payload: bytes, tmp: Path) -> None:
    f = tmp / f"{key}.msg"
    f.write_bytes(payload)
    # File mode: each file is one message, whatever bytes (\r, \n) it holds.
    proc = subprocess.run([kcat, "-b", bootstrap, "-P", "-t", topic, "-k", key, str(f)],
                          capture_output=True, text=True, timeout=30, check=False)
    assert proc.returncode == 0, proc.stderr


def test_kcat_publishes_each_format_and_the_pipeline_scores_them(isolated: Isolated, worker: Proc,
                                                                  tmp_path: Path) -> None:
    kcat = _kcat()
    s = isolated.settings
    topics = Topics.from_settings(s.kafka)
    ward = f"gw-{isolated.tag}"
    ts = int(time.time() * 1000) // 1000 * 1000
    when_iso = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(ts / 1000))
    when_hl7 = time.strftime("%Y%m%d%H%M%S+0000", time.gmtime(ts / 1000))
    good = {
        "native": ("P-NAT", encode(reading("P-NAT", ward, ts, DETERIORATED))),
        "fhir": ("P-FHIR", dumps(fhir_bundle(
            fhir_observation("P-FHIR", ward, loinc="8867-4", value=128, when=when_iso),
            fhir_observation("P-FHIR", ward, loinc="8310-5", value=102.2, unit="[degF]", when=when_iso),
            fhir_blood_pressure("P-FHIR", ward, sbp=12.0, sbp_unit="kPa", dbp=60, when=when_iso)))),
        "hl7v2": ("P-HL7", hl7_oru("P-HL7", ward, when=when_hl7)),
    }
    bad = {
        "native": encode(reading("P-BAD", ward, ts, {"temp_f": 101})),
        "fhir": dumps(fhir_observation("P-BAD", ward, unit="Hz", when=when_iso)),
        "hl7v2": hl7_oru("P-BAD", ward, when=when_hl7).replace(b"ORU^R01", b"ADT^A01"),
    }
    for fmt, (key, payload) in good.items():
        _publish(kcat, s.kafka.bootstrap, topics.raw, key, payload, tmp_path)
    for fmt, payload in bad.items():
        _publish(kcat, s.kafka.bootstrap, topics.raw, f"bad-{fmt}", payload, tmp_path)

    got = asyncio.run(poll_redis(s, lambda r: r.hgetall(Keys(s.redis.key_prefix).ward_scores(ward)),
                                 lambda g: len(g) >= 3, timeout_s=45))
    state = {k: json.loads(v) for k, v in got.items()}
    assert set(state) == {"P-NAT", "P-FHIR", "P-HL7"}, state.keys()
    assert state["P-NAT"]["scores"]["news2"]["total"] == 10  # type: ignore[index]
    fhir_news = state["P-FHIR"]["scores"]["news2"]["components"]  # type: ignore[index]
    assert fhir_news["pulse"] == 2 and fhir_news["temperature"] == 1 and fhir_news["sbp"] == 3  # 12 kPa = 90 mmHg
    hl7_news = state["P-HL7"]["scores"]["news2"]  # type: ignore[index]
    assert hl7_news["components"]["pulse"] == 2 and hl7_news["components"]["temperature"] == 1  # 102.2 °F = 39.0 °C
    assert hl7_news["components"]["sbp"] == 3 and hl7_news["components"]["spo2"] == 3

    dead = asyncio.run(read_topic(s, topics.deadletter, 3, timeout_s=30))
    by_key = {rec.key.decode(): {k: v.decode() for k, v in rec.headers} for rec in dead}
    assert by_key["bad-native"]["ews.error.code"] == "unknown_unit"
    assert by_key["bad-fhir"]["ews.error.code"] == "unknown_unit" and by_key["bad-fhir"]["ews.source.format"] == "fhir"
    assert by_key["bad-hl7v2"]["ews.error.code"] == "invalid_hl7"
    assert by_key["bad-hl7v2"]["ews.source.format"] == "hl7v2"
    assert "ADT^A01" in by_key["bad-hl7v2"]["ews.error.reason"]
