"""Where the shared real data sets are; tests that need them skip locally, fail in CI."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import ROOT

SHARED = ROOT.parent / "shared" / "data"
ARCHIVES = {
    "physionet2019": SHARED / "physionet2019" / "training_setA.tar.gz",
    "physionet2012": SHARED / "physionet2012" / "set-a.tar.gz",
}


def archive(dataset: str) -> Path:
    import os

    path = ARCHIVES[dataset]
    if not path.exists():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{path} is missing: CI must have ../shared/data")
        pytest.skip(f"{path} not found (the shared data sets live in ../shared/data)")
    return path
