"""Readers for the real ICU data sets (PhysioNet/CinC challenges 2019 and 2012).

Each stay becomes a :class:`Stay`: its measurements as (offset from admission, vitals)
rows in the units of :class:`~detectors.schemas.Vitals`, its length, and its outcome.
The archives are read in place (``tar.gz``), stay by stay, in file-name order; nothing
is copied or extracted to disk.

* 2019 (sepsis): one ``.psv`` per stay, hourly rows (row index = hour). ``SepsisLabel``
  is shifted six hours early, so the clinical onset is t_sepsis = first labelled row + 6 h.
* 2012 (mortality): one ``.txt`` per stay, ``Time,Parameter,Value`` rows over the first
  48 h; ``Outcomes-a.txt`` gives in-hospital death.

Values are passed on as recorded (only unit changes: FiO2 fraction → %); implausible
recorded values are left for ingest to reject, where they are counted.
"""

from __future__ import annotations

import csv
import io
import math
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["DATASETS", "Stay", "count_stays", "iter_stays", "parse_2012", "parse_2019"]

HOUR_MS = 3_600_000
DATASETS = ("physionet2019", "physionet2012")


@dataclass(frozen=True)
class Stay:
    dataset: str
    stay_id: str
    #: (ms since admission, {vital field: value}) in time order
    rows: list[tuple[int, dict[str, float]]]
    #: length of the stay in ms (discharge = admission + length)
    length_ms: int
    #: 2019: ms from admission to the clinical onset of sepsis (None = no sepsis)
    sepsis_onset_ms: int | None = None
    #: 2012: in-hospital death (None = unknown)
    died: bool | None = None
    age: float | None = None
    sex: str | None = None
    #: the data set's own name of the unit (report subgroups)
    unit: str | None = None
    #: the unit as a patient-context care unit (detectors.schemas.CARE_UNITS)
    care_unit: str | None = None
    #: ms from the hospital admission to the unit admission (≤ 0; 2019: HospAdmTime)
    hospital_admit_ms: int | None = None
    #: 2019: the challenge's per-hour label (for scoring predictions in its own format)
    labels: list[int] = field(default_factory=list)

    @property
    def patient_id(self) -> str:
        return f"{self.dataset}-{self.stay_id}"


# -- 2019 ----------------------------------------------------------------------------

_MAP_2019 = {
    "HR": "heart_rate_bpm",
    "O2Sat": "spo2_pct",
    "Temp": "temp_c",
    "SBP": "sbp_mmhg",
    "MAP": "map_mmhg",
    "DBP": "dbp_mmhg",
    "Resp": "resp_rate_per_min",
    "WBC": "wbc_10e3_per_ul",
    "PaCO2": "paco2_mmhg",
    "Lactate": "lactate_mmol_l",
    "BUN": "bun_mg_dl",
    "Creatinine": "creatinine_mg_dl",
    "Platelets": "platelets_10e3_per_ul",
    "Bilirubin_total": "bilirubin_mg_dl",
    "Glucose": "glucose_mg_dl",
    "Potassium": "potassium_mmol_l",
    "HCO3": "hco3_mmol_l",
    "BaseExcess": "base_excess_mmol_l",
    "pH": "arterial_ph",
    "Hct": "hct_pct",
    "Hgb": "hgb_g_dl",
}


def _num(text: str) -> float | None:
    try:
        v = float(text)
    except ValueError:
        return None
    return None if math.isnan(v) else v


def parse_2019(stay_id: str, text: str) -> Stay:
    lines = text.strip().splitlines()
    header = lines[0].split("|")
    col = {name: j for j, name in enumerate(header)}
    rows: list[tuple[int, dict[str, float]]] = []
    labels: list[int] = []
    first_label: int | None = None
    age = sex = unit = hospital = None
    for i, line in enumerate(lines[1:]):
        cells = line.split("|")
        vitals: dict[str, float] = {}
        for src, dst in _MAP_2019.items():
            v = _num(cells[col[src]])
            if v is not None:
                vitals[dst] = v
        fio2 = _num(cells[col["FiO2"]])
        if fio2 is not None:
            vitals["fio2_pct"] = fio2 * 100.0 if fio2 <= 1.0 else fio2
        if vitals:
            rows.append((i * HOUR_MS, vitals))
        label = int(float(cells[col["SepsisLabel"]]))
        labels.append(label)
        if label and first_label is None:
            first_label = i
        if i == 0:
            age = _num(cells[col["Age"]])
            g = _num(cells[col["Gender"]])
            sex = None if g is None else ("male" if g == 1 else "female")
            u1, u2 = _num(cells[col["Unit1"]]), _num(cells[col["Unit2"]])
            unit = "MICU" if u1 == 1 else "SICU" if u2 == 1 else None
            adm = _num(cells[col["HospAdmTime"]])  # hours, hospital admission relative to ICU admission
            hospital = None if adm is None else int(round(min(adm, 0.0) * HOUR_MS))
    onset = None if first_label is None else (first_label + 6) * HOUR_MS
    return Stay("physionet2019", stay_id, rows, length_ms=len(labels) * HOUR_MS, sepsis_onset_ms=onset,
                age=age, sex=sex, unit=unit, care_unit=_CARE_2019.get(unit or ""), hospital_admit_ms=hospital,
                labels=labels)


_CARE_2019 = {"MICU": "medical_icu", "SICU": "surgical_icu"}


# -- 2012 ----------------------------------------------------------------------------

