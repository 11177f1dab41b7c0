"""One multi-task model vs one single-task model per target, on real sparse targets.

Data: matminer's bundled Ricci et al. transport set (``mp_transport``: 47.7k Materials
Project compounds x 10 transport targets), subsampled for CPU and featurized with Magpie.
The set is dense, so labels are made sparse for training: in the train/val rows each
target keeps a random ``--label-fraction`` of its labels (a different subset per target),
as in a collection of separately measured properties. Test rows keep every label.
Conductivities, thermal conductivities, power factors and effective masses span orders of
magnitude and are modelled as log10; Seebeck coefficients are used as they are. MAE is
reported in those units.

Both arms use the same split, features, architecture, epochs and seed; each model trains
on the rows that carry at least one of its labels (a single-task model sees only its own
labelled rows, the multi-task model the union). The multi-task model weights its losses
with learnable log-sigma (uncertainty weighting).

    uv run python benchmarks/multitask_vs_single.py   # ~10 min on 2 CPU cores
"""

from __future__ import annotations

import argparse
import tarfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

LOG_TARGETS = ["sigma_p", "sigma_n", "kappa_p", "kappa_n", "PF_p", "PF_n", "m_p", "m_n"]
RAW_TARGETS = ["S_p", "S_n"]


def load_transport(n_rows: int, seed: int) -> pd.DataFrame:
    """Subsampled transport table: index ``mp_id``; ``formula`` + 10 targets (some log10).

    Args:
        n_rows: rows to keep.
        seed: sampling seed.
    """
    import matminer

    path = (
        Path(matminer.__file__).parent / "utils/data_files/mp_transport/transport_database.tar.xz"
    )
    with tarfile.open(path) as tar:
        df = pd.read_csv(tar.extractfile("transport_database.csv"), index_col="mp_id")
    df = df.rename(columns={"pretty_formula": "formula"})
    for col in LOG_TARGETS:
        values = pd.to_numeric(df[col], errors="coerce")
        df[f"log10_{col}"] = np.log10(values.where(values > 0))
    df = df[["formula", *[f"log10_{c}" for c in LOG_TARGETS], *RAW_TARGETS]].dropna()
    return df.sample(n=min(n_rows, len(df)), random_state=seed).sort_index()


def sparse_attributes(
    df: pd.DataFrame, targets: list[str], fraction: float, seed: int
) -> pd.DataFrame:
    """Targets + a ``split`` column; train/val labels kept with probability ``fraction`` per target.

    Args:
        df: table with the target columns.
        targets: target columns.
        fraction: share of train/val labels kept per target.
        seed: seed of the split and of the masks.
    """
    rng = np.random.default_rng(seed)
    split = rng.choice(["train", "val", "test"], size=len(df), p=[0.8, 0.1, 0.1])
    attrs = df[targets].copy()
    for col in targets:
        drop = (split != "test") & (rng.random(len(df)) > fraction)
        attrs.loc[drop, col] = np.nan
    attrs["split"] = split
    return attrs


