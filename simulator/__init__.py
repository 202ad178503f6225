"""Simulated wards that publish device readings and ground-truth outcomes."""

from __future__ import annotations

from simulator.ward import SimPatient, Ward

__all__ = ["SimPatient", "Ward"]
