"""Ingest: device messages in any accepted format → validated readings.

Three formats, told apart by their first bytes:

* native JSON (``{"patient_id": …}``), :mod:`detectors.ingest.native`;
* FHIR R4 ``Observation`` or ``Bundle`` (``{"resourceType": …}``), :mod:`detectors.ingest.fhir`;
* HL7 v2 ORU^R01 (``MSH|…``, optionally MLLP-framed), :mod:`detectors.ingest.hl7v2`.

Gateway formats are first mapped to native documents (codes mapped, units converted)
and then validated by the same schema as native JSON, so every format meets the same
bounds. Anything that cannot become a reading raises
:class:`~detectors.errors.InvalidReading` (its ``code`` is the dead-letter reason).
"""

from __future__ import annotations

import json

from detectors.errors import InvalidReading
from detectors.ingest.native import decode_reading
from detectors.schemas import Reading

__all__ = ["decode_message", "decode_reading", "detect_format"]


def detect_format(raw: bytes | None) -> str:
    """``native``, ``fhir``, ``hl7v2`` or ``unknown`` (empty or undecidable)."""
    if not raw:
        return "unknown"
    head = raw.lstrip(b"\x0b \t\r\n")[:512]
    if head.startswith(b"MSH"):
        return "hl7v2"
    if head.startswith(b"{"):
        return "fhir" if b'"resourceType"' in raw[:4096] else "native"
    return "unknown"


def decode_message(raw: bytes | None) -> tuple[str, list[Reading]]:
    """Decode one device message. Returns its format and the readings it carries."""
    fmt = detect_format(raw)
    if fmt == "hl7v2":
        from detectors.ingest.hl7v2 import oru_to_docs

        assert raw is not None
        return fmt, [_validated(d, "HL7 v2") for d in oru_to_docs(raw)]
    if fmt == "fhir":
        from detectors.ingest.fhir import observations_to_docs

        assert raw is not None
        try:
            doc = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InvalidReading("invalid_json", f"not valid UTF-8 JSON ({exc})") from None
        if not isinstance(doc, dict):
            raise InvalidReading("not_an_object", "expected a FHIR resource object")
        return fmt, [_validated(d, "FHIR") for d in observations_to_docs(doc)]
    return "native", [decode_reading(raw)]


def _validated(doc: dict[str, object], source: str) -> Reading:
    try:
        return decode_reading(json.dumps(doc).encode())
    except InvalidReading as exc:
        raise InvalidReading(exc.code, f"{source} message maps to an invalid reading: {exc.message}") from None
