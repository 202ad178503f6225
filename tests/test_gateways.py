"""FHIR R4 and HL7 v2 gateway messages become the same validated readings as native JSON."""

from __future__ import annotations

import json

import pytest

from detectors.errors import InvalidReading
from detectors.ingest import decode_message, detect_format
from tests.gateway_messages import dumps, fhir_blood_pressure, fhir_bundle, fhir_observation, hl7_oru
from tests.helpers import encode, reading

TS = 1_796_385_600_000  # 2026-12-04T12:00:00Z


def test_format_detection() -> None:
    assert detect_format(encode(reading())) == "native"
    assert detect_format(dumps(fhir_observation())) == "fhir"
    assert detect_format(hl7_oru()) == "hl7v2"
    assert detect_format(b"\x0b" + hl7_oru() + b"\x1c\r") == "hl7v2"
    assert detect_format(b"") == detect_format(b"garbage") == "unknown"


def test_native_passes_through() -> None:
    fmt, (r,) = decode_message(encode(reading()))
    assert fmt == "native" and r.patient_id == "P001"


def test_fhir_single_observation() -> None:
    fmt, (r,) = decode_message(dumps(fhir_observation()))
    assert fmt == "fhir"
    assert (r.patient_id, r.ward, r.bed, r.device_id, r.ts_ms) == ("P-FHIR", "ward-a", "03", "mon-03", TS)
    assert r.vitals.heart_rate_bpm == 88


def test_fhir_units_are_converted() -> None:
    (_, (t,)) = decode_message(dumps(fhir_observation(loinc="8310-5", value=101.3, unit="[degF]")))
    assert t.vitals.temp_c == pytest.approx(38.5)
    (_, (bp,)) = decode_message(dumps(fhir_blood_pressure(sbp=16.0, sbp_unit="kPa", dbp=80)))
    assert bp.vitals.sbp_mmhg == pytest.approx(120.0098, abs=1e-3) and bp.vitals.dbp_mmhg == 80


@pytest.mark.parametrize(
    ("loinc", "value", "unit", "field", "expected"),
    [("2160-0", 1.4, "mg/dL", "creatinine_mg_dl", 1.4),
     ("14682-9", 176.84, "umol/L", "creatinine_mg_dl", 2.0),  # SI → mg/dL by 88.42 µmol/L per mg/dL
     ("2345-7", 10.0, "mmol/L", "glucose_mg_dl", 180.18),
     ("3094-0", 7.14, "mmol/L", "bun_mg_dl", 20.0),
     ("1975-2", 34.2, "umol/L", "bilirubin_mg_dl", 2.0),
     ("718-7", 95.0, "g/L", "hgb_g_dl", 9.5),
     ("777-3", 85.0, "10*3/uL", "platelets_10e3_per_ul", 85.0),
     ("2744-1", 7.28, "[pH]", "arterial_ph", 7.28),
     ("2703-7", 8.0, "kPa", "pao2_mmhg", 60.005),
     ("2524-7", 4.1, "mmol/L", "lactate_mmol_l", 4.1)],
)
def test_fhir_laboratory_results_map_by_loinc_with_units_converted(
        loinc: str, value: float, unit: str, field: str, expected: float) -> None:
    _, (r,) = decode_message(dumps(fhir_observation(loinc=loinc, value=value, unit=unit)))
    assert r.vitals.present() == {field: pytest.approx(expected, abs=1e-2)}


def test_fhir_laboratory_result_in_an_unknown_unit_is_named() -> None:
    with pytest.raises(InvalidReading) as err:
        decode_message(dumps(fhir_observation(loinc="2160-0", value=1.4, unit="mg/L")))
    assert err.value.code == "unknown_unit" and "umol/L" in str(err.value)


def test_fhir_bundle_groups_by_patient_and_time() -> None:
    b = fhir_bundle(fhir_observation(loinc="8867-4", value=120), fhir_observation(loinc="9279-1", value=24),
                    fhir_observation(loinc="59408-5", value=93, unit="%"), fhir_blood_pressure(sbp=95, sbp_unit="mm[Hg]"),
                    fhir_observation(patient="OTHER", value=70))
    _, readings = decode_message(dumps(b))
    by = {r.patient_id: r for r in readings}
    assert set(by) == {"P-FHIR", "OTHER"}
    v = by["P-FHIR"].vitals
    assert (v.heart_rate_bpm, v.resp_rate_per_min, v.spo2_pct, v.sbp_mmhg, v.dbp_mmhg) == (120, 24, 93, 95, 80)


