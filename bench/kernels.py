"""Benchmark of the per-patient feature path (not a test: it prints figures and ratios).

    .venv/bin/python bench/kernels.py [--patients 1000 10000] [--ticks 20]

Workload: every patient sends one reading of all seven windowed vitals per tick, one
tick per simulated minute (so every reading also closes a minute of the calendar:
the worst case), after six and a half hours of history so that every window is full.
"Whole feature path" = window update of the seven values (artefact rules included)
plus the feature read-out of the patient.

Compared, per reading:
* Numba: the project's kernels, all patients in one call per tick;
* NumPy: the same statistics written with vectorised NumPy over rings (no artefact
  rules), recomputed from the rings at each tick — the usual array approach;
* pure Python: the project's own kernel code run by the interpreter
  (``NUMBA_DISABLE_JIT=1``, in a subprocess, on fewer patients).

``window_ratio`` is the Numba whole-path cost with 6-hour windows (all three minute
horizons 360 min, raw span 6 h) over the cost with 5-minute windows (horizons of
5 min, raw span 5 min). The last line has a fixed shape for comparing runs.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from detectors.windows import VITALS, WindowConfig, WindowStore  # noqa: E402

T0 = 1_800_000_000_000.0
MIN = 60_000.0
V = len(VITALS)
BASE = np.array([80.0, 16.0, 96.0, 36.9, 125.0, 75.0, 92.0])
NOISE = np.array([3.0, 1.0, 0.7, 0.05, 4.0, 3.0, 3.0])


def _values(rng: np.random.Generator, p: int) -> np.ndarray:
    return BASE + rng.standard_normal((p, V)) * NOISE


def numba_path(p: int, history: int, ticks: int, config: WindowConfig | None = None) -> dict[str, float]:
    store = WindowStore(config, capacity=p)
    slots = np.array([store.slot(f"P{i}") for i in range(p)], dtype=np.int64)
    rng = np.random.default_rng(1)
    s_rep = np.repeat(slots, V)
    v_rep = np.tile(np.arange(V, dtype=np.int64), p)
    upd, feat = [], []
    for k in range(history + ticks):
        now = T0 + k * MIN
        vals = _values(rng, p).ravel()
        t = np.full(p * V, now)
        a = time.perf_counter()
        store.update_batch(s_rep, v_rep, t, vals)
        b = time.perf_counter()
        if k < history:
            continue  # history only fills the windows
        store.features_batch(slots, np.full(p, now + 1.0))
        c = time.perf_counter()
        if k >= history:
            upd.append(b - a)
            feat.append(c - b)
    u, f = statistics.median(upd), statistics.median(feat)
    a = time.perf_counter()
    blob = store.dump("P0")
    d = time.perf_counter() - a
    return {"ns_per_update": u / (p * V) * 1e9, "ns_per_reading": (u + f) / p * 1e9,
            "bytes_per_patient": float(store.bytes_per_patient), "blob_bytes": float(len(blob)), "dump_ns": d * 1e9}


def numpy_path(p: int, history: int, ticks: int) -> dict[str, float]:
    """Vectorised NumPy: rings per patient and vital, statistics recomputed from them."""
    raw_cap, minutes, horizons, span = 64, 360, (15, 60, 360), 5 * MIN
    rt = np.full((p, V, raw_cap), np.nan)
    ry = np.full((p, V, raw_cap), np.nan)
    my = np.full((p, V, minutes), np.nan)
    ew = np.full((p, V), np.nan)
    ew_t = np.full((p, V), np.nan)
    last_t = np.full((p, V), np.nan)
    rng = np.random.default_rng(1)
    costs = []

    def stats(t: np.ndarray, y: np.ndarray, mask: np.ndarray) -> list[np.ndarray]:
        n = mask.sum(-1)
        yy = np.where(mask, y, 0.0)
        tt = np.where(mask, t, 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = yy.sum(-1) / n
            dy = np.where(mask, y - mean[..., None], 0.0)
            tm = tt.sum(-1) / n
            dt = np.where(mask, t - tm[..., None], 0.0)
            var = (dy * dy).sum(-1) / (n - 1)
            slope = (dt * dy).sum(-1) / (dt * dt).sum(-1)
        mn = np.where(mask, y, np.inf).min(-1)
        mx = np.where(mask, y, -np.inf).max(-1)
        return [n, mean, np.sqrt(var), mn, mx, slope]

    for k in range(history + ticks):
        now = T0 + k * MIN
        vals = _values(rng, p)
        a = time.perf_counter()
        pos = k % raw_cap
        rt[:, :, pos] = now
        ry[:, :, pos] = vals
        my[:, :, k % minutes] = vals  # one reading per minute: the minute's mean is the value
        alpha = np.where(np.isnan(ew_t), 1.0, 1.0 - np.exp(-(now - ew_t) / (5 * MIN)))
        ew = np.where(np.isnan(ew), vals, ew + alpha * (vals - ew))
        ew_t[:] = now
        last_t[:] = now
        if k < history:
            continue  # history only fills the rings; the statistics are recomputed from them
        feats = stats(rt, ry, (rt > now - span) & ~np.isnan(ry))
        order = (np.arange(minutes) - (k % minutes) - 1) % minutes  # age in minutes of each slot
        mt = -order.astype(float)
        for h in horizons:
            mask = (order < h)[None, None, :] & ~np.isnan(my)
            feats += stats(np.broadcast_to(mt, my.shape), my, mask)
            feats.append(1.0 - mask.sum(-1) / h)
        feats.append((now - last_t) / 1000.0)
        b = time.perf_counter()
        if k >= history:
            costs.append(b - a)
    return {"ns_per_reading": statistics.median(costs) / p * 1e9}


def python_path(p: int, history: int, ticks: int) -> dict[str, float]:
    """The project's kernels interpreted by CPython (NUMBA_DISABLE_JIT=1), in a subprocess."""
    env = {**os.environ, "NUMBA_DISABLE_JIT": "1"}
    code = (f"import json, sys; sys.path.insert(0, {str(Path(__file__).resolve().parent)!r}); import kernels as b; "
            f"print(json.dumps(b.numba_path({p}, {history}, {ticks})))")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--patients", type=int, nargs="+", default=[1000, 10000])
    ap.add_argument("--ticks", type=int, default=20, help="measured ticks after the history")
    ap.add_argument("--history", type=int, default=390, help="minutes of history before measuring")
    ap.add_argument("--python-patients", type=int, default=20)
    args = ap.parse_args()

    numba_path(8, 2, 2)  # compile / load cached kernels
    results: dict[int, dict[str, float]] = {}
    for p in args.patients:
        nb = numba_path(p, args.history, args.ticks)
        npy = numpy_path(p, args.history, args.ticks)
        results[p] = {"numba": nb["ns_per_reading"], "numpy": npy["ns_per_reading"], "upd": nb["ns_per_update"],
                      "bytes": nb["bytes_per_patient"], "blob": nb["blob_bytes"], "dump_ns": nb["dump_ns"]}
        print(f"patients={p:>6}  numba {nb['ns_per_reading']:>10.0f} ns/reading ({nb['ns_per_update']:.0f} ns per "
              f"vital update)  numpy {npy['ns_per_reading']:>10.0f} ns/reading  "
              f"numpy/numba {npy['ns_per_reading'] / nb['ns_per_reading']:.1f}x", flush=True)

    py = python_path(args.python_patients, 30, 5)
    ref = results[min(results)]
    print(f"pure Python (same kernels, NUMBA_DISABLE_JIT=1, {args.python_patients} patients): "
          f"{py['ns_per_reading']:.0f} ns/reading", flush=True)

    short = WindowConfig(raw_span_ms=5 * MIN, horizons_min=(5, 5, 5), horizon_minmax=(True, True, True))
    long = WindowConfig(raw_span_ms=360 * MIN, horizons_min=(360, 360, 360), horizon_minmax=(True, True, True))
    p_ratio = min(results)
    s = numba_path(p_ratio, args.history, args.ticks, short)
    lg = numba_path(p_ratio, args.history, args.ticks, long)
    print(f"window length, {p_ratio} patients: 5 min {s['ns_per_reading']:.0f} ns/reading, "
          f"6 h {lg['ns_per_reading']:.0f} ns/reading", flush=True)

    print(f"bytes of window state per patient: {int(ref['bytes'])}; serialised for the table (zlib, full windows): "
          f"{int(ref['blob'])} bytes in {ref['dump_ns'] / 1000:.0f} us")
    print(
        f"kernels numba_vs_python={py['ns_per_reading'] / ref['numba']:.1f} "
        f"numba_vs_numpy={ref['numpy'] / ref['numba']:.1f} "
        f"window_ratio={lg['ns_per_reading'] / s['ns_per_reading']:.2f} "
        f"ns_per_update={ref['upd']:.0f} bytes_per_patient={int(ref['bytes'])}"
    )


if __name__ == "__main__":
    main()
