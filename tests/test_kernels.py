"""Numba kernels against the plain-loop references, and incremental against batch."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from detectors import kernels as kn
from detectors.windows import VITALS, WindowConfig, WindowStore
from tests import naive

T0 = 1_800_000_000_000.0


@st.composite
def series(draw: st.DrawFn, max_segments: int = 12) -> tuple[np.ndarray, np.ndarray]:
    """Irregular times (duplicates, gaps of hours) and values with NaN runs, constants and spikes."""
    t = [T0 + draw(st.integers(0, 59_999))]
    y: list[float] = []
    level = draw(st.floats(30, 150))
    for _ in range(draw(st.integers(1, max_segments))):
        kind = draw(st.sampled_from(["noise", "constant", "nan", "spike", "gap", "ramp"]))
        n = draw(st.integers(1, 40))
        step = draw(st.sampled_from([0, 1_000, 5_000, 15_000, 60_000, 61_000, 300_000]))
        for j in range(n):
            if kind == "nan":
                y.append(math.nan)
            elif kind == "constant":
                y.append(level)
            elif kind == "spike":
                y.append(level + (80.0 if j == n // 2 else 0.0))
            elif kind == "ramp":
                level += draw(st.floats(-2, 2))
                y.append(level)
            else:
                y.append(level + draw(st.floats(-5, 5)))
            dt = step if kind != "gap" else draw(st.integers(3_600_000, 30_000_000))
            if kind == "noise":
                dt = draw(st.integers(0, 120_000))
            t.append(t[-1] + dt)
    t.pop()
    return np.array(t, dtype=float), np.array(y, dtype=float)


def _close(a: np.ndarray, b: np.ndarray, rtol: float = 1e-7, atol: float = 1e-7) -> None:
    a, b = np.asarray(a, float), np.asarray(b, float)
    assert a.shape == b.shape
    assert np.array_equal(np.isnan(a), np.isnan(b)), np.argwhere(np.isnan(a) != np.isnan(b))[:5]
    np.testing.assert_allclose(a[~np.isnan(a)], b[~np.isnan(b)], rtol=rtol, atol=atol)


SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(series(), st.sampled_from([30_000.0, 300_000.0, 3_600_000.0]))
def test_raw_window_matches_naive_and_batch(ty: tuple[np.ndarray, np.ndarray], span: float) -> None:
    t, y = ty
    inc = kn.rolling_window(t, y, span)
    _close(inc, kn.rolling_window_batch(t, y, span))
    ref = np.array(naive.rolling_window(list(t), list(y), span, kn.RAW_CAP))
    # Variance and slope come from running sums: compare them with a tolerance scaled to the data.
    _close(inc[:, :2], ref[:, :2])
    _close(inc[:, 3:5], ref[:, 3:5])
    _close(inc[:, 2], ref[:, 2], rtol=1e-6, atol=1e-6)
    _close(inc[:, 5], ref[:, 5], rtol=1e-5, atol=1e-6)


HORIZONS = [(kn.HORIZONS_MIN, kn.HORIZON_MINMAX), ((5, 5, 5), (True, True, True)),
            ((1, 90, 360), (True, False, True))]


@SETTINGS
@given(series(), st.sampled_from(HORIZONS))
def test_minute_windows_match_naive_and_batch(ty: tuple[np.ndarray, np.ndarray],
                                              hm: tuple[tuple[int, ...], tuple[bool, ...]]) -> None:
    t, y = ty
    inc, miss = kn.minute_windows(t, y, *hm)
    bat, miss_b = kn.minute_windows_batch(t, y, *hm)
    _close(inc, bat, rtol=1e-6, atol=1e-6)
    _close(miss, miss_b)
    ref, miss_r = naive.minute_windows(list(t), list(y), list(hm[0]), list(hm[1]))
    ref_a = np.array(ref)
    _close(inc[:, :, :2], ref_a[:, :, :2])
    _close(inc[:, :, 3:5], ref_a[:, :, 3:5])
    _close(inc[:, :, 2], ref_a[:, :, 2], rtol=1e-6, atol=1e-6)
    _close(inc[:, :, 5], ref_a[:, :, 5], rtol=1e-5, atol=1e-6)
    _close(miss, np.array(miss_r))


@SETTINGS
@given(series(), st.sampled_from([1_000.0, 60_000.0, 600_000.0]))
def test_ewma_and_staleness_match_naive(ty: tuple[np.ndarray, np.ndarray], tau: float) -> None:
    t, y = ty
    _close(kn.ewma(t, y, tau), naive.ewma(list(t), list(y), tau), rtol=1e-12, atol=1e-9)
    _close(kn.staleness(t, y), naive.staleness(list(t), list(y)), rtol=0, atol=0)


@SETTINGS
@given(series(), st.sampled_from(list(range(len(VITALS)))))
def test_artefact_rules_match_naive(ty: tuple[np.ndarray, np.ndarray], v: int) -> None:
    t, y = ty
    cfg = WindowConfig()
    store = WindowStore(cfg, capacity=1)
    codes = [store.update("p", VITALS[v], a, b) for a, b in zip(t, y)]
    want, accepted = naive.artefact_filter(
        list(t), list(y), lo=cfg.plausible_lo[v], hi=cfg.plausible_hi[v], jump=cfg.jump[v],
        window_ms=cfg.spike_window_ms, probe_floor=cfg.probe_off_floor_pct if VITALS[v] == "spo2_pct" else None)
    assert codes == want
    counts = store.counters("p")[VITALS[v]]
    assert counts["accepted"] == len(accepted)
    assert counts["spike"] == want.count("spike")


def test_window_cost_does_not_depend_on_span() -> None:
    """O(1): the same pushes against a 5-minute and a 6-hour span touch the same work."""
    t = T0 + np.arange(5000) * 1000.0
    y = 80 + np.sin(np.arange(5000) / 50.0)
    short = kn.rolling_window(t, y, 300_000.0)
    long = kn.rolling_window(t, y, 6 * 3_600_000.0)
    # With a 64-sample ring both windows hold the last 64 samples at 1 Hz: identical results.
    np.testing.assert_allclose(short, long)


def test_wrappers_check_inputs() -> None:
    with pytest.raises(ValueError, match="equal length"):
        kn.rolling_window(np.zeros(3), np.zeros(2), 1.0)
    with pytest.raises(ValueError, match="non-decreasing"):
        kn.rolling_window(np.array([2.0, 1.0]), np.zeros(2), 1.0)
    with pytest.raises(ValueError, match="positive"):
        kn.rolling_window(np.zeros(2), np.zeros(2), 0.0)
    with pytest.raises(ValueError, match="positive"):
        kn.ewma(np.zeros(2), np.zeros(2), -1.0)
    with pytest.raises(ValueError, match="finite"):
        kn.staleness(np.array([np.nan]), np.zeros(1))


def test_a_long_gap_resets_the_calendar_without_cost() -> None:
    t = np.array([T0, T0 + 60_000, T0 + 30 * 3_600_000])
    y = np.array([80.0, 90.0, 100.0])
    stats, missing = kn.minute_windows(t, y)
    assert stats[-1, 2, 0] == 0  # nothing within 6 h of the last sample
    assert missing[-1, 2] == 1.0
