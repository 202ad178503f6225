"""Clinical scores, each a band table citing its guideline."""

from __future__ import annotations

from detectors.scores.news2 import News2Result, news2, risk_class

__all__ = ["News2Result", "news2", "risk_class"]
