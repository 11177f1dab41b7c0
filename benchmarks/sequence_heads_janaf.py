"""Sequence heads on real curves: JANAF Cp(T) of compounds held out from training.

Data: every crystalline (``cr``) JANAF table of the pinned ``janaf`` wheel, one curve per
reduced formula (the rules of :mod:`foundation_model.data.corpus.janaf`: per mole of atoms,
0 K dropped, polymorphs -> the table with most points). This benchmark is about the heads,
not about Matbench transfer, so the corpus leakage rule is not applied here. Inputs are the
Magpie composition features (132 columns, ``fm featurize``'s ``magpie`` preset).

Protocol, fixed before any result was seen: formulas sorted, shuffled with seed 2026; 20 %
held out as the test set; of the rest, 20 % is an inner validation set that alone chooses
each method's hyperparameters (a 2-point grid per head, ``k`` and weighting for kNN). The
chosen setting is then refit on train + inner validation and scored once on the test set.
With ``--seeds N`` each head's chosen setting is refit with ``N`` torch seeds (the split and
the choice stay those of seed 2026): scores are given as mean ± std over seeds, and the
head's per-curve errors (averaged over seeds) minus kNN's with a paired bootstrap interval
over the test curves, since single-seed differences of a few per cent are within noise.

Methods: the shared formula encoder + one head (RNN, Transformer, TCN-FiLM; 150 epochs,
AdamW 2e-3, MSE on standardised Cp), and a k-nearest-neighbour curve baseline on the same
standardised features (neighbours' curves interpolated at the query temperatures, then
averaged). Scores per test curve, averaged over curves:

* ``mae``: mean |prediction - truth| over the curve's points;
* ``level``: |mean(prediction) - mean(truth)|;
* ``shape``: MAE after subtracting each curve's own mean from prediction and truth. The
  reference ``flat`` is a flat line at the true mean (shape error = mean |truth - mean|):
  a method with a shape error near ``flat`` has not learned the curve's form.

    uv run python benchmarks/sequence_heads_janaf.py      # ~38 min on a busy 2-core machine
    uv run python benchmarks/sequence_heads_janaf.py --seeds 3   # + the chosen settings
                                                                 # refit with 2 more seeds
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

SEED = 2026
TEST_FRACTION = 0.2
INNER_VAL_FRACTION = 0.2
HEADS: dict[str, tuple[str, list[dict]]] = {
    "rnn": ("SequenceRNNTask", [{"hidden_size": 64}, {"hidden_size": 128}]),
    "transformer": (
        "SequenceTransformerTask",
        [{"d_model": 64}, {"d_model": 128, "dim_feedforward": 256}],
    ),
    "tcn_film": ("SequenceTCNFiLMTask", [{"channels": 64}, {"channels": 128}]),
}
KNN_GRID = [{"k": k, "weighted": w} for k in (1, 3, 5, 10) for w in (False, True)]


# ---------------------------------------------------------------------------- data
def load_curves(cache_dir: Path) -> pd.DataFrame:
    """One Cp(T) curve per reduced formula: index ``formula``; ``cp_T``, ``cp`` lists.

    Args:
        cache_dir: wheel cache folder (the janaf wheel is downloaded once).
    """
    from foundation_model.data.corpus.janaf import one_per_formula, read_curves

    curves, _ = read_curves(cache_dir)
    usable = [c for c in curves if c.reduced is not None and len(c.temperature) >= 2]
    chosen = one_per_formula(usable)
    return pd.DataFrame(
        {"cp_T": [c.temperature.tolist() for c in chosen], "cp": [c.cp.tolist() for c in chosen]},
        index=pd.Index([c.reduced for c in chosen], name="formula"),
    )


def featurize(formulas: pd.Index) -> pd.DataFrame:
    """Magpie features (index: formula).

    Args:
        formulas: reduced formulas.
    """
    from foundation_model.features.pipeline import featurize_table

    df = pd.DataFrame({"formula": list(formulas)})
    result = featurize_table(df, "formula", id_column="formula", cache_dir=None, progress=False)
    return result.features.reindex(formulas)


def split_formulas(formulas: pd.Index, seed: int = SEED) -> pd.Series:
    """``train``/``val``/``test`` per formula (test 20 %, inner val 20 % of the rest).

    Args:
        formulas: sorted reduced formulas.
        seed: shuffling seed.
    """
    order = np.random.default_rng(seed).permutation(len(formulas))
    n_test = round(TEST_FRACTION * len(formulas))
    n_val = round(INNER_VAL_FRACTION * (len(formulas) - n_test))
    labels = np.full(len(formulas), "train", dtype=object)
    labels[order[:n_test]] = "test"
    labels[order[n_test : n_test + n_val]] = "val"
    return pd.Series(labels, index=formulas, name="split")


# ---------------------------------------------------------------------------- scores
def per_curve_errors(preds: list[np.ndarray], truths: list[np.ndarray]) -> np.ndarray:
    """``(curves, 4)``: each curve's ``mae``, ``level``, ``shape`` error and ``flat`` reference.

    Args:
        preds: predicted values per curve.
        truths: true values per curve.
    """
    rows = []
    for p, y in zip(preds, truths, strict=True):
        rows.append(
            (
                np.mean(np.abs(p - y)),
                abs(p.mean() - y.mean()),
                np.mean(np.abs((p - p.mean()) - (y - y.mean()))),
                np.mean(np.abs(y - y.mean())),
            )
        )
    return np.asarray(rows, dtype=np.float64)


def curve_scores(preds: list[np.ndarray], truths: list[np.ndarray]) -> dict[str, float]:
    """Mean over curves of ``mae``, ``level``, ``shape`` and the ``flat`` shape reference.

    Args:
        preds: predicted values per curve.
        truths: true values per curve.
    """
    mae, level, shape, flat = per_curve_errors(preds, truths).mean(axis=0)
    return {"mae": float(mae), "level": float(level), "shape": float(shape), "flat": float(flat)}


def paired_difference(
    errors: np.ndarray, reference: np.ndarray, n_boot: int = 10_000, seed: int = 0
) -> dict[str, float]:
    """Mean over curves of ``errors - reference`` (per-curve errors of two methods on the
    same test curves) with a 95 % paired bootstrap interval over curves.

    Args:
        errors: per-curve errors of a method.
        reference: per-curve errors of the reference method, same curves.
        n_boot: bootstrap resamples.
        seed: bootstrap seed.
    """
    diff = np.asarray(errors, dtype=np.float64) - np.asarray(reference, dtype=np.float64)
    idx = np.random.default_rng(seed).integers(0, diff.size, size=(n_boot, diff.size))
    boots = diff[idx].mean(axis=1)
    lo, hi = np.percentile(boots, [2.5, 97.5])
    return {"mean": float(diff.mean()), "ci_low": float(lo), "ci_high": float(hi)}


# ---------------------------------------------------------------------------- kNN
def knn_predict(
    x_train: np.ndarray,
    curves_train: pd.DataFrame,
    x_query: np.ndarray,
    t_query: list[np.ndarray],
    k: int,
    weighted: bool,
) -> list[np.ndarray]:
    """Average of the ``k`` nearest training curves, each interpolated at the query points.

    Args:
        x_train: ``(N, F)`` standardised training features.
        curves_train: the ``N`` training curves (``cp_T``, ``cp``).
        x_query: ``(M, F)`` standardised query features.
        t_query: query temperatures per row.
        k: neighbours.
        weighted: inverse-distance weights instead of a plain mean.
    """
    dist = np.sqrt(((x_query[:, None, :] - x_train[None, :, :]) ** 2).sum(-1))  # (M, N)
    out = []
    for i, temps in enumerate(t_query):
        idx = np.argsort(dist[i], kind="stable")[:k]
        w = 1.0 / (dist[i, idx] + 1e-6) if weighted else np.ones(len(idx))
        ys = [
            np.interp(temps, curves_train["cp_T"].iloc[j], curves_train["cp"].iloc[j]) for j in idx
        ]
        out.append(np.average(np.stack(ys), axis=0, weights=w))
    return out


def run_knn(feats: pd.DataFrame, curves: pd.DataFrame, train: pd.Index, test: pd.Index, cfg):
    """kNN predictions for ``test`` fitted on ``train`` (features standardised on train)."""
    x = feats.to_numpy(np.float64)
    pos = feats.index.get_indexer
    mean, std = x[pos(train)].mean(0), x[pos(train)].std(0) + 1e-9
    xs = (x - mean) / std
    temps = [np.asarray(t) for t in curves.loc[test, "cp_T"]]
    return knn_predict(xs[pos(train)], curves.loc[train], xs[pos(test)], temps, **cfg)


# ---------------------------------------------------------------------------- heads
def run_head(
    head: str,
    cfg: dict,
    feats: pd.DataFrame,
    curves: pd.DataFrame,
    train: pd.Index,
    test: pd.Index,
    epochs: int,
    seed: int = SEED,
) -> list[np.ndarray]:
    """Train encoder + ``head`` on ``train`` curves; predictions for ``test`` (original units).

    Args:
        head: key of ``HEADS``.
        cfg: head hyperparameters.
        feats: Magpie features (index formula).
        curves: curves (index formula).
        train: training formulas.
        test: scored formulas.
        epochs: training epochs.
        seed: torch seed.
    """
    import torch

    from foundation_model.data import CompoundDataModule, PredefinedSplitter
    from foundation_model.models import FlexibleMultiTaskModel
    from foundation_model.models.task_head.base import TaskSpec

    torch.manual_seed(seed)
    split = pd.Series("", index=curves.index, dtype=object)
    split[train], split[test] = "train", "test"
    attrs = curves.assign(split=split)
    task = TaskSpec.from_dict(
        {
            "class_path": f"foundation_model.models.task_head.{HEADS[head][0]}",
            "init_args": {"name": "cp", "x_column": "cp_T", "y_column": "cp", **cfg},
        }
    )
    dm = CompoundDataModule(
        feats, [task], attrs, splitter=PredefinedSplitter("split"), batch_size=32
    )
    dm.setup("fit")
    model = FlexibleMultiTaskModel(
        tasks=dm.tasks,
        formula_input_dim=dm.formula_dim,
        encoder_dims=[128, 64],
        deposit_dim=64,
        dropout=0.1,
        uncertainty_weighting=False,
    )
    model.set_statistics(dm.statistics())
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=1e-4)
    for _ in range(epochs):
        model.train()
        for batch in dm.train_dataloader():
            opt.zero_grad()
            model.compute_losses(batch)[0].backward()
            opt.step()
    model.eval()
    preds: dict[int, np.ndarray] = {}
    with torch.no_grad():
        for batch in dm.test_dataloader():
            out = model.to_outputs(batch, model.member_predictions(batch))
            for row, seq in zip(batch.index.tolist(), out["cp_sequence"].numpy(), strict=True):
                preds[row] = seq[~np.isnan(seq)]
    return [preds[i] for i in dm.ids.get_indexer(test)]


# ---------------------------------------------------------------------------- protocol
def evaluate(method: str, grid: list[dict], fit, data: dict, log) -> dict:  # noqa: ANN001
    """Choose ``grid``'s setting on the inner validation set, refit, score on the test set."""
    truth = lambda idx: [np.asarray(v) for v in data["curves"].loc[idx, "cp"]]  # noqa: E731
    inner = []
    for cfg in grid:
        t0 = time.perf_counter()
        score = curve_scores(fit(cfg, data["train"], data["val"]), truth(data["val"]))
        inner.append({"config": cfg, **score})
        log(f"{method} {cfg}: inner-val mae {score['mae']:.3f} ({time.perf_counter() - t0:.0f} s)")
    best = min(inner, key=lambda r: r["mae"])["config"]
    t0 = time.perf_counter()
    preds = fit(best, data["train"].append(data["val"]), data["test"])
    result = curve_scores(preds, truth(data["test"]))
    log(f"{method} test: {result} ({time.perf_counter() - t0:.0f} s)")
    return {"chosen": best, "inner_validation": inner, "test": result, "predictions": preds}


