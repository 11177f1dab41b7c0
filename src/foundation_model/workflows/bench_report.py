"""Scores, published anchors, the Markdown table and the parity/ROC plot of a Matbench run."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from foundation_model.utils.atomic import atomic_write

# Published Matbench v0.1 leaderboard means over the 5 official folds (MAE for regression,
# ROC-AUC for classification), copied from the per-task leaderboard pages of the matbench
# repository at one snapshot: LEADERBOARD_SOURCE. "best" is the top entry at that snapshot.
LEADERBOARD_SOURCE = (
    "materialsproject/matbench, docs_src/Leaderboards Per-Task/matbench_v0.1_<task>.md, "
    "commit bb3eebf475ceac45e257f36c05cec7773b5ebb43"
)
ANCHORS: dict[str, list[tuple[str, float]]] = {
    "matbench_dielectric": [
        ("Dummy", 0.8088),
        ("RF-SCM/Magpie", 0.4196),
        ("CrabNet", 0.3234),
        ("MODNet v0.1.12", 0.2711),
        ("best: MODNet v0.1.12", 0.2711),
    ],
    "matbench_expt_gap": [
        ("Dummy", 1.1435),
        ("RF-SCM/Magpie", 0.4461),
        ("CrabNet", 0.3463),
        ("MODNet v0.1.12", 0.3327),
        ("best: Darwin", 0.2865),
    ],
    "matbench_expt_is_metal": [
        ("Dummy", 0.4924),
        ("RF-SCM/Magpie", 0.9167),
        ("MODNet v0.1.12", 0.9161),
        ("best: Darwin", 0.9598),
    ],
    "matbench_glass": [
        ("Dummy", 0.5005),
        ("RF-SCM/Magpie", 0.8587),
        ("MODNet v0.1.12", 0.9603),
        ("best: MODNet v0.1.12", 0.9603),
    ],
    "matbench_jdft2d": [
        ("Dummy", 67.2851),
        ("RF-SCM/Magpie", 50.0440),
        ("CrabNet", 45.6104),
        ("MODNet v0.1.12", 33.1918),
        ("best: MODNet v0.1.12", 33.1918),
    ],
    "matbench_log_gvrh": [
        ("Dummy", 0.2931),
        ("RF-SCM/Magpie", 0.1040),
        ("CrabNet", 0.1014),
        ("MODNet v0.1.12", 0.0731),
        ("best: coNGN", 0.0670),
    ],
    "matbench_log_kvrh": [
        ("Dummy", 0.2897),
        ("RF-SCM/Magpie", 0.0820),
        ("CrabNet", 0.0758),
        ("MODNet v0.1.12", 0.0548),
        ("best: coNGN", 0.0491),
    ],
    "matbench_mp_e_form": [
        ("Dummy", 1.0059),
        ("RF-SCM/Magpie", 0.1165),
        ("CrabNet", 0.0862),
        ("MODNet v0.1.12", 0.0448),
        ("best: coGN", 0.0170),
    ],
    "matbench_mp_gap": [
        ("Dummy", 1.3272),
        ("RF-SCM/Magpie", 0.3452),
        ("CrabNet", 0.2655),
        ("MODNet v0.1.12", 0.2199),
        ("best: coGN", 0.1559),
    ],
    "matbench_mp_is_metal": [
        ("Dummy", 0.5012),
        ("RF-SCM/Magpie", 0.8992),
        ("MODNet v0.1.12", 0.9038),
        ("best: CGCNN v2019", 0.9520),
    ],
    "matbench_perovskites": [
        ("Dummy", 0.5660),
        ("RF-SCM/Magpie", 0.2355),
        ("CrabNet", 0.4065),
        ("MODNet v0.1.12", 0.0908),
        ("best: coGN", 0.0269),
    ],
    "matbench_phonons": [
        ("Dummy", 323.9822),
        ("RF-SCM/Magpie", 67.6126),
        ("CrabNet", 55.1114),
        ("MODNet v0.1.12", 34.2751),
        ("best: MegNet (kgcnn v2.1.0)", 28.7606),
    ],
    "matbench_steels": [
        ("Dummy", 229.7445),
        ("RF-SCM/Magpie", 103.5125),
        ("CrabNet", 107.3160),
        ("MODNet v0.1.12", 87.7627),
        ("best: TPOT-Mat", 79.9468),
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
    """ROC-AUC on hard labels (the primary score), ROC-AUC on probabilities, accuracy.

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

    The other metrics' ``mean_<key>`` is over the folds where the metric is defined; when
    some fold has none (e.g. the Spearman of a constant σ), ``n_folds_<key>`` says how many
    folds the mean covers.

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
        vals = np.asarray([s[key] for s in done], dtype=np.float64)
        finite = vals[~np.isnan(vals)]
        out[f"mean_{key}"] = float(finite.mean()) if finite.size else None
        if finite.size < len(done):
            out[f"n_folds_{key}"] = int(finite.size)
        out[f"per_fold_{key}"] = [None if s is None else s[key] for s in per_fold]
    return out


