"""Benchmark MLIP fine-tuning: zero-shot vs fine-tuned errors, epoch time, MD speed.

On a held-out test split (80/10/10, seeded) it reports energy MAE (meV/atom) and force
MAE (meV/Å) of the pretrained backbone zero-shot (after fitting per-element reference
energies on the training split) and after fine-tuning, seconds per fine-tuning epoch
and MD steps per second on a 64-atom Cu cell, and writes
``results/bench/mlip_finetune_<backbone>.json``.

Usage:
    uv run python samples/helper_tools/make_emt_dataset.py --out data/emt_cu_al.extxyz
    uv run python benchmarks/mlip_finetune.py --backbone sevennet --data data/emt_cu_al.extxyz
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch


def build_backbone(name: str, mace_model: str | None) -> Any:
    from foundation_model.backbones import SchNetBackbone
    from foundation_model.backbones.calculator import pretrained_backbone

    if name == "schnet":
        return SchNetBackbone()
    if name == "mace":
        if not mace_model:
            raise SystemExit(
                "--backbone mace needs --mace-model PATH (MACE weights are not bundled)."
            )
        return pretrained_backbone(mace_model)
    return pretrained_backbone(name)


def evaluate(module: Any, structures: list, batch_size: int) -> dict[str, float]:
    """Energy MAE (meV/atom) and force MAE (meV/Å) of ``module`` on labelled structures."""
    module.eval()
    e_err, f_err = [], []
    for start in range(0, len(structures), batch_size):
        batch = module.batch_from_atoms(structures[start : start + batch_size], has_labels=True)
        preds = module(batch, forces=True, stress=False)
        n = batch.num_atoms.double()
        e_err.append(
            ((preds["energy"].double() - batch.labels["energy"].double()) / n).abs().detach().cpu()
        )
        f_err.append(
            (preds["forces"].double() - batch.labels["forces"].double())
            .abs()
            .detach()
            .cpu()
            .flatten()
        )
    return {
        "energy_mae_mev_atom": 1000.0 * float(torch.cat(e_err).mean()),
        "force_mae_mev_a": 1000.0 * float(torch.cat(f_err).mean()),
    }


def md_speed(module: Any, steps: int) -> float:
    from ase.build import bulk

    from foundation_model.backbones import MLIPCalculator, run_md

    cell = bulk("Cu", "fcc", 3.61, cubic=True) * (2, 2, 4)  # 64 atoms
    calc = MLIPCalculator(module, device="cpu")
    run_md(cell, calc, steps=2)  # warm-up (first-call compilation)
    result = run_md(
        cell, calc, "langevin", temperature_K=300, steps=steps, sample_interval=steps, seed=0
    )
    if result.stopped:
        print(f"MD stopped early: {result.stopped}")
    return result.steps_per_second


def fine_tune(module: Any, dm: Any, epochs: int) -> list[float]:
    """Fit ``module``; returns the wall time of every training epoch."""
    import lightning.pytorch as pl

    class EpochTimer(pl.Callback):
        def __init__(self) -> None:
            self.times: list[float] = []

        def on_train_epoch_start(self, trainer: Any, pl_module: Any) -> None:
            self.start = time.perf_counter()

        def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
            self.times.append(time.perf_counter() - self.start)
            metrics = {
                k: round(float(v), 4) for k, v in trainer.callback_metrics.items() if "mae" in k
            }
            print(f"epoch {trainer.current_epoch}: {self.times[-1]:.1f} s {metrics}", flush=True)

    timer = EpochTimer()
    trainer = pl.Trainer(
        max_epochs=epochs,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        callbacks=[timer],
    )
    trainer.fit(module, dm)
    return timer.times


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--backbone", required=True, choices=["sevennet", "chgnet", "mace", "schnet"]
    )
    parser.add_argument("--data", required=True, help="labelled extxyz/ASE db file")
    parser.add_argument("--mace-model", default=None, help="MACE model file (for --backbone mace)")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--lr", type=float, default=5e-4)
    parser.add_argument("--ema-decay", type=float, default=0.99)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--threads", type=int, default=1, help="torch CPU threads (1 is fastest for small cells)"
    )
    parser.add_argument("--md-steps", type=int, default=20)
    parser.add_argument(
        "--out",
        default=None,
        help="JSON path (default results/bench/mlip_finetune_<backbone>.json)",
    )
    args = parser.parse_args(argv)

    import lightning.pytorch as pl

    from foundation_model.backbones import MLIPDataModule, MLIPFineTuneModule

    torch.set_num_threads(args.threads)
    pl.seed_everything(args.seed)
    dm = MLIPDataModule(
        args.data, split_fractions=[0.8, 0.1, 0.1], split_seed=args.seed, batch_size=args.batch_size
    )
    parts = dm.load()
    module = MLIPFineTuneModule(
        build_backbone(args.backbone, args.mace_model),
        optimizer=lambda params: torch.optim.AdamW(params, lr=args.lr, weight_decay=0.0),
        ema_decay=args.ema_decay,
    )
    t0 = time.perf_counter()
    module.fit_normalisation(parts["train"])  # zero-shot alignment: reference energies only
    before = evaluate(module, parts["test"], args.batch_size)
    print(f"zero-shot ({time.perf_counter() - t0:.0f} s): {before}", flush=True)
    epoch_times = fine_tune(module, dm, args.epochs)
    module.use_ema_weights()
    after = evaluate(module, parts["test"], args.batch_size)
    print(f"fine-tuned: {after}", flush=True)
    result = {
        "backbone": args.backbone,
        "data": str(args.data),
        "n_train": len(parts["train"]),
        "n_val": len(parts["val"]),
        "n_test": len(parts["test"]),
        "epochs": args.epochs,
        "lr": args.lr,
        "batch_size": args.batch_size,
        "before": before,
        "after": after,
        "force_mae_reduction": before["force_mae_mev_a"] / max(after["force_mae_mev_a"], 1e-12),
        "epoch_seconds": float(np.mean(epoch_times[1:] if len(epoch_times) > 1 else epoch_times)),
        "md_steps_per_s": md_speed(module, args.md_steps),
        "md_atoms": 64,
        "device": "cpu",
        "torch_threads": args.threads,
        "machine": platform.machine(),
    }
    out = Path(args.out or f"results/bench/mlip_finetune_{args.backbone}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
