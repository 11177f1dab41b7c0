"""Does fm-base's representation help a random forest? Inner folds of training ids only.

For each task, on the training ids of official fold 0 only (its test ids are never read),
3 inner folds compare random forests that differ in their inputs alone:

* ``rf_desc`` — the model's own descriptors (the ``rf_same_features`` control);
* ``rf_desc_latent`` — the same descriptors plus fm-base's shared representation
  (``h_task``, frozen, computed once from the descriptors);
* ``rf_desc_heads`` — the same descriptors plus fm-base's own predictions of its corpus
  properties (band gaps, formation energies, ... in their scaled space);
* ``rf_latent`` — the shared representation alone.

This decides whether a "tree probe" on the pretrained encoder is a fine-tuning mode worth
offering the recipe; it does not score any test fold.

    uv run python benchmarks/tree_probe_inner.py --tasks steels glass expt_is_metal
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

SMALL = ("steels", "jdft2d", "phonons", "dielectric", "expt_gap", "expt_is_metal", "glass")


def pretrained_inputs(model: Any, x: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """fm-base's ``h_task`` and its heads' scalar outputs for descriptor rows ``x``.

    Args:
        model: the pretrained model (``Predictor.from_checkpoint(path).model``, eval mode).
        x: descriptors in the checkpoint's column order, without NaNs.
    """
    import torch

    t = torch.as_tensor(x.to_numpy(dtype=np.float32))
    with torch.no_grad():
        h = model.encoder(model.formula_scaler.transform(t)).h_task
        heads = {}
        for spec in model.task_specs:
            if spec.is_sequence:
                continue
            out = spec.combine(model.heads[spec.name](h))
            out = out if out.ndim == 1 else out[..., -1]
            heads[f"head_{spec.name}"] = out.numpy()
    latent = pd.DataFrame(h.numpy(), index=x.index, columns=[f"h{i}" for i in range(h.shape[1])])
    return latent, pd.DataFrame(heads, index=x.index)


def inner_scores(x: pd.DataFrame, y: pd.Series, task_type: str, seed: int) -> list[float]:
    """3-fold inner CV score (MAE, or ROC-AUC on hard labels) of a 500-tree RF."""
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
    from sklearn.metrics import mean_absolute_error, roc_auc_score
    from sklearn.model_selection import KFold

    out = []
    for tr, va in KFold(3, shuffle=True, random_state=seed).split(x):
        if task_type == "regression":
            rf = RandomForestRegressor(500, n_jobs=2, random_state=seed)
            rf.fit(x.iloc[tr], y.iloc[tr])
            out.append(float(mean_absolute_error(y.iloc[va], rf.predict(x.iloc[va]))))
        else:
            rf = RandomForestClassifier(500, n_jobs=2, random_state=seed)
            rf.fit(x.iloc[tr], y.iloc[tr].astype(int))
            out.append(float(roc_auc_score(y.iloc[va].astype(int), rf.predict(x.iloc[va]))))
    return out


def main(argv: list[str] | None = None) -> int:
    from foundation_model.data.matbench import read_matbench_task
    from foundation_model.features.imputation import MedianImputer
    from foundation_model.inference.predictor import Predictor
    from foundation_model.utils.atomic import write_json, write_text
    from foundation_model.workflows.finetune_recipe import PretrainedBase
    from foundation_model.workflows.matbench_bench import BenchOptions, task_features

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ckpt = ROOT / "results/pretrained/fm-base/model.ckpt"
    p.add_argument("--pretrained", type=Path, default=ckpt)
    p.add_argument("--tasks", nargs="+", default=list(SMALL))
    p.add_argument("--data-dir", type=Path, default=Path("data/matbench"))
    p.add_argument("--out", type=Path, default=ROOT / "results/bench/tree_probe_inner")
    args = p.parse_args(argv)
    base = PretrainedBase.read(args.pretrained)
    model = Predictor.from_checkpoint(args.pretrained).model
    path = args.out / "scores.json"
    rows = json.loads(path.read_text()) if path.is_file() else {}  # tasks run before are kept
    for short in args.tasks:
        t0 = time.perf_counter()
        opts = BenchOptions(task=f"matbench_{short}", out_dir=args.out, progress=False)
        task = read_matbench_task(args.data_dir, opts.task)
        if task is None:
            raise SystemExit(f"{opts.task} is not in {args.data_dir}: run `fm data matbench`.")
        raw, _ = task_features(task, base.preset or "magpie", opts)
        train = list(task.folds[0][0])
        x = MedianImputer().fit_transform(base.align(raw.loc[train], empty_columns_only=True))
        x_fill = base.align(raw.loc[train])  # the encoder's own fill: pre-training medians
        latent, heads = pretrained_inputs(model, x_fill)
        y = task.table["target"].loc[train]
        arms = {
            "rf_desc": x,
            "rf_desc_latent": pd.concat([x, latent], axis=1),
            "rf_desc_heads": pd.concat([x, heads], axis=1),
            "rf_latent": latent,
        }
        rows[short] = {
            "metric": "mae" if task.task_type == "regression" else "roc_auc",
            "n_train": len(train),
            **{k: inner_scores(v, y, task.task_type, seed=0) for k, v in arms.items()},
            "seconds": time.perf_counter() - t0,
        }
        r = rows[short]
        print(short, {k: round(float(np.mean(r[k])), 4) for k in arms}, flush=True)
        write_json(rows, path)  # after every task: an interrupted run keeps what it finished
        write_text(markdown(rows), args.out / "README.md")
    return 0


def markdown(rows: dict[str, dict]) -> str:
    """The inner-CV table: mean over the 3 inner folds, and each arm minus ``rf_desc``."""
    lines = [
        "# Does fm-base's representation help a random forest? (inner folds only)",
        "",
        "Training ids of official fold 0 only, 3 inner folds (seed 0), 500-tree random "
        "forests that differ in their inputs alone. MAE: lower is better; ROC-AUC (hard "
        "labels, as the leaderboard's RF was scored): higher is better. In brackets: the arm minus "
        "`rf_desc`, with the number of inner folds (of 3) on which the arm is better. "
        "Descriptor gaps are filled with medians of all of fold 0's training ids (the same "
        "fill for every arm); `h_task` is computed with the checkpoint's pre-training "
        "medians. Written by `benchmarks/tree_probe_inner.py`.",
        "",
        "| task | metric | train rows | RF descriptors | + fm-base h_task | + fm-base head "
        "outputs | h_task alone |",
        "|---|---|---|---|---|---|---|",
    ]
    for task, r in rows.items():
        ref = np.asarray(r["rf_desc"])
        sign = 1.0 if r["metric"] == "mae" else -1.0
        cells = [f"{ref.mean():.4g}"]
        for arm in ("rf_desc_latent", "rf_desc_heads", "rf_latent"):
            v = np.asarray(r[arm])
            wins = int((sign * (v - ref) < 0).sum())
            cells.append(f"{v.mean():.4g} ({v.mean() - ref.mean():+.3g}; {wins}/3)")
        lines.append(f"| {task} | {r['metric']} | {r['n_train']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
