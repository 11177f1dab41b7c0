"""Training epoch time of the recipe's network: bin branch layout and AdamW implementation.

Usage (from the repository root, after ``uv run fm data matbench --out data/matbench``)::

    uv run python benchmarks/bin_branch_speed.py       # steels, jdft2d, expt_gap; 5 rounds
    uv run python benchmarks/bin_branch_speed.py --tasks matbench_steels --rounds 2 --out /tmp/b

For each task the fine-tuning recipe's network (``encoder_dims [512, 256]``, ``deposit_dim
256``, a ``[64]`` regression head; descriptors from
``data/matbench/features/<task>_rich.parquet``, the target from ``<task>.csv``, all rows in
the training split) runs one epoch of a plain loop (``compute_losses``, backward, AdamW
step; the recipe's batch size for the row count) in each of these variants, in alternating
order:

* ``no_bins`` — ``formula_bins: 0``;
* ``bins8`` / ``bins16`` — the bin branch as the package builds it: the encoding of the
  valid (descriptor, bin) columns only, times a weight for those columns;
* ``bins8_dense`` / ``bins16_dense`` — the same model with the branch replaced by the full
  ``(F, T)`` encoding times one dense ``(512, F*T)`` matrix over every column (how the
  branch was built until the thirty-first session; the invalid columns' encoding is
  always 0);
* ``no_bins_fused`` / ``bins16_fused`` — as ``no_bins`` / ``bins16`` with
  ``AdamW(fused=True)`` (one kernel per step) instead of PyTorch's default multi-tensor
  AdamW, which every other variant uses.

Times are medians over rounds after one warm-up round; ratios are taken within a round
against ``bins16_dense``. One thread (``--threads``), as each of the two fine-tuning workers
of ``fm bench matbench --workers 2`` gets. Writes ``<out>/bin_branch_speed.json`` and
``.md`` (default ``results/bench``).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from torch import nn

from foundation_model.data import CompoundDataModule, RandomSplitter
from foundation_model.models import FlexibleMultiTaskModel
from foundation_model.models.components.piecewise_linear import PiecewiseLinearEncoding
from foundation_model.models.task_head import RegressionTask
from foundation_model.workflows.finetune_recipe import FinetuneRecipe

# name: (bins, dense branch, fused AdamW)
VARIANTS = {
    "no_bins": (0, False, False),
    "no_bins_fused": (0, False, True),
    "bins8": (8, False, False),
    "bins8_dense": (8, True, False),
    "bins16": (16, False, False),
    "bins16_dense": (16, True, False),
    "bins16_fused": (16, False, True),
}


class DenseBinBranch(nn.Module):
    """The full ``(B, F*T)`` encoding of a fitted branch times a dense zero-initialised
    ``(512, F*T)`` matrix (the branch's own compact weight is frozen and unused).

    Args:
        bins: the fitted branch whose encoding is used.
    """

    def __init__(self, bins: PiecewiseLinearEncoding) -> None:
        super().__init__()
        self.bins = bins.requires_grad_(False)
        self.dense = nn.Linear(bins.n_features * bins.n_bins, bins.proj.out_dim, bias=False)
        nn.init.zeros_(self.dense.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dense(self.bins.encode(x).flatten(1))


def build(task: str, data: Path, batch_size: int | None) -> CompoundDataModule:
    """The task's descriptors and target, every row in the training split; the recipe's
    batch size for that many rows unless ``batch_size`` is given."""
    attrs = pd.read_csv(data / f"{task}.csv")
    if "target" not in attrs:
        raise SystemExit(f"{task}.csv has no 'target' column: rerun fm data matbench.")
    if batch_size is None:
        batch_size = FinetuneRecipe().sizes(len(attrs))["batch_size"]
    dm = CompoundDataModule(
        data / "features" / f"{task}_rich.parquet",
        [RegressionTask("target", column="target", hidden_dims=[64], loss="l1")],
        data / f"{task}.csv",
        splitter=RandomSplitter(val_fraction=0.0, test_fraction=0.0, seed=0),
        batch_size=batch_size,
    )
    dm.setup("fit")
    return dm


def new_model(dm: CompoundDataModule, bins: int, dense: bool) -> FlexibleMultiTaskModel:
    """The recipe's network with ``bins`` bins, fitted on the rows; dense branch if asked."""
    torch.manual_seed(0)
    model = FlexibleMultiTaskModel(
        dm.tasks, dm.formula_dim, encoder_dims=[512, 256], deposit_dim=256, formula_bins=bins
    )
    model.set_statistics(dm.statistics(formula_bins=bins))
    if dense:
        model.encoder.formula_bins = DenseBinBranch(model.encoder.formula_bins)
    return model


def epoch(model: FlexibleMultiTaskModel, dm: CompoundDataModule, opt: Any) -> float:
    """Wall time of one training epoch of a plain loop."""
    model.train()
    start = time.perf_counter()
    for batch in dm.train_dataloader():
        loss = model.compute_losses(batch)[0]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return time.perf_counter() - start


def run_task(task: str, args: argparse.Namespace) -> dict[str, Any]:
    dm = build(task, args.data, args.batch_size)
    models = {name: new_model(dm, bins, dense) for name, (bins, dense, _) in VARIANTS.items()}
    opts = {
        name: torch.optim.AdamW(models[name].parameters(), lr=1e-3, fused=fused)
        for name, (_, _, fused) in VARIANTS.items()
    }
    params = {
        name: sum(p.numel() for p in m.parameters() if p.requires_grad)
        for name, m in models.items()
    }
    times: dict[str, list[float]] = {name: [] for name in models}
    for r in range(args.rounds + 1):
        order = list(models) if r % 2 == 0 else list(reversed(models))
        for name in order:
            t = epoch(models[name], dm, opts[name])
            if r > 0:  # round 0 warms up allocators and kernels
                times[name].append(t)
            print(f"{task} round {r} {name:<13} {t:7.2f} s", flush=True)
    ref = times["bins16_dense"]
    return {
        "rows": len(dm.splits.train),
        "batch_size": dm.batch_size,
        "descriptors": dm.formula_dim,
        "valid_columns": {
            str(b): int(models[f"bins{b}"].encoder.formula_bins.valid.sum()) for b in (8, 16)
        },
        "trainable_parameters": params,
        "epoch_seconds_median": {n: statistics.median(v) for n, v in times.items()},
        "ratio_to_bins16_dense_median": {
            n: statistics.median(a / b for a, b in zip(v, ref, strict=True))
            for n, v in times.items()
        },
        "epoch_seconds": times,
    }


def markdown(result: dict[str, Any]) -> str:
    lines = [
        "# Epoch time: bin branch layout (valid columns vs dense) and fused AdamW",
        "",
        f"`uv run python benchmarks/bin_branch_speed.py` ({result['rounds']} rounds after a "
        f"warm-up, {result['threads']} thread; "
        f"{result['machine']}). One training epoch of a plain loop over every row; medians; "
        "the ratio is taken within a round against `bins16_dense`. `binsT`: the package's "
        "branch (the valid columns of T bins per descriptor); `_dense`: the full encoding "
        "times a dense matrix; `_fused`: `AdamW(fused=True)`, every other variant PyTorch's "
        "default AdamW.",
        "",
        "| task | rows | batch | variant | trainable parameters | epoch (s) | vs bins16_dense |",
        "|---|---|---|---|---|---|---|",
    ]
    for task, r in result["tasks"].items():
        for name in VARIANTS:
            n_params = r["trainable_parameters"][name]
            lines.append(
                f"| {task} | {r['rows']} | {r['batch_size']} | {name} | {n_params:,} | "
                f"{r['epoch_seconds_median'][name]:.2f} | "
                f"{r['ratio_to_bins16_dense_median'][name]:.2f} |"
            )
    lines += ["", "Valid (descriptor, bin) columns of F x T:"]
    for task, r in result["tasks"].items():
        f = r["descriptors"]
        v = r["valid_columns"]
        lines.append(f"- {task}: 8 bins {v['8']} of {f * 8}, 16 bins {v['16']} of {f * 16}")
    lines.append(f"\nMade in {result['seconds']:.0f} s.")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--tasks",
        nargs="+",
        default=["matbench_steels", "matbench_jdft2d", "matbench_expt_gap"],
    )
    parser.add_argument("--data", type=Path, default=Path("data/matbench"))
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--batch-size", type=int, default=None, help="default: the recipe's rule by rows"
    )
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("results/bench"))
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    result: dict[str, Any] = {
        "rounds": args.rounds,
        "threads": args.threads,
        "machine": f"{platform.processor() or platform.machine()}, torch {torch.__version__}",
        "tasks": {task: run_task(task, args) for task in args.tasks},
    }
    result["seconds"] = time.perf_counter() - start
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "bin_branch_speed.json").write_text(json.dumps(result, indent=2))
    (args.out / "bin_branch_speed.md").write_text(markdown(result))
    print(markdown(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