def train_and_score(
    features: pd.DataFrame,
    attrs: pd.DataFrame,
    truth: pd.DataFrame,
    targets: list[str],
    epochs: int,
    seed: int,
) -> dict[str, float]:
    """Train one model on ``targets`` and return test MAE per target.

    Args:
        features: imputed Magpie descriptors.
        attrs: sparse targets + ``split``.
        truth: full targets (for scoring test rows).
        targets: tasks of this model.
        epochs: training epochs.
        seed: seed.
    """
    import lightning.pytorch as pl

    from foundation_model.data import CompoundDataModule, PredefinedSplitter
    from foundation_model.models import FlexibleMultiTaskModel
    from foundation_model.models.task_head import RegressionTask

    pl.seed_everything(seed, verbose=False)
    tasks = [RegressionTask(t, column=t, hidden_dims=[64], loss="l1") for t in targets]
    labelled = attrs[targets].notna().any(axis=1) | (attrs["split"] == "test")
    attrs, features = attrs[labelled], features.loc[labelled[labelled].index]
    dm = CompoundDataModule(
        features,
        tasks,
        attributes_source=attrs[[*targets, "split"]],
        splitter=PredefinedSplitter("split"),
        batch_size=128,
        predict_split="test",
    )
    model = FlexibleMultiTaskModel(
        tasks=dm.tasks,
        formula_input_dim=dm.formula_dim,
        encoder_dims=[256, 128],
        deposit_dim=64,
        dropout=0.1,
    )
    trainer = pl.Trainer(
        max_epochs=epochs,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(model, dm)
    out = trainer.predict(model, dm)
    rows = np.concatenate([b["row_index"].numpy() for b in out])
    ids = dm.ids[rows]
    scores = {}
    for t in targets:
        pred = np.concatenate([b[f"{t}_value"].numpy() for b in out])
        scores[t] = float(np.mean(np.abs(pred - truth.loc[ids, t].to_numpy())))
    return scores


def write_outputs(result: dict, out_dir: Path) -> None:
    """JSON, Markdown table and bar plot under ``out_dir``.

    Args:
        result: scores and settings.
        out_dir: output folder.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from foundation_model.features.table_io import write_json, write_text

    targets = list(result["multi_task_mae"])
    write_json(result, out_dir / "multitask_vs_single.json")
    lines = [
        "# Multi-task vs single-task on the mp_transport targets",
        "",
        f"{result['n_rows']} compounds, Magpie features, train labels kept per target: "
        f"{result['label_fraction']:.0%}; {result['epochs']} epochs each; test MAE "
        "(log10 units for log10_* targets, µV/K for S_*).",
        "",
        "| target | multi-task | single-task | better |",
        "|---|---|---|---|",
    ]
    for t in targets:
        m, s = result["multi_task_mae"][t], result["single_task_mae"][t]
        lines.append(f"| {t} | {m:.4f} | {s:.4f} | {'multi' if m < s else 'single'} |")
    lines += [
        "",
        f"Multi-task better on {result['multi_better_count']}/{len(targets)} targets; "
        f"times: multi {result['seconds_multi']:.0f} s, "
        f"single (all) {result['seconds_single']:.0f} s.",
    ]
    write_text("\n".join(lines) + "\n", out_dir / "multitask_vs_single.md")
    fig, ax = plt.subplots(figsize=(9, 4))
    x = np.arange(len(targets))
    rel = [result["multi_task_mae"][t] / result["single_task_mae"][t] for t in targets]
    ax.bar(x, rel, color=["tab:green" if r < 1 else "tab:red" for r in rel])
    ax.axhline(1.0, color="k", lw=1)
    ax.set_xticks(x, targets, rotation=45, ha="right")
    ax.set_ylabel("test MAE ratio multi / single")
    ax.set_title("Multi-task (uncertainty weighting) vs single-task, mp_transport")
    fig.tight_layout()
    fig.savefig(out_dir / "multitask_vs_single.png", dpi=120)
    plt.close(fig)


def main() -> None:
    """Run both arms and write results/bench/multitask_vs_single.{json,md,png}."""
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--rows", type=int, default=2500)
    p.add_argument("--label-fraction", type=float, default=0.3)
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=Path("results/bench"))
    args = p.parse_args()

    from foundation_model.features.pipeline import featurize_table

    df = load_transport(args.rows, args.seed)
    targets = [f"log10_{c}" for c in LOG_TARGETS] + RAW_TARGETS
    feats = featurize_table(
        df.reset_index(), "formula", "magpie", id_column="mp_id", progress=False
    )
    df = df.loc[feats.features.index]
    attrs = sparse_attributes(df, targets, args.label_fraction, args.seed)
    start = time.perf_counter()
    multi = train_and_score(feats.features, attrs, df, targets, args.epochs, args.seed)
    t_multi = time.perf_counter() - start
    single = {}
    for t in targets:
        single |= train_and_score(feats.features, attrs, df, [t], args.epochs, args.seed)
        print(f"{t}: multi {multi[t]:.4f}  single {single[t]:.4f}", flush=True)
    result = {
        "dataset": "matminer mp_transport (Ricci et al.), subsampled",
        "n_rows": len(df),
        "label_fraction": args.label_fraction,
        "epochs": args.epochs,
        "seed": args.seed,
        "n_train_labels": {
            t: int(attrs.loc[attrs.split == "train", t].notna().sum()) for t in targets
        },
        "n_test": int((attrs.split == "test").sum()),
        "multi_task_mae": multi,
        "single_task_mae": single,
        "multi_better_count": int(sum(multi[t] < single[t] for t in targets)),
        "seconds_multi": t_multi,
        "seconds_single": time.perf_counter() - start - t_multi,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    write_outputs(result, args.out)
    print(f"wrote {args.out / 'multitask_vs_single.json'}")


if __name__ == "__main__":
    main()
