"""A simulated ward that deteriorates like real patients, with known ground truth.

Pure and seeded: every bed has its own random stream (from the ward seed and the bed
number), so the same seed and start time give the same messages however the caller
slices time. Time is an argument; nothing here reads a clock or touches the network.

Patients
    Baselines drawn by age and sex; circadian variation (peak late afternoon);
    device-rate noise. Vitals are coupled through a few latent states: infection
    (fever or hypothermia, tachycardia, tachypnoea, then hypotension and confusion),
    respiratory failure (tachypnoea, falling SpO2), hypovolaemia (tachycardia, falling
    systolic pressure), atrial fibrillation (fast, irregular ventricular rate).
Trajectories
    ``stable``, ``sepsis``, ``respiratory_failure``, ``haemorrhage``, ``new_af``,
    ``copd`` (chronic hypoxaemia on oxygen with an 88–92 % target: NEWS2 Scale 2) and
    ``recovery`` (sepsis that responds to treatment), each with onset, speed and
    severity drawn from seeded distributions.
Devices
    bedside ``monitor`` (HR, RR, SpO2 at ``monitor_interval_s``, default 1 Hz; a
    15-minute cycle adds NIBP, temperature and the charted oxygen and ACVPU),
    ``wearable`` (HR, RR, SpO2 once a minute), ``spot_check`` (a full set every 4 h).
Artefacts and faults (monitors)
    SpO2 probe-off drops, motion spikes, stuck values, dropouts of minutes,
    duplicated, out-of-order and late messages, and a clock skew per device.
Ground truth
    ``sepsis_onset`` at the onset; ``rapid_response`` when a course reaches 0.8 (on a
    scale where 1 is the most severe course); ``icu_transfer`` at 95 % (the patient then leaves the ward);
    ``cardiac_arrest`` for a severe haemorrhage at full severity; ``discharge`` at the
    end of every stay. A new patient takes a freed bed.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from typing import Any

__all__ = ["DEVICES", "SimPatient", "TRAJECTORIES", "Ward"]

_S = 1000
_MIN = 60 * _S
_H = 60 * _MIN

TRAJECTORIES = ("stable", "sepsis", "respiratory_failure", "haemorrhage", "new_af", "copd", "recovery")
DEFAULT_MIX = {"stable": 0.62, "sepsis": 0.1, "respiratory_failure": 0.06, "haemorrhage": 0.05, "new_af": 0.05,
               "copd": 0.06, "recovery": 0.06}
DEVICES = ("monitor", "wearable", "spot_check")
DEFAULT_DEVICES = {"monitor": 0.6, "wearable": 0.25, "spot_check": 0.15}
DETERIORATING = {"sepsis", "respiratory_failure", "haemorrhage", "new_af", "recovery"}


@dataclass
class Course:
    kind: str
    onset_ms: int
    ramp_ms: int
    severity: float
    recover_ms: int = 0
    hypothermic: bool = False

    def level(self, t: int) -> float:
        if self.kind in ("stable", "copd") or t < self.onset_ms:
            return 0.0
        rise = min(1.0, (t - self.onset_ms) / self.ramp_ms)
        level = self.severity * rise * rise * (3 - 2 * rise)  # smooth start and plateau
        if self.kind == "recovery":
            peak = self.onset_ms + self.ramp_ms
            if t > peak:
                level = self.severity * max(0.0, 1.0 - (t - peak) / self.recover_ms)
        return level


@dataclass
class SimPatient:
    patient_id: str
    bed: str
    age: int
    sex: str
    base: dict[str, float]
    course: Course
    device: str
    device_id: str
    interval_ms: int
    skew_ms: int
    admitted_ms: int
    discharge_ms: int
    rng: random.Random
    next_ms: int
    cycle_next_ms: int = 0
    events: set[str] = field(default_factory=set)
    probe_off_until: int = 0
    stuck_until: int = 0
    stuck_hr: float = 0.0
    dropout_until: int = 0
    next_artefact: dict[str, int] = field(default_factory=dict)
    held: list[tuple[int, dict[str, Any]]] = field(default_factory=list)  # delayed messages (release time, doc)
    swap: dict[str, Any] | None = None  # a message held back to be sent after the next one
    leaving_ms: int | None = None

    @property
    def deteriorates(self) -> bool:
        return self.course.kind in DETERIORATING


# Artefact rates per hour on monitor beds, and message-fault probabilities.
_ARTEFACT_RATE_H = {"probe_off": 1.0, "spike": 3.0, "stuck": 0.3, "dropout": 0.2}
_P_DUPLICATE, _P_SWAP, _P_LATE = 0.005, 0.005, 0.003


@dataclass
class Ward:
    """``beds`` beds on ``ward``; each admission draws a trajectory from ``mix``."""

    ward: str
    beds: int
    seed: int
    start_ms: int
    monitor_interval_s: float = 1.0
    wearable_interval_s: float = 60.0
    spot_check_interval_s: float = 4 * 3600.0
    mix: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_MIX))
    devices: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_DEVICES))
    artefacts: bool = True
    onset_window_min: tuple[float, float] = (10.0, 120.0)
    ramp_min: tuple[float, float] = (90.0, 300.0)
    stay_h: tuple[float, float] = (24.0, 96.0)
    patients: list[SimPatient] = field(init=False)
    admissions: int = field(init=False, default=0)
    #: trajectory of every patient admitted so far (the ground truth for evaluation)
    courses: dict[str, str] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        if self.beds < 1:
            raise ValueError("a ward needs at least one bed")
        for name, weights in (("mix", self.mix), ("devices", self.devices)):
            if not weights or any(w < 0 for w in weights.values()) or sum(weights.values()) <= 0:
                raise ValueError(f"{name} needs non-negative weights with a positive sum")
        if set(self.devices) - set(DEVICES):
            raise ValueError(f"unknown devices {sorted(set(self.devices) - set(DEVICES))}; known: {', '.join(DEVICES)}")
        unknown = set(self.mix) - set(TRAJECTORIES)
        if unknown:
            raise ValueError(f"unknown trajectories {sorted(unknown)}; known: {', '.join(TRAJECTORIES)}")
        self.patients = [self._admit(b, self.start_ms) for b in range(self.beds)]

    # -- admissions ----------------------------------------------------------------

    def _admit(self, bed: int, at_ms: int) -> SimPatient:
        self.admissions += 1
        n = self.admissions
        rng = random.Random(f"{self.seed}:{bed}:{n}")
        kind = rng.choices(list(self.mix), weights=list(self.mix.values()))[0]
        device = rng.choices(list(self.devices), weights=list(self.devices.values()))[0]
        age = int(min(98, max(18, rng.gauss(64, 17))))
        sex = rng.choice(["female", "male"])
        male = sex == "male"
        base = {
            "hr": rng.gauss(74 + (0 if male else 3) + 0.05 * (age - 60), 8),
            "rr": rng.gauss(15, 1.5),
            "spo2": min(99.5, rng.gauss(97.6 - 0.025 * (age - 40), 0.8)),
            "temp": rng.gauss(36.8, 0.22),
            "sbp": rng.gauss(112 + 0.45 * (age - 20) + (5 if male else 0), 11),
            "dbp": rng.gauss(70 + 0.15 * (age - 20), 7),
        }
        if kind == "copd":
            base.update(spo2=rng.uniform(88.5, 91.5), rr=rng.gauss(20, 1.5), hr=base["hr"] + 6)
        onset = at_ms + int(rng.uniform(*self.onset_window_min) * _MIN)
        course = Course(kind, onset, int(rng.uniform(*self.ramp_min) * _MIN),
                        severity=rng.uniform(0.85, 1.0) if kind != "recovery" else rng.uniform(0.75, 0.9),
                        recover_ms=int(rng.uniform(4, 10) * _H), hypothermic=rng.random() < 0.15)
        interval = {"monitor": self.monitor_interval_s, "wearable": self.wearable_interval_s,
                    "spot_check": self.spot_check_interval_s}[device]
        interval_ms = max(1, int(interval * _S))
        p = SimPatient(
            patient_id=f"{self.ward}-s{self.seed}-a{n:05d}",
            bed=f"{bed + 1:02d}",
            age=age,
            sex=sex,
            base=base,
            course=course,
            device=device,
            device_id=f"{self.ward}-{device}-{bed + 1:02d}",
            interval_ms=interval_ms,
            skew_ms=int(rng.gauss(0, 1500)) if device != "spot_check" else 0,
            admitted_ms=at_ms,
            discharge_ms=at_ms + int(rng.uniform(*self.stay_h) * _H),
            rng=rng,
            next_ms=at_ms + int(rng.uniform(0, min(interval_ms, 15 * _MIN))),
        )
        p.cycle_next_ms = p.next_ms
        self.courses[p.patient_id] = kind
        if self.artefacts and device == "monitor":
            p.next_artefact = {k: at_ms + self._wait(rng, r) for k, r in _ARTEFACT_RATE_H.items()}
        return p

    @staticmethod
    def _wait(rng: random.Random, per_hour: float) -> int:
        return int(rng.expovariate(per_hour) * _H)

    # -- physiology ------------------------------------------------------------------

    def vitals(self, p: SimPatient, t: int) -> dict[str, Any]:
        """The patient's true vitals at ``t`` with device noise (no artefacts)."""
        g = p.rng.gauss
        b = p.base
        hours = ((t / _H) % 24.0)
        circ = math.sin(2 * math.pi * (hours - 11.0) / 24.0)  # peak 17:00, trough 05:00
        lvl = p.course.level(t)
        kind = p.course.kind
        inf = lvl if kind in ("sepsis", "recovery") else 0.0
        resp = lvl if kind == "respiratory_failure" else 0.0
        hypo = lvl if kind == "haemorrhage" else 0.0
        shock = max(0.0, inf - 0.4) / 0.6
        fever = (-2.3 if p.course.hypothermic else 2.4) * inf
        temp = b["temp"] + 0.3 * circ + fever + g(0, 0.05)
        hr = (b["hr"] + 5 * circ + 10 * max(0.0, temp - b["temp"]) + 45 * hypo + 25 * resp + 18 * inf
              + g(0, 2.0))
        if kind == "new_af" and t >= p.course.onset_ms:
            hr += 60 * lvl + g(0, 12) * lvl  # fast, irregular ventricular response
        sbp = b["sbp"] + 6 * circ - 55 * hypo - 40 * shock + g(0, 3.0)
        dbp = b["dbp"] + 3 * circ - 30 * hypo - 22 * shock + g(0, 2.0)
        rr = b["rr"] + 14 * resp + 10 * inf + 8 * hypo + g(0, 0.8)
        spo2 = b["spo2"] - 12 * resp - 3 * inf - 2 * hypo + g(0, 0.4)
        confused = inf > 0.85 or resp > 0.9 or hypo > 0.85
        return {
            "heart_rate_bpm": round(_clip(hr, 25, 250)),
            "resp_rate_per_min": round(_clip(rr, 4, 60)),
            "spo2_pct": round(_clip(spo2, 60, 100)),
            "temp_c": round(_clip(temp, 31, 42.5), 1),
            "sbp_mmhg": round(_clip(sbp, 45, 240)),
            "dbp_mmhg": round(_clip(dbp, 25, 140)),
            "o2_supplemental": kind == "copd" or resp > 0.5,
            "acvpu": "C" if confused else "A",
        }

    # -- messages --------------------------------------------------------------------

    def _doc(self, p: SimPatient, t: int, vitals: dict[str, Any]) -> dict[str, Any]:
        return {"patient_id": p.patient_id, "ward": self.ward, "bed": p.bed, "device_id": p.device_id,
                "ts_ms": t + p.skew_ms, "vitals": vitals,
                # a general ward; the simulated stay starts at the hospital admission
                "patient": {"age_years": p.age, "sex": p.sex, "care_unit": "general_ward",
                            "hospital_admit_ts_ms": p.admitted_ms}}

    def _reading(self, p: SimPatient, t: int) -> dict[str, Any] | None:
        v = self.vitals(p, t)
        if p.device == "spot_check":
            return self._doc(p, t, v)
        out = {k: v[k] for k in ("heart_rate_bpm", "resp_rate_per_min", "spo2_pct")}
        if p.device == "monitor" and t >= p.cycle_next_ms:
            # The 15-minute cycle: NIBP, temperature, and what the nurse charted.
            out.update({k: v[k] for k in ("sbp_mmhg", "dbp_mmhg", "temp_c", "o2_supplemental", "acvpu")})
            p.cycle_next_ms = t + 15 * _MIN
        elif p.device == "wearable" and t >= p.cycle_next_ms:
            out.update({k: v[k] for k in ("temp_c", "o2_supplemental", "acvpu")})
            p.cycle_next_ms = t + 60 * _MIN
        if not self.artefacts or p.device != "monitor":
            return self._doc(p, t, out)
        return self._artefacts(p, t, out)

    def _artefacts(self, p: SimPatient, t: int, out: dict[str, Any]) -> dict[str, Any] | None:
        rng, nxt = p.rng, p.next_artefact
        if t >= nxt["dropout"]:
            p.dropout_until = t + int(rng.uniform(1, 10) * _MIN)
            nxt["dropout"] = p.dropout_until + self._wait(rng, _ARTEFACT_RATE_H["dropout"])
        if t < p.dropout_until:
            return None
        if t >= nxt["probe_off"]:
            p.probe_off_until = t + int(rng.uniform(5, 60) * _S)
            nxt["probe_off"] = p.probe_off_until + self._wait(rng, _ARTEFACT_RATE_H["probe_off"])
        if t < p.probe_off_until:
            out["spo2_pct"] = 0
        if t >= nxt["stuck"]:
            p.stuck_until = t + int(rng.uniform(2, 10) * _MIN)
            p.stuck_hr = out["heart_rate_bpm"]
            nxt["stuck"] = p.stuck_until + self._wait(rng, _ARTEFACT_RATE_H["stuck"])
        if t < p.stuck_until:
            out["heart_rate_bpm"] = p.stuck_hr
        if t >= nxt["spike"]:
            out["heart_rate_bpm"] = min(250, out["heart_rate_bpm"] + round(rng.uniform(35, 60)))
            # single-sample spikes: never two in a row
            nxt["spike"] = t + max(self._wait(rng, _ARTEFACT_RATE_H["spike"]), 10 * p.interval_ms)
        return self._doc(p, t, out)

    def _emit(self, p: SimPatient, t: int, doc: dict[str, Any], sink: list[tuple[int, dict[str, Any]]]) -> None:
        """Message faults: duplicates, a swap with the next message, late delivery."""
        if not self.artefacts or p.device != "monitor":
            sink.append((t, doc))
            return
        r = p.rng.random()
        if r < _P_LATE:
            p.held.append((t + int(p.rng.uniform(30, 120) * _S), doc))
            return
        if r < _P_LATE + _P_SWAP and p.swap is None:
            p.swap = doc
            return
        sink.append((t, doc))
        if p.swap is not None:
            sink.append((t, p.swap))  # older message after a newer one
            p.swap = None
        if r > 1 - _P_DUPLICATE:
            sink.append((t, doc))

    def _outcome(self, p: SimPatient, kind: str, t: int, detail: str) -> dict[str, Any]:
        p.events.add(kind)
        return {"patient_id": p.patient_id, "ward": self.ward, "kind": kind, "ts_ms": t, "detail": detail}

    def _truth(self, p: SimPatient, t: int) -> list[dict[str, Any]]:
        c, out = p.course, []
        if c.kind in ("sepsis", "recovery") and "sepsis_onset" not in p.events and t >= c.onset_ms:
            out.append(self._outcome(p, "sepsis_onset", c.onset_ms, f"{c.kind}: onset of infection"))
        if p.deteriorates:
            lvl = c.level(t)
            if lvl >= 0.8 and "rapid_response" not in p.events and t >= c.onset_ms:
                out.append(self._outcome(p, "rapid_response", t, f"{c.kind} at {lvl:.2f} of full severity"))
            if (c.kind != "recovery" and lvl >= 0.95 * c.severity and "icu_transfer" not in p.events
                    and t >= c.onset_ms):
                if c.kind == "haemorrhage" and c.severity > 0.97:
                    out.append(self._outcome(p, "cardiac_arrest", t, "haemorrhage: arrest at full severity"))
                out.append(self._outcome(p, "icu_transfer", t, f"{c.kind}: transferred to intensive care"))
                p.leaving_ms = t + 30 * _MIN
        return out

    def due(self, now_ms: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Messages (JSON-ready reading documents) and outcomes due up to ``now_ms``, in publish order."""
        timed: list[tuple[int, dict[str, Any]]] = []
        outcomes: list[dict[str, Any]] = []
        for b in range(self.beds):
            p = self.patients[b]
            while True:
                leave = p.leaving_ms if p.leaving_ms is not None else p.discharge_ms
                t = min(p.next_ms, leave)
                if t > now_ms:
                    break
                if t == leave:
                    outcomes.extend(self._flush(p, timed))
                    detail = "transferred to intensive care" if p.leaving_ms is not None else "discharged home"
                    outcomes.append(self._outcome(p, "discharge", leave, detail))
                    p = self.patients[b] = self._admit(b, leave)
                    continue
                outcomes.extend(self._truth(p, t))
                doc = self._reading(p, t)
                if doc is not None:
                    self._emit(p, t, doc, timed)
                p.next_ms = t + p.interval_ms
            ready = [h for h in p.held if h[0] <= now_ms]
            if ready:
                p.held = [h for h in p.held if h[0] > now_ms]
                timed.extend(ready)
        timed.sort(key=lambda x: x[0])  # stable: faults inside one bed keep their order
        outcomes.sort(key=lambda o: int(o["ts_ms"]))
        return [doc for _, doc in timed], outcomes

    def _flush(self, p: SimPatient, timed: list[tuple[int, dict[str, Any]]]) -> list[dict[str, Any]]:
        """A leaving patient's held messages are delivered; nothing is lost."""
        timed.extend(p.held)
        p.held = []
        if p.swap is not None:
            timed.append((p.next_ms, p.swap))
            p.swap = None
        return []


def _clip(x: float, lo: float, hi: float) -> float:
    return max(lo, min(hi, x))