def seed_repeats(errors: np.ndarray, knn_errors: np.ndarray, first_seed: int) -> dict:
    """Scores of one head refit with several torch seeds, against kNN on the same curves.

    Args:
        errors: ``(seeds, curves, 4)`` per-curve errors (:func:`per_curve_errors`) per seed.
        knn_errors: ``(curves, 4)`` per-curve errors of kNN.
        first_seed: seed of ``errors[0]`` (the others follow it).
    """
    names = ("mae", "level", "shape")
    per_seed = errors[:, :, :3].mean(axis=1)  # (seeds, 3)
    averaged = errors.mean(axis=0)  # each curve's error averaged over the seeds
    return {
        "seeds": [first_seed + j for j in range(errors.shape[0])],
        "test_per_seed": [dict(zip(names, map(float, row), strict=True)) for row in per_seed],
        "mean": dict(zip(names, map(float, per_seed.mean(axis=0)), strict=True)),
        "std": dict(zip(names, map(float, per_seed.std(axis=0, ddof=1)), strict=True)),
        "seeds_beating_knn": {
            name: int((per_seed[:, i] < knn_errors[:, i].mean()).sum())
            for i, name in enumerate(names)
        },
        "minus_knn": {
            name: paired_difference(averaged[:, i], knn_errors[:, i])
            for i, name in enumerate(names)
        },
    }


