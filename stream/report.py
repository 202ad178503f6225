"""The evaluation report: figures, a subgroup table, plots and the challenges' own files.

Predictors, side by side: the online model (its probability; yes at ``alert_at``) and
the clinical rules NEWS2 ≥ 5, NEWS2 ≥ 7, SIRS ≥ 2 and qSOFA ≥ 2 (their totals rank for
AUROC; the rule is the yes/no). Units of evaluation follow each challenge:

* ``physionet2019``: every hour of every stay, against ``SepsisLabel``; normalized
  utility; lead time = hours from the first alarm in the rewarded window (12 h before
  to 3 h after t_sepsis) to t_sepsis, over septic stays detected there.
* ``physionet2012``: one prediction per stay at 48 h against in-hospital death;
  event 1 = min(sensitivity, PPV). No lead time: the data set gives no time of death.

Alerts per patient-day count alarms *started* (an hourly prediction turning yes) per
24 h of stay; for the model the report also gives the alerts its alert policy raised
(with hysteresis), which is what a ward would see.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from detectors.metrics import alert_onsets, auprc, auroc, brier, confusion, event1, lead_times, utility
from stream.evaluate import StayRecord

__all__ = ["RULES", "build_report", "write_report"]

#: name → (series, threshold); the model's threshold is its operating point
RULES: dict[str, tuple[str, float]] = {"NEWS2 ≥ 5": ("news2", 5), "NEWS2 ≥ 7": ("news2", 7),
                                       "SIRS ≥ 2": ("sirs", 2), "qSOFA ≥ 2": ("qsofa", 2)}
MODEL = "online model"


def _predictors(alert_at: float) -> dict[str, tuple[str, float]]:
    return {MODEL: ("model", alert_at), **RULES}


def _finite(x: float) -> float | None:
    return None if x is None or not math.isfinite(x) else round(float(x), 4)


def _figures(dataset: str, stays: list[StayRecord], series: str, at: float, is_model: bool) -> dict[str, Any]:
    days = sum(s.hours for s in stays) / 24.0
    onsets = sum(alert_onsets(s.series[series] >= at) for s in stays)
    out: dict[str, Any] = {"stays": len(stays), "alerts_per_patient_day": _finite(onsets / days) if days else None}
    if dataset == "physionet2019":
        y = np.concatenate([s.labels for s in stays]) if stays else np.zeros(0)
        x = np.concatenate([s.series[series] for s in stays]) if stays else np.zeros(0)
        pairs = [(s.labels, s.series[series] >= at) for s in stays]
        u = utility(pairs)
        leads = lead_times(pairs)
        septic = sum(1 for s in stays if any(s.labels))
        c = confusion(x >= at, y)
        out.update({
            "normalized_utility": _finite(u.normalized), "utility_observed": _finite(u.observed),
            "utility_best": _finite(u.best), "utility_inaction": _finite(u.inaction),
            "auroc": _finite(auroc(x, y)), "auprc": _finite(auprc(x, y)),
            "median_lead_h": _finite(float(np.median(leads))) if leads else None,
            "septic_stays": septic, "septic_detected_in_window": len(leads),
            "lead_times_h": leads, "positive_hours": int(y.sum()), "hours": int(len(y)),
        })
    else:
        y = np.array([bool(s.died) for s in stays])
        x = np.array([s.series[series][-1] for s in stays]) if stays else np.zeros(0)
        c = confusion(x >= at, y)
        out.update({"event1": _finite(event1(x >= at, y)), "auroc": _finite(auroc(x, y)),
                    "auprc": _finite(auprc(x, y)), "median_lead_h": None, "deaths": int(y.sum())})
    out.update({"threshold": at, "sensitivity": _finite(c.sensitivity), "specificity": _finite(c.specificity),
                "ppv": _finite(c.ppv), "tp": c.tp, "fp": c.fp, "tn": c.tn, "fn": c.fn})
    if is_model:
        out["brier"] = _finite(brier(x, y))
        base = float(np.mean(y)) if len(y) else float("nan")
        # The Brier score of always predicting the prevalence: a model must beat it to be informative.
        out["brier_prevalence"] = _finite(base * (1 - base))
        out["policy_alerts_per_patient_day"] = _finite(sum(s.model_alerts for s in stays) / days) if days else None
    return out


def _age_band(age: float | None) -> str:
    if age is None:
        return "unknown"
    return "< 45" if age < 45 else "45–64" if age < 65 else "65–79" if age < 80 else "≥ 80"


_GROUPS: dict[str, Callable[[StayRecord], str]] = {
    "age": lambda s: _age_band(s.age),
    "sex": lambda s: s.sex or "unknown",
    "unit": lambda s: s.unit or "unknown",
}


def build_report(dataset: str, stays: list[StayRecord], alert_at: float, meta: dict[str, Any]) -> dict[str, Any]:
    predictors = {name: _figures(dataset, stays, series, at, name == MODEL)
                  for name, (series, at) in _predictors(alert_at).items()}
    main = "normalized_utility" if dataset == "physionet2019" else "event1"
    subgroups: list[dict[str, Any]] = []
    for group, key in _GROUPS.items():
        values = sorted({key(s) for s in stays})
        for v in values:
            members = [s for s in stays if key(s) == v]
            m = _figures(dataset, members, "model", alert_at, True)
            n = _figures(dataset, members, "news2", 5, False)
            subgroups.append({"group": group, "value": v, "stays": len(members),
                              "positives": m.get("septic_stays", m.get("deaths")),
                              "model_" + main: m[main], "model_auroc": m["auroc"],
                              "model_sensitivity": m["sensitivity"],
                              "model_alerts_per_patient_day": m["alerts_per_patient_day"],
                              "news2_5_" + main: n[main]})
    return {"dataset": dataset, "primary_figure": main, "meta": meta, "predictors": predictors,
            "subgroups": subgroups}


def _fmt(x: Any) -> str:
    if x is None:
        return "–"
    if isinstance(x, float):
        return f"{x:.3f}"
    return str(x)


def _markdown(report: dict[str, Any]) -> str:
    ds, main = report["dataset"], report["primary_figure"]
    meta = report["meta"]
    lines = [f"# Evaluation — {ds}", ""]
    lines += [f"- {k.replace('_', ' ')}: {_fmt(v)}" for k, v in meta.items() if not isinstance(v, (list, dict))]
    lines += ["", "All figures are prequential: every prediction was made before the model learned "
              "from that stay's outcome.", ""]
    cols = [main, "auroc", "auprc", "sensitivity", "specificity", "ppv", "median_lead_h", "alerts_per_patient_day",
            "brier", "brier_prevalence"]
    lines += ["| predictor | " + " | ".join(c.replace("_", " ") for c in cols) + " |",
              "|---" * (len(cols) + 1) + "|"]
    for name, f in report["predictors"].items():
        lines.append(f"| {name} | " + " | ".join(_fmt(f.get(c)) for c in cols) + " |")
    m = report["predictors"][MODEL]
    lines += ["", f"Operating threshold of the model: {m['threshold']:.4f}. Alerts per patient-day count "
              "alarms started (an hourly prediction turning yes); the model's alert policy, with the "
              "threshold file's hysteresis, raised "
              f"{_fmt(m.get('policy_alerts_per_patient_day'))} model alerts per patient-day."]
    if ds == "physionet2019":
        lines.append(f"Septic stays detected in the rewarded window: {m['septic_detected_in_window']} of "
                     f"{m['septic_stays']}. Lead time is measured from the first alarm inside that window "
                     "(12 h before to 3 h after t_sepsis), so 12 h means \"already alarming when the window "
                     "opened\" (12 h or more): the median is censored at 12.")
    lines += ["", "## Subgroups", "", f"| group | value | stays | positives | model {main} | model AUROC | "
              f"model sensitivity | model alerts/patient-day | NEWS2 ≥ 5 {main} |", "|---" * 9 + "|"]
    for g in report["subgroups"]:
        lines.append(f"| {g['group']} | {g['value']} | {g['stays']} | {_fmt(g['positives'])} | "
                     f"{_fmt(g['model_' + main])} | {_fmt(g['model_auroc'])} | {_fmt(g['model_sensitivity'])} | "
                     f"{_fmt(g['model_alerts_per_patient_day'])} | {_fmt(g['news2_5_' + main])} |")
    lines += ["", "Plots: `roc.png`, `calibration.png`, `lead_time.png`.", ""]
    return "\n".join(lines)


def _roc(scores: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(-scores, kind="mergesort")
    s, y = scores[order], labels[order].astype(bool)
    last = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]
    tp, fp = np.cumsum(y)[last], np.cumsum(~y)[last]
    return np.r_[0, fp / max(1, (~y).sum())], np.r_[0, tp / max(1, y.sum())]


def _plots(out: Path, dataset: str, stays: list[StayRecord], report: dict[str, Any]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if dataset == "physionet2019":
        y = np.concatenate([s.labels for s in stays]).astype(bool)

        def values(series: str) -> np.ndarray:
            return np.concatenate([s.series[series] for s in stays])
    else:
        y = np.array([bool(s.died) for s in stays])

        def values(series: str) -> np.ndarray:
            return np.array([s.series[series][-1] for s in stays])

    fig, ax = plt.subplots(figsize=(5, 5))
    for name, series in ((MODEL, "model"), ("NEWS2", "news2"), ("SIRS", "sirs"), ("qSOFA", "qsofa")):
        fpr, tpr = _roc(values(series), y)
        auc = auroc(values(series), y)
        ax.plot(fpr, tpr, label=f"{name} (AUROC {auc:.3f})")
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":")
    ax.set(xlabel="1 − specificity", ylabel="sensitivity", title=f"ROC — {dataset}")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "roc.png", dpi=110)
    plt.close(fig)

    p = values("model")
    edges = np.unique(np.quantile(p, np.linspace(0, 1, 11)))
    idx = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, max(0, len(edges) - 2))
    mean_p = [float(p[idx == i].mean()) for i in range(len(edges) - 1) if (idx == i).any()]
    obs = [float(y[idx == i].mean()) for i in range(len(edges) - 1) if (idx == i).any()]
    fig, ax = plt.subplots(figsize=(5, 5))
    top = max([*mean_p, *obs, 0.05])
    ax.plot([0, top], [0, top], color="grey", linestyle=":")
    ax.plot(mean_p, obs, marker="o", label=f"{MODEL} (Brier {brier(p, y):.4f})")
    ax.set(xlabel="mean predicted risk (decile)", ylabel="observed rate", title=f"Calibration — {dataset}")
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "calibration.png", dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6, 4))
    if dataset == "physionet2019":
        bins = [x - 0.5 for x in range(-3, 14)]
        for name in (MODEL, "NEWS2 ≥ 5"):
            leads = report["predictors"][name]["lead_times_h"]
            ax.hist(leads, bins=bins, alpha=0.6, label=f"{name} (n={len(leads)})")
        ax.set(xlabel="hours of warning before t_sepsis (first alarm in the rewarded window; 12 = alarming "
                      "when it opened)", ylabel="septic stays")
        ax.legend(fontsize=8)
    else:
        ax.text(0.5, 0.5, "no lead time: the 2012 data set gives no time of death", ha="center", va="center")
        ax.set_axis_off()
    ax.set_title(f"Lead time — {dataset}")
    fig.tight_layout()
    fig.savefig(out / "lead_time.png", dpi=110)
    plt.close(fig)


def _prediction_files(out: Path, dataset: str, stays: list[StayRecord], alert_at: float) -> None:
    if dataset == "physionet2019":
        folder = out / "predictions"
        folder.mkdir(parents=True, exist_ok=True)
        for s in stays:
            with (folder / f"{s.stay_id}.psv").open("w") as f:
                f.write("PredictedProbability|PredictedLabel\n")
                for p in s.series["model"]:
                    f.write(f"{p:.6f}|{int(p >= alert_at)}\n")
    else:
        with (out / "predictions.csv").open("w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["RecordID", "PredictedProbability", "PredictedLabel"])
            for s in stays:
                p = float(s.series["model"][-1])
                w.writerow([s.stay_id, f"{p:.6f}", int(p >= alert_at)])


def write_report(out: Path, dataset: str, stays: list[StayRecord], alert_at: float,
                 meta: dict[str, Any]) -> dict[str, Any]:
    """Write report.json, report.md, the three plots and the prediction files; return the report."""
    out.mkdir(parents=True, exist_ok=True)
    report = build_report(dataset, stays, alert_at, meta)
    (out / "report.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    (out / "report.md").write_text(_markdown(report))
    _plots(out, dataset, stays, report)
    _prediction_files(out, dataset, stays, alert_at)
    return report
