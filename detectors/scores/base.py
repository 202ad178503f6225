"""What every scorer takes and returns.

A :class:`ScoreInputs` is one clinical snapshot of a patient (latest value of each
parameter, ``None`` when never measured) plus the names of the inputs that are
stale. Every scorer returns a :class:`ScoreResult` with its total, the points of
each component, and a completeness flag: a score on missing or stale inputs says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

__all__ = ["ScoreInputs", "ScoreResult", "Scorer"]


@dataclass(frozen=True, slots=True)
class ScoreInputs:
    resp_rate_per_min: float | None = None
    spo2_pct: float | None = None
    o2_supplemental: bool | None = None
    sbp_mmhg: float | None = None
    heart_rate_bpm: float | None = None
    acvpu: str | None = None
    gcs_total: int | None = None
    temp_c: float | None = None
    wbc_10e3_per_ul: float | None = None
    band_neutrophils_pct: float | None = None
    paco2_mmhg: float | None = None
    #: input field names whose latest value is older than the staleness limit
    stale: frozenset[str] = field(default_factory=frozenset)

    def consciousness(self) -> str | None:
        """ACVPU, or from GCS when only GCS is known (15 = Alert, < 15 = new Confusion)."""
        if self.acvpu is not None:
            return self.acvpu.strip().upper()
        if self.gcs_total is not None:
            return "A" if self.gcs_total >= 15 else "C"
        return None


@dataclass(frozen=True, slots=True)
class ScoreResult:
    name: str
    total: float
    components: dict[str, float]
    missing: tuple[str, ...] = ()
    stale: tuple[str, ...] = ()
    positive: bool = False
    label: str = ""

    @property
    def complete(self) -> bool:
        return not self.missing and not self.stale


@runtime_checkable
class Scorer(Protocol):
    @property
    def name(self) -> str: ...

    def score(self, inputs: ScoreInputs) -> ScoreResult: ...


def stale_of(inputs: ScoreInputs, used: Mapping[str, tuple[str, ...]]) -> tuple[str, ...]:
    """Components whose inputs include a stale field."""
    return tuple(c for c, fields in used.items() if any(f in inputs.stale for f in fields))