# benchmark JSON keys and their names in tables and plots
ENTRY_LABELS = {
    "model": "FlexibleMultiTaskModel",
    "model_pretrained": "fm-base fine-tuned",
    "model_scratch": "same network from scratch",
    "rf_scm_magpie": "RF on Magpie",
    "rf_same_features": "RF on the model's descriptors",
    "dummy": "Dummy (train mean / majority)",
}


def holdout_share(folds: list[tuple[list, list]], run: list[int]) -> float:
    """Mean ``n_test / n_train`` over the folds ``run`` of a cross-validation ``folds``.

    Args:
        folds: per fold, ``(train_ids, test_ids)``.
        run: the folds scored.
    """
    return float(np.mean([len(folds[k][1]) / max(len(folds[k][0]), 1) for k in run]))


def _network_key(result: dict) -> str | None:
    """The entry of the run's network: the fine-tuned one in a transfer run."""
    return next((k for k in ("model_pretrained", "model") if k in result), None)


def paired_comparison(result: dict, level: float = 0.95) -> dict[str, dict] | None:
    """The run's network against each other entry (Dummy aside), fold by fold.

    Per control: the mean gain of the network (control minus network for MAE, network minus
    control for ROC-AUC, so positive means the network is better), the folds it wins and a
    ``level`` interval on the mean gain from the corrected resampled t-test of Nadeau and
    Bengio (2003, Machine Learning 52:239): cross-validation folds share training rows, so
    the variance of the per-fold gains is scaled by ``1/k + n_test/n_train`` instead of
    ``1/k``. An interval that holds 0 means these folds do not separate the two.

    Args:
        result: a benchmark JSON dict (``model_pretrained`` or ``model`` and the controls,
            each with ``per_fold``; ``holdout_share`` as from :func:`holdout_share`, else the
            ``1/(k - 1)`` of ``k`` equal folds).
        level: the interval's coverage.

    Returns:
        Per control key, ``mean_gain``, ``folds_better``, ``folds``, ``ci_low``,
        ``ci_high``; None when the run has no network or fewer than 2 scored folds.
    """
    from scipy import stats

    main = _network_key(result)
    if main is None:
        return None
    sign = -1.0 if result["metric"] == "mae" else 1.0
    share = result.get("holdout_share") or 1.0 / (len(result["folds_run"]) - 1 or 1)
    out: dict[str, dict] = {}
    for key in ENTRY_LABELS:
        if key in (main, "dummy", "model") or key not in result:
            continue
        pairs = [
            (a, b)
            for a, b in zip(result[main]["per_fold"], result[key]["per_fold"], strict=True)
            if a is not None and b is not None
        ]
        k = len(pairs)
        if k < 2:
            continue
        gain = sign * np.array([a - b for a, b in pairs], dtype=np.float64)
        half = stats.t.ppf(0.5 + level / 2, k - 1) * np.sqrt((1.0 / k + share) * gain.var(ddof=1))
        out[key] = {
            "mean_gain": float(gain.mean()),
            "folds_better": int((gain > 0).sum()),
            "folds": k,
            "ci_low": float(gain.mean() - half),
            "ci_high": float(gain.mean() + half),
        }
    return out or None


