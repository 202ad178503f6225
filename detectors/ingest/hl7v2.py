"""HL7 v2 ORU^R01 in the IHE PCD-01 style → readings.

Parsed with the ``hl7`` package (python-hl7: small, pure, no schema tables to ship),
then mapped: PID-3 is the patient (PID-7 date of birth and PID-8 sex, when sent, give the
patient context), PV1-3 ``ward^room^bed`` the location (PV1-44, when sent, the
hospital admission time), and each OBX
with a numeric value a metric: OBX-3 the MDC code, OBX-5 the value, OBX-6 the unit (MDC
or UCUM), OBX-11 the result status, OBX-14 the observation time, OBX-18 the device.
Device-hierarchy OBX rows without a value are skipped. Segments end with carriage
returns; ``\\n`` and ``\\r\\n`` are accepted too, and MLLP framing bytes are stripped.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Any

from detectors.errors import InvalidReading
from detectors.ingest.units import age_years, convert

__all__ = ["MDC", "oru_to_docs"]

#: IEEE 11073 MDC code (OBX-3.1) → reading field
MDC: dict[str, str] = {
    "147842": "heart_rate_bpm",  # MDC_ECG_HEART_RATE
    "149530": "heart_rate_bpm",  # MDC_PULS_OXIM_PULS_RATE
    "151562": "resp_rate_per_min",  # MDC_RESP_RATE
    "150456": "spo2_pct",  # MDC_PULS_OXIM_SAT_O2
    "150364": "temp_c",  # MDC_TEMP_BODY
    "150344": "temp_c",  # MDC_TEMP
    "150021": "sbp_mmhg",  # MDC_PRESS_BLD_NONINV_SYS
    "150022": "dbp_mmhg",  # MDC_PRESS_BLD_NONINV_DIA
    "150023": "map_mmhg",  # MDC_PRESS_BLD_NONINV_MEAN
}
_SKIP_STATUS = {"X", "D", "W"}  # cannot be obtained, deleted, wrong: not a value
_TS = re.compile(r"^(\d{14})(?:\.(\d{1,4}))?([+-]\d{4})$")


def _ts_ms(text: str, where: str) -> int:
    m = _TS.match(text.strip())
    if m is None:
        raise InvalidReading("invalid_type", f"{where}: time {text!r} is not YYYYMMDDHHMMSS[.S]±ZZZZ (a UTC offset is required)")
    base = datetime.strptime(m.group(1), "%Y%m%d%H%M%S")
    frac = float("0." + m.group(2)) if m.group(2) else 0.0
    off = m.group(3)
    tz = timezone(timedelta(hours=int(off[1:3]), minutes=int(off[3:5])) * (1 if off[0] == "+" else -1))
    return int((base.replace(tzinfo=tz).timestamp() + frac) * 1000)


def _field(seg: Any, n: int) -> str:
    try:
        return str(seg[n])
    except (IndexError, KeyError):
        return ""


def _component(seg: Any, n: int, c: int) -> str:
    parts = _field(seg, n).split("^")
    return parts[c] if c < len(parts) else ""


def oru_to_docs(raw: bytes) -> list[dict[str, Any]]:
    import hl7

    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    text = text.strip("\x0b\x1c\r\n ").replace("\r\n", "\r").replace("\n", "\r")
    try:
        msg = hl7.parse(text)
        msh = msg.segment("MSH")
    except Exception as exc:  # noqa: BLE001 - the parser raises many types on garbage
        raise InvalidReading("invalid_hl7", f"not a parseable HL7 v2 message ({type(exc).__name__}: {exc})") from None
    mtype = _field(msh, 9)
    if not mtype.startswith("ORU^R01"):
        raise InvalidReading("invalid_hl7", f"MSH-9 message type {mtype!r} is not ORU^R01")
    try:
        pid = msg.segment("PID")
    except KeyError:
        raise InvalidReading("missing_field", "PID segment is missing") from None
    patient = _component(pid, 3, 0)
    if not patient:
        raise InvalidReading("missing_field", "PID-3 patient identifier is empty")
    try:
        pv1 = msg.segment("PV1")
    except KeyError:
        raise InvalidReading("missing_field", "PV1 segment (location) is missing") from None
    ward, bed = _component(pv1, 3, 0), _component(pv1, 3, 2)
    if not ward or not bed:
        raise InvalidReading("missing_field", f"PV1-3 location {_field(pv1, 3)!r} is not 'ward^room^bed'")
    admit_text = _field(pv1, 44).strip()
    admit_ms = _ts_ms(admit_text, "PV1-44 admit date/time") if admit_text else None
    sender = _component(msh, 3, 0) or "hl7-gateway"
    msh_time = _field(msh, 7)

    try:
        rows = list(msg.segments("OBX"))
    except KeyError:
        rows = []
    grouped: dict[tuple[str, int], dict[str, Any]] = {}
    for j, obx in enumerate(rows):
        where = f"OBX[{j + 1}]"
        value_text = _field(obx, 5).strip()
        if not value_text:
            continue  # device hierarchy row (MDS/VMD/channel), no value
        if _field(obx, 11).strip() in _SKIP_STATUS:
            continue
        if _field(obx, 2).strip() != "NM":
            raise InvalidReading("invalid_hl7", f"{where}: OBX-2 value type {_field(obx, 2)!r} is not NM")
        code = _component(obx, 3, 0)
        target = MDC.get(code)
        if target is None:
            raise InvalidReading("unmapped_code", f"{where}: OBX-3 code {_field(obx, 3)!r} is not a known vital sign")
        try:
            value = float(value_text)
        except ValueError:
            raise InvalidReading("invalid_type", f"{where}: OBX-5 {value_text!r} is not a number") from None
        unit = _component(obx, 6, 1) or _component(obx, 6, 0)
        unit_code = _component(obx, 6, 0)
        try:
            converted = convert(target, value, unit, where)
        except InvalidReading:
            try:
                converted = convert(target, value, unit_code, where)
            except InvalidReading as exc:
                raise InvalidReading("unknown_unit", f"{where}: OBX-6 unit {_field(obx, 6)!r} is not accepted "
                                     f"for {target}; {exc.message.split('(', 1)[-1].rstrip(')')}") from None
        when = _field(obx, 14).strip() or msh_time
        ts = _ts_ms(when, where)
        device = _component(obx, 18, 0) or sender
        grouped.setdefault((device, ts), {})[target] = converted
    if not grouped:
        raise InvalidReading("no_vitals", "the message has no OBX with a numeric value")
    docs: list[dict[str, Any]] = []
    for (device, ts), vitals in grouped.items():
        doc: dict[str, Any] = {"patient_id": patient, "ward": ward, "bed": bed, "device_id": device, "ts_ms": ts,
                               "vitals": vitals}
        context = _patient_context(pid, ts)
        if admit_ms is not None:
            context["hospital_admit_ts_ms"] = admit_ms
        if context:
            doc["patient"] = context
        docs.append(doc)
    return docs


_SEX = {"F": "female", "M": "male", "O": "other", "A": "other", "N": "other", "U": "unknown"}


def _patient_context(pid: Any, ts_ms: int) -> dict[str, Any]:
    """PID-7 date of birth → age at the observation; PID-8 administrative sex (HL7 table 0001)."""
    out: dict[str, Any] = {}
    dob = _field(pid, 7).strip()
    if dob:
        try:
            born = datetime.strptime(dob[:8], "%Y%m%d").replace(tzinfo=timezone.utc)
        except ValueError:
            raise InvalidReading("invalid_type", f"PID-7 date of birth {dob!r} is not YYYYMMDD") from None
        out["age_years"] = age_years(born.timestamp(), ts_ms)
    sex = _field(pid, 8).strip().upper()
    if sex:
        if sex not in _SEX:
            raise InvalidReading("invalid_type", f"PID-8 administrative sex {sex!r} is not one of F, M, O, A, N, U")
        out["sex"] = _SEX[sex]
    return out