def test_fhir_data_absent_reason_skips_the_value() -> None:
    obs = fhir_observation()
    del obs["valueQuantity"]
    obs["dataAbsentReason"] = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/data-absent-reason",
                                           "code": "error"}]}
    with pytest.raises(InvalidReading) as info:
        decode_message(dumps(obs))
    assert info.value.code == "no_vitals"


def _fhir_bad(doc: dict[str, object]) -> InvalidReading:
    with pytest.raises(InvalidReading) as info:
        decode_message(dumps(doc))  # type: ignore[arg-type]
    return info.value


@pytest.mark.parametrize(
    ("mutate", "code", "mentions"),
    [
        (lambda d: d.update(valueQuantity={"value": 88, "unit": "Hz", "system": "http://unitsofmeasure.org",
                                           "code": "Hz"}), "unknown_unit", "Hz"),
        (lambda d: d.update(code={"coding": [{"system": "http://loinc.org", "code": "1234-5"}]}), "unmapped_code",
         "1234-5"),
        (lambda d: d.pop("subject"), "missing_field", "subject"),
        (lambda d: d.pop("extension"), "missing_field", "bed-location"),
        (lambda d: d.update(effectiveDateTime="2026-12-04T12:00:00"), "invalid_fhir", "effectiveDateTime"),  # no offset
        (lambda d: d.update(status="entered-in-error"), "invalid_fhir", "entered-in-error"),
        (lambda d: d.update(status="not-a-status"), "invalid_fhir", "status"),
        (lambda d: d.update(valueQuantity={"value": 400, "unit": "/min", "system": "http://unitsofmeasure.org",
                                           "code": "/min"}), "impossible_value", "heart_rate_bpm"),
        (lambda d: d.update(resourceType="Patient"), "invalid_fhir", "Patient"),
    ],
)
def test_malformed_fhir(mutate, code: str, mentions: str) -> None:  # type: ignore[no-untyped-def]
    doc = fhir_observation()
    mutate(doc)
    err = _fhir_bad(doc)
    assert err.code == code and mentions in err.message, err


def test_a_bad_entry_rejects_the_whole_bundle_and_names_it() -> None:
    bad = fhir_observation(unit="Hz")
    err = _fhir_bad(fhir_bundle(fhir_observation(), bad))
    assert err.code == "unknown_unit" and "Bundle.entry[1]" in err.message


def test_hl7_oru_maps_codes_units_location_and_time() -> None:
    fmt, (r,) = decode_message(hl7_oru())
    assert fmt == "hl7v2"
    assert (r.patient_id, r.ward, r.bed, r.device_id, r.ts_ms) == ("P-HL7", "ward-a", "05", "mon-05", TS - 1000)
    v = r.vitals
    assert (v.heart_rate_bpm, v.resp_rate_per_min, v.spo2_pct, v.sbp_mmhg) == (128, 26, 91, 88)
    assert v.temp_c == pytest.approx(39.0)


def test_hl7_pid_date_of_birth_and_sex_give_the_patient_context() -> None:
    _, (r,) = decode_message(hl7_oru(dob_sex="||19561204|F"))
    assert r.patient is not None and r.patient.sex == "female"
    assert r.patient.age_years == pytest.approx(70.0, abs=0.01)  # born 70 years before the 2026-12-04 reading
    _, (plain,) = decode_message(hl7_oru())
    assert plain.patient is None
    for bad, mentions in (("||1956-12-04|F", "PID-7"), ("||19561204|female", "PID-8")):
        with pytest.raises(InvalidReading) as err:
            decode_message(hl7_oru(dob_sex=bad))
        assert err.value.code == "invalid_type" and mentions in str(err.value)


def test_hl7_pv1_44_gives_the_hospital_admission_and_a_bad_one_is_named() -> None:
    _, (r,) = decode_message(hl7_oru(admitted="20261201083000+0100"))
    assert r.patient is not None and r.patient.hospital_admit_ts_ms == 1_796_110_200_000  # 07:30 UTC
    with pytest.raises(InvalidReading, match="PV1-44"):
        decode_message(hl7_oru(admitted="2026-12-01"))
    with pytest.raises(InvalidReading, match="admitted before being measured") as info:
        decode_message(hl7_oru(admitted="20261205083000+0000"))  # the day after the observation
    assert info.value.code == "impossible_value"


def _encounter(start: str, patient: str = "P-FHIR") -> dict[str, object]:
    return {"resourceType": "Encounter", "status": "in-progress",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"},
            "subject": {"reference": f"Patient/{patient}"}, "period": {"start": start}}


