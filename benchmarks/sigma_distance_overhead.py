"""What the latent distance in σ costs: ``Trainer.fit`` with ``sigma_distance_rows`` 0 vs N.

Usage (from the repository root)::

    uv run python benchmarks/sigma_distance_overhead.py              # 300 and 4000 rows
    uv run python benchmarks/sigma_distance_overhead.py --rows 300 --epochs 5 --rounds 1 \\
        --out /tmp/bench

Data: ``--rows`` synthetic compounds x ``--features`` descriptors, one regression target
(the Matbench calibration runs' head: 5 members with a noise head), 10 % validation rows.
Each round fits the same model from the same seed for ``--epochs`` epochs with the distance
off and on (``--bank`` kept rows), in alternating order, and times the whole fit (every
validation epoch refreshes the bank and refits the σ map's weight, scale and floor). The
medians over rounds and their ratio go to ``<out>/sigma_distance_overhead.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import lightning.pytorch as pl
import numpy as np
import pandas as pd
import torch

from foundation_model.data import CompoundDataModule, RandomSplitter
from foundation_model.models import FlexibleMultiTaskModel
from foundation_model.models.task_head import RegressionTask


def make_data(rows: int, features: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Descriptors and a smooth nonlinear target with noise."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((rows, features)).astype(np.float32)
    y = np.tanh(x[:, 0]) * x[:, 1] + 0.3 * x[:, 2] ** 2 + 0.1 * rng.standard_normal(rows)
    ids = pd.Index([f"r{i}" for i in range(rows)], name="id")
    return (
        pd.DataFrame(x, index=ids, columns=[f"d{j}" for j in range(features)]),
        pd.DataFrame({"y": y}, index=ids),
    )


def fit_seconds(x: pd.DataFrame, attrs: pd.DataFrame, bank: int, epochs: int) -> float:
    """Wall time of one ``Trainer.fit`` (data set-up included, identical in both variants)."""
    pl.seed_everything(0, verbose=False)
    task = RegressionTask("y", hidden_dims=[64], loss="l1", noise_head=True)
    dm = CompoundDataModule(
        x,
        [task],
        attrs,
        splitter=RandomSplitter(val_fraction=0.1, test_fraction=0.0, seed=0),
        batch_size=32,
    )
    dm.setup("fit")
    model = FlexibleMultiTaskModel(
        dm.tasks,
        dm.formula_dim,
        encoder_dims=[256, 256, 256],
        residual=True,
        deposit_dim=64,
        norm="batch",
        dropout=0.1,
        ensemble_size=5,
        sigma_distance_rows=bank,
    )
    trainer = pl.Trainer(
        max_epochs=epochs,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    start = time.perf_counter()
    trainer.fit(model, dm)
    return time.perf_counter() - start


def measure(rows: int, features: int, epochs: int, rounds: int, bank: int) -> dict:
    """Alternating rounds of both variants on one data size."""
    x, attrs = make_data(rows, features, seed=0)
    times: dict[str, list[float]] = {"off": [], "on": []}
    for r in range(rounds):
        order = ("off", "on") if r % 2 == 0 else ("on", "off")
        for variant in order:
            times[variant].append(fit_seconds(x, attrs, bank if variant == "on" else 0, epochs))
    med = {k: statistics.median(v) for k, v in times.items()}
    return {
        "rows": rows,
        "epochs": epochs,
        "seconds": times,
        "median_off": med["off"],
        "median_on": med["on"],
        "ratio_on_off": med["on"] / med["off"],
        "per_epoch_extra_ms": 1e3 * (med["on"] - med["off"]) / epochs,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, nargs="+", default=[300, 4000], help="data sizes")
    p.add_argument("--features", type=int, default=150, help="descriptors per row")
    p.add_argument("--epochs", type=int, default=30, help="epochs per fit")
    p.add_argument("--rounds", type=int, default=3, help="fits per variant and size")
    p.add_argument("--bank", type=int, default=4096, help="sigma_distance_rows when on")
    p.add_argument("--out", type=Path, default=Path("results/bench"), help="output folder")
    args = p.parse_args(argv)
    results = [measure(n, args.features, args.epochs, args.rounds, args.bank) for n in args.rows]
    report = {
        "machine": f"{platform.machine()}, {torch.get_num_threads()} torch threads",
        "bank": args.bank,
        "runs": results,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "sigma_distance_overhead.json").write_text(json.dumps(report, indent=2) + "\n")
    lines = [
        "# Cost of the latent distance in σ (`sigma_distance_rows`)",
        "",
        f"`Trainer.fit` of the same model and seed with the distance off and on (bank of "
        f"{args.bank} rows), alternating, medians over {args.rounds} rounds; "
        f"{report['machine']}. Made by `benchmarks/sigma_distance_overhead.py`.",
        "",
        "| rows | epochs | fit off (s) | fit on (s) | on / off | extra per epoch (ms) |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['rows']} | {r['epochs']} | {r['median_off']:.2f} | {r['median_on']:.2f} "
            f"| {r['ratio_on_off']:.2f} | {r['per_epoch_extra_ms']:.0f} |"
        )
    text = "\n".join(lines) + "\n"
    (args.out / "sigma_distance_overhead.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
