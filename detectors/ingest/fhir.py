"""FHIR R4 vital-signs and laboratory Observations (single or in a Bundle) → readings.

Parsed and validated with ``fhir.resources`` (its R4B models: R4B is the technical
correction of R4 and reads R4 Observations unchanged), then mapped by LOINC code with
UCUM units converted (:mod:`detectors.ingest.units`). Blood pressure is one
Observation with systolic / diastolic (/ mean) components.

Where the patient is: FHIR's Observation has no location, so gateways add the
extension ``LOCATION_EXTENSION`` with ``valueString`` ``"ward^room^bed"`` (the HL7 v2
PV1-3 layout). The patient is ``subject`` (``Patient/<id>``), the device ``device``
(``Device/<id>``), the time ``effectiveDateTime`` or ``effectiveInstant`` with a UTC
offset. A Bundle is taken whole or not at all: one bad entry dead-letters the Bundle,
naming the entry.

Who the patient is: a Bundle may carry, next to its Observations, the ``Patient``
(``birthDate`` → age at each observation, ``gender`` → sex) and the ``Encounter``
(``period.start`` with a UTC offset → hospital admission) of the patients it reports
on; they become the readings' patient context. Other resource types are ignored.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Any

from pydantic import ValidationError

from detectors.errors import InvalidReading
from detectors.ingest.units import age_years, convert

__all__ = ["LOCATION_EXTENSION", "LOINC", "observations_to_docs"]

LOCATION_EXTENSION = "https://bedside-ews.org/fhir/StructureDefinition/bed-location"
LOINC_SYSTEM = "http://loinc.org"
UCUM_SYSTEM = "http://unitsofmeasure.org"

#: LOINC code → reading field
LOINC: dict[str, str] = {
    "8867-4": "heart_rate_bpm",
    "9279-1": "resp_rate_per_min",
    "59408-5": "spo2_pct",
    "2708-6": "spo2_pct",
    "8310-5": "temp_c",
    "8480-6": "sbp_mmhg",
    "8462-4": "dbp_mmhg",
    "8478-0": "map_mmhg",
    "3151-8": "o2_flow_l_min",
    "3150-0": "fio2_pct",
    "9269-2": "gcs_total",
    "2019-8": "paco2_mmhg",
    # laboratory results (category laboratory), as a laboratory system sends them
    "6690-2": "wbc_10e3_per_ul",
    "764-1": "band_neutrophils_pct",
    "2524-7": "lactate_mmol_l",
    "32693-4": "lactate_mmol_l",
    "2160-0": "creatinine_mg_dl",
    "14682-9": "creatinine_mg_dl",
    "3094-0": "bun_mg_dl",
    "777-3": "platelets_10e3_per_ul",
    "1975-2": "bilirubin_mg_dl",
    "2345-7": "glucose_mg_dl",
    "2339-0": "glucose_mg_dl",
    "2823-3": "potassium_mmol_l",
    "2951-2": "sodium_mmol_l",
    "1963-8": "hco3_mmol_l",
    "1960-4": "hco3_mmol_l",
    "1925-7": "base_excess_mmol_l",
    "2744-1": "arterial_ph",
    "2703-7": "pao2_mmhg",
    "4544-3": "hct_pct",
    "718-7": "hgb_g_dl",
}
BP_PANELS = {"85354-9", "55284-4"}
_OK_STATUS = {"final", "amended", "corrected", "preliminary"}


def _loinc(code: Any) -> list[str]:
    if code is None or not code.coding:
        return []
    return [c.code for c in code.coding if c.system == LOINC_SYSTEM and c.code]


def _ts_ms(obs: Any, where: str) -> int:
    value = obs.effectiveDateTime or obs.effectiveInstant
    if value is None:
        raise InvalidReading("missing_field", f"{where}: effectiveDateTime is missing")
    return _instant_ms(value, f"{where}: effectiveDateTime")


def _instant_ms(value: Any, what: str) -> int:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise InvalidReading("invalid_type", f"{what} {value!r} is not a date-time") from None
    if not isinstance(value, datetime):
        raise InvalidReading("invalid_type", f"{what} must be a date-time with a time of day")
    if value.tzinfo is None:
        raise InvalidReading("invalid_type", f"{what} has no UTC offset")
    return int(value.timestamp() * 1000)


_GENDER = {"female", "male", "other", "unknown"}


def _contexts(entries: list[tuple[str, Any]]) -> dict[str, dict[str, Any]]:
    """Patient id → what the Bundle's Patient and Encounter entries say (birth date, sex, admission)."""
    out: dict[str, dict[str, Any]] = {}
    for where, res in entries:
        kind = res.get_resource_type()
        if kind == "Patient" and res.id:
            ctx = out.setdefault(str(res.id), {})
            if res.gender is not None and str(res.gender) in _GENDER:
                ctx["sex"] = str(res.gender)
            if res.birthDate is not None:
                ctx["born"] = _birth_date(res.birthDate)
        elif kind == "Encounter":
            patient = _reference_id(res.subject, "Patient")
            if patient is None:
                raise InvalidReading("missing_field", f"{where}: subject must reference a Patient")
            if res.period is not None and res.period.start is not None:
                out.setdefault(patient, {})["hospital_admit_ts_ms"] = _instant_ms(res.period.start,
                                                                                  f"{where}: period.start")
    return out


