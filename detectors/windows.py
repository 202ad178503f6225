"""Per-patient window state: every vital's raw window, minute calendar and artefact flags.

State for many patients lives in three struct-of-arrays buffers (float64, int64,
int32) with one slot per patient, so one Numba call can update or read many
patients. A patient's slot serialises to bytes (zlib over the raw buffers) with an
exact round trip, for the Faust table's changelog.

Artefact handling, per reading of one vital, before anything is scored:

* a value outside the vital's plausible range is *implausible* and dropped;
* an SpO2 below the probe-off floor is a *probe-off* drop (flagged with its time,
  never scored);
* a jump larger than the vital's threshold from the last accepted value, within
  ``spike_window_ms`` of it, is held: the next sample confirms it (both accepted)
  or shows it was a single-sample *spike* (dropped and counted). A held sample
  with no follow-up within the window is accepted at the next read-out;
* a sample older than the last accepted one is *late*: counted, not windowed;
* a sample at the same time as the last accepted (or held) one is a *duplicate*
  message: counted, ignored.

Memory is fixed: ``bytes_per_patient`` (about 40 KB at the default layout),
whatever the number of readings.
"""

from __future__ import annotations

import math
import struct
import zlib
from dataclasses import dataclass

import numba as nb
import numpy as np
from numpy.typing import NDArray

from detectors import kernels as kn
from detectors.kernels import (
    C_ACCEPTED,
    C_DUPLICATE,
    C_IMPLAUSIBLE,
    C_LATE,
    C_MISSING,
    C_PROBE_OFF,
    C_SPIKE,
    F_BASE,
    F_EW,
    F_LAST,
    F_PEND,
    F_PROBE,
    I_CNT,
    I_MIN,
    K,
    NF,
    NI,
    NSTAT,
    U_ACCEPTED,
    U_DUPLICATE,
    U_IMPLAUSIBLE,
    U_LATE,
    U_MISSING,
    U_PENDING,
    U_PROBE_OFF,
    U_SPIKE,
)

__all__ = [
    "FEATURE_FIELDS",
    "UPDATE_CODES",
    "feature_fields",
    "VITALS",
    "WindowConfig",
    "WindowStore",
]

#: The windowed vitals, in buffer order (field names of :class:`~detectors.schemas.Vitals`).
VITALS: tuple[str, ...] = (
    "heart_rate_bpm",
    "resp_rate_per_min",
    "spo2_pct",
    "temp_c",
    "sbp_mmhg",
    "dbp_mmhg",
    "map_mmhg",
)
V = len(VITALS)
SPO2 = VITALS.index("spo2_pct")

UPDATE_CODES = {
    U_ACCEPTED: "accepted",
    U_LATE: "late",
    U_PENDING: "pending",
    U_SPIKE: "spike",
    U_IMPLAUSIBLE: "implausible",
    U_PROBE_OFF: "probe_off",
    U_MISSING: "missing",
    U_DUPLICATE: "duplicate",
}

_HEAD_FIELDS = ("latest", "staleness_s", "ewma", "raw_n", "raw_mean", "raw_sd", "raw_min", "raw_max",
                "raw_slope_per_h")
_HORIZON_FIELDS = ("mean", "sd", "min", "max", "slope_per_h", "missing")
_TAIL_FIELDS = ("baseline_mean", "baseline_sd", "baseline_dev", "baseline_z", "pending", "probe_off_age_s")


def feature_fields(horizons: tuple[int, ...] = kn.HORIZONS_MIN) -> tuple[str, ...]:
    """Per-vital feature columns of :meth:`WindowStore.features` (``m60_slope_per_h`` …)."""
    per_h = tuple(f"m{h}_{name}" for h in horizons for name in _HORIZON_FIELDS)
    return _HEAD_FIELDS + per_h + _TAIL_FIELDS


#: Feature columns at the default horizons.
FEATURE_FIELDS: tuple[str, ...] = feature_fields()
NFEAT = len(FEATURE_FIELDS)