def plot_curves(data: dict, results: dict, path: Path, n: int = 8) -> None:
    """True vs predicted Cp(T) for the first ``n`` test formulas."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, n // 2, figsize=(3.2 * n // 2, 6.0), squeeze=False)
    for i, ax in enumerate(axes.ravel()):
        formula = data["test"][i]
        temps = data["curves"].loc[formula, "cp_T"]
        ax.plot(temps, data["curves"].loc[formula, "cp"], "k-", lw=2.5, label="JANAF")
        for method, res in results.items():
            ax.plot(temps, res["predictions"][i], lw=1.2, label=method)
        ax.set_title(formula, fontsize=9)
        ax.set_xlabel("T (K)", fontsize=8)
        if i % (n // 2) == 0:
            ax.set_ylabel("Cp (J/(K mol atoms))", fontsize=8)
    axes[0, 0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def markdown(summary: dict) -> str:
    """The Markdown table of ``summary``."""
    lines = [
        "# Sequence heads on JANAF Cp(T), held-out compounds",
        "",
        f"{summary['n_curves']} curves ({summary['n_train']} train, {summary['n_val']} inner "
        f"validation, {summary['n_test']} test); Cp in J/(K mol of atoms); "
        f"{summary['epochs']} epochs per head; seed {summary['seed']}; {summary['seconds']:.0f} s.",
        "",
        "| method | chosen on inner validation | MAE | level error | shape error |",
        "|---|---|---|---|---|",
    ]
    for method, res in summary["methods"].items():
        t = res["test"]
        lines.append(
            f"| {method} | `{res['chosen']}` | {t['mae']:.3f} | {t['level']:.3f} | "
            f"{t['shape']:.3f} |"
        )
    flat = next(iter(summary["methods"].values()))["test"]["flat"]
    lines += [
        f"| flat line at the true mean | - | {flat:.3f} | 0 | {flat:.3f} |",
        "",
        "Scores are means over test curves. Shape error: MAE after subtracting each curve's "
        "own mean; the flat line at the true mean is its reference (it has the right level and "
        "no shape). Made by `benchmarks/sequence_heads_janaf.py`.",
        "",
    ]
    repeated = {m: r["repeats"] for m, r in summary["methods"].items() if "repeats" in r}
    if repeated:
        n = len(next(iter(repeated.values()))["seeds"])
        lines += [
            f"## The chosen setting refit with {n} torch seeds",
            "",
            "Mean ± std over seeds; how many seeds beat kNN's mean; and the head's per-curve "
            "error (averaged over the seeds) minus kNN's on the same curves, with a 95 % paired "
            "bootstrap interval over test curves (negative: the head is better).",
            "",
            "| head | MAE | level error | shape error | seeds beating kNN (MAE / level / shape) "
            "| level − kNN [95 % CI] | shape − kNN [95 % CI] |",
            "|---|---|---|---|---|---|---|",
        ]
        for method, r in repeated.items():
            m, sd, b, d = r["mean"], r["std"], r["seeds_beating_knn"], r["minus_knn"]
            ci = {
                k: f"{d[k]['mean']:+.3f} [{d[k]['ci_low']:+.3f}, {d[k]['ci_high']:+.3f}]"
                for k in ("level", "shape")
            }
            lines.append(
                f"| {method} | {m['mae']:.3f} ± {sd['mae']:.3f} | {m['level']:.3f} ± "
                f"{sd['level']:.3f} | {m['shape']:.3f} ± {sd['shape']:.3f} | {b['mae']} / "
                f"{b['level']} / {b['shape']} of {n} | {ci['level']} | {ci['shape']} |"
            )
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and write JSON, Markdown and a PNG into ``--out``."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=Path("results/bench"))
    p.add_argument("--cache-dir", type=Path, default=Path("data/cache/wheels"))
    p.add_argument("--epochs", type=int, default=150)
    p.add_argument(
        "--seeds",
        type=int,
        default=1,
        help="torch seeds per head for the chosen setting's refit (seed 2026, 2027, ...); "
        "the split and the choice on inner validation stay those of seed 2026",
    )
    args = p.parse_args(argv)
    if args.seeds < 1:
        p.error(f"--seeds must be at least 1, got {args.seeds}")
    import torch

    torch.set_num_threads(1)
    start = time.perf_counter()
    curves = load_curves(args.cache_dir)
    feats = featurize(curves.index)
    split = split_formulas(curves.index)
    data = {"curves": curves, **{s: curves.index[split == s] for s in ("train", "val", "test")}}
    results = {
        "knn": evaluate(
            "knn", KNN_GRID, lambda c, tr, te: run_knn(feats, curves, tr, te, c), data, print
        )
    }
    for head, (_, grid) in HEADS.items():
        results[head] = evaluate(
            head,
            grid,
            lambda c, tr, te, h=head: run_head(h, c, feats, curves, tr, te, args.epochs),
            data,
            print,
        )
    if args.seeds > 1:
        truth = [np.asarray(v) for v in curves.loc[data["test"], "cp"]]
        refit = data["train"].append(data["val"])
        knn_errors = per_curve_errors(results["knn"]["predictions"], truth)
        for head in HEADS:
            res = results[head]
            errors = [per_curve_errors(res["predictions"], truth)]
            for j in range(1, args.seeds):
                t0 = time.perf_counter()
                preds = run_head(
                    head, res["chosen"], feats, curves, refit, data["test"], args.epochs, SEED + j
                )
                errors.append(per_curve_errors(preds, truth))
                print(
                    f"{head} seed {SEED + j}: {curve_scores(preds, truth)} "
                    f"({time.perf_counter() - t0:.0f} s)"
                )
            res["repeats"] = seed_repeats(np.stack(errors), knn_errors, SEED)
    args.out.mkdir(parents=True, exist_ok=True)
    plot_curves(data, results, args.out / "sequence_heads_janaf.png")
    summary = {
        "n_curves": len(curves),
        **{f"n_{s}": int(len(data[s])) for s in ("train", "val", "test")},
        "epochs": args.epochs,
        "seed": SEED,
        "seeds": args.seeds,
        "seconds": time.perf_counter() - start,
        "test_formulas": list(data["test"]),
        "methods": {
            m: {k: v for k, v in r.items() if k != "predictions"} for m, r in results.items()
        },
    }
    (args.out / "sequence_heads_janaf.json").write_text(json.dumps(summary, indent=2) + "\n")
    (args.out / "sequence_heads_janaf.md").write_text(markdown(summary))
    print(markdown(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
