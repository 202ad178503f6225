"""Exceptions raised by Bedside EWS.

Every error the project raises derives from :class:`EwsError`, so a caller can
catch the whole family in one place::

    EwsError
    ├── InvalidReading        a device message that cannot become a reading
    │   (``code`` names the failure class, e.g. ``invalid_json``, ``unknown_unit``)
    ├── ConfigError           settings or threshold files that do not validate
    ├── StackError            the local Kafka/Redis stack cannot be set up or started
    └── SnapshotError         a model snapshot (file, checkpoint or late-label entry) that
                              cannot be used (defined in :mod:`detectors.models`)
"""

from __future__ import annotations

__all__ = ["ConfigError", "EwsError", "InvalidReading", "StackError"]


class EwsError(Exception):
    """Base class of every error raised by this project."""


class InvalidReading(EwsError):
    """A device message was rejected at ingest.

    Parameters
    ----------
    code
        Short machine-readable failure class, stable across releases; used as the
        dead-letter reason code and as a metric label.
    message
        Human-readable explanation naming the offending field and value.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class ConfigError(EwsError):
    """Configuration that does not validate; the message names field and value."""


class StackError(EwsError):
    """The local stack (Kafka, Redis) cannot be prepared, started or reached."""
