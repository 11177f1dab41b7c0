"""Does the distance to the training rows rank the errors where the spread does not?

For each uncertainty run (``<out>/<task>.json`` + ``<task>_uncertainty.npz`` of
``fm bench matbench`` with an ensemble and/or a noise head), the rows of every fold are
rebuilt exactly as the run built them (official folds, the inner validation draw of seed
``seed + k``, median imputation and standardisation on the fitting rows), and each
validation and test row gets ``d``: its mean Euclidean distance to the ``k`` nearest fitting
rows in standardised descriptor space (``--space latent``: in the trained model's shared
representation ``h_task``, as saved by the run). The rebuild is checked: the rebuilt
validation and test targets must equal the saved ones row for row.

Two σ maps are then compared, both fitted on validation rows only:

* ``spread`` — the default map (``matched``) on the model's spread;
* ``spread+distance`` — ``sqrt((a spread)^2 + (c d)^2 + b^2)``: the weight ``c / a`` by
  Gaussian likelihood (:func:`~foundation_model.models.calibration.fit_spread_weight` with the
  distance as second part), then the default map on ``hypot(spread, (c / a) d)``.

Rule, fixed before any result: the distance term is worth building into the model if its
cross-fitted validation miscalibration area
(:func:`~foundation_model.models.calibration.cross_fitted`) is lower on at least three
quarters of the tasks. Test rows are scored with maps fitted on all of a fold's validation
rows and reported beside.

    uv run python benchmarks/calibration_distance.py \\
        results/bench/calibration/noise_head/k5/matbench_{steels,jdft2d}.json \\
        --out results/bench/calibration/distance
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from foundation_model.models.calibration import (  # noqa: E402
    calibration_metrics,
    fit_one_part,
    fit_two_part,
    fold_sigmas,
    scored_calibration,
)


def distances(
    features, targets, train: list[str], test: list[str], seed: int, k: int, val_fraction: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(d_val, d_test, y_val, y_test)`` of one fold, rows in the run's order."""
    from sklearn.neighbors import NearestNeighbors

    from foundation_model.workflows.bench_model import _fold_tables

    x, attrs = _fold_tables(features, targets, train, test, val_fraction, seed)
    split = attrs["split"].to_numpy()
    z = x.to_numpy(dtype=np.float64)
    fit = z[split == "train"]
    mean, std = fit.mean(axis=0), fit.std(axis=0)
    z = (z - mean) / np.where(std > 0, std, 1.0)
    nn = NearestNeighbors(n_neighbors=k).fit(z[split == "train"])
    out = []
    for part in ("val", "test"):
        dist, _ = nn.kneighbors(z[split == part])
        out.append(dist.mean(axis=1))
    y_all = targets.loc[attrs.index].to_numpy()
    return out[0], out[1], y_all[split == "val"], y_all[split == "test"]


#: ``spread``: the default map; ``spread+distance``: ``d`` as a second part, weighed by
#: likelihood on the same rows
METHODS = {"spread": fit_one_part, "spread+distance": fit_two_part}
SPACES = {
    "descriptor": "standardised descriptor space",
    "latent": "the trained model's shared representation (`h_task`)",
}


def evaluate(
    run_json: Path, data_dir: Path, feature_cache: Path, k: int = 5, space: str = "descriptor"
) -> dict:
    """Both maps on one run: ``space="descriptor"`` rebuilds the distances from the run's own
    settings; ``"latent"`` reads the distances in the model's shared representation that the
    run saved (``latent_distance``)."""
    from foundation_model.workflows.matbench_bench import BenchOptions, _load_task, task_features

    run = json.loads(run_json.read_text())
    arrays = np.load(run_json.with_name(f"{run['task']}_uncertainty.npz"))
    opts = BenchOptions(
        task=run["task"], data_dir=data_dir, feature_cache=feature_cache, progress=False
    )
    task = _load_task(opts)
    features, _ = task_features(task, run["model_preset"], opts)
    targets = task.table["target"]
    d_val = np.full(arrays["val_y"].size, np.nan)
    d_test = np.full(arrays["y"].size, np.nan)
    for fold in sorted(set(arrays["fold"].tolist())) if space == "descriptor" else []:
        train, test = task.folds[fold]
        dv, dt, yv, yt = distances(features, targets, train, test, fold, k, 0.1)
        v, t = arrays["val_fold"] == fold, arrays["fold"] == fold
        if not (np.allclose(yv, arrays["val_y"][v]) and np.allclose(yt, arrays["y"][t])):
            raise ValueError(
                f"{run_json}: fold {fold}: the rebuilt rows do not match the saved ones; the run "
                "used other folds, seeds or a validation share other than 0.1."
            )
        d_val[v], d_test[t] = dv, dt
    if space == "latent":
        if "latent_distance" not in arrays.files:
            raise ValueError(
                f"{run_json}: no latent_distance; rerun the task with code that keeps it."
            )
        d_val, d_test = arrays["val_latent_distance"], arrays["latent_distance"]
    y, mu, spread = arrays["val_y"], arrays["val_values"], arrays["val_spread"]
    out: dict = {"task": run["task"], "n_val": int(y.size), "n_test": int(arrays["y"].size)}
    out["space"] = space
    out["spearman_error_distance_test"] = float(
        calibration_metrics(arrays["y"], arrays["values"], d_test)["spearman_error_sigma"]
    )
    out["weights"], out["validation"], out["test"] = [], {}, {}
    val = {"y": y, "mu": mu, "first": spread, "second": d_val, "fold": arrays["val_fold"]}
    test = {"first": arrays["spread"], "second": d_test, "fold": arrays["fold"]}
    for name, fit in METHODS.items():
        val_sigma, test_sigma, weights = fold_sigmas(fit, val, test)
        out["validation"][name] = scored_calibration(y, mu, val_sigma)
        out["test"][name] = scored_calibration(arrays["y"], arrays["values"], test_sigma)
        if name == "spread+distance":
            out["weights"] = weights
    return out


