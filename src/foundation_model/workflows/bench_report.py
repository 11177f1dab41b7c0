"""Scores, published anchors, the Markdown table and the parity/ROC plot of a Matbench run."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from foundation_model.utils.atomic import atomic_write

# Matbench v0.1 leaderboard means (matbench.materialsproject.org, 5-fold official protocol).
# "sure": values we are confident of; "unsure": recalled, verify before quoting.
ANCHORS: dict[str, list[tuple[str, float, str]]] = {
    "matbench_steels": [
        ("Dummy", 229.7445, "sure"),
        ("RF-SCM/Magpie", 103.5125, "sure"),
        ("CrabNet", 107.3160, "sure"),
        ("MODNet v0.1.12", 87.7627, "sure"),
        ("leaderboard best", 79.9468, "sure"),
    ],
    "matbench_expt_gap": [
        ("Dummy", 1.1435, "sure"),
        ("RF-SCM/Magpie", 0.4461, "sure"),
        ("CrabNet", 0.3463, "sure"),
        ("MODNet v0.1.12", 0.3327, "sure"),
        ("leaderboard best", 0.2865, "sure"),
    ],
    "matbench_expt_is_metal": [
        ("Dummy", 0.4924, "unsure"),
        ("RF-SCM/Magpie", 0.8992, "unsure"),
        ("MODNet v0.1.12", 0.9161, "unsure"),
        ("leaderboard best", 0.9209, "unsure"),
    ],
    "matbench_glass": [
        ("Dummy", 0.5000, "unsure"),
        ("RF-SCM/Magpie", 0.8587, "unsure"),
        ("MODNet v0.1.12", 0.9603, "unsure"),
        ("leaderboard best", 0.9603, "unsure"),
    ],
}


def regression_scores(y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """MAE (primary), RMSE, R² and max error.

    Args:
        y: true values.
        pred: predictions.
    """
    err = pred - y
    ss_tot = float(((y - y.mean()) ** 2).sum())
    return {
        "mae": float(np.abs(err).mean()),
        "rmse": float(np.sqrt((err**2).mean())),
        "r2": 1.0 - float((err**2).sum()) / ss_tot if ss_tot > 0 else float("nan"),
        "max_error": float(np.abs(err).max()),
    }


def classification_scores(
    y: np.ndarray, labels: np.ndarray, proba: np.ndarray | None
) -> dict[str, float]:
    """ROC-AUC on hard labels (Matbench's score, primary), ROC-AUC on probabilities, accuracy.

    Args:
        y: true labels (0/1).
        labels: predicted labels.
        proba: predicted positive-class probabilities (None: not available).
    """
    from sklearn.metrics import roc_auc_score

    two = len(np.unique(y)) == 2
    out = {
        "roc_auc": float(roc_auc_score(y, labels)) if two else float("nan"),
        "accuracy": float((labels == y).mean()),
    }
    out["roc_auc_proba"] = (
        float(roc_auc_score(y, proba)) if two and proba is not None else float("nan")
    )
    return out


def summarize(per_fold: list[dict[str, float] | None], metric: str) -> dict[str, object]:
    """``mean``/``std`` of ``metric`` over successful folds, plus every metric per fold.

    Args:
        per_fold: scores of each fold (None for a failed fold).
        metric: primary metric key.
    """
    done = [s for s in per_fold if s is not None]
    values = [s[metric] for s in done]
    out: dict[str, object] = {
        "mean": float(np.mean(values)) if values else None,
        "std": float(np.std(values)) if values else None,
        "per_fold": [None if s is None else s[metric] for s in per_fold],
        "n_folds_ok": len(done),
    }
    for key in sorted({k for s in done for k in s} - {metric}):
        vals = [s[key] for s in done]
        out[f"mean_{key}"] = float(np.nanmean(vals)) if vals else None
        out[f"per_fold_{key}"] = [None if s is None else s[key] for s in per_fold]
    return out


def _fmt(v: object) -> str:
    return "—" if v is None else f"{v:.4f}"


def markdown_report(result: dict) -> str:
    """A Markdown table: this run's model, in-run baselines, published anchors.

    Args:
        result: the benchmark JSON dict.
    """
    task, metric, unit = result["task"], result["metric"], result.get("unit") or ""
    lower = metric == "mae"
    lines = [
        f"# {task} — Matbench v0.1, official 5-fold protocol",
        "",
        f"Folds run: {result['folds_run']}; metric: **{metric}**"
        f"{' (' + unit + ')' if unit else ''}, {'lower' if lower else 'higher'} is better."
        f" Wall time {result['seconds']:.0f} s.",
        "",
        f"| model | mean {metric} | std | per fold |",
        "|---|---|---|---|",
    ]
    for key, label in (
        ("model", "this run: FlexibleMultiTaskModel"),
        ("rf_scm_magpie", "this run: RF on Magpie"),
        ("dummy", "this run: Dummy (train mean / majority)"),
    ):
        r = result[key]
        per = ", ".join(_fmt(v) for v in r["per_fold"])
        lines.append(f"| {label} | {_fmt(r['mean'])} | {_fmt(r['std'])} | {per} |")
    if metric == "roc_auc":
        lines += [
            "",
            "ROC-AUC above is on hard labels (as Matbench scores). On probabilities: "
            f"model {_fmt(result['model'].get('mean_roc_auc_proba'))}, "
            f"RF {_fmt(result['rf_scm_magpie'].get('mean_roc_auc_proba'))}.",
        ]
    cal = (result.get("calibration") or {}).get("pooled_test_folds")
    if cal:
        lines += [
            "",
            f"Uncertainty of the model on the test folds ({result['calibration']['method']}; "
            f"plot `{result['calibration']['plot']}`):",
            "",
            "| coverage ±1σ (ideal 0.683) | coverage ±2σ (ideal 0.954) | miscalibration area "
            "| Spearman(|error|, σ) |",
            "|---|---|---|---|",
            f"| {_fmt(cal.get('coverage_1sigma'))} | {_fmt(cal.get('coverage_2sigma'))} | "
            f"{_fmt(cal.get('miscalibration_area'))} | {_fmt(cal.get('spearman_error_sigma'))} |",
        ]
    anchors = ANCHORS.get(task, [])
    if anchors:
        lines += [
            "",
            "Published Matbench v0.1 leaderboard means (5 folds):",
            "",
            f"| entry | mean {metric} | confidence |",
            "|---|---|---|",
        ]
        lines += [f"| {n} | {v:.4f} | {c} |" for n, v, c in anchors]
        lines += [
            "",
            '"unsure" values are recalled from the leaderboard and should be checked there.',
        ]
    else:
        lines += ["", "No published anchors recorded for this task."]
    if result.get("failed_folds"):
        lines += ["", f"**Failed folds**: {result['failed_folds']}"]
    return "\n".join(lines) + "\n"


def plot_results(result: dict, preds: dict[str, dict[str, np.ndarray]], path: Path) -> Path:
    """Parity plot (regression) or ROC curves (classification) over all test folds.

    Args:
        result: the benchmark JSON dict.
        preds: ``{"model"|"rf_scm_magpie": {"y", "values", "proba"?}}`` over all folds.
        path: PNG destination.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.2, 5))
    names = {"model": "FlexibleMultiTaskModel", "rf_scm_magpie": "RF-SCM/Magpie"}
    for key, p in preds.items():
        score = result[key]["mean"]
        if result["metric"] == "mae":
            ax.scatter(p["y"], p["values"], s=8, alpha=0.5, label=f"{names[key]} (MAE {score:.3g})")
        elif p.get("proba") is not None:
            from sklearn.metrics import roc_curve

            fpr, tpr, _ = roc_curve(p["y"], p["proba"])
            ax.plot(fpr, tpr, label=f"{names[key]} (label ROC-AUC {score:.3f})")
    if result["metric"] == "mae":
        allv = np.concatenate([np.r_[p["y"], p["values"]] for p in preds.values()])
        lo, hi = float(allv.min()), float(allv.max())
        ax.plot([lo, hi], [lo, hi], "k--", lw=1)
        unit = f" ({result['unit']})" if result.get("unit") else ""
        ax.set(xlabel=f"true{unit}", ylabel=f"predicted{unit}")
    else:
        ax.plot([0, 1], [0, 1], "k--", lw=1)
        ax.set(xlabel="false positive rate", ylabel="true positive rate")
    ax.set_title(f"{result['task']} — test folds {result['folds_run']}")
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    try:
        return atomic_write(path, lambda p: fig.savefig(p, dpi=120, format="png"))
    finally:
        plt.close(fig)