def _paired_lines(result: dict) -> list[str]:
    paired = result.get("paired")
    if not paired:
        return []
    main = _network_key(result) or "model"
    lines = [
        "",
        f"{ENTRY_LABELS[main]} against each control, fold by fold (gain: positive when "
        f"{ENTRY_LABELS[main]} is better; 95 % interval of the mean gain from the corrected "
        "resampled t-test of Nadeau & Bengio 2003, which allows for folds sharing training "
        "rows; an interval holding 0 means these folds do not separate the two):",
        "",
        f"| control | mean gain ({result['metric']}) | folds better | 95 % interval |",
        "|---|---|---|---|",
    ]
    for key, p in paired.items():
        lines.append(
            f"| {ENTRY_LABELS[key]} | {p['mean_gain']:+.4g} | {p['folds_better']} of "
            f"{p['folds']} | [{p['ci_low']:+.4g}, {p['ci_high']:+.4g}] |"
        )
    return lines


ENTRY_COST_NAMES = {"model_pretrained": "fine-tuned", "model_scratch": "scratch"}


def _transfer_lines(result: dict) -> list[str]:
    """How the fine-tuning recipe chose its mode per fold (transfer runs only)."""
    recipe = result.get("recipe")
    if not recipe:
        return []
    sizes = recipe.get("sizes") or {}
    folds = result.get("folds") or []
    if recipe.get("combine", "pick") == "all":
        # nothing is chosen per fold: say what every fold averaged, once
        modes = f"no mode chosen, {recipe['selection'].removeprefix('none: ')}, on every fold"
    else:
        picks = ", ".join(f"fold {f['fold']}: {f['mode']}" for f in folds)
        modes = f"mode per fold ({recipe['selection']}): {picks}"
    secs = [f["seconds_finetune_all_modes"] for f in folds]
    out = [
        "",
        f"Recipe `{recipe['config']}` on `{result['pretrained']}`: batch "
        f"{sizes.get('batch_size')}, at most {sizes.get('max_epochs')} epochs"
        f"{' (reduced budget for a large task)' if recipe.get('reduced_budget') else ''}, "
        f"patience {sizes.get('patience')}; {modes}.",
    ]
    if recipe.get("max_epochs_override"):
        out.append(f"Epochs capped at {recipe['max_epochs_override']} by --max-epochs.")
    if secs:
        out.append(
            f"Fine-tuning time per fold (the first network of each of the "
            f"{len(recipe['modes'])} modes): median {float(np.median(secs)):.0f} s."
        )
    costs = {name: entry_cost(folds, key) for key, name in ENTRY_COST_NAMES.items()}
    if all(costs.values()):  # runs before 2026-12-07 did not record it
        parts = [
            f"{name} {c['seconds']:.0f} s ({c['networks']} networks; ~{c['wall']:.0f} s wall)"
            for name, c in costs.items()
        ]
        out.append(
            f"Whole entries per fold, every network's training time summed (median; wall "
            f"time estimated for {costs['fine-tuned']['workers']} worker(s)): "
            f"{', '.join(parts)}."
        )
    return out


