"""Builders shared by unit and integration tests."""

from __future__ import annotations

import json
from typing import Any

BASE_TS = 1_800_000_000_000

STABLE = {"heart_rate_bpm": 72, "resp_rate_per_min": 15, "spo2_pct": 97, "temp_c": 36.8,
          "sbp_mmhg": 124, "o2_supplemental": False, "acvpu": "A"}
# NEWS2 = 3 (RR 26) + 2 (SpO2 93) + 0 (air) + 2 (SBP 95) + 2 (HR 120) + 0 + 1 (38.6) = 10
DETERIORATED = {"heart_rate_bpm": 120, "resp_rate_per_min": 26, "spo2_pct": 93, "temp_c": 38.6,
                "sbp_mmhg": 95, "o2_supplemental": False, "acvpu": "A"}


def reading(patient_id: str = "P001", ward: str = "ward-a", ts_ms: int = BASE_TS,
            vitals: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {"patient_id": patient_id, "ward": ward, "bed": "07", "device_id": "mon-07",
                           "ts_ms": ts_ms, "vitals": dict(STABLE if vitals is None else vitals)}
    doc.update(extra)
    return doc


def encode(doc: Any) -> bytes:
    return json.dumps(doc).encode()


def plain_thresholds():  # type: ignore[no-untyped-def]
    """Thresholds with confirmation, hysteresis and escalation off: plain NEWS2 bands."""
    from detectors.thresholds import Thresholds

    return Thresholds.model_validate({"version": 1, "defaults": {
        "confirmation": {"readings": 1, "seconds": 0}, "hysteresis": {"points": 0, "seconds": 0},
        "escalation": {"enabled": False}}})