def _birth_date(value: date | str) -> date:
    """A FHIR date; a partial one (``1956``, ``1956-12``) stands for the middle of its period."""
    if isinstance(value, date):
        return value
    year, _, month = str(value).partition("-")
    return date(int(year), int(month), 15) if month else date(int(year), 7, 2)


def _patient_doc(ctx: dict[str, Any], ts_ms: int) -> dict[str, Any]:
    doc = {k: v for k, v in ctx.items() if k != "born"}
    born = ctx.get("born")
    if born is not None:
        doc["age_years"] = age_years(datetime(born.year, born.month, born.day, tzinfo=timezone.utc).timestamp(), ts_ms)
    return doc


def _reference_id(ref: Any, kind: str) -> str | None:
    if ref is None or not ref.reference:
        return None
    text = str(ref.reference)
    prefix = f"{kind}/"
    return text[len(prefix):] if text.startswith(prefix) else None


def _location(obs: Any, where: str) -> tuple[str, str]:
    for ext in obs.extension or []:
        if ext.url == LOCATION_EXTENSION and ext.valueString:
            parts = str(ext.valueString).split("^")
            if len(parts) == 3 and parts[0] and parts[2]:
                return parts[0], parts[2]
            raise InvalidReading("invalid_type", f"{where}: location {ext.valueString!r} is not 'ward^room^bed'")
    raise InvalidReading("missing_field", f"{where}: the bed-location extension ({LOCATION_EXTENSION}) is missing")


def _quantity(q: Any, field: str, where: str) -> float:
    if q.value is None:
        raise InvalidReading("missing_field", f"{where}: valueQuantity has no value")
    if q.system is not None and q.system != UCUM_SYSTEM:
        raise InvalidReading("unknown_unit", f"{where}: unit system {q.system!r} is not UCUM")
    return convert(field, float(q.value), q.code or q.unit, where)


def _values(obs: Any, where: str) -> dict[str, float]:
    codes = _loinc(obs.code)
    out: dict[str, float] = {}
    if any(c in BP_PANELS for c in codes):
        for j, comp in enumerate(obs.component or []):
            fields = [LOINC[c] for c in _loinc(comp.code) if c in LOINC]
            if not fields:
                raise InvalidReading("unmapped_code", f"{where}.component[{j}]: no known LOINC code in {_loinc(comp.code)}")
            if comp.dataAbsentReason is not None:
                continue
            if comp.valueQuantity is None:
                raise InvalidReading("missing_field", f"{where}.component[{j}]: valueQuantity is missing")
            out[fields[0]] = _quantity(comp.valueQuantity, fields[0], f"{where}.component[{j}]")
        return out
    fields = [LOINC[c] for c in codes if c in LOINC]
    if not fields:
        raise InvalidReading("unmapped_code", f"{where}: no known vital-sign or laboratory LOINC code in {codes or 'code'}")
    if obs.dataAbsentReason is not None:
        return out
    if obs.valueQuantity is None:
        raise InvalidReading("missing_field", f"{where}: valueQuantity is missing")
    value = _quantity(obs.valueQuantity, fields[0], where)
    out[fields[0]] = round(value) if fields[0] == "gcs_total" else value
    return out


def observations_to_docs(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """A FHIR Observation or Bundle (parsed JSON) → native reading documents, grouped by time."""
    from fhir.resources.R4B.bundle import Bundle
    from fhir.resources.R4B.observation import Observation

    kind = doc.get("resourceType")
    try:
        observations: list[tuple[str, Any]]
        contexts: dict[str, dict[str, Any]] = {}
        if kind == "Observation":
            observations = [("Observation", Observation.model_validate(doc))]
        elif kind == "Bundle":
            bundle = Bundle.model_validate(doc)
            entries = [(f"Bundle.entry[{j}]", e.resource) for j, e in enumerate(bundle.entry or [])
                       if e.resource is not None]
            observations = [(w, r) for w, r in entries if r.get_resource_type() == "Observation"]
            contexts = _contexts(entries)
            if not observations:
                raise InvalidReading("no_vitals", "Bundle has no Observation entries")
        else:
            raise InvalidReading("invalid_fhir", f"resourceType {kind!r} is not Observation or Bundle")
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        loc = ".".join(str(p) for p in first["loc"])
        raise InvalidReading("invalid_fhir", f"not a valid FHIR {kind}: {loc}: {first['msg']}") from None

    grouped: dict[tuple[str, str, str, str, int], dict[str, Any]] = {}
    for where, obs in observations:
        if obs.status not in _OK_STATUS:
            raise InvalidReading("invalid_fhir", f"{where}: status {obs.status!r} is not a usable result")
        patient = _reference_id(obs.subject, "Patient")
        if patient is None:
            raise InvalidReading("missing_field", f"{where}: subject must reference a Patient")
        ward, bed = _location(obs, where)
        device = _reference_id(obs.device, "Device") or "fhir-unspecified"
        ts = _ts_ms(obs, where)
        key = (patient, ward, bed, device, ts)
        vitals = grouped.setdefault(key, {})
        vitals.update(_values(obs, where))
    docs = []
    for (patient, ward, bed, device, ts), vitals in grouped.items():
        reading: dict[str, Any] = {"patient_id": patient, "ward": ward, "bed": bed, "device_id": device, "ts_ms": ts,
                                   "vitals": vitals}
        if patient in contexts:
            reading["patient"] = _patient_doc(contexts[patient], ts)
        docs.append(reading)
    return docs
