"""How much of a Cp(T) curve's shape does composition tell? A composition-free reference.

``benchmarks/sequence_heads_janaf.py`` scores each method's *shape error* (MAE after
subtracting each curve's own mean) on held-out JANAF compounds, and every head so far ties
with the k-nearest-neighbour curve baseline on it. This script adds the reference those
ties should be read against: the **typical curve**, the training curves interpolated at the
query temperatures and averaged (mean or median, chosen on the inner validation set like
every other setting), the same prediction for every compound. It sees the query's
temperatures and nothing of its composition, so

* ``typical`` − ``flat`` is what the temperature grid alone tells about shape, and
* ``kNN`` − ``typical`` is what composition adds through the nearest neighbours; a head
  that beats kNN on shape has to find more composition-dependent shape than that.

Same curves, split, inner validation and kNN grid as ``sequence_heads_janaf.py`` (imported
from it), so the kNN row reproduces that report's; per-curve differences carry a 95 % paired
bootstrap interval over test curves. No network is trained (seconds on one core).

    uv run python benchmarks/janaf_shape_reference.py --out results/bench/janaf_shape_reference
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))
sys.path.insert(0, str(HERE))

import sequence_heads_janaf as shj  # noqa: E402

TYPICAL_GRID = [{"average": "mean"}, {"average": "median"}]


def typical_curve(
    curves_train: pd.DataFrame, t_query: list[np.ndarray], average: str
) -> list[np.ndarray]:
    """Every training curve interpolated at each query's temperatures, then averaged.

    Outside a training curve's range ``np.interp`` holds its end value, as kNN's
    interpolation does.

    Args:
        curves_train: training curves (``cp_T``, ``cp``).
        t_query: query temperatures per row.
        average: ``mean`` or ``median`` over the training curves.
    """
    if average not in ("mean", "median"):
        raise ValueError(f"average must be 'mean' or 'median', got {average!r}.")
    reduce = np.mean if average == "mean" else np.median
    pairs = list(zip(curves_train["cp_T"], curves_train["cp"], strict=True))
    return [
        reduce(np.stack([np.interp(temps, t, c) for t, c in pairs]), axis=0) for temps in t_query
    ]


def run_typical(curves: pd.DataFrame, train: pd.Index, test: pd.Index, cfg: dict):
    """The typical curve of ``train`` at each ``test`` curve's temperatures."""
    temps = [np.asarray(t) for t in curves.loc[test, "cp_T"]]
    return typical_curve(curves.loc[train], temps, **cfg)


def compare(curves: pd.DataFrame, data: dict, knn: dict, typical: dict) -> dict:
    """Per-curve differences kNN − typical on the test curves (MAE, level, shape, each with
    its paired bootstrap interval) and the flat line's mean shape error."""
    truth = [np.asarray(v) for v in curves.loc[data["test"], "cp"]]
    e_knn = shj.per_curve_errors(knn["predictions"], truth)
    e_typ = shj.per_curve_errors(typical["predictions"], truth)
    names = ("mae", "level", "shape")
    return {
        "knn_minus_typical": {
            n: shj.paired_difference(e_knn[:, i], e_typ[:, i]) for i, n in enumerate(names)
        },
        "flat": float(e_knn[:, 3].mean()),
    }


def markdown(summary: dict) -> str:
    """The report of :func:`main`'s ``summary``."""
    m, d = summary["methods"], summary["knn_minus_typical"]
    flat = summary["flat"]
    lines = [
        "# JANAF Cp(T): the composition-free typical curve as a shape reference",
        "",
        f"{summary['n_curves']} curves ({summary['n_train']} train, {summary['n_val']} inner "
        f"validation, {summary['n_test']} test; the split of "
        "`benchmarks/sequence_heads_janaf.py`, seed "
        f"{summary['seed']}); Cp in J/(K mol of atoms); {summary['seconds']:.0f} s. Made by "
        "`benchmarks/janaf_shape_reference.py`.",
        "",
        *shj._method_table(m),
        f"| flat line at the true mean | - | {flat:.3f} | 0 | {flat:.3f} |",
        "",
        "kNN minus the typical curve, per test curve (95 % paired bootstrap interval; "
        "negative: kNN better): " + ", ".join(f"{k} {shj._ci(v)}" for k, v in d.items()) + ".",
        "",
    ]
    shape_gain = m["typical curve"]["test"]["shape"] - m["knn"]["test"]["shape"]
    grid_gain = flat - m["typical curve"]["test"]["shape"]
    lines += [
        f"Of the shape error's drop from the flat line ({flat:.3f}) to kNN "
        f"({m['knn']['test']['shape']:.3f}), the temperature grid alone gives {grid_gain:.3f} "
        f"(the typical curve) and composition, through the neighbours, {shape_gain:.3f}.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Score the typical curve and kNN; write JSON and Markdown into ``--out``."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=Path("results/bench/janaf_shape_reference"))
    p.add_argument("--cache-dir", type=Path, default=Path("data/cache/wheels"))
    args = p.parse_args(argv)
    start = time.perf_counter()
    curves = shj.load_curves(args.cache_dir)
    feats = shj.featurize(curves.index)
    split = shj.split_formulas(curves.index)
    data = {"curves": curves, **{s: curves.index[split == s] for s in ("train", "val", "test")}}
    knn = shj.evaluate(
        "knn", shj.KNN_GRID, lambda c, tr, te: shj.run_knn(feats, curves, tr, te, c), data, print
    )
    typical = shj.evaluate(
        "typical curve",
        TYPICAL_GRID,
        lambda c, tr, te: run_typical(curves, tr, te, c),
        data,
        print,
    )
    summary = {
        "n_curves": len(curves),
        **{f"n_{s}": int((split == s).sum()) for s in ("train", "val", "test")},
        "seed": shj.SEED,
        "methods": {
            name: {k: v for k, v in res.items() if k != "predictions"}
            for name, res in (("knn", knn), ("typical curve", typical))
        },
        **compare(curves, data, knn, typical),
    }
    summary["seconds"] = time.perf_counter() - start
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "janaf_shape_reference.json").write_text(json.dumps(summary, indent=2) + "\n")
    text = markdown(summary)
    (args.out / "janaf_shape_reference.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