def test_a_fhir_bundles_patient_and_encounter_give_the_patient_context() -> None:
    bundle = fhir_bundle({"resourceType": "Patient", "id": "P-FHIR", "gender": "female", "birthDate": "1956-12-04"},
                         _encounter("2026-12-01T08:30:00+01:00"), fhir_observation(),
                         fhir_observation(patient="OTHER", value=70))
    _, readings = decode_message(dumps(bundle))
    mine = next(r for r in readings if r.patient_id == "P-FHIR")
    assert mine.patient is not None
    assert (mine.patient.age_years, mine.patient.sex) == (70.0, "female")  # the day of the 70th birthday
    assert mine.patient.hospital_admit_ts_ms == 1_796_110_200_000  # 07:30 UTC
    assert next(r for r in readings if r.patient_id == "OTHER").patient is None  # nothing said of that one
    # a partial birth date is valid FHIR: the middle of its year
    _, (r,) = decode_message(dumps(fhir_bundle({"resourceType": "Patient", "id": "P-FHIR", "birthDate": "1956"},
                                               fhir_observation())))
    assert r.patient is not None and r.patient.age_years == pytest.approx(70.43, abs=0.01)  # from 2 July 1956


def test_a_bad_fhir_encounter_dead_letters_the_bundle_naming_it() -> None:
    for encounter, code, mentions in (
            (_encounter("2026-12-01T08:30:00"), "invalid_fhir", "entry.0.resource.period.start"),  # no UTC offset
            (_encounter("2026-12-06T08:30:00+00:00"), "impossible_value", "admitted before being measured")):
        with pytest.raises(InvalidReading, match=mentions) as info:
            decode_message(dumps(fhir_bundle(encounter, fhir_observation())))
        assert info.value.code == code


def test_hl7_accepts_mllp_framing_and_newlines() -> None:
    framed = b"\x0b" + hl7_oru().replace(b"\r", b"\n") + b"\x1c\r"
    assert decode_message(framed)[1] == decode_message(hl7_oru())[1]


def test_hl7_ucum_units_and_kpa() -> None:
    msg = hl7_oru(rows=[("150021^MDC_PRESS_BLD_NONINV_SYS^MDC", "12", "kPa^kPa^UCUM")])
    (_, (r,)) = decode_message(msg)
    assert r.vitals.sbp_mmhg == pytest.approx(90.007, abs=1e-3)


@pytest.mark.parametrize(
    ("raw", "code", "mentions"),
    [
        (hl7_oru().replace(b"ORU^R01", b"ADT^A01"), "invalid_hl7", "ADT^A01"),
        (hl7_oru().replace(b"P-HL7^^^HOSP^MR", b""), "missing_field", "PID-3"),
        (hl7_oru(ward="", bed=""), "missing_field", "PV1-3"),
        (hl7_oru(rows=[("999999^MDC_UNKNOWN^MDC", "1", "262688^MDC_DIM_PERCENT^MDC")]), "unmapped_code", "999999"),
        (hl7_oru(rows=[("147842^MDC_ECG_HEART_RATE^MDC", "88", "262656^MDC_DIM_HZ^MDC")]), "unknown_unit", "HZ"),
        (hl7_oru(rows=[("147842^MDC_ECG_HEART_RATE^MDC", "fast", "264864^MDC_DIM_BEAT_PER_MIN^MDC")]), "invalid_type",
         "fast"),
        (hl7_oru(when="20261204115959"), "invalid_type", "UTC offset"),
        (hl7_oru(rows=[]), "no_vitals", "OBX"),
        (hl7_oru(rows=[("150456^MDC_PULS_OXIM_SAT_O2^MDC", "140", "262688^MDC_DIM_PERCENT^MDC")]), "impossible_value",
         "spo2_pct"),
        (b"MSH|garbage", "invalid_hl7", "MSH-9"),
    ],
)
def test_malformed_hl7(raw: bytes, code: str, mentions: str) -> None:
    with pytest.raises(InvalidReading) as info:
        decode_message(raw)
    assert info.value.code == code and mentions in info.value.message, info.value


def test_hl7_skips_rows_marked_not_a_value() -> None:
    msg = hl7_oru().replace(b"|128|264864^MDC_DIM_BEAT_PER_MIN^MDC|||||R|", b"|128|264864^MDC_DIM_BEAT_PER_MIN^MDC|||||W|")
    (_, (r,)) = decode_message(msg)
    assert r.vitals.heart_rate_bpm is None and r.vitals.resp_rate_per_min == 26


def test_gateway_readings_serialise_like_native() -> None:
    (_, (r,)) = decode_message(hl7_oru())
    again = decode_message(r.model_dump_json().encode())[1][0]
    assert again == r and json.loads(r.model_dump_json())["vitals"]["heart_rate_bpm"] == 128
