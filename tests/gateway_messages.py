"""Example gateway messages (FHIR R4, HL7 v2 ORU^R01), shared by unit and integration tests."""

from __future__ import annotations

import json
from typing import Any

from detectors.ingest.fhir import LOCATION_EXTENSION

VITAL_SIGNS = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                           "code": "vital-signs"}]}


def fhir_observation(patient: str = "P-FHIR", ward: str = "ward-a", bed: str = "03", loinc: str = "8867-4",
                     value: float = 88, unit: str = "/min", when: str = "2026-12-04T12:00:00+00:00",
                     **extra: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "resourceType": "Observation",
        "status": "final",
        "category": [VITAL_SIGNS],
        "code": {"coding": [{"system": "http://loinc.org", "code": loinc}]},
        "subject": {"reference": f"Patient/{patient}"},
        "device": {"reference": "Device/mon-03"},
        "effectiveDateTime": when,
        "extension": [{"url": LOCATION_EXTENSION, "valueString": f"{ward}^room-1^{bed}"}],
        "valueQuantity": {"value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit},
    }
    doc.update(extra)
    return doc


def fhir_blood_pressure(patient: str = "P-FHIR", ward: str = "ward-a", sbp: float = 16.0, sbp_unit: str = "kPa",
                        dbp: float = 80, when: str = "2026-12-04T12:00:00+00:00") -> dict[str, Any]:
    doc = fhir_observation(patient, ward, loinc="85354-9", when=when)
    del doc["valueQuantity"]
    doc["component"] = [
        {"code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
         "valueQuantity": {"value": sbp, "unit": sbp_unit, "system": "http://unitsofmeasure.org", "code": sbp_unit}},
        {"code": {"coding": [{"system": "http://loinc.org", "code": "8462-4"}]},
         "valueQuantity": {"value": dbp, "unit": "mm[Hg]", "system": "http://unitsofmeasure.org", "code": "mm[Hg]"}},
    ]
    return doc


def fhir_bundle(*entries: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": e} for e in entries]}


def hl7_oru(patient: str = "P-HL7", ward: str = "ward-a", bed: str = "05", when: str = "20261204115959+0000",
            rows: list[tuple[str, str, str]] | None = None, dob_sex: str = "", admitted: str = "") -> bytes:
    """ORU^R01, PCD-01 style: an MDS row without value, then one OBX per (code, value, unit)."""
    rows = rows if rows is not None else [
        ("147842^MDC_ECG_HEART_RATE^MDC", "128", "264864^MDC_DIM_BEAT_PER_MIN^MDC"),
        ("151562^MDC_RESP_RATE^MDC", "26", "264928^MDC_DIM_RESP_PER_MIN^MDC"),
        ("150456^MDC_PULS_OXIM_SAT_O2^MDC", "91", "262688^MDC_DIM_PERCENT^MDC"),
        ("150364^MDC_TEMP_BODY^MDC", "102.2", "266560^MDC_DIM_FAHR^MDC"),
        ("150021^MDC_PRESS_BLD_NONINV_SYS^MDC", "88", "266016^MDC_DIM_MMHG^MDC"),
    ]
    segs = [
        "MSH|^~\\&|GATEWAY|ICU|EWS|HOSP|20261204120000+0000||ORU^R01^ORU_R01|MSG0001|P|2.6",
        f"PID|||{patient}^^^HOSP^MR||Doe^Jane{dob_sex}",
        f"PV1||I|{ward}^room-2^{bed}" + ("|" * 41 + admitted if admitted else ""),  # PV1-44 admit date/time
        "OBR|1|||182777000^monitoring of patient^SCT",
        "OBX|1||69965^MDC_DEV_MON_PHYSIO_MULTI_PARAM_MDS^MDC|1|||||||X",
    ]
    for j, (code, value, unit) in enumerate(rows, start=2):
        segs.append(f"OBX|{j}|NM|{code}|1.1.1.{j}|{value}|{unit}|||||R|||{when}||||mon-05")
    return ("\r".join(segs) + "\r").encode()


def dumps(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc).encode()
