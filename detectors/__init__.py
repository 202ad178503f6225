"""The pure core: schemas, per-patient state, clinical scores and alert policy.

Nothing here performs I/O, reads a clock or the environment; time arrives as an
argument. ``tests/test_structure.py`` enforces the forbidden imports.
"""

from __future__ import annotations

from detectors.assess import Assessment, Assessor, assess
from detectors.errors import ConfigError, EwsError, InvalidReading, StackError
from detectors.ingest import decode_reading
from detectors.patient import PatientState
from detectors.schemas import Alert, Outcome, Priority, Reading

__all__ = [
    "Alert",
    "Assessment",
    "Assessor",
    "ConfigError",
    "EwsError",
    "InvalidReading",
    "Outcome",
    "PatientState",
    "Priority",
    "Reading",
    "StackError",
    "assess",
    "decode_reading",
]