def markdown(rows: list[dict], adopt: bool, wins: list[str], space: str = "descriptor") -> str:
    """The report."""

    def cov(m: dict) -> str:
        mark = " ✓" if m["in_goal"] else ""
        return f"{m['coverage_1sigma']:.3f} / {m['coverage_2sigma']:.3f}{mark}"

    lines = [
        f"# Distance to the training rows ({space}) as a second part of σ",
        "",
        "`spread+distance`: `sqrt((a spread)^2 + (c d)^2 + b^2)`, `d` the mean distance to the "
        f"5 nearest fitting rows in {SPACES[space]}; `spread`: the default map. "
        "Both fitted on validation rows only. Rule, fixed before any result: worth building "
        "into the model if the cross-fitted validation area is lower on at least three "
        "quarters of the tasks. Made by `benchmarks/calibration_distance.py`.",
        "",
        "| task | val area spread / +distance | test ±1σ / ±2σ spread | test ±1σ / ±2σ "
        "+distance | test area spread / +distance | test Spearman σ spread / +distance / "
        "d alone |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        v, t = r["validation"], r["test"]
        lines.append(
            f"| {r['task'].removeprefix('matbench_')} "
            f"| {v['spread']['miscalibration_area']:.3f} / "
            f"{v['spread+distance']['miscalibration_area']:.3f} "
            f"| {cov(t['spread'])} | {cov(t['spread+distance'])} "
            f"| {t['spread']['miscalibration_area']:.3f} / "
            f"{t['spread+distance']['miscalibration_area']:.3f} "
            f"| {t['spread']['spearman_error_sigma']:.2f} / "
            f"{t['spread+distance']['spearman_error_sigma']:.2f} / "
            f"{r['spearman_error_distance_test']:.2f} |"
        )
    lines += [
        "",
        f"Lower cross-fitted validation area on {len(wins)} of {len(rows)} tasks "
        f"({', '.join(w.removeprefix('matbench_') for w in wins) or '-'}) → "
        f"**{'worth building' if adopt else 'not worth building'}**.",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Evaluate every run and write ``<out>.json`` and ``<out>.md``."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("runs", type=Path, nargs="+", help="<task>.json of uncertainty runs")
    p.add_argument("--data-dir", type=Path, default=ROOT / "data/matbench")
    p.add_argument("--feature-cache", type=Path, default=ROOT / "data/cache/features")
    p.add_argument("--out", type=Path, default=ROOT / "results/bench/calibration/distance")
    p.add_argument(
        "--space",
        choices=("descriptor", "latent"),
        default="descriptor",
        help="distance in standardised descriptors, or in the model's h_task (saved by the run)",
    )
    args = p.parse_args(argv)
    missing = [str(f) for f in args.runs if not f.is_file()]
    if missing:
        print(f"calibration_distance: error: not found: {', '.join(missing)}.")
        return 2
    try:
        rows = [evaluate(f, args.data_dir, args.feature_cache, space=args.space) for f in args.runs]
    except ValueError as err:
        print(f"calibration_distance: error: {err}")
        return 2
    wins = [
        r["task"]
        for r in rows
        if r["validation"]["spread+distance"]["miscalibration_area"]
        < r["validation"]["spread"]["miscalibration_area"]
    ]
    adopt = len(wins) >= 0.75 * len(rows)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    report = {"runs": rows, "lower_validation_area": wins, "worth_building": adopt}
    args.out.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    text = markdown(rows, adopt, wins, args.space)
    args.out.with_suffix(".md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
