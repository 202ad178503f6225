"""The one Protocol every alert sink implements, and an in-memory sink for tests."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from detectors.schemas import Alert

__all__ = ["AlertSink", "ListSink"]


@runtime_checkable
class AlertSink(Protocol):
    async def write(self, alert: Alert) -> bool:
        """Record one decision; True when new, False when its ``decision_id`` was seen."""
        ...


class ListSink:
    """Keeps decisions in a list, de-duplicated by ``decision_id`` like the real sink."""

    def __init__(self) -> None:
        self.alerts: list[Alert] = []
        self._seen: set[str] = set()

    async def write(self, alert: Alert) -> bool:
        if alert.decision_id in self._seen:
            return False
        self._seen.add(alert.decision_id)
        self.alerts.append(alert)
        return True
