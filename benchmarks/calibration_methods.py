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
  (split-conformal lower bounds on the ±1σ and ±2σ counts).

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
    calibration_metrics,
    fit_sigma_calibration,
    fit_sigma_conformal,
    fit_sigma_likelihood,
    in_coverage_goal,
)

Fit = Callable[[np.ndarray, np.ndarray, np.ndarray], tuple[float, float]]
METHODS: dict[str, Fit] = {
    "likelihood": fit_sigma_likelihood,
    "matched": fit_sigma_calibration,
    "conformal": fit_sigma_conformal,
}


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
    out["saved_std"] = calibration_metrics(a["y"], a["values"], a["std"])
    for name, fit in methods.items():
        sigma = np.empty_like(a["spread"], dtype=np.float64)
        maps = []
        for k in folds:
            v, t = a["val_fold"] == k, a["fold"] == k
            scale, floor = fit(a["val_y"][v], a["val_values"][v], a["val_spread"][v])
            sigma[t] = np.sqrt((scale * a["spread"][t]) ** 2 + floor**2)
            maps.append([scale, floor])
        metrics = calibration_metrics(a["y"], a["values"], sigma)
        metrics["in_goal"] = in_coverage_goal(metrics)
        out[name] = {**metrics, "maps": maps}
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