@dataclass(frozen=True, slots=True)
class WindowConfig:
    """Window spans and artefact thresholds (one value per vital, in :data:`VITALS` order)."""

    raw_span_ms: float = 5 * 60_000.0
    ewma_tau_ms: float = 5 * 60_000.0
    spike_window_ms: float = 2 * 60_000.0
    baseline_ms: float = 2 * 3_600_000.0
    probe_off_floor_pct: float = 50.0
    horizons_min: tuple[int, int, int] = kn.HORIZONS_MIN
    horizon_minmax: tuple[bool, bool, bool] = kn.HORIZON_MINMAX
    plausible_lo: tuple[float, ...] = (20.0, 2.0, 50.0, 25.0, 40.0, 15.0, 25.0)
    plausible_hi: tuple[float, ...] = (300.0, 80.0, 100.0, 44.0, 300.0, 200.0, 250.0)
    jump: tuple[float, ...] = (30.0, 12.0, 8.0, 1.0, 40.0, 30.0, 30.0)

    def __post_init__(self) -> None:
        for name in ("plausible_lo", "plausible_hi", "jump"):
            if len(getattr(self, name)) != V:
                raise ValueError(f"{name} needs {V} values (one per vital in VITALS order)")
        for span in (self.raw_span_ms, self.ewma_tau_ms, self.spike_window_ms, self.baseline_ms):
            if not span > 0:
                raise ValueError("window spans must be positive")
        kn.horizon_table(self.horizons_min, self.horizon_minmax)  # validates

    def arrays(self) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
        return (np.array(self.plausible_lo), np.array(self.plausible_hi), np.array(self.jump))


# ---------------------------------------------------------------------------------
# Kernels over one vital's buffers
# ---------------------------------------------------------------------------------


@nb.njit(cache=True)
def _init_vital(f: kn.F64, i: kn.I64) -> None:
    for j in range(f.shape[0]):
        f[j] = math.nan
    for j in range(i.shape[0]):
        i[j] = 0
    kn._raw_reset(f, i)
    kn._min_reset(f, i)
    f[F_BASE] = 0.0
    f[F_BASE + 1] = 0.0
    f[F_BASE + 2] = 0.0


@nb.njit(cache=True)
def _accept(f: kn.F64, i: kn.I64, q: NDArray[np.int32], hz: kn.I64, t: float, y: float, span: float,
            tau: float, baseline_ms: float) -> None:
    kn._raw_push(f, i, t, y, span)
    kn._min_add(f, i, q, hz, t, y)
    kn._ewma_update(f, t, y, tau)
    f[F_LAST] = t
    f[F_LAST + 1] = y
    i[I_CNT + C_ACCEPTED] += 1
    first_minute = i[I_MIN + 2]
    if first_minute >= 0 and t < first_minute * 60_000.0 + baseline_ms:
        # Welford over the samples of the first hours: the patient's own baseline.
        n = f[F_BASE] + 1.0
        d = y - f[F_BASE + 1]
        f[F_BASE] = n
        f[F_BASE + 1] += d / n
        f[F_BASE + 2] += d * (y - f[F_BASE + 1])


@nb.njit(cache=True)
def _settle_pending(f: kn.F64, i: kn.I64, q: NDArray[np.int32], hz: kn.I64, now: float, span: float,
                    tau: float, spike_window: float, baseline_ms: float) -> None:
    """A held jump with no contradicting sample within the window is accepted."""
    pt = f[F_PEND]
    if not math.isnan(pt) and now - pt > spike_window:
        py = f[F_PEND + 1]
        f[F_PEND] = math.nan
        f[F_PEND + 1] = math.nan
        _accept(f, i, q, hz, pt, py, span, tau, baseline_ms)


