"""Data-set readers and the replay protocol."""

from __future__ import annotations

import json

import pytest

from detectors.errors import InvalidReading
from detectors.ingest.native import decode_reading
from simulator.datasets import Stay, iter_stays, parse_2012, parse_2019
from simulator.replay import schedule
from tests.data import archive

H = 3_600_000
HEADER_2019 = ("HR|O2Sat|Temp|SBP|MAP|DBP|Resp|EtCO2|BaseExcess|HCO3|FiO2|pH|PaCO2|SaO2|AST|BUN|Alkalinephos|"
               "Calcium|Chloride|Creatinine|Bilirubin_direct|Glucose|Lactate|Magnesium|Phosphate|Potassium|"
               "Bilirubin_total|TroponinI|Hct|Hgb|PTT|WBC|Fibrinogen|Platelets|Age|Gender|Unit1|Unit2|"
               "HospAdmTime|ICULOS|SepsisLabel")


def _row_2019(hr: str = "NaN", label: int = 0, fio2: str = "NaN", wbc: str = "NaN", ph: str = "NaN",
              bun: str = "NaN") -> str:
    cells = ["NaN"] * 41
    cells[0], cells[10], cells[31], cells[11], cells[15] = hr, fio2, wbc, ph, bun
    cells[34], cells[35], cells[36], cells[37], cells[38] = "70", "1", "1", "0", "-0.1"
    cells[40] = str(label)
    return "|".join(cells)


def test_parse_2019_onset_units_and_demographics() -> None:
    rows = [_row_2019(), _row_2019("90", fio2="0.4"), _row_2019("95", wbc="13.1")] + [_row_2019("100", 1)] * 3
    stay = parse_2019("p1", "\n".join([HEADER_2019, *rows]))
    assert stay.length_ms == 6 * H and stay.labels == [0, 0, 0, 1, 1, 1]
    assert stay.sepsis_onset_ms == (3 + 6) * H  # first label + 6 h
    assert stay.rows[0] == (1 * H, {"heart_rate_bpm": 90.0, "fio2_pct": 40.0})  # row 0 had no values
    assert stay.rows[1][1]["wbc_10e3_per_ul"] == 13.1
    assert (stay.age, stay.sex, stay.unit, stay.care_unit) == (70.0, "male", "MICU", "medical_icu")
    assert stay.hospital_admit_ms == -360_000  # HospAdmTime -0.1 h: admitted to hospital 6 min before the ICU


def test_parse_2019_and_2012_map_the_further_labs() -> None:
    stay = parse_2019("p1", "\n".join([HEADER_2019, _row_2019("88", ph="7.31", bun="41")]))
    assert stay.rows[0][1] == {"heart_rate_bpm": 88.0, "arterial_ph": 7.31, "bun_mg_dl": 41.0}
    text = "\n".join(["Time,Parameter,Value", "00:00,Age,64", "03:00,K,5.9", "03:00,Na,131", "03:00,PaO2,62",
                      "03:00,HCT,28.5", "03:00,Bilirubin,2.2"])
    assert parse_2012("1", text).rows == [(3 * H, {"potassium_mmol_l": 5.9, "sodium_mmol_l": 131.0, "pao2_mmhg": 62.0,
                                                  "hct_pct": 28.5, "bilirubin_mg_dl": 2.2})]


def test_parse_2012_prefers_invasive_pressure_and_groups_by_time() -> None:
    text = "\n".join(["Time,Parameter,Value", "00:00,RecordID,1", "00:00,Age,64", "00:00,Gender,0",
                      "00:00,ICUType,3", "00:30,NISysABP,130", "00:30,SysABP,120", "00:30,HR,88",
                      "01:15,NISysABP,110", "01:15,GCS,14", "01:15,FiO2,0.5", "02:00,Urine,30",
                      "02:00,MechVent,1"])
    stay = parse_2012("1", text, died=True)
    assert stay.rows == [(30 * 60_000, {"sbp_mmhg": 120.0, "heart_rate_bpm": 88.0}),
                         (75 * 60_000, {"sbp_mmhg": 110.0, "gcs_total": 14.0, "fio2_pct": 50.0}),
                         (120 * 60_000, {"urine_ml": 30.0, "mech_vent": True})]
    assert (stay.age, stay.sex, stay.unit, stay.died, stay.length_ms) == (64.0, "female", "Medical ICU", True, 48 * H)
    assert stay.care_unit == "medical_icu" and stay.hospital_admit_ms is None  # 2012 gives no hospital admission


def _stay(i: str, hours: int, onset: int | None = None) -> Stay:
    return Stay("physionet2019", i, [(h * H, {"heart_rate_bpm": 80.0 + h}) for h in range(hours)],
                length_ms=hours * H, sepsis_onset_ms=None if onset is None else onset * H)


