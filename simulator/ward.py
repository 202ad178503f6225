"""A simulated ward, first cut: stable patients and some who deteriorate.

Pure and seeded: the same seed and start time give the same readings. Time is an
argument; nothing here reads a clock or touches the network.

Each bed publishes one set of monitor numerics every ``interval_s`` simulated
seconds. A deteriorating patient follows a sepsis-like course after an onset
time: heart rate, respiration rate and temperature rise, systolic pressure and
SpO2 fall, and confusion appears late. When the course reaches full severity the
ward emits a ``deterioration`` outcome (the ground truth).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from detectors.schemas import Outcome, OutcomeKind, Reading, Vitals

__all__ = ["SimPatient", "Ward"]

_MIN = 60_000


@dataclass
class SimPatient:
    patient_id: str
    bed: str
    hr: float
    rr: float
    spo2: float
    temp: float
    sbp: float
    dbp: float
    deteriorates: bool
    onset_ms: int
    ramp_ms: int
    next_ms: int
    outcome_sent: bool = False

    def severity(self, now_ms: int) -> float:
        if not self.deteriorates or now_ms < self.onset_ms:
            return 0.0
        return min(1.0, (now_ms - self.onset_ms) / self.ramp_ms)


@dataclass
class Ward:
    """``beds`` patients on ``ward``; about ``deteriorating`` of them deteriorate."""

    ward: str
    beds: int
    seed: int
    start_ms: int
    interval_s: float = 60.0
    deteriorating: float = 0.25
    onset_window_min: tuple[float, float] = (10.0, 90.0)
    ramp_min: tuple[float, float] = (90.0, 240.0)
    patients: list[SimPatient] = field(init=False)
    _rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.beds < 1:
            raise ValueError("a ward needs at least one bed")
        self._rng = random.Random(self.seed)
        rng = self._rng
        n_bad = max(1, round(self.beds * self.deteriorating)) if self.deteriorating > 0 else 0
        bad = set(rng.sample(range(self.beds), min(n_bad, self.beds)))
        interval_ms = int(self.interval_s * 1000)
        self.patients = []
        for i in range(self.beds):
            onset = self.start_ms + int(rng.uniform(*self.onset_window_min) * _MIN)
            self.patients.append(
                SimPatient(
                    patient_id=f"{self.ward}-s{self.seed}-b{i + 1:03d}",
                    bed=f"{i + 1:02d}",
                    hr=rng.gauss(76, 8),
                    rr=rng.gauss(15, 1.5),
                    spo2=min(99.0, rng.gauss(97.2, 0.8)),
                    temp=rng.gauss(36.8, 0.25),
                    sbp=rng.gauss(126, 10),
                    dbp=rng.gauss(76, 6),
                    deteriorates=i in bad,
                    onset_ms=onset,
                    ramp_ms=int(rng.uniform(*self.ramp_min) * _MIN),
                    # Spread first readings over one interval so beds do not publish in lockstep.
                    next_ms=self.start_ms + int(rng.uniform(0, interval_ms)),
                )
            )

    def due(self, now_ms: int) -> tuple[list[Reading], list[Outcome]]:
        """Readings (and outcomes) due up to ``now_ms``, in time order per patient."""
        readings: list[Reading] = []
        outcomes: list[Outcome] = []
        step = int(self.interval_s * 1000)
        for p in self.patients:
            while p.next_ms <= now_ms:
                readings.append(self._reading(p, p.next_ms))
                if p.deteriorates and not p.outcome_sent and p.severity(p.next_ms) >= 1.0:
                    p.outcome_sent = True
                    outcomes.append(Outcome(patient_id=p.patient_id, ward=self.ward, kind=OutcomeKind.DETERIORATION,
                                            ts_ms=p.onset_ms + p.ramp_ms, detail="sepsis-like course reached full severity"))
                p.next_ms += step
        readings.sort(key=lambda r: r.ts_ms)
        return readings, outcomes

    def _reading(self, p: SimPatient, ts_ms: int) -> Reading:
        g = self._rng.gauss
        s = p.severity(ts_ms)
        hr = p.hr + 45 * s + g(0, 2.0)
        rr = p.rr + 13 * s + g(0, 0.8)
        temp = p.temp + 2.4 * s + g(0, 0.05)
        sbp = p.sbp - 42 * s + g(0, 3.0)
        dbp = p.dbp - 22 * s + g(0, 2.0)
        spo2 = p.spo2 - 6 * s + g(0, 0.4)
        return Reading(
            patient_id=p.patient_id,
            ward=self.ward,
            bed=p.bed,
            device_id=f"{self.ward}-mon-{p.bed}",
            ts_ms=ts_ms,
            vitals=Vitals(
                heart_rate_bpm=round(_clip(hr, 20, 250), 0),
                resp_rate_per_min=round(_clip(rr, 4, 60), 0),
                spo2_pct=round(_clip(spo2, 50, 100), 0),
                temp_c=round(_clip(temp, 30, 43), 1),
                sbp_mmhg=round(_clip(sbp, 40, 250), 0),
                dbp_mmhg=round(_clip(dbp, 20, 150), 0),
                o2_supplemental=False,
                acvpu="C" if s > 0.85 else "A",
            ),
        )


def _clip(x: float, lo: float, hi: float) -> float:
    return max(lo, min(hi, x))