@nb.njit(cache=True)
def _update_vital(f: kn.F64, i: kn.I64, q: NDArray[np.int32], hz: kn.I64, t: float, y: float, span: float, tau: float,
                  spike_window: float, baseline_ms: float, lo: float, hi: float, jump: float,
                  probe_floor: float, is_spo2: bool) -> int:
    if math.isnan(y):
        i[I_CNT + C_MISSING] += 1
        return U_MISSING
    last_t = f[F_LAST]
    pend_t = f[F_PEND]
    if t == last_t or t == pend_t:
        # One vital cannot have two values at one instant: a repeated message. It must
        # not confirm a held jump (a duplicated spike would otherwise confirm itself).
        i[I_CNT + C_DUPLICATE] += 1
        return U_DUPLICATE
    if (not math.isnan(last_t) and t < last_t) or (not math.isnan(pend_t) and t < pend_t):
        i[I_CNT + C_LATE] += 1
        return U_LATE
    if is_spo2 and y < probe_floor:
        i[I_CNT + C_PROBE_OFF] += 1
        f[F_PROBE] = t
        return U_PROBE_OFF
    if y < lo or y > hi:
        i[I_CNT + C_IMPLAUSIBLE] += 1
        return U_IMPLAUSIBLE
    _settle_pending(f, i, q, hz, t, span, tau, spike_window, baseline_ms)
    code = U_ACCEPTED
    if not math.isnan(f[F_PEND]):
        if abs(y - f[F_PEND + 1]) <= jump:
            pt = f[F_PEND]
            py = f[F_PEND + 1]
            f[F_PEND] = math.nan
            f[F_PEND + 1] = math.nan
            _accept(f, i, q, hz, pt, py, span, tau, baseline_ms)  # confirmed: a real change
            _accept(f, i, q, hz, t, y, span, tau, baseline_ms)
            return U_ACCEPTED
        i[I_CNT + C_SPIKE] += 1  # it did not recur: a single-sample spike
        f[F_PEND] = math.nan
        f[F_PEND + 1] = math.nan
        code = U_SPIKE
    last_t = f[F_LAST]
    if not math.isnan(last_t) and t - last_t <= spike_window and abs(y - f[F_LAST + 1]) > jump:
        f[F_PEND] = t
        f[F_PEND + 1] = y
        return U_PENDING if code == U_ACCEPTED else code
    _accept(f, i, q, hz, t, y, span, tau, baseline_ms)
    return code


@nb.njit(cache=True)
def _features_vital(f: kn.F64, i: kn.I64, q: NDArray[np.int32], hz: kn.I64, now: float, span: float,
                    tau: float, spike_window: float, baseline_ms: float, out: kn.F64) -> None:
    _settle_pending(f, i, q, hz, now, span, tau, spike_window, baseline_ms)
    kn._min_advance(f, i, q, hz, int(math.floor(now / 60_000.0)))
    row = np.empty(NSTAT)
    last_t = f[F_LAST]
    out[0] = f[F_LAST + 1]
    out[1] = (now - last_t) / 1000.0 if not math.isnan(last_t) else math.nan
    out[2] = f[F_EW]
    kn._raw_stats(f, i, now, span, row)
    out[3] = row[0]
    out[4] = row[1]
    out[5] = math.sqrt(row[2]) if not math.isnan(row[2]) else math.nan
    out[6] = row[3]
    out[7] = row[4]
    out[8] = row[5] * 60.0
    col = 9
    for k in range(K):
        missing = kn._min_stats(f, i, q, hz, k, row)
        out[col] = row[1]
        out[col + 1] = math.sqrt(row[2]) if not math.isnan(row[2]) else math.nan
        out[col + 2] = row[3]
        out[col + 3] = row[4]
        out[col + 4] = row[5] * 60.0
        out[col + 5] = missing
        col += 6
    bn = f[F_BASE]
    out[col] = f[F_BASE + 1] if bn > 0 else math.nan
    out[col + 1] = math.sqrt(f[F_BASE + 2] / (bn - 1.0)) if bn > 1 else math.nan
    dev = out[0] - out[col] if bn > 0 else math.nan
    out[col + 2] = dev
    sd = out[col + 1]
    out[col + 3] = dev / sd if (bn > 1 and sd > 0) else math.nan
    out[col + 4] = 0.0 if math.isnan(f[F_PEND]) else 1.0
    pr = f[F_PROBE]
    out[col + 5] = (now - pr) / 1000.0 if not math.isnan(pr) else math.nan


# ---------------------------------------------------------------------------------
# Many patients per call
# ---------------------------------------------------------------------------------


@nb.njit(cache=True)
def _update_many(F: kn.F64, I: kn.I64, Q: NDArray[np.int32], hz: kn.I64, slots: kn.I64, vidx: kn.I64, t: kn.F64,
                 y: kn.F64, span: float, tau: float, spike_window: float, baseline_ms: float,
                 lo: kn.F64, hi: kn.F64, jump: kn.F64, probe_floor: float, codes: NDArray[np.int8]) -> None:
    for n in range(slots.shape[0]):
        p = slots[n]
        v = vidx[n]
        codes[n] = _update_vital(F[p, v], I[p, v], Q[p, v], hz, t[n], y[n], span, tau, spike_window, baseline_ms,
                                 lo[v], hi[v], jump[v], probe_floor, v == SPO2)


