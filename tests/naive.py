"""Plain-loop reference implementations, written for clarity, not speed.

The Numba kernels are checked against these on generated sequences.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

NAN = float("nan")


def _stats(ts: Sequence[float], ys: Sequence[float], per_minute: float = 1.0) -> list[float]:
    """Count, mean, sample variance, min, max and least-squares slope (per minute)."""
    n = len(ys)
    if n == 0:
        return [0.0, NAN, NAN, NAN, NAN, NAN]
    mean = sum(ys) / n
    var = sum((y - mean) ** 2 for y in ys) / (n - 1) if n > 1 else NAN
    slope = NAN
    if n > 1:
        ts_min = [(a - ts[0]) * per_minute for a in ts]  # exact differences: equal times give sxx == 0
        tm = sum(ts_min) / n
        sxx = sum((t - tm) ** 2 for t in ts_min)
        if sxx > 0:
            slope = sum((t - tm) * (y - mean) for t, y in zip(ts_min, ys)) / sxx
    return [float(n), mean, var, min(ys), max(ys), slope]


def rolling_window(t: Sequence[float], y: Sequence[float], span_ms: float, cap: int) -> list[list[float]]:
    """After each sample: stats of the last ``cap`` valid samples with t > t_now - span."""
    rows = []
    for n in range(len(t)):
        window = [(t[j], y[j]) for j in range(n + 1) if not math.isnan(y[j]) and t[j] > t[n] - span_ms]
        window = window[-cap:]
        rows.append(_stats([a for a, _ in window], [b for _, b in window], 1 / 60_000.0))
    return rows


def minute_windows(t: Sequence[float], y: Sequence[float], horizons: Sequence[int],
                   with_minmax: Sequence[bool]) -> tuple[list[list[list[float]]], list[list[float]]]:
    """After each sample: per horizon, stats of the closed minutes' means, and the fraction missing."""
    rows: list[list[list[float]]] = []
    missing: list[list[float]] = []
    first = next((math.floor(t[j] / 60_000.0) for j in range(len(t)) if not math.isnan(y[j])), None)
    for n in range(len(t)):
        head = math.floor(t[n] / 60_000.0)
        bins: dict[int, list[float]] = {}
        for j in range(n + 1):
            m = math.floor(t[j] / 60_000.0)
            if not math.isnan(y[j]) and m < head:
                bins.setdefault(m, []).append(y[j])
        per_k, miss_k = [], []
        for h, mm in zip(horizons, with_minmax):
            if first is None or head <= first or not any(not math.isnan(y[j]) for j in range(n + 1)):
                per_k.append([0.0, NAN, NAN, NAN, NAN, NAN])
                miss_k.append(NAN)
                continue
            lo = max(head - h, first)
            ms = sorted(m for m in bins if m >= lo)
            means = [sum(bins[m]) / len(bins[m]) for m in ms]
            row = _stats([float(m) for m in ms], means)
            if not mm:
                row[3] = row[4] = NAN
            per_k.append(row)
            miss_k.append(1.0 - len(ms) / min(h, head - first))
        rows.append(per_k)
        missing.append(miss_k)
    return rows, missing


def ewma(t: Sequence[float], y: Sequence[float], tau_ms: float) -> list[float]:
    out, value, last = [], NAN, NAN
    for a, b in zip(t, y):
        if not math.isnan(b):
            if math.isnan(last):
                value = b
            elif a > last:
                value += (1 - math.exp(-(a - last) / tau_ms)) * (b - value)
            last = a
        out.append(value)
    return out


def staleness(t: Sequence[float], y: Sequence[float]) -> list[float]:
    out, last = [], NAN
    for a, b in zip(t, y):
        if not math.isnan(b):
            last = a
        out.append(a - last)
    return out


def artefact_filter(t: Sequence[float], y: Sequence[float], *, lo: float, hi: float, jump: float,
                    window_ms: float, probe_floor: float | None = None) -> tuple[list[str], list[tuple[float, float]]]:
    """The artefact rules of detectors.windows as a plain state machine.

    Returns the outcome of each reading and the accepted (t, y) in order.
    """
    codes: list[str] = []
    accepted: list[tuple[float, float]] = []
    pending: tuple[float, float] | None = None
    for a, b in zip(t, y):
        if math.isnan(b):
            codes.append("missing")
            continue
        last_t = accepted[-1][0] if accepted else None
        if a == last_t or (pending is not None and a == pending[0]):
            codes.append("duplicate")
            continue
        if (last_t is not None and a < last_t) or (pending is not None and a < pending[0]):
            codes.append("late")
            continue
        if probe_floor is not None and b < probe_floor:
            codes.append("probe_off")
            continue
        if b < lo or b > hi:
            codes.append("implausible")
            continue
        if pending is not None and a - pending[0] > window_ms:
            accepted.append(pending)
            pending = None
        code = "accepted"
        if pending is not None:
            if abs(b - pending[1]) <= jump:
                accepted.append(pending)
                accepted.append((a, b))
                pending = None
                codes.append("accepted")
                continue
            pending = None
            code = "spike"
        if accepted and a - accepted[-1][0] <= window_ms and abs(b - accepted[-1][1]) > jump:
            pending = (a, b)
            codes.append("pending" if code == "accepted" else code)
            continue
        accepted.append((a, b))
        codes.append(code)
    return codes, accepted
