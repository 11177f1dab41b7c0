"""Compare σ recalibration methods offline, on the arrays that uncertainty runs keep.

An ensemble and/or noise-head run of ``fm bench matbench`` writes
``<out>/<task>_uncertainty.npz``: per official fold, the test rows (``y``, ``values``, the
model's ``std`` and the raw ``spread`` behind it) and the inner-validation rows the σ map
was fitted on (``val_y``, ``val_values``, ``val_spread``). This script refits each method's
map ``sigma = sqrt((a spread)^2 + b^2)`` on every fold's validation rows, applies it to that
fold's test rows, and reports the pooled test-fold coverage, so a recalibration idea is
judged in seconds instead of a retraining. Test rows are never used for fitting.

Methods (``METHODS``):

* ``likelihood`` — :func:`~foundation_model.models.calibration.fit_sigma_likelihood`;
* ``matched`` — :func:`~foundation_model.models.calibration.fit_sigma_calibration`, the
  model's default (likelihood unless its ±1σ/±2σ validation coverage is inconsistent with
  nominal, then the most likely consistent map);
* ``conformal`` — :func:`~foundation_model.models.calibration.fit_sigma_conformal`
  (split-conformal lower bounds on the ±1σ and ±2σ counts);
* ``quantile`` — :func:`~foundation_model.models.calibration.fit_sigma_quantile` (error
  quantiles in bins of the spread: robust to heavy tails).

A run with one head and no noise head has no spread; its σ signal is then the latent
distance (``latent_distance``, ``val_latent_distance``), as in the model. Besides the
pooled test coverage, every method is scored on the validation rows themselves, cross-fitted
(each half of a fold's validation rows gets σ from the map fitted on the other half), which
is what a choice between methods may use; and by how far the ±1σ coverage of each fifth of
the rows, sorted by the σ signal, is from 68.3 % on average (``bin_gap_1sigma``): a flat σ
can be right on average and wrong for both the rows close to the training data and those
far from it.

Runs are grouped as ``--dev`` (tasks already used to develop the uncertainty methods) and
``--holdout`` (tasks never used for it); a method is chosen on the first group only.

    uv run python benchmarks/calibration_methods.py \\
        --dev results/bench/calibration/noise_head/k5/matbench_{steels,expt_gap}_uncertainty.npz \\
        --out results/bench/calibration/methods
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from foundation_model.models.calibration import (  # noqa: E402
    COVERAGE_GOAL,
    INTERVAL_LEVELS,
    calibration_metrics,
    cross_fitted,
    fit_sigma_calibration,
    fit_sigma_conformal,
    fit_sigma_likelihood,
    fit_sigma_quantile,
    in_coverage_goal,
)

Fit = Callable[[np.ndarray, np.ndarray, np.ndarray], tuple[float, float]]
METHODS: dict[str, Fit] = {
    "likelihood": fit_sigma_likelihood,
    "matched": fit_sigma_calibration,
    "conformal": fit_sigma_conformal,
    "quantile": fit_sigma_quantile,
}
#: bins of the σ signal for ``bin_gap_1sigma``
BINS = 5


def bin_gap(y: np.ndarray, mu: np.ndarray, sigma: np.ndarray, signal: np.ndarray) -> float:
    """Mean ``|±1σ coverage - 68.3 %|`` over ``BINS`` equal-count bins of ``signal``."""
    ok = np.isfinite(y) & np.isfinite(mu) & np.isfinite(sigma) & np.isfinite(signal)
    y, mu, sigma, signal = y[ok], mu[ok], sigma[ok], signal[ok]
    if y.size < BINS:
        return float("nan")
    groups = np.array_split(np.argsort(signal, kind="stable"), BINS)
    hit = np.abs(y - mu) <= sigma
    return float(np.mean([abs(hit[g].mean() - INTERVAL_LEVELS[0]) for g in groups]))


def signals(a: np.lib.npyio.NpzFile) -> tuple[np.ndarray, np.ndarray, str]:
    """The σ signal of the test and validation rows: the spread, or the latent distance
    for a run without one (one head, no noise head)."""
    if np.isfinite(a["spread"]).any() or "latent_distance" not in a.files:
        return a["spread"], a["val_spread"], "spread"
    return a["latent_distance"], a["val_latent_distance"], "latent distance"


def evaluate(path: Path, methods: dict[str, Fit] = METHODS) -> dict:
    """Pooled test-fold calibration of every method on one run's arrays.

    Args:
        path: a ``<task>_uncertainty.npz``.
        methods: name -> fit on validation rows, returning ``(scale, floor)``.
    """
    a = np.load(path)
    out: dict = {"file": str(path), "task": path.name.removesuffix("_uncertainty.npz")}
    folds = sorted(set(a["fold"].tolist()))
    out["folds"] = folds
    out["n_test"], out["n_val"] = int(a["y"].size), int(a["val_y"].size)
    test_signal, val_signal, out["signal"] = signals(a)
    out["saved_std"] = calibration_metrics(a["y"], a["values"], a["std"])
    vy, vmu = a["val_y"], a["val_values"]
    for name, fit in methods.items():
        sigma = np.empty_like(test_signal, dtype=np.float64)
        maps = []
        for k in folds:
            v, t = a["val_fold"] == k, a["fold"] == k
            scale, floor = fit(vy[v], vmu[v], val_signal[v])
            sigma[t] = np.sqrt((scale * test_signal[t]) ** 2 + floor**2)
            maps.append([scale, floor])
        metrics = calibration_metrics(a["y"], a["values"], sigma)
        metrics["in_goal"] = in_coverage_goal(metrics)
        metrics["bin_gap_1sigma"] = bin_gap(a["y"], a["values"], sigma, test_signal)

        def fit_apply(fit_rows: np.ndarray, score_rows: np.ndarray) -> np.ndarray:
            scale, floor = fit(vy[fit_rows], vmu[fit_rows], val_signal[fit_rows])  # noqa: B023
            return np.sqrt((scale * val_signal[score_rows]) ** 2 + floor**2)

        val_sigma = cross_fitted(a["val_fold"], fit_apply)
        val = calibration_metrics(vy, vmu, val_sigma)
        val["bin_gap_1sigma"] = bin_gap(vy, vmu, val_sigma, val_signal)
        out[name] = {**metrics, "maps": maps, "val_cross_fitted": val}
    return out


def markdown(groups: dict[str, list[dict]]) -> str:
    """One table per group: coverage of each method per task, goal hits counted."""
    names = list(METHODS)
    lines = [
        "# σ recalibration methods, refitted offline on the runs' validation rows",
        "",
        "Each method fits `sigma = sqrt((a spread)^2 + b^2)` on every fold's inner-validation "
        "rows and is scored on that fold's test rows, pooled over folds. Goal (issue 7): "
        "±1σ 0.61–0.75 and ±2σ 0.91–0.99. `matched` is the model's default fit; its column "
        "equals the runs' own σ. Made by `benchmarks/calibration_methods.py`.",
    ]
    for group, rows in groups.items():
        if not rows:
            continue
        lines += [
            "",
            f"## {group}",
            "",
            "| task | val rows / test rows | " + " | ".join(f"{n} ±1σ / ±2σ" for n in names) + " |",
            "|---|---|" + "---|" * len(names),
        ]
        for r in rows:
            cells = []
            for n in names:
                m = r[n]
                mark = " ✓" if m["in_goal"] else ""
                cells.append(f"{m['coverage_1sigma']:.3f} / {m['coverage_2sigma']:.3f}{mark}")
            task = r["task"].removeprefix("matbench_")
            lines.append(f"| {task} | {r['n_val']} / {r['n_test']} | " + " | ".join(cells) + " |")
        hits = [sum(r[n]["in_goal"] for r in rows) for n in names]
        lines.append(
            "| tasks in goal | | " + " | ".join(f"{h} of {len(rows)}" for h in hits) + " |"
        )
        lines += [
            "",
            "Miscalibration area / mean ±1σ coverage gap over fifths of the rows sorted by the "
            "σ signal (`bin_gap_1sigma`); validation rows cross-fitted, then test rows:",
            "",
            "| task | signal | "
            + " | ".join(f"{n} val area / gap | {n} test area / gap" for n in names)
            + " |",
            "|---|---|" + "---|---|" * len(names),
        ]
        for r in rows:
            cells = []
            for n in names:
                v, t = r[n]["val_cross_fitted"], r[n]
                cells.append(f"{v['miscalibration_area']:.3f} / {v['bin_gap_1sigma']:.3f}")
                cells.append(f"{t['miscalibration_area']:.3f} / {t['bin_gap_1sigma']:.3f}")
            task = r["task"].removeprefix("matbench_")
            lines.append(f"| {task} | {r['signal']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def plot(groups: dict[str, list[dict]], path: Path) -> None:
    """±1σ vs ±2σ test coverage per task and method, with the goal box."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 5))
    (lo1, hi1), (lo2, hi2) = COVERAGE_GOAL["coverage_1sigma"], COVERAGE_GOAL["coverage_2sigma"]
    ax.add_patch(plt.Rectangle((lo1, lo2), hi1 - lo1, hi2 - lo2, color="0.9", label="goal"))
    markers = dict(zip(METHODS, "osD^v", strict=False))
    for gi, rows in enumerate(groups.values()):
        for r in rows:
            xs = [r[n]["coverage_1sigma"] for n in METHODS]
            ys = [r[n]["coverage_2sigma"] for n in METHODS]
            ax.plot(xs, ys, color="0.6", lw=0.8, zorder=1)
            for n, x, y in zip(METHODS, xs, ys, strict=True):
                ax.scatter(x, y, marker=markers[n], color=f"C{list(METHODS).index(n)}", zorder=2)
            ax.annotate(
                r["task"].removeprefix("matbench_") + (" (hold-out)" if gi else ""),
                (xs[-1], ys[-1]),
                fontsize=7,
                xytext=(4, 2),
                textcoords="offset points",
            )
    for n in METHODS:
        ax.scatter([], [], marker=markers[n], color=f"C{list(METHODS).index(n)}", label=n)
    ax.axvline(0.683, color="0.5", ls=":", lw=0.8)
    ax.axhline(0.954, color="0.5", ls=":", lw=0.8)
    ax.set_xlabel("test coverage of ±1σ")
    ax.set_ylabel("test coverage of ±2σ")
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title("σ recalibration methods (pooled test folds)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    """Evaluate the methods on every run and write ``<out>.{json,md,png}``."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dev", type=Path, nargs="*", default=[], help="development runs (.npz)")
    p.add_argument("--holdout", type=Path, nargs="*", default=[], help="hold-out runs (.npz)")
    p.add_argument("--out", type=Path, default=ROOT / "results/bench/calibration/methods")
    args = p.parse_args(argv)
    missing = [f for f in [*args.dev, *args.holdout] if not f.is_file()]
    if missing:
        print(f"calibration_methods: error: not found: {', '.join(map(str, missing))}.")
        return 2
    if not args.dev and not args.holdout:
        print("calibration_methods: error: give runs with --dev and/or --holdout.")
        return 2
    groups = {
        "development tasks": [evaluate(f) for f in args.dev],
        "hold-out tasks (never used to develop the methods)": [evaluate(f) for f in args.holdout],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(groups, indent=2) + "\n")
    text = markdown(groups)
    args.out.with_suffix(".md").write_text(text)
    plot(groups, args.out.with_suffix(".png"))
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