@nb.njit(cache=True)
def _features_many(F: kn.F64, I: kn.I64, Q: NDArray[np.int32], hz: kn.I64, slots: kn.I64, now: kn.F64, span: float,
                   tau: float, spike_window: float, baseline_ms: float, out: kn.F64) -> None:
    for n in range(slots.shape[0]):
        p = slots[n]
        for v in range(F.shape[1]):
            _features_vital(F[p, v], I[p, v], Q[p, v], hz, now[n], span, tau, spike_window, baseline_ms, out[n, v])


@nb.njit(cache=True)
def _init_slots(F: kn.F64, I: kn.I64, Q: NDArray[np.int32], start: int, stop: int) -> None:
    for p in range(start, stop):
        for v in range(F.shape[1]):
            _init_vital(F[p, v], I[p, v])
            for j in range(Q.shape[2]):
                Q[p, v, j] = 0


_MAGIC = b"EWSW"
_HEADER = struct.Struct("<4sHHHHH")
_VERSION = 1


class WindowStore:
    """Window state of many patients; slots are allocated on first use and reused on evict."""

    def __init__(self, config: WindowConfig | None = None, capacity: int = 64) -> None:
        self.config = config or WindowConfig()
        self._lo, self._hi, self._jump = self.config.arrays()
        self._hz, nq = kn.horizon_table(self.config.horizons_min, self.config.horizon_minmax)
        self.fields = feature_fields(self.config.horizons_min)
        self._slots: dict[str, int] = {}
        self._free: list[int] = []
        self._F = np.empty((0, V, NF))
        self._I = np.empty((0, V, NI), dtype=np.int64)
        self._Q = np.empty((0, V, max(nq, 1)), dtype=np.int32)
        self._grow(max(1, capacity))

    # -- slots -------------------------------------------------------------------

    def _grow(self, capacity: int) -> None:
        old = self._F.shape[0]
        if capacity <= old:
            return
        F = np.empty((capacity, V, NF))
        I = np.empty((capacity, V, NI), dtype=np.int64)
        Q = np.empty((capacity, V, self._Q.shape[2]), dtype=np.int32)
        F[:old], I[:old], Q[:old] = self._F, self._I, self._Q
        _init_slots(F, I, Q, old, capacity)
        self._F, self._I, self._Q = F, I, Q
        self._free.extend(range(capacity - 1, old - 1, -1))

    def slot(self, patient_id: str) -> int:
        s = self._slots.get(patient_id)
        if s is None:
            if not self._free:
                self._grow(2 * self._F.shape[0])
            s = self._free.pop()
            self._slots[patient_id] = s
        return s

    def __contains__(self, patient_id: object) -> bool:
        return patient_id in self._slots

    def __len__(self) -> int:
        return len(self._slots)

    def evict(self, patient_id: str) -> None:
        s = self._slots.pop(patient_id, None)
        if s is not None:
            _init_slots(self._F, self._I, self._Q, s, s + 1)
            self._free.append(s)

    @property
    def bytes_per_patient(self) -> int:
        return int(self._F[0].nbytes + self._I[0].nbytes + self._Q[0].nbytes)

    # -- updates and read-outs ---------------------------------------------------

    def update(self, patient_id: str, vital: str, ts_ms: float, value: float) -> str:
        """One reading of one vital; returns what happened to it (see :data:`UPDATE_CODES`)."""
        codes = self.update_batch(np.array([self.slot(patient_id)]), np.array([VITALS.index(vital)]),
                                  np.array([float(ts_ms)]), np.array([float(value)]))
        return UPDATE_CODES[int(codes[0])]

    def update_batch(self, slots: kn.I64, vidx: kn.I64, ts_ms: kn.F64, values: kn.F64) -> NDArray[np.int8]:
        """Many readings (any patients, any vitals) in one call, applied in order."""
        slots = np.ascontiguousarray(slots, dtype=np.int64)
        vidx = np.ascontiguousarray(vidx, dtype=np.int64)
        ts_ms = np.ascontiguousarray(ts_ms, dtype=np.float64)
        values = np.ascontiguousarray(values, dtype=np.float64)
        n = slots.shape[0]
        if not (vidx.shape == ts_ms.shape == values.shape == (n,)):
            raise ValueError("slots, vidx, ts_ms and values must be 1-D of one length")
        if n and (slots.min() < 0 or slots.max() >= self._F.shape[0]):
            raise ValueError("slot out of range")
        if n and (vidx.min() < 0 or vidx.max() >= V):
            raise ValueError("vital index out of range")
        codes = np.empty(n, dtype=np.int8)
        c = self.config
        _update_many(self._F, self._I, self._Q, self._hz, slots, vidx, ts_ms, values, c.raw_span_ms, c.ewma_tau_ms,
                     c.spike_window_ms, c.baseline_ms, self._lo, self._hi, self._jump, c.probe_off_floor_pct, codes)
        return codes

    def features_batch(self, slots: kn.I64, now_ms: kn.F64) -> kn.F64:
        """Feature rows ``[n, V, len(FEATURE_FIELDS)]`` for the given slots at the given times."""
        slots = np.ascontiguousarray(slots, dtype=np.int64)
        now_ms = np.ascontiguousarray(now_ms, dtype=np.float64)
        if slots.shape != now_ms.shape or slots.ndim != 1:
            raise ValueError("slots and now_ms must be 1-D of one length")
        out = np.empty((slots.shape[0], V, len(self.fields)))
        c = self.config
        _features_many(self._F, self._I, self._Q, self._hz, slots, now_ms, c.raw_span_ms, c.ewma_tau_ms,
                       c.spike_window_ms, c.baseline_ms, out)
        return out

    def features(self, patient_id: str, now_ms: float) -> dict[str, dict[str, float]]:
        """Features of one patient: ``{vital: {feature: value}}`` (NaN = not available)."""
        row = self.features_batch(np.array([self.slot(patient_id)]), np.array([float(now_ms)]))[0]
        return {v: dict(zip(self.fields, map(float, row[j]))) for j, v in enumerate(VITALS)}

    def trend(self, patient_id: str, minutes: int = 60) -> dict[str, list[tuple[int, float]]]:
        """Per-minute means of each vital over the last ``minutes`` closed minutes: ``{vital: [(ts_ms, mean)]}``.

        Read after :meth:`features` (which closes the minutes up to its ``now_ms``).
        """
        s = self.slot(patient_id)
        out: dict[str, list[tuple[int, float]]] = {}
        for j, vital in enumerate(VITALS):
            head = int(self._I[s, j, kn.I_MIN])
            if head < 0:
                continue
            points = []
            for m in range(max(head - minutes, head - kn.MINUTES), head):
                y = float(self._F[s, j, kn.F_MIN_Y + m % kn.MINUTES])
                if not math.isnan(y):
                    points.append((m * 60_000, round(y, 2)))
            if points:
                out[vital] = points
        return out

    def counters(self, patient_id: str) -> dict[str, dict[str, int]]:
        s = self.slot(patient_id)
        names = ("accepted", "late", "spike", "implausible", "probe_off", "missing", "duplicate")
        return {v: dict(zip(names, map(int, self._I[s, j, I_CNT:I_CNT + 7]))) for j, v in enumerate(VITALS)}

    # -- persistence -------------------------------------------------------------

    def dump(self, patient_id: str) -> bytes:
        """The patient's state as bytes; :meth:`load` restores it exactly."""
        s = self.slot(patient_id)
        header = _HEADER.pack(_MAGIC, _VERSION, V, NF, NI, self._Q.shape[2])
        body = self._F[s].tobytes() + self._I[s].tobytes() + self._Q[s].tobytes()
        return header + zlib.compress(body, 1)

    def load(self, patient_id: str, blob: bytes) -> None:
        magic, version, v, nf, ni, nq = _HEADER.unpack_from(blob)
        if magic != _MAGIC or version != _VERSION or (v, nf, ni, nq) != (V, NF, NI, self._Q.shape[2]):
            raise ValueError(f"window state of another layout: {(magic, version, v, nf, ni, nq)}")
        body = zlib.decompress(blob[_HEADER.size:])
        s = self.slot(patient_id)
        a, b = self._F[s].nbytes, self._I[s].nbytes
        if len(body) != a + b + self._Q[s].nbytes:
            raise ValueError("window state is truncated")
        self._F[s] = np.frombuffer(body[:a], dtype=np.float64).reshape(V, NF)
        self._I[s] = np.frombuffer(body[a:a + b], dtype=np.int64).reshape(V, NI)
        self._Q[s] = np.frombuffer(body[a + b:], dtype=np.int32).reshape(V, -1)

    def warm(self) -> None:
        """Compile (or load from cache) every kernel, e.g. at worker start."""
        probe = WindowStore(self.config, capacity=1)
        probe.update("warm", "heart_rate_bpm", 1.8e12, 70.0)
        probe.features("warm", 1.8e12 + 60_000)
