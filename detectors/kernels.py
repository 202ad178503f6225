"""Numba kernels for rolling vital-sign statistics, in pairs.

Each private ``@njit`` kernel (``_raw_push``) has a public, checked wrapper
(``rolling_window``) that validates dtype, shape and bounds before calling it.
NaN means "missing" everywhere; ``fastmath`` is never used (it assumes no NaN).

Two windows are kept per vital (see :mod:`detectors.windows` for the layout):

*raw window*
    the last ``RAW_CAP`` accepted samples no older than ``span_ms``, at device
    rate and irregular times. Running sums give count, mean, variance and the
    least-squares slope; monotonic deques give min and max. Every update is O(1)
    amortised, whatever the span: each sample enters and leaves the sums and
    each deque once.
*minute calendar*
    one slot per minute (the minute's mean, NaN if none) over ``MINUTES``
    minutes, with ``K`` horizons (15 min, 1 h, 6 h) each keeping its own running
    sums (and deques where it has min/max). Closing a minute costs O(K).

Sums are kept relative to an anchor (the first sample in the window) to avoid
cancellation, and are recomputed from the ring after every ``capacity``
removals, which bounds floating-point drift at O(1) amortised cost.

Time is in epoch milliseconds (float64); slopes are per minute.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np
from numpy.typing import NDArray

__all__ = [
    "HORIZONS_MIN",
    "HORIZON_MINMAX",
    "horizon_table",
    "MINUTES",
    "RAW_CAP",
    "STAT_FIELDS",
    "ewma",
    "minute_windows",
    "minute_windows_batch",
    "rolling_window",
    "rolling_window_batch",
    "staleness",
]

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]

# ---------------------------------------------------------------------------------
# Layout of one vital's state: three flat buffers (float64, int64, int32).
# ---------------------------------------------------------------------------------
RAW_CAP = 64  #: raw samples kept per vital
MINUTES = 360  #: minute slots kept per vital (6 h)
HORIZONS_MIN = (15, 60, 360)  #: default minute-window horizons
HORIZON_MINMAX = (True, True, False)  #: which default horizons keep min/max deques
K = 3  #: horizons per vital (their lengths are configurable, up to MINUTES)
MIN_PER_MS = 1.0 / 60_000.0

# float64 buffer
F_RAW_T = 0
F_RAW_Y = F_RAW_T + RAW_CAP
F_RAW_ACC = F_RAW_Y + RAW_CAP  # n, st, sy, stt, sty, syy, t0, y0
F_MIN_Y = F_RAW_ACC + 8
F_OPEN = F_MIN_Y + MINUTES  # sum, count of the open minute
F_HACC = F_OPEN + 2  # K × (n, st, sy, stt, sty, syy, t0, y0)
F_EW = F_HACC + 8 * K  # ewma value, ewma time
F_LAST = F_EW + 2  # last accepted t, y
F_PEND = F_LAST + 2  # pending (unconfirmed jump) t, y
F_BASE = F_PEND + 2  # baseline n, mean, m2
F_PROBE = F_BASE + 3  # last probe-off time
NF = F_PROBE + 1

# int64 buffer
I_RAW = 0  # head, tail, minf, minb, maxf, maxb, removals, _
I_RAW_MINQ = I_RAW + 8
I_RAW_MAXQ = I_RAW_MINQ + RAW_CAP
I_MIN = I_RAW_MAXQ + RAW_CAP  # head minute, open minute, first minute, _
I_HQ = I_MIN + 4  # K × (minf, minb, maxf, maxb)
I_HREM = I_HQ + 4 * K  # K removals since resync
I_CNT = I_HREM + K  # accepted, late, spike, implausible, probe_off, missing, duplicate
NI = I_CNT + 7

# int32 buffer: minute deques, min then max, per horizon; its size depends on the
# horizons, described by a table ``hz[k] = (horizon minutes, deque capacity, offset)``.


def horizon_table(horizons: tuple[int, ...] = HORIZONS_MIN,
                  minmax: tuple[bool, ...] = HORIZON_MINMAX) -> tuple[I64, int]:
    """``(hz, nq)``: the horizon table the minute kernels take, and the int32 buffer size."""
    if len(horizons) != K or len(minmax) != K:
        raise ValueError(f"need exactly {K} horizons")
    if any(not 1 <= h <= MINUTES for h in horizons):
        raise ValueError(f"horizons must be 1..{MINUTES} minutes, got {horizons}")
    hz = np.zeros((K, 3), dtype=np.int64)
    off = 0
    for k, (h, mm) in enumerate(zip(horizons, minmax)):
        cap = h if mm else 0
        hz[k] = (h, cap, off)
        off += 2 * cap
    return hz, off


DEFAULT_HZ, NQ = horizon_table()

#: Columns of a statistics row.
STAT_FIELDS = ("n", "mean", "var", "min", "max", "slope_per_min")
NSTAT = 6

# Counter slots
C_ACCEPTED, C_LATE, C_SPIKE, C_IMPLAUSIBLE, C_PROBE_OFF, C_MISSING, C_DUPLICATE = range(7)

# Outcome codes of one reading update
U_ACCEPTED = 0
U_LATE = 1
U_PENDING = 2  # held: a jump waits for the next sample to confirm it
U_SPIKE = 3  # the held sample was a single-sample spike; now accepted current
U_IMPLAUSIBLE = 4
U_PROBE_OFF = 5
U_MISSING = 6
U_DUPLICATE = 7  # same time as the last accepted or held sample: a repeated message


# ---------------------------------------------------------------------------------
# Running sums (relative to an anchor)
# ---------------------------------------------------------------------------------


@nb.njit(cache=True)
def _acc_reset(acc: F64, o: int) -> None:
    for j in range(8):
        acc[o + j] = 0.0
    acc[o + 6] = math.nan
    acc[o + 7] = math.nan


@nb.njit(cache=True)
def _acc_add(acc: F64, o: int, t: float, y: float, sign: float, scale: float) -> None:
    """Add (sign=1) or remove (sign=-1) one point; time differences are scaled to minutes."""
    if math.isnan(acc[o + 6]):
        acc[o + 6] = t
        acc[o + 7] = y
    dt = (t - acc[o + 6]) * scale
    dy = y - acc[o + 7]
    acc[o + 0] += sign
    acc[o + 1] += sign * dt
    acc[o + 2] += sign * dy
    acc[o + 3] += sign * dt * dt
    acc[o + 4] += sign * dt * dy
    acc[o + 5] += sign * dy * dy


@nb.njit(cache=True)
def _acc_stats(acc: F64, o: int, out: F64) -> None:
    n = acc[o + 0]
    out[0] = n
    if n < 0.5:
        out[1] = math.nan
        out[2] = math.nan
        out[5] = math.nan
        return
    st = acc[o + 1]
    sy = acc[o + 2]
    out[1] = acc[o + 7] + sy / n
    if n < 1.5:
        out[2] = math.nan
        out[5] = math.nan
        return
    var = (acc[o + 5] - sy * sy / n) / (n - 1.0)
    out[2] = var if var > 0.0 else 0.0
    den = n * acc[o + 3] - st * st
    if den > 1e-12 * max(1.0, n * acc[o + 3]):
        out[5] = (n * acc[o + 4] - st * sy) / den
    else:
        out[5] = math.nan


# ---------------------------------------------------------------------------------
# Raw window: ring of (t, y), running sums, monotonic deques of sequence numbers
# ---------------------------------------------------------------------------------


@nb.njit(cache=True)
def _raw_reset(f: F64, i: I64) -> None:
    for j in range(8):
        i[I_RAW + j] = 0
    _acc_reset(f, F_RAW_ACC)


@nb.njit(cache=True)
def _raw_resync(f: F64, i: I64) -> None:
    _acc_reset(f, F_RAW_ACC)
    for s in range(i[I_RAW + 1], i[I_RAW + 0]):
        p = s % RAW_CAP
        _acc_add(f, F_RAW_ACC, f[F_RAW_T + p], f[F_RAW_Y + p], 1.0, MIN_PER_MS)
    i[I_RAW + 6] = 0


@nb.njit(cache=True)
def _raw_pop(f: F64, i: I64) -> None:
    s = i[I_RAW + 1]
    p = s % RAW_CAP
    _acc_add(f, F_RAW_ACC, f[F_RAW_T + p], f[F_RAW_Y + p], -1.0, MIN_PER_MS)
    i[I_RAW + 1] = s + 1
    if i[I_RAW + 2] < i[I_RAW + 3] and i[I_RAW_MINQ + i[I_RAW + 2] % RAW_CAP] == s:
        i[I_RAW + 2] += 1
    if i[I_RAW + 4] < i[I_RAW + 5] and i[I_RAW_MAXQ + i[I_RAW + 4] % RAW_CAP] == s:
        i[I_RAW + 4] += 1
    if i[I_RAW + 1] == i[I_RAW + 0]:
        _acc_reset(f, F_RAW_ACC)  # empty: start afresh, no drift carried over
        i[I_RAW + 6] = 0
        return
    i[I_RAW + 6] += 1
    if i[I_RAW + 6] >= RAW_CAP:
        _raw_resync(f, i)


@nb.njit(cache=True)
def _raw_expire(f: F64, i: I64, now: float, span: float) -> None:
    cutoff = now - span
    while i[I_RAW + 1] < i[I_RAW + 0] and f[F_RAW_T + i[I_RAW + 1] % RAW_CAP] <= cutoff:
        _raw_pop(f, i)


@nb.njit(cache=True)
def _raw_push(f: F64, i: I64, t: float, y: float, span: float) -> None:
    """Push one accepted sample (t ≥ every earlier t, y finite)."""
    _raw_expire(f, i, t, span)
    if i[I_RAW + 0] - i[I_RAW + 1] >= RAW_CAP:
        _raw_pop(f, i)
    s = i[I_RAW + 0]
    p = s % RAW_CAP
    f[F_RAW_T + p] = t
    f[F_RAW_Y + p] = y
    _acc_add(f, F_RAW_ACC, t, y, 1.0, MIN_PER_MS)
    b = i[I_RAW + 3]
    while b > i[I_RAW + 2] and f[F_RAW_Y + i[I_RAW_MINQ + (b - 1) % RAW_CAP] % RAW_CAP] >= y:
        b -= 1
    i[I_RAW_MINQ + b % RAW_CAP] = s
    i[I_RAW + 3] = b + 1
    b = i[I_RAW + 5]
    while b > i[I_RAW + 4] and f[F_RAW_Y + i[I_RAW_MAXQ + (b - 1) % RAW_CAP] % RAW_CAP] <= y:
        b -= 1
    i[I_RAW_MAXQ + b % RAW_CAP] = s
    i[I_RAW + 5] = b + 1
    i[I_RAW + 0] = s + 1


@nb.njit(cache=True)
def _raw_stats(f: F64, i: I64, now: float, span: float, out: F64) -> None:
    _raw_expire(f, i, now, span)
    _acc_stats(f, F_RAW_ACC, out)
    if i[I_RAW + 2] < i[I_RAW + 3]:
        out[3] = f[F_RAW_Y + i[I_RAW_MINQ + i[I_RAW + 2] % RAW_CAP] % RAW_CAP]
        out[4] = f[F_RAW_Y + i[I_RAW_MAXQ + i[I_RAW + 4] % RAW_CAP] % RAW_CAP]
    else:
        out[3] = math.nan
        out[4] = math.nan


# ---------------------------------------------------------------------------------
# Minute calendar: one slot per minute, K horizons of running sums and deques
# ---------------------------------------------------------------------------------


@nb.njit(cache=True)
def _min_reset(f: F64, i: I64) -> None:
    for j in range(MINUTES):
        f[F_MIN_Y + j] = math.nan
    f[F_OPEN] = 0.0
    f[F_OPEN + 1] = 0.0
    i[I_MIN + 0] = -1  # head minute: none closed yet
    i[I_MIN + 1] = -1  # open minute: none
    i[I_MIN + 2] = -1  # first minute observed
    for k in range(K):
        _acc_reset(f, F_HACC + 8 * k)
        for j in range(4):
            i[I_HQ + 4 * k + j] = 0
        i[I_HREM + k] = 0


@nb.njit(cache=True)
def _hq_slot(hz: I64, k: int, which: int, pos: int) -> int:
    cap = hz[k, 1]
    return int(hz[k, 2] + which * cap + pos % cap)


@nb.njit(cache=True)
def _min_resync(f: F64, i: I64, hz: I64, k: int) -> None:
    o = F_HACC + 8 * k
    _acc_reset(f, o)
    head = i[I_MIN + 0]
    for m in range(max(head - hz[k, 0], i[I_MIN + 2]), head):
        v = f[F_MIN_Y + m % MINUTES]
        if not math.isnan(v):
            _acc_add(f, o, float(m), v, 1.0, 1.0)
    i[I_HREM + k] = 0


@nb.njit(cache=True)
def _min_push(f: F64, i: I64, q: NDArray[np.int32], hz: I64, m: int, v: float) -> None:
    """Close minute ``m`` (== head) with mean ``v`` (NaN if it had no sample)."""
    slot = m % MINUTES
    for k in range(K):
        leaving = m - hz[k, 0]
        o = F_HACC + 8 * k
        if leaving >= i[I_MIN + 2] and leaving >= 0:
            old = f[F_MIN_Y + leaving % MINUTES]
            if not math.isnan(old):
                _acc_add(f, o, float(leaving), old, -1.0, 1.0)
                if hz[k, 1] > 0:
                    b = I_HQ + 4 * k
                    if i[b] < i[b + 1] and q[_hq_slot(hz, k, 0, i[b])] == leaving:
                        i[b] += 1
                    if i[b + 2] < i[b + 3] and q[_hq_slot(hz, k, 1, i[b + 2])] == leaving:
                        i[b + 2] += 1
                if f[o] < 0.5:
                    _acc_reset(f, o)
                    i[I_HREM + k] = 0
                else:
                    i[I_HREM + k] += 1
    f[F_MIN_Y + slot] = v
    i[I_MIN + 0] = m + 1
    for k in range(K):
        if i[I_HREM + k] >= hz[k, 0]:
            _min_resync(f, i, hz, k)
        elif not math.isnan(v):
            _acc_add(f, F_HACC + 8 * k, float(m), v, 1.0, 1.0)
        if not math.isnan(v) and hz[k, 1] > 0:
            b = I_HQ + 4 * k
            e = i[b + 1]
            while e > i[b] and f[F_MIN_Y + q[_hq_slot(hz, k, 0, e - 1)] % MINUTES] >= v:
                e -= 1
            q[_hq_slot(hz, k, 0, e)] = m
            i[b + 1] = e + 1
            e = i[b + 3]
            while e > i[b + 2] and f[F_MIN_Y + q[_hq_slot(hz, k, 1, e - 1)] % MINUTES] <= v:
                e -= 1
            q[_hq_slot(hz, k, 1, e)] = m
            i[b + 3] = e + 1


@nb.njit(cache=True)
def _min_clear_to(f: F64, i: I64, minute: int) -> None:
    """Forget everything (a gap longer than the calendar) and restart at ``minute``."""
    first = i[I_MIN + 2]
    _min_reset(f, i)
    i[I_MIN + 2] = first
    i[I_MIN + 0] = minute


@nb.njit(cache=True)
def _min_advance(f: F64, i: I64, q: NDArray[np.int32], hz: I64, minute: int) -> None:
    """Close every minute before ``minute`` (the open one with its mean, gaps as NaN)."""
    head = i[I_MIN + 0]
    if head < 0 or minute <= head:
        return
    open_m = i[I_MIN + 1]
    if minute - head > MINUTES + 1:
        mean = f[F_OPEN] / f[F_OPEN + 1] if open_m >= 0 and f[F_OPEN + 1] > 0 else math.nan
        if open_m >= minute - MINUTES:
            _min_clear_to(f, i, open_m)
            _min_push(f, i, q, hz, open_m, mean)
            head = open_m + 1
        else:
            _min_clear_to(f, i, minute)  # every slot in reach is empty: nothing to push
            head = minute
        i[I_MIN + 1] = -1
        f[F_OPEN] = 0.0
        f[F_OPEN + 1] = 0.0
        open_m = -1
    for m in range(head, minute):
        if m == open_m and f[F_OPEN + 1] > 0:
            _min_push(f, i, q, hz, m, f[F_OPEN] / f[F_OPEN + 1])
        else:
            _min_push(f, i, q, hz, m, math.nan)
    if open_m >= 0 and open_m < minute:
        i[I_MIN + 1] = -1
        f[F_OPEN] = 0.0
        f[F_OPEN + 1] = 0.0


@nb.njit(cache=True)
def _min_add(f: F64, i: I64, q: NDArray[np.int32], hz: I64, t: float, y: float) -> bool:
    """Add a sample to its minute. False if that minute is already closed (late)."""
    minute = int(math.floor(t / 60_000.0))
    if i[I_MIN + 0] < 0:
        i[I_MIN + 0] = minute
        if i[I_MIN + 2] < 0:
            i[I_MIN + 2] = minute
    if minute < i[I_MIN + 0]:
        return False
    _min_advance(f, i, q, hz, minute)
    i[I_MIN + 1] = minute
    f[F_OPEN] += y
    f[F_OPEN + 1] += 1.0
    return True


@nb.njit(cache=True)
def _min_stats(f: F64, i: I64, q: NDArray[np.int32], hz: I64, k: int, out: F64) -> float:
    """Stats of horizon ``k`` over closed minutes; returns the fraction of minutes missing."""
    _acc_stats(f, F_HACC + 8 * k, out)
    b = I_HQ + 4 * k
    if hz[k, 1] > 0 and i[b] < i[b + 1]:
        out[3] = f[F_MIN_Y + q[_hq_slot(hz, k, 0, i[b])] % MINUTES]
        out[4] = f[F_MIN_Y + q[_hq_slot(hz, k, 1, i[b + 2])] % MINUTES]
    else:
        out[3] = math.nan
        out[4] = math.nan
    head = i[I_MIN + 0]
    first = i[I_MIN + 2]
    if head < 0 or first < 0 or head <= first:
        return math.nan
    span = min(hz[k, 0], head - first)
    return float(1.0 - out[0] / span)


# ---------------------------------------------------------------------------------
# EWMA (time-aware) and staleness
# ---------------------------------------------------------------------------------


@nb.njit(cache=True)
def _ewma_update(f: F64, t: float, y: float, tau: float) -> None:
    if math.isnan(f[F_EW + 1]):
        f[F_EW] = y
    else:
        dt = t - f[F_EW + 1]
        if dt > 0.0:
            a = 1.0 - math.exp(-dt / tau)
            f[F_EW] += a * (y - f[F_EW])
    f[F_EW + 1] = t


# ---------------------------------------------------------------------------------
# Sequence drivers (replay, tests, benchmark) and their checked public wrappers
# ---------------------------------------------------------------------------------


@nb.njit(cache=True)
def _new_state(nq: int) -> tuple[F64, I64, NDArray[np.int32]]:
    f = np.full(NF, math.nan)
    i = np.zeros(NI, dtype=np.int64)
    q = np.zeros(max(nq, 1), dtype=np.int32)
    _raw_reset(f, i)
    _min_reset(f, i)
    return f, i, q


@nb.njit(cache=True)
def _rolling_window(t: F64, y: F64, span: float, out: F64) -> None:
    f, i, q = _new_state(0)
    row = np.empty(NSTAT)
    for n in range(t.shape[0]):
        if not math.isnan(y[n]):
            _raw_push(f, i, t[n], y[n], span)
        _raw_stats(f, i, t[n], span, row)
        for j in range(NSTAT):
            out[n, j] = row[j]


@nb.njit(cache=True)
def _rolling_window_batch(t: F64, y: F64, span: float, cap: int, out: F64) -> None:
    """Same statistics by prefix sums over the valid samples (a different algorithm)."""
    n_all = t.shape[0]
    idx = np.empty(n_all, dtype=np.int64)
    nv = 0
    for n in range(n_all):
        if not math.isnan(y[n]):
            idx[nv] = n
            nv += 1
    lo = 0
    hi = 0  # valid samples [lo, hi) are candidates
    for n in range(n_all):
        while hi < nv and idx[hi] <= n:
            hi += 1
        while lo < hi and (t[idx[lo]] <= t[n] - span or hi - lo > cap):
            lo += 1
        cnt = hi - lo
        out[n, 0] = cnt
        if cnt == 0:
            for j in range(1, NSTAT):
                out[n, j] = math.nan
            continue
        t0 = t[idx[lo]]
        y0 = y[idx[lo]]
        st = 0.0
        sy = 0.0
        stt = 0.0
        sty = 0.0
        syy = 0.0
        mn = math.inf
        mx = -math.inf
        for j in range(lo, hi):
            dt = (t[idx[j]] - t0) * MIN_PER_MS
            dy = y[idx[j]] - y0
            st += dt
            sy += dy
            stt += dt * dt
            sty += dt * dy
            syy += dy * dy
            mn = min(mn, y[idx[j]])
            mx = max(mx, y[idx[j]])
        out[n, 1] = y0 + sy / cnt
        out[n, 3] = mn
        out[n, 4] = mx
        if cnt < 2:
            out[n, 2] = math.nan
            out[n, 5] = math.nan
            continue
        var = (syy - sy * sy / cnt) / (cnt - 1.0)
        out[n, 2] = var if var > 0.0 else 0.0
        den = cnt * stt - st * st
        out[n, 5] = (cnt * sty - st * sy) / den if den > 1e-12 * max(1.0, cnt * stt) else math.nan


@nb.njit(cache=True)
def _minute_windows(t: F64, y: F64, hz: I64, nq: int, out: F64, missing: F64) -> None:
    f, i, q = _new_state(nq)
    row = np.empty(NSTAT)
    for n in range(t.shape[0]):
        if not math.isnan(y[n]):
            _min_add(f, i, q, hz, t[n], y[n])
        _min_advance(f, i, q, hz, int(math.floor(t[n] / 60_000.0)))
        for k in range(K):
            missing[n, k] = _min_stats(f, i, q, hz, k, row)
            for j in range(NSTAT):
                out[n, k, j] = row[j]


@nb.njit(cache=True)
def _ewma(t: F64, y: F64, tau: float, out: F64) -> None:
    f, i, q = _new_state(0)
    for n in range(t.shape[0]):
        if not math.isnan(y[n]):
            _ewma_update(f, t[n], y[n], tau)
        out[n] = f[F_EW]


@nb.njit(cache=True)
def _staleness(t: F64, y: F64, out: F64) -> None:
    last = math.nan
    for n in range(t.shape[0]):
        if not math.isnan(y[n]):
            last = t[n]
        out[n] = t[n] - last


def _check_series(t: F64, y: F64) -> tuple[F64, F64]:
    t = np.ascontiguousarray(t, dtype=np.float64)
    y = np.ascontiguousarray(y, dtype=np.float64)
    if t.ndim != 1 or y.ndim != 1 or t.shape != y.shape:
        raise ValueError(f"t and y must be 1-D of equal length, got {t.shape} and {y.shape}")
    if not np.all(np.isfinite(t)):
        raise ValueError("timestamps must be finite")
    if t.size > 1 and np.any(np.diff(t) < 0):
        raise ValueError("timestamps must be non-decreasing (late samples are the caller's to drop)")
    return t, y


def rolling_window(t: F64, y: F64, span_ms: float) -> F64:
    """Incremental raw-window statistics after each sample: rows of :data:`STAT_FIELDS`.

    The window holds the last ``RAW_CAP`` valid samples with ``t > t_now - span_ms``.

    >>> import numpy as np
    >>> out = rolling_window(np.array([0.0, 60e3, 120e3]), np.array([70.0, 72.0, 74.0]), 300e3)
    >>> out[-1].round(3).tolist()
    [3.0, 72.0, 4.0, 70.0, 74.0, 2.0]
    """
    t, y = _check_series(t, y)
    if not span_ms > 0:
        raise ValueError(f"span_ms must be positive, got {span_ms}")
    out = np.empty((t.size, NSTAT))
    _rolling_window(t, y, float(span_ms), out)
    return out


def rolling_window_batch(t: F64, y: F64, span_ms: float) -> F64:
    """The same as :func:`rolling_window`, computed per row from scratch (for replay and checks)."""
    t, y = _check_series(t, y)
    if not span_ms > 0:
        raise ValueError(f"span_ms must be positive, got {span_ms}")
    out = np.empty((t.size, NSTAT))
    _rolling_window_batch(t, y, float(span_ms), RAW_CAP, out)
    return out


def minute_windows(t: F64, y: F64, horizons: tuple[int, ...] = HORIZONS_MIN,
                   minmax: tuple[bool, ...] = HORIZON_MINMAX) -> tuple[F64, F64]:
    """Minute-calendar statistics per horizon after each sample.

    Returns ``(stats[n, K, 6], fraction_missing[n, K])`` over the closed minutes
    of each horizon (min and max are NaN where ``minmax`` is False).
    """
    t, y = _check_series(t, y)
    hz, nq = horizon_table(horizons, minmax)
    out = np.empty((t.size, K, NSTAT))
    missing = np.empty((t.size, K))
    _minute_windows(t, y, hz, nq, out, missing)
    return out, missing


def minute_windows_batch(t: F64, y: F64, horizons: tuple[int, ...] = HORIZONS_MIN,
                         minmax: tuple[bool, ...] = HORIZON_MINMAX) -> tuple[F64, F64]:
    """:func:`minute_windows` from scratch with NumPy: minute means, then each horizon."""
    t, y = _check_series(t, y)
    horizon_table(horizons, minmax)  # validates
    n = t.size
    out = np.full((n, K, NSTAT), np.nan)
    missing = np.full((n, K), np.nan)
    valid = ~np.isnan(y)
    if not valid.any():
        out[:, :, 0] = 0.0
        return out, missing
    minutes = np.floor(t / 60_000.0).astype(np.int64)
    first = int(minutes[valid][0])
    for row in range(n):
        head = int(minutes[row])
        seen = valid[: row + 1] & (minutes[: row + 1] < head)
        if head <= first:
            out[row, :, 0] = 0.0
            continue
        ms = minutes[: row + 1][seen]
        ys = y[: row + 1][seen]
        for k in range(K):
            h = int(horizons[k])
            lo = max(head - h, first)
            sel = ms >= lo
            um = np.unique(ms[sel])
            means = np.array([ys[sel][ms[sel] == m].mean() for m in um])
            cnt = um.size
            out[row, k, 0] = cnt
            missing[row, k] = 1.0 - cnt / min(h, head - first)
            if cnt:
                out[row, k, 1] = means.mean()
                if minmax[k]:
                    out[row, k, 3] = means.min()
                    out[row, k, 4] = means.max()
            if cnt >= 2:
                out[row, k, 2] = means.var(ddof=1)
                tm = (um - head).astype(np.float64)
                den = cnt * (tm * tm).sum() - tm.sum() ** 2
                if den > 0:
                    out[row, k, 5] = (cnt * (tm * means).sum() - tm.sum() * means.sum()) / den
    return out, missing


def ewma(t: F64, y: F64, tau_ms: float) -> F64:
    """Time-aware EWMA: weight ``1 - exp(-Δt/τ)`` for each new valid sample.

    >>> import numpy as np
    >>> ewma(np.array([0.0, 1000.0]), np.array([10.0, 20.0]), 1000.0).round(4).tolist()
    [10.0, 16.3212]
    """
    t, y = _check_series(t, y)
    if not tau_ms > 0:
        raise ValueError(f"tau_ms must be positive, got {tau_ms}")
    out = np.empty(t.size)
    _ewma(t, y, float(tau_ms), out)
    return out


def staleness(t: F64, y: F64) -> F64:
    """Milliseconds since the last valid value at each sample (NaN before the first)."""
    t, y = _check_series(t, y)
    out = np.empty(t.size)
    _staleness(t, y, out)
    return out
