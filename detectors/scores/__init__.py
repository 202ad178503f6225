"""Clinical scores, each a band table citing its guideline, each a :class:`Scorer`."""

from __future__ import annotations

from detectors.scores.base import ScoreInputs, ScoreResult, Scorer
from detectors.scores.mews import Mews, MewsBands
from detectors.scores.news2 import News2, News2Result, news2, risk_class
from detectors.scores.qsofa import Qsofa
from detectors.scores.shock import ShockIndex
from detectors.scores.sirs import Sirs

__all__ = [
    "Mews",
    "MewsBands",
    "News2",
    "News2Result",
    "Qsofa",
    "ScoreInputs",
    "ScoreResult",
    "Scorer",
    "ShockIndex",
    "Sirs",
    "default_scorers",
    "news2",
    "risk_class",
]


def default_scorers(spo2_scale: int = 1) -> tuple[Scorer, ...]:
    """The clinical score set computed on every scoring tick."""
    return (News2(spo2_scale=spo2_scale), Qsofa(), Sirs(), Mews(), ShockIndex())
