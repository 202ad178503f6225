"""Replay protocol: real ICU stays become patients on a ward of K beds.

Stays are admitted in file-name order; a new stay takes the bed that frees first
(the lowest-numbered on a tie); its measurements are published in time order from its
admission (bedside values as the monitor's readings, lab results as the lab's, each
with the patient's age and sex as an ADT feed would give them); its outcome is
published only when it ends (discharge) — for 2019 the onset time t_sepsis or "no
sepsis", for 2012 death or survival — so an online model can learn a stay's labels
only after the stay is over. Pure: a generator of timed
events; pacing and Kafka live in :mod:`simulator.producer`.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from detectors.schemas import LAB_FIELDS
from simulator.datasets import Stay

__all__ = ["ReplayEvent", "schedule"]


@dataclass(frozen=True, slots=True)
class ReplayEvent:
    #: ms since the replay started (simulated clock)
    at_ms: int
    #: "reading" (for vitals.raw) or "outcome" (for outcomes)
    kind: str
    key: str
    doc: dict[str, Any]
    #: set on the discharge event of a stay
    discharged: Stay | None = None


_READING, _DISCHARGE = 0, 1
_LABS = frozenset(LAB_FIELDS)


def _reading_docs(stay: Stay, ward: str, bed: int, ts_ms: int, vitals: dict[str, float],
                  admit_ts: int) -> list[dict[str, Any]]:
    """One row → the monitor's reading and, when the row has lab results, the lab's.

    Labs travel in their own message (as from a laboratory system), so an impossible lab
    value (a pH of 735) is rejected on its own without taking the row's vitals with it.
    """
    bedside: dict[str, Any] = {k: v for k, v in vitals.items() if k not in _LABS}
    labs: dict[str, Any] = {k: v for k, v in vitals.items() if k in _LABS}
    if "gcs_total" in bedside:
        bedside["gcs_total"] = int(round(bedside["gcs_total"]))
    patient: dict[str, Any] = {}
    if stay.age is not None:
        patient["age_years"] = stay.age
    if stay.sex is not None:
        patient["sex"] = stay.sex
    if stay.care_unit is not None:
        patient["care_unit"] = stay.care_unit
    if stay.hospital_admit_ms is not None:
        patient["hospital_admit_ts_ms"] = admit_ts + stay.hospital_admit_ms
    docs = []
    for device, values in ((f"{stay.dataset}-replay", bedside), (f"{stay.dataset}-lab", labs)):
        if values:
            doc: dict[str, Any] = {"patient_id": stay.patient_id, "ward": ward, "bed": f"{bed + 1:02d}",
                                   "device_id": device, "ts_ms": ts_ms, "vitals": values}
            if patient:
                doc["patient"] = patient
            docs.append(doc)
    return docs


def _outcomes(stay: Stay, ward: str, admit_ts: int) -> list[dict[str, Any]]:
    end = admit_ts + stay.length_ms
    base = {"patient_id": stay.patient_id, "ward": ward}
    out: list[dict[str, Any]] = []
    if stay.dataset == "physionet2019":
        if stay.sepsis_onset_ms is not None:
            out.append({**base, "kind": "sepsis_onset", "ts_ms": admit_ts + stay.sepsis_onset_ms,
                        "detail": "t_sepsis: first SepsisLabel hour + 6 h"})
        out.append({**base, "kind": "discharge", "ts_ms": end, "observed": ["sepsis_onset"],
                    "detail": "sepsis" if stay.sepsis_onset_ms is not None else "no sepsis"})
    else:
        if stay.died:
            out.append({**base, "kind": "death", "ts_ms": end,
                        "detail": "in-hospital death (the data set gives no time; published at the end of its 48 h)"})
        out.append({**base, "kind": "discharge", "ts_ms": end, "observed": ["death"],
                    "detail": "died in hospital" if stay.died else "survived" if stay.died is False else "unknown"})
    return out


def schedule(stays: Iterable[Stay], beds: int, ward: str, start_ms: int) -> Iterator[ReplayEvent]:
    """Events of the whole replay in time order (readings before a discharge at the same time)."""
    if beds < 1:
        raise ValueError("a ward needs at least one bed")
    source = iter(stays)
    heap: list[tuple[int, int, int, int, Stay, int, int]] = []  # (at, order, seq, bed, stay, row, admit)
    seq = 0

    def admit(bed: int, at: int) -> None:
        nonlocal seq
        stay = next(source, None)
        if stay is None:
            return
        if stay.rows:
            heapq.heappush(heap, (at + stay.rows[0][0], _READING, seq, bed, stay, 0, at))
        else:
            heapq.heappush(heap, (at + stay.length_ms, _DISCHARGE, seq, bed, stay, 0, at))
        seq += 1

    for bed in range(beds):
        admit(bed, 0)
    while heap:
        at, order, _, bed, stay, row, admitted = heapq.heappop(heap)
        if order == _READING:
            offset, vitals = stay.rows[row]
            for doc in _reading_docs(stay, ward, bed, start_ms + at, vitals, start_ms + admitted):
                yield ReplayEvent(at, "reading", stay.patient_id, doc)
            if row + 1 < len(stay.rows):
                heapq.heappush(heap, (admitted + stay.rows[row + 1][0], _READING, seq, bed, stay, row + 1, admitted))
            else:
                heapq.heappush(heap, (admitted + max(stay.length_ms, offset), _DISCHARGE, seq, bed, stay, 0, admitted))
            seq += 1
        else:
            docs = _outcomes(stay, ward, start_ms + admitted)
            for j, doc in enumerate(docs):
                yield ReplayEvent(at, "outcome", stay.patient_id, doc, stay if j == len(docs) - 1 else None)
            admit(bed, at)
