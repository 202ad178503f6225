"""Evaluation metrics against hand-computed values, brute force, and the published figure on the real data."""

from __future__ import annotations

import itertools
import random

import numpy as np
import pytest

from detectors.metrics import (alert_onsets, auprc, auroc, brier, confusion, event1, lead_times, stay_utility,
                               utility)

# A septic stay of 20 hours whose first SepsisLabel is hour 10: t_sepsis = 16.
SEPTIC = [0] * 10 + [1] * 10


def _yes_at(*hours: int, n: int = 20) -> list[int]:
    return [int(h in hours) for h in range(n)]


@pytest.mark.parametrize(("hour", "expected"), [
    (3, -0.05),        # Δ = −13: max(linear −1/6, −0.05)
    (4, 0.0),          # Δ = −12: the linear rise starts at 0
    (7, 0.5),          # Δ = −9
    (10, 1.0),         # Δ = −6: the optimum
    (13, 2 / 3),       # Δ = −3: falling
    (19, 0.0),         # Δ = +3: reward gone
])
def test_utility_of_one_yes_on_a_septic_stay(hour: int, expected: float) -> None:
    # Every other hour is "no": the hours after Δ = −6 that are missed cost their (negative) share.
    missed = sum(-2 / 9 * d - 4 / 3 for d in range(-5, 4) if d != hour - 16)
    assert stay_utility(SEPTIC, _yes_at(hour)) == pytest.approx(expected + missed)


def test_utility_of_missing_is_negative_and_non_septic_costs_per_yes() -> None:
    assert stay_utility(SEPTIC, [0] * 20) == pytest.approx(sum(-2 / 9 * d - 4 / 3 for d in range(-5, 4)))
    assert stay_utility([0] * 8, _yes_at(1, 2, 5, n=8)) == pytest.approx(-0.15)
    with pytest.raises(ValueError, match="3 predictions for 4 rows"):
        stay_utility([0] * 4, [0] * 3)


def test_normalized_utility_is_zero_for_never_and_one_for_best() -> None:
    stays = [SEPTIC, [0] * 30, [1] * 5]   # the last is labelled from its first hour (t_sepsis = 6, past its end)
    never = utility([(y, [0] * len(y)) for y in stays])
    assert never.normalized == 0.0
    best = [_yes_at(*range(4, 20)), [0] * 30, [1] * 5]
    assert utility(list(zip(stays, best))).normalized == pytest.approx(1.0)
    always = utility([(y, [1] * len(y)) for y in stays])
    assert always.normalized < 1.0


def test_auroc_matches_brute_force_with_ties() -> None:
    r = random.Random(4)
    for _ in range(30):
        n = r.randint(2, 40)
        s = [float(r.randint(0, 5)) for _ in range(n)]
        y = [r.random() < 0.3 for _ in range(n)]
        pos = [a for a, b in zip(s, y) if b]
        neg = [a for a, b in zip(s, y) if not b]
        if not pos or not neg:
            assert np.isnan(auroc(s, y))
            continue
        brute = sum((p > q) + 0.5 * (p == q) for p, q in itertools.product(pos, neg)) / (len(pos) * len(neg))
        assert auroc(s, y) == pytest.approx(brute)


def test_average_precision_hand_computed() -> None:
    # ranks: +, −, +, − → precision 1 at recall ½, 2/3 at recall 1
    assert auprc([0.9, 0.8, 0.7, 0.6], [1, 0, 1, 0]) == pytest.approx(0.5 + 0.5 * 2 / 3)
    # a tie between a positive and a negative counts as one threshold
    assert auprc([0.9, 0.5, 0.5], [1, 1, 0]) == pytest.approx(0.5 + 0.5 * 2 / 3)
    assert auprc([0.2, 0.1], [1, 1]) == pytest.approx(1.0)


def test_confusion_event1_brier() -> None:
    c = confusion([1, 1, 0, 0, 1], [1, 0, 0, 1, 1])
    assert (c.tp, c.fp, c.tn, c.fn) == (2, 1, 1, 1)
    assert c.sensitivity == pytest.approx(2 / 3) and c.ppv == pytest.approx(2 / 3) and c.specificity == 0.5
    assert event1([1, 1, 0, 0, 1, 1], [1, 0, 0, 1, 1, 0]) == pytest.approx(min(2 / 3, 2 / 4))
    assert event1([0, 0], [1, 0]) == 0.0
    assert brier([0.0, 1.0, 0.5], [0, 1, 1]) == pytest.approx(0.25 / 3)


def test_lead_time_and_alert_onsets() -> None:
    # first alarm in the window [4, 19] at hour 8 → 16 − 8 = 8 h of warning; an alarm at hour 1 is outside it
    assert lead_times([(SEPTIC, _yes_at(1, 8, 9, 15)), ([0] * 5, [1] * 5), (SEPTIC, [0] * 20)]) == [8.0]
    assert alert_onsets([1, 1, 0, 1, 0, 0, 1]) == 3
    assert alert_onsets([0, 0]) == 0


def test_always_yes_on_the_2019_training_set_scores_the_published_figure() -> None:
    """The data README: on training set A "always yes" scores −0.311 and "never" 0."""
    from simulator.datasets import iter_stays
    from tests.data import archive

    stays = [s.labels for s in iter_stays("physionet2019", archive("physionet2019"))]
    assert len(stays) == 20_336
    assert utility([(y, [1] * len(y)) for y in stays]).normalized == pytest.approx(-0.311, abs=0.0005)
    assert utility([(y, [0] * len(y)) for y in stays]).normalized == 0.0
