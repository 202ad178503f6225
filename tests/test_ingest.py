from __future__ import annotations

import json

import pytest

from detectors.errors import EwsError, InvalidReading
from detectors.ingest import decode_reading
from tests.helpers import BASE_TS, encode, reading


def test_good_reading_round_trips() -> None:
    r = decode_reading(encode(reading()))
    assert r.patient_id == "P001" and r.vitals.heart_rate_bpm == 72
    assert decode_reading(r.model_dump_json().encode()) == r


def test_partial_reading_is_accepted() -> None:
    r = decode_reading(encode(reading(vitals={"spo2_pct": 95})))
    assert r.vitals.present() == {"spo2_pct": 95.0}


def _bad(doc_or_bytes: object) -> InvalidReading:
    raw = doc_or_bytes if isinstance(doc_or_bytes, bytes) else encode(doc_or_bytes)
    with pytest.raises(InvalidReading) as info:
        decode_reading(raw)
    assert isinstance(info.value, EwsError)
    return info.value


@pytest.mark.parametrize(
    ("raw", "code", "mentions"),
    [
        (b"", "empty_message", "no bytes"),
        (b"   \n", "empty_message", "no bytes"),
        (b"{not json", "invalid_json", "JSON"),
        (b"\xff\xfe\x00", "invalid_json", "UTF-8"),
        (b"[1, 2]", "not_an_object", "list"),
        (b'"hello"', "not_an_object", "str"),
    ],
)
def test_undecodable_messages(raw: bytes, code: str, mentions: str) -> None:
    err = _bad(raw)
    assert err.code == code and mentions in err.message


@pytest.mark.parametrize("field", ["patient_id", "ward", "bed", "device_id", "ts_ms", "vitals"])
def test_missing_field_is_named(field: str) -> None:
    doc = reading()
    del doc[field]
    err = _bad(doc)
    assert err.code == "missing_field" and field in err.message


@pytest.mark.parametrize(
    ("vitals", "field"),
    [({"heart_rate_bpm": -5}, "heart_rate_bpm"), ({"spo2_pct": 140}, "spo2_pct"), ({"temp_c": 60}, "temp_c"),
     ({"resp_rate_per_min": 500}, "resp_rate_per_min"), ({"sbp_mmhg": -1}, "sbp_mmhg"),
     ({"arterial_ph": 735}, "arterial_ph"), ({"potassium_mmol_l": 27.5}, "potassium_mmol_l"),
     ({"hgb_g_dl": 32}, "hgb_g_dl")],
)
def test_impossible_values(vitals: dict[str, float], field: str) -> None:
    err = _bad(reading(vitals=vitals))
    assert err.code == "impossible_value" and field in err.message
    assert str(next(iter(vitals.values()))) in err.message


def test_lab_values_and_the_patient_context_are_accepted() -> None:
    r = decode_reading(encode(reading(vitals={"creatinine_mg_dl": 2.4, "arterial_ph": 7.21},
                                      patient={"age_years": 67.5, "sex": "female"})))
    assert r.vitals.present() == {"creatinine_mg_dl": 2.4, "arterial_ph": 7.21}
    assert r.patient is not None and (r.patient.age_years, r.patient.sex) == (67.5, "female")
    admitted = BASE_TS - 50 * 3_600_000
    r = decode_reading(encode(reading(patient={"care_unit": "coronary_care", "hospital_admit_ts_ms": admitted})))
    assert r.patient is not None and (r.patient.care_unit, r.patient.hospital_admit_ts_ms) == ("coronary_care", admitted)
    # device and ADT clocks differ: a hospital admission a minute after the reading is accepted
    assert decode_reading(encode(reading(patient={"hospital_admit_ts_ms": BASE_TS + 60_000}))).patient is not None


@pytest.mark.parametrize(
    ("patient", "code", "mentions"),
    [({"age_years": 200}, "impossible_value", "patient.age_years"),
     ({"sex": "F"}, "invalid_type", "patient.sex"),
     ({"dob": "1950-01-01"}, "unknown_field", "patient.dob"),
     ({"care_unit": "ICU"}, "invalid_type", "patient.care_unit"),
     ({"hospital_admit_ts_ms": "2026-12-01"}, "invalid_type", "patient.hospital_admit_ts_ms"),
     ({"hospital_admit_ts_ms": BASE_TS + 3_600_000}, "impossible_value", "admitted before being measured")],
)
def test_a_bad_patient_context_is_rejected_and_named(patient: dict[str, object], code: str, mentions: str) -> None:
    err = _bad(reading(patient=patient))
    assert err.code == code and mentions in err.message


def test_non_finite_number_is_rejected() -> None:
    raw = encode(reading()).replace(b'"heart_rate_bpm": 72', b'"heart_rate_bpm": NaN')
    assert b"NaN" in raw
    assert _bad(raw).code in {"impossible_value", "invalid_type", "invalid_json"}


@pytest.mark.parametrize(("name", "accepted"), [("temp_f", "temp_c"), ("heart_rate_bps", "heart_rate_bpm"),
                                                ("spo2_fraction", "spo2_pct"), ("sbp_kpa", "sbp_mmhg")])
def test_unknown_unit_names_the_accepted_field(name: str, accepted: str) -> None:
    err = _bad(reading(vitals={name: 101}))
    assert err.code == "unknown_unit" and name in err.message and accepted in err.message


def test_unknown_field() -> None:
    assert _bad(reading(vitals={"heart_rate_bpm": 70, "colour": "blue"})).code == "unknown_field"
    assert _bad(reading(extra_field=1)).code == "unknown_field"


def test_no_vitals() -> None:
    assert _bad(reading(vitals={})).code == "no_vitals"


@pytest.mark.parametrize(
    ("vitals", "code"),
    [({"heart_rate_bpm": "88"}, "invalid_type"), ({"o2_supplemental": "yes"}, "invalid_type"),
     ({"acvpu": "X"}, "invalid_type")],
)
def test_wrong_types_are_not_coerced(vitals: dict[str, object], code: str) -> None:
    assert _bad(reading(vitals=vitals)).code == code


def test_bad_identifiers_and_timestamps() -> None:
    assert _bad(reading(patient_id="")).code == "invalid_reading"
    assert _bad(reading(patient_id="has space")).code == "invalid_reading"
    assert _bad(reading(ts_ms=12)).code == "impossible_value"
    assert _bad(reading(ts_ms="2026-01-01")).code == "invalid_type"


def test_every_failure_is_listed() -> None:
    err = _bad(reading(vitals={"heart_rate_bpm": -5, "spo2_pct": 140}))
    assert "heart_rate_bpm" in err.message and "spo2_pct" in err.message


def test_oversized_message() -> None:
    doc = reading()
    doc["bed"] = "x" * 70_000
    assert _bad(json.dumps(doc).encode()).code == "invalid_reading"
