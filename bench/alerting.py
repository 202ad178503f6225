"""Alarm burden against sensitivity on a simulated ward (not a test: it prints figures).

    .venv/bin/python bench/alerting.py [--beds 24] [--hours 24] [--seeds 1 2 3]

The same simulated ward (simulator ground truth) goes through the same scoring path
(windows, artefact rules, NEWS2, policy) twice: with the shipped thresholds
(``config/thresholds.yaml``: confirmation 2 ticks over 60 s, hysteresis 1 point for
5 min, critical values at once) and with confirmation and hysteresis switched off
(plain NEWS2 bands). Escalation is off in both, so only raise decisions are counted.

* alerts per patient-day: clinical alert episodes raised / patient-days on the ward;
* sensitivity: deteriorating patients (ground truth ``rapid_response``, ``icu_transfer``
  or ``cardiac_arrest``) with a clinical alert raised before their first such event;
* median lead time of that alert before the event;
* alerts per patient-day on patients who never deteriorated (false-alarm burden).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from detectors.assess import Assessor, ScoringConfig  # noqa: E402
from detectors.ingest import decode_message  # noqa: E402
from detectors.thresholds import Thresholds, parse_thresholds  # noqa: E402
from simulator.ward import DETERIORATING, Ward  # noqa: E402

T0 = 1_800_000_000_000
H = 3_600_000
EVENTS = {"rapid_response", "icu_transfer", "cardiac_arrest"}


def _run(thresholds: Thresholds, beds: int, hours: float, seed: int, monitor_s: float) -> dict[str, float]:
    ward = Ward("bench", beds, seed, T0, monitor_interval_s=monitor_s)
    docs, outcomes = ward.due(T0 + int(hours * H))
    assessor = Assessor(ScoringConfig(thresholds=thresholds), capacity=beds * 4)
    states: dict[str, object] = {}
    first_alert: dict[str, int] = {}
    raises: dict[str, int] = {}
    seen: dict[str, tuple[int, int]] = {}
    for d in docs:
        try:
            _, readings = decode_message(json.dumps(d).encode())
        except Exception:  # noqa: BLE001 - counted by the pipeline as dead letters; none expected here
            continue
        for r in readings:
            res = assessor.assess(states.get(r.patient_id), r)  # type: ignore[arg-type]
            states[r.patient_id] = res.state
            lo, hi = seen.get(r.patient_id, (r.ts_ms, r.ts_ms))
            seen[r.patient_id] = (min(lo, r.ts_ms), max(hi, r.ts_ms))
            for a in res.decisions:
                if a.source != "technical" and a.action.value == "raise":
                    raises[a.patient_id] = raises.get(a.patient_id, 0) + 1
                    first_alert.setdefault(a.patient_id, a.ts_ms)
    event_at: dict[str, int] = {}
    for o in outcomes:
        if o["kind"] in EVENTS:
            event_at.setdefault(str(o["patient_id"]), int(o["ts_ms"]))
    days = {pid: max(hi - lo, 60_000) / (24 * H) for pid, (lo, hi) in seen.items()}
    caught = [pid for pid, t in event_at.items() if pid in first_alert and first_alert[pid] <= t]
    leads = [(event_at[p] - first_alert[p]) / 60_000 for p in caught]
    never = [pid for pid in days if ward.courses.get(pid) not in DETERIORATING]
    return {
        "patients": len(days),
        "patient_days": sum(days.values()),
        "alerts": sum(raises.values()),
        "events": len(event_at),
        "caught": len(caught),
        "lead_min": statistics.median(leads) if leads else float("nan"),
        "stable_alerts": sum(raises.get(p, 0) for p in never),
        "stable_days": sum(days[p] for p in never),
        "readings": len(docs),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--beds", type=int, default=24)
    ap.add_argument("--hours", type=float, default=24.0)
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--monitor-interval", type=float, default=15.0)
    args = ap.parse_args()
    shipped = parse_thresholds((Path(__file__).resolve().parent.parent / "config" / "thresholds.yaml").read_text())
    no_escalation = {"escalation": {"enabled": False}}
    configs = {
        "default (confirmation + hysteresis)": Thresholds.model_validate(
            {**shipped.model_dump(mode="json"), "defaults": {**shipped.defaults.model_dump(mode="json"),
                                                              **no_escalation}}),
        "without confirmation and hysteresis": Thresholds.model_validate({"version": 1, "defaults": {
            "confirmation": {"readings": 1, "seconds": 0}, "hysteresis": {"points": 0, "seconds": 0},
            **no_escalation}}),
    }
    rows = {}
    for name, t in configs.items():
        tot: dict[str, float] = {}
        leads: list[float] = []
        start = time.perf_counter()
        for seed in args.seeds:
            r = _run(t, args.beds, args.hours, seed, args.monitor_interval)
            for k, v in r.items():
                if k != "lead_min":
                    tot[k] = tot.get(k, 0) + v
            leads.append(r["lead_min"])
        rows[name] = tot
        print(f"{name}: {tot['alerts'] / tot['patient_days']:.2f} alerts per patient-day "
              f"(stable patients {tot['stable_alerts'] / max(tot['stable_days'], 1e-9):.2f}); sensitivity "
              f"{tot['caught']:.0f}/{tot['events']:.0f} = {tot['caught'] / max(tot['events'], 1):.2f}; "
              f"median lead per seed {', '.join(f'{x:.0f}' for x in leads)} min; "
              f"{tot['patients']:.0f} patients, {tot['patient_days']:.1f} patient-days, "
              f"{tot['readings']:.0f} readings in {time.perf_counter() - start:.0f} s", flush=True)
    a, b = rows.values()
    print(f"alerting apd_default={a['alerts'] / a['patient_days']:.2f} apd_plain={b['alerts'] / b['patient_days']:.2f} "
          f"sens_default={a['caught'] / max(a['events'], 1):.2f} sens_plain={b['caught'] / max(b['events'], 1):.2f} "
          f"reduction={1 - (a['alerts'] / a['patient_days']) / max(b['alerts'] / b['patient_days'], 1e-9):.2f}")


if __name__ == "__main__":
    main()