_MAP_2012 = {
    "HR": "heart_rate_bpm",
    "RespRate": "resp_rate_per_min",
    "Temp": "temp_c",
    "SaO2": "spo2_pct",
    "SysABP": "sbp_mmhg",
    "NISysABP": "sbp_mmhg",
    "DiasABP": "dbp_mmhg",
    "NIDiasABP": "dbp_mmhg",
    "MAP": "map_mmhg",
    "NIMAP": "map_mmhg",
    "GCS": "gcs_total",
    "WBC": "wbc_10e3_per_ul",
    "PaCO2": "paco2_mmhg",
    "Lactate": "lactate_mmol_l",
    "BUN": "bun_mg_dl",
    "Creatinine": "creatinine_mg_dl",
    "Platelets": "platelets_10e3_per_ul",
    "Bilirubin": "bilirubin_mg_dl",
    "Glucose": "glucose_mg_dl",
    "K": "potassium_mmol_l",
    "Na": "sodium_mmol_l",
    "HCO3": "hco3_mmol_l",
    "pH": "arterial_ph",
    "PaO2": "pao2_mmhg",
    "HCT": "hct_pct",
    "Urine": "urine_ml",
}
_INVASIVE = {"SysABP", "DiasABP", "MAP"}
_ICU = {1: "Coronary Care", 2: "Cardiac Surgery Recovery", 3: "Medical ICU", 4: "Surgical ICU"}
_CARE_2012 = {1: "coronary_care", 2: "cardiac_surgery_recovery", 3: "medical_icu", 4: "surgical_icu"}


def parse_2012(stay_id: str, text: str, died: bool | None = None) -> Stay:
    by_time: dict[int, dict[str, float]] = {}
    invasive_at: dict[tuple[int, str], bool] = {}
    age = sex = unit = care = None
    for row in csv.reader(io.StringIO(text)):
        if len(row) != 3 or row[0] == "Time":
            continue
        hh, _, mm = row[0].partition(":")
        t = (int(hh) * 60 + int(mm)) * 60_000
        name, value = row[1], _num(row[2])
        if value is None:
            continue
        if t == 0 and name in {"Age", "Gender", "ICUType", "RecordID", "Height", "Weight"}:
            if name == "Age" and value >= 0:
                age = value
            elif name == "Gender" and value >= 0:
                sex = "male" if value == 1 else "female"
            elif name == "ICUType":
                unit = _ICU.get(int(value))
                care = _CARE_2012.get(int(value))
            continue
        if name == "FiO2":
            by_time.setdefault(t, {})["fio2_pct"] = value * 100.0 if value <= 1.0 else value
            continue
        if name == "MechVent":
            by_time.setdefault(t, {})["mech_vent"] = value >= 1  # charted only while ventilated
            continue
        dst = _MAP_2012.get(name)
        if dst is None:
            continue
        if dst == "gcs_total":
            value = float(int(round(value)))
        # Where both are recorded at one time, the invasive (arterial line) pressure wins.
        if invasive_at.get((t, dst)) and name not in _INVASIVE:
            continue
        by_time.setdefault(t, {})[dst] = value
        if name in _INVASIVE:
            invasive_at[(t, dst)] = True
    rows = sorted(by_time.items())
    return Stay("physionet2012", stay_id, rows, length_ms=48 * HOUR_MS, died=died, age=age, sex=sex, unit=unit,
                care_unit=care)


def _is_stay(name: str, suffix: str) -> bool:
    return name.endswith(suffix) and not name.endswith("Outcomes-a.txt")


def iter_stays(dataset: str, path: str | Path, limit: int | None = None) -> Iterator[Stay]:
    """Stays of ``dataset`` from its archive, in file-name order.

    A gzip stream cannot seek cheaply, so the archive is streamed twice: once for the
    names (to sort them), once to collect the wanted stays, which are then yielded in
    name order.
    """
    if dataset not in DATASETS:
        raise ValueError(f"unknown data set {dataset!r}; choose one of {', '.join(DATASETS)}")
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist")
    suffix = ".psv" if dataset == "physionet2019" else ".txt"
    with tarfile.open(path, "r|gz") as tar:
        names = sorted((Path(m.name).name for m in tar if m.isfile() and _is_stay(m.name, suffix)))
    wanted = set(names if limit is None else names[:limit])
    texts: dict[str, str] = {}
    deaths: dict[str, bool] = {}
    with tarfile.open(path, "r|gz") as tar:
        for m in tar:
            if not m.isfile():
                continue
            base = Path(m.name).name
            if base == "Outcomes-a.txt" or base in wanted:
                f = tar.extractfile(m)
                assert f is not None
                text = f.read().decode("utf-8")
                if base == "Outcomes-a.txt":
                    deaths = {row["RecordID"]: row["In-hospital_death"] == "1"
                              for row in csv.DictReader(io.StringIO(text))}
                else:
                    texts[base] = text
    for base in sorted(texts):
        stay_id = Path(base).stem
        if dataset == "physionet2019":
            yield parse_2019(stay_id, texts.pop(base))
        else:
            yield parse_2012(stay_id, texts.pop(base), deaths.get(stay_id))


def count_stays(dataset: str, path: str | Path) -> int:
    """Number of stays in the archive (one streaming pass over its names)."""
    suffix = ".psv" if dataset == "physionet2019" else ".txt"
    with tarfile.open(path, "r|gz") as tar:
        return sum(1 for m in tar if m.isfile() and _is_stay(m.name, suffix))
