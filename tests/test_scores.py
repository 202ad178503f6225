"""qSOFA, SIRS, MEWS and shock index at every band edge, and one conformance test for every scorer."""

from __future__ import annotations

import copy
import math
import pickle
from dataclasses import replace

import pytest

from detectors.scores import Mews, MewsBands, News2, Qsofa, ScoreInputs, Scorer, ShockIndex, Sirs, default_scorers
from detectors.scores._bands import Band, BandTable
from detectors.scores.shock import shock_class

NORMAL = ScoreInputs(resp_rate_per_min=16, spo2_pct=97, o2_supplemental=False, sbp_mmhg=120,
                     heart_rate_bpm=70, acvpu="A", temp_c=37.0, gcs_total=15,
                     wbc_10e3_per_ul=7.0, band_neutrophils_pct=2.0, paco2_mmhg=40.0)


def comp(scorer: Scorer, **kw: object) -> dict[str, float]:
    return scorer.score(replace(NORMAL, **kw)).components  # type: ignore[arg-type]


# -- qSOFA ---------------------------------------------------------------------------

@pytest.mark.parametrize(("rr", "pt"), [(21, 0), (21.4, 0), (21.5, 1), (22, 1), (30, 1)])
def test_qsofa_respiration_edge(rr: float, pt: int) -> None:
    assert comp(Qsofa(), resp_rate_per_min=rr)["resp_rate"] == pt


@pytest.mark.parametrize(("sbp", "pt"), [(100, 1), (100.4, 1), (100.5, 0), (101, 0), (80, 1)])
def test_qsofa_systolic_edge(sbp: float, pt: int) -> None:
    assert comp(Qsofa(), sbp_mmhg=sbp)["sbp"] == pt


@pytest.mark.parametrize(("acvpu", "gcs", "pt"),
                         [("A", 15, 0), ("A", 14, 1), ("C", 15, 1), ("V", None, 1), (None, 14, 1), (None, 15, 0)])
def test_qsofa_mentation(acvpu: str | None, gcs: int | None, pt: int) -> None:
    assert comp(Qsofa(), acvpu=acvpu, gcs_total=gcs)["mentation"] == pt


def test_qsofa_positive_at_two() -> None:
    assert not Qsofa().score(replace(NORMAL, resp_rate_per_min=22)).positive
    r = Qsofa().score(replace(NORMAL, resp_rate_per_min=22, sbp_mmhg=100))
    assert r.total == 2 and r.positive


# -- SIRS ----------------------------------------------------------------------------

@pytest.mark.parametrize(("t", "pt"), [(35.9, 1), (35.95, 0), (36.0, 0), (38.0, 0), (38.04, 0), (38.05, 1), (38.1, 1)])
def test_sirs_temperature_edges(t: float, pt: int) -> None:
    assert comp(Sirs(), temp_c=t)["temperature"] == pt


@pytest.mark.parametrize(("hr", "pt"), [(90, 0), (90.4, 0), (90.5, 1), (91, 1)])
def test_sirs_heart_rate_edge(hr: float, pt: int) -> None:
    assert comp(Sirs(), heart_rate_bpm=hr)["heart_rate"] == pt


@pytest.mark.parametrize(("rr", "paco2", "pt"), [(20, 40.0, 0), (21, 40.0, 1), (20, 32.0, 0), (20, 31.9, 1),
                                                 (None, 31.0, 1), (21, None, 1)])
def test_sirs_respiration_or_paco2(rr: float | None, paco2: float | None, pt: int) -> None:
    assert comp(Sirs(), resp_rate_per_min=rr, paco2_mmhg=paco2)["respiration"] == pt


@pytest.mark.parametrize(("wbc", "bands", "pt"), [(12.0, 2.0, 0), (12.1, 2.0, 1), (4.0, 2.0, 0), (3.9, 2.0, 1),
                                                  (8.0, 10.0, 0), (8.0, 10.5, 1), (None, 11.0, 1)])
def test_sirs_white_cells(wbc: float | None, bands: float | None, pt: int) -> None:
    assert comp(Sirs(), wbc_10e3_per_ul=wbc, band_neutrophils_pct=bands)["wbc"] == pt


def test_sirs_without_labs_is_incomplete() -> None:
    r = Sirs().score(replace(NORMAL, wbc_10e3_per_ul=None, band_neutrophils_pct=None, temp_c=38.5, heart_rate_bpm=95))
    assert r.total == 2 and r.positive and r.missing == ("wbc",) and not r.complete


# -- MEWS ----------------------------------------------------------------------------

@pytest.mark.parametrize(("sbp", "pt"), [(70, 3), (71, 2), (80, 2), (81, 1), (100, 1), (101, 0), (199, 0), (200, 2)])
def test_mews_systolic_edges(sbp: float, pt: int) -> None:
    assert comp(Mews(), sbp_mmhg=sbp)["sbp"] == pt


