"""The clinician threshold file: layering, expiry, and errors that name the field and the value."""

from __future__ import annotations

from pathlib import Path

import pytest

from detectors.errors import ConfigError
from detectors.thresholds import parse_thresholds
from tests.conftest import ROOT

SHIPPED = (ROOT / "config" / "thresholds.yaml").read_text()


def test_the_shipped_file_is_valid_and_matches_the_model_defaults() -> None:
    from detectors.thresholds import Thresholds

    shipped = parse_thresholds(SHIPPED)
    assert shipped.defaults == Thresholds(version=1).defaults


def test_ward_and_patient_layers_win_field_by_field_until_expiry() -> None:
    t = parse_thresholds("""
version: 1
defaults: {news2: {medium_at: 5, high_at: 7}}
wards:
  ward-b: {news2: {medium_at: 4, high_at: 7}, technical: {stale_minutes: 15}}
patients:
  P1:
    spo2_scale: 2
    escalation: {enabled: false}
    author: dr.osei
    reason: palliative care, COPD target 88-92
    expires: 2030-01-01T00:00:00+00:00
""")
    base = t.effective("ward-a", "P9", now_ms=0)
    assert (base.news2.medium_at, base.spo2_scale, base.escalation.enabled, base.overrides) == (5, 1, True, ())
    ward = t.effective("ward-b", "P9", now_ms=0)
    assert ward.news2.medium_at == 4 and ward.technical.stale_minutes == 15
    p = t.effective("ward-b", "P1", now_ms=0)
    assert (p.news2.medium_at, p.spo2_scale, p.escalation.enabled) == (4, 2, False)
    assert any("dr.osei" in o and "palliative" in o for o in p.overrides)
    expired = t.effective("ward-b", "P1", now_ms=1_900_000_000_000)  # after 2030-01-01
    assert expired.spo2_scale == 1 and expired.escalation.enabled


@pytest.mark.parametrize(
    ("text", "mentions"),
    [
        ("version: 1\ndefaults: {news2: {medium_at: 8, high_at: 7}}", "medium_at (8) must be below high_at (7)"),
        ("version: 1\ndefaults: {confirmation: {readings: 0}}", "defaults.confirmation.readings = 0"),
        ("version: 1\ndefaults: {snooze: {max_minutes: 600}}", "defaults.snooze.max_minutes = 600"),
        ("version: 1\ndefaults: {news2: {medum_at: 5}}", "defaults.news2.medum_at"),
        ("version: 1\npatients: {P1: {spo2_scale: 2, author: x, reason: copd}}", "patients.P1.expires"),
        ("version: 1\npatients: {P1: {spo2_scale: 3, author: x, reason: copd, expires: 2030-01-01T00:00:00Z}}",
         "patients.P1.spo2_scale = 3"),
        ("version: 1\npatients: {P1: {spo2_scale: 2, author: x, reason: copd, expires: '2030-01-01T00:00:00'}}",
         "UTC offset"),
        ("version: 2", "version = 2"),
        ("version: 1\nescalation: [", "not valid YAML"),
        ("- 1\n- 2", "mapping"),
        ("version: 1\ndefaults: {escalation: {unacknowledged_minutes: {urgent: 5}}}", "urgent"),
    ],
)
def test_bad_files_name_the_field_and_value(text: str, mentions: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_thresholds(text, "thresholds.yaml")
    assert mentions in str(info.value), str(info.value)


def test_loader_reports_an_unreadable_file(tmp_path: Path) -> None:
    from stream.thresholds_watch import load_thresholds

    with pytest.raises(ConfigError, match="cannot read"):
        load_thresholds(tmp_path / "missing.yaml")