def entry_cost(folds: list[dict], entry: str = "model_pretrained") -> dict | None:
    """What one entry of a transfer run cost per fold, from the folds' ``network_seconds``.

    Args:
        folds: a task result's ``folds`` (fold infos of :func:`transfer_fold`).
        entry: ``model_pretrained`` or ``model_scratch``.

    Returns:
        ``seconds`` (median over folds of every network's training time summed),
        ``networks`` (how many), ``workers`` and ``wall`` (``seconds / workers``, the wall
        time it means); None when no fold recorded it (runs before 2026-12-07).
    """
    timed = [f for f in folds if f.get("network_seconds")]
    if not timed:
        return None
    workers = timed[0].get("workers") or 1
    secs = float(np.median([f["network_seconds"][entry] for f in timed]))
    nets = timed[0]["networks_trained"][entry]
    return {"seconds": secs, "networks": nets, "workers": workers, "wall": secs / workers}


def _fmt(v: object) -> str:
    return "—" if v is None else f"{v:.4f}"


def _budget_lines(result: dict) -> list[str]:
    """What this run changed from the full protocol (epochs, RF trees), said up front."""
    out = []
    if result.get("max_epochs_override") and "recipe" not in result:  # the recipe says it
        out.append(f"Epochs capped at {result['max_epochs_override']} by --max-epochs.")
    trees = result.get("rf_estimators")
    if trees is not None and trees != 500:
        out.append(f"RF baselines with {trees} trees (--rf-estimators; the protocol uses 500).")
    return ["", " ".join(out)] if out else []


def markdown_report(result: dict) -> str:
    """A Markdown table: this run's model, in-run baselines, published anchors.

    Args:
        result: the benchmark JSON dict.
    """
    task, metric, unit = result["task"], result["metric"], result.get("unit") or ""
    lower = metric == "mae"
    protocol = result.get("protocol") or "Matbench v0.1, official 5-fold protocol"
    lines = [
        f"# {task} — {protocol}",
        "",
        f"Folds run: {result['folds_run']}; metric: **{metric}**"
        f"{' (' + unit + ')' if unit else ''}, {'lower' if lower else 'higher'} is better."
        f" Wall time {result['seconds']:.0f} s.",
        *_budget_lines(result),
        "",
        f"| model | mean {metric} | std | per fold |",
        "|---|---|---|---|",
    ]
    for key, label in ENTRY_LABELS.items():
        if key not in result:
            continue
        r = result[key]
        per = ", ".join(_fmt(v) for v in r["per_fold"])
        lines.append(f"| this run: {label} | {_fmt(r['mean'])} | {_fmt(r['std'])} | {per} |")
    if metric == "roc_auc":
        proba = ", ".join(
            f"{ENTRY_LABELS[k]} {_fmt(result[k].get('mean_roc_auc_proba'))}"
            for k in ENTRY_LABELS
            if k in result and k != "dummy"
        )
        lines += [
            "",
            f"ROC-AUC above is on hard labels (as the leaderboard's RF was scored; Matbench "
            f"also scores submitted probabilities, so a published entry may be either). On "
            f"probabilities: {proba}.",
            "Labels: the networks and the RF on the model's descriptors label p >= the "
            "fold's training positive rate (the rule for label-based ROC-AUC); the RF on "
            "Magpie labels p >= 0.5 as the leaderboard's did.",
        ]
    lines += _paired_lines(result)
    lines += _transfer_lines(result)
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
    anchors = [] if result.get("protocol") else ANCHORS.get(task, [])  # your own table: none
    if anchors:
        lines += [
            "",
            "Published Matbench v0.1 leaderboard means (5 folds):",
            "",
            f"| entry | mean {metric} |",
            "|---|---|",
        ]
        lines += [f"| {n} | {v:.4f} |" for n, v in anchors]
        lines += [
            "",
            f"Source: {LEADERBOARD_SOURCE}. Leaderboard entries use the structure where a "
            "task has one; this run sees compositions only.",
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
        preds: ``{entry: {"y", "values", "proba"?}}`` over all folds (entries of
            :data:`ENTRY_LABELS`).
        path: PNG destination.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.2, 5))
    names = ENTRY_LABELS
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