def test_replay_protocol_admits_in_order_onto_free_beds_and_publishes_outcomes_at_discharge() -> None:
    stays = [_stay("a", 3), _stay("b", 1, onset=1), _stay("c", 2), _stay("d", 1)]
    events = list(schedule(stays, beds=2, ward="w", start_ms=1_000))
    ats = [e.at_ms for e in events]
    assert ats == sorted(ats)
    where = {e.doc["patient_id"]: e.doc["bed"] for e in events if e.kind == "reading"}
    # a and b start together on beds 01/02; b leaves at 1 h, so c takes bed 02; d takes the next free bed.
    assert where == {"physionet2019-a": "01", "physionet2019-b": "02", "physionet2019-c": "02",
                     "physionet2019-d": "01"}
    first_c = next(e for e in events if e.key == "physionet2019-c")
    assert first_c.at_ms == 1 * H and first_c.doc["ts_ms"] == 1_000 + H
    outcome_b = [e for e in events if e.kind == "outcome" and e.key == "physionet2019-b"]
    assert [o.doc["kind"] for o in outcome_b] == ["sepsis_onset", "discharge"]
    assert all(o.at_ms == 1 * H for o in outcome_b)  # published at discharge, not at onset
    assert outcome_b[0].doc["ts_ms"] == 1_000 + 1 * H and outcome_b[1].discharged is not None
    # every reading of a stay comes before its outcome
    last_b_reading = max(e.at_ms for e in events if e.kind == "reading" and e.key == "physionet2019-b")
    assert last_b_reading <= outcome_b[0].at_ms
    assert sum(1 for e in events if e.discharged is not None) == 4


def test_the_replay_sends_the_care_unit_and_the_hospital_admission_as_patient_context() -> None:
    stay = Stay("physionet2019", "7", [(2 * H, {"heart_rate_bpm": 90.0})], length_ms=3 * H, age=50.0,
                care_unit="surgical_icu", hospital_admit_ms=-30 * H)
    start = 1_700_000_000_000
    (doc,) = [e.doc for e in schedule([stay], beds=1, ward="w", start_ms=start) if e.kind == "reading"]
    # admitted to the ICU at `start`, to hospital 30 h before; the first row is 2 h into the stay
    assert doc["ts_ms"] == start + 2 * H
    assert doc["patient"] == {"age_years": 50.0, "care_unit": "surgical_icu", "hospital_admit_ts_ms": start - 30 * H}
    assert decode_reading(json.dumps(doc).encode()).patient is not None


def test_a_row_with_labs_becomes_a_monitor_reading_and_a_lab_reading_with_the_patient() -> None:
    stay = Stay("physionet2012", "9", [(0, {"heart_rate_bpm": 90.0, "gcs_total": 13.6, "arterial_ph": 735.0})],
                length_ms=H, age=71.0, sex="female")
    start = 1_700_000_000_000
    docs = [e.doc for e in schedule([stay], beds=1, ward="w", start_ms=start) if e.kind == "reading"]
    assert [(d["device_id"], d["vitals"]) for d in docs] == [
        ("physionet2012-replay", {"heart_rate_bpm": 90.0, "gcs_total": 14}),
        ("physionet2012-lab", {"arterial_ph": 735.0})]
    assert all(d["patient"] == {"age_years": 71.0, "sex": "female"} and d["ts_ms"] == start for d in docs)
    # the impossible pH is rejected on its own; the monitor's values still count
    reading = decode_reading(json.dumps(docs[0]).encode())
    assert reading.vitals.heart_rate_bpm == 90.0 and reading.patient is not None
    assert (reading.patient.age_years, reading.patient.sex) == (71.0, "female")
    with pytest.raises(InvalidReading) as err:
        decode_reading(json.dumps(docs[1]).encode())
    assert err.value.code == "impossible_value" and "arterial_ph" in str(err.value)


def test_real_2019_archive_matches_its_readme() -> None:
    stays = list(iter_stays("physionet2019", archive("physionet2019")))
    assert len(stays) == 20_336
    assert sum(s.sepsis_onset_ms is not None for s in stays) == 1_790
    assert sum(len(s.labels) for s in stays) == 790_215
    assert [s.stay_id for s in stays[:2]] == ["p000001", "p000002"]


def test_real_2012_archive_matches_its_readme() -> None:
    stays = list(iter_stays("physionet2012", archive("physionet2012")))
    assert len(stays) == 4_000 and sum(bool(s.died) for s in stays) == 554
    assert all(s.died is not None for s in stays)


def test_limit_takes_the_first_stays_in_name_order() -> None:
    got = [s.stay_id for s in iter_stays("physionet2012", archive("physionet2012"), limit=3)]
    assert got == sorted(got) and len(got) == 3