@pytest.mark.parametrize(("hr", "pt"), [(40, 2), (41, 1), (50, 1), (51, 0), (100, 0), (101, 1), (110, 1), (111, 2),
                                        (129, 2), (130, 3)])
def test_mews_heart_rate_edges(hr: float, pt: int) -> None:
    assert comp(Mews(), heart_rate_bpm=hr)["heart_rate"] == pt


@pytest.mark.parametrize(("rr", "pt"), [(8, 2), (8.4, 2), (8.5, 0), (9, 0), (14, 0), (15, 1), (20, 1), (21, 2),
                                        (29, 2), (30, 3)])
def test_mews_respiration_edges(rr: float, pt: int) -> None:
    assert comp(Mews(), resp_rate_per_min=rr)["resp_rate"] == pt


@pytest.mark.parametrize(("t", "pt"), [(34.9, 2), (34.95, 0), (35.0, 0), (38.4, 0), (38.44, 0), (38.45, 2), (38.5, 2)])
def test_mews_temperature_edges(t: float, pt: int) -> None:
    assert comp(Mews(), temp_c=t)["temperature"] == pt


@pytest.mark.parametrize(("level", "pt"), [("A", 0), ("V", 1), ("P", 2), ("U", 3), ("C", 1)])
def test_mews_avpu(level: str, pt: int) -> None:
    assert comp(Mews(), acvpu=level)["avpu"] == pt


def test_mews_bands_are_configurable() -> None:
    local = MewsBands(heart_rate=BandTable("local HR", (Band(None, 110, 0), Band(111, None, 3))), high_at=3)
    r = Mews(bands=local).score(replace(NORMAL, heart_rate_bpm=111))
    assert r.components["heart_rate"] == 3 and r.positive
    assert Mews().score(replace(NORMAL, heart_rate_bpm=111)).components["heart_rate"] == 2


# -- shock index ---------------------------------------------------------------------

@pytest.mark.parametrize(("index", "label"), [(0.49, "low"), (0.5, "normal"), (0.7, "normal"), (0.71, "elevated"),
                                              (0.9, "elevated"), (0.91, "early_shock"), (0.99, "early_shock"),
                                              (1.0, "high"), (1.5, "high")])
def test_shock_index_classes(index: float, label: str) -> None:
    assert shock_class(index) == label


def test_shock_index_value_and_missing() -> None:
    r = ShockIndex().score(replace(NORMAL, heart_rate_bpm=91, sbp_mmhg=100))
    assert r.total == 0.91 and r.positive and r.label == "early_shock"
    assert not ShockIndex().score(replace(NORMAL, heart_rate_bpm=90, sbp_mmhg=100)).positive
    gone = ShockIndex().score(replace(NORMAL, sbp_mmhg=None))
    assert math.isnan(gone.total) and gone.missing == ("sbp",) and not gone.complete


# -- every scorer, the same checks ---------------------------------------------------

SCORERS = [*default_scorers(), News2(spo2_scale=2)]
IDS = [f"{s.name}{getattr(s, 'spo2_scale', '')}" for s in SCORERS]
SICK = replace(NORMAL, resp_rate_per_min=26, sbp_mmhg=88, heart_rate_bpm=128, temp_c=39.2, acvpu="V",
               spo2_pct=90, o2_supplemental=True, wbc_10e3_per_ul=15.0)


@pytest.mark.parametrize("scorer", SCORERS, ids=IDS)
def test_conformance(scorer: Scorer) -> None:
    assert isinstance(scorer, Scorer)
    fresh = copy.deepcopy(scorer)
    normal, sick = scorer.score(NORMAL), scorer.score(SICK)
    # deterministic, and a fresh clone scores the same
    assert scorer.score(SICK) == sick == fresh.score(SICK)
    # the scorer and its results survive pickling (state must survive a restart)
    again = pickle.loads(pickle.dumps(scorer))
    assert again.score(SICK) == sick
    assert pickle.loads(pickle.dumps(sick)) == sick or math.isnan(sick.total)
    # complete inputs: complete result; a sick patient scores higher and is positive
    assert normal.complete and sick.complete
    assert sick.total > normal.total and sick.positive and not normal.positive
    # missing inputs are tolerated and reported
    empty = scorer.score(ScoreInputs())
    assert not empty.complete and empty.missing
    # stale inputs are reported and make the result incomplete
    stale = scorer.score(replace(SICK, stale=frozenset({"sbp_mmhg", "heart_rate_bpm", "resp_rate_per_min", "temp_c"})))
    assert stale.stale and not stale.complete and stale.total == sick.total
