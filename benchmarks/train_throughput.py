"""Training throughput: ``FlexibleMultiTaskModel`` through the Lightning ``Trainer`` vs a
hand-written PyTorch loop over the same model, data loader and batch size.

Usage (from the repository root)::

    uv run python benchmarks/train_throughput.py            # 20k x 150, 5 rounds
    uv run python benchmarks/train_throughput.py --rows 2000 --rounds 2 --out /tmp/bench

Data: ``--rows`` synthetic compounds x ``--features`` descriptors with three tasks (two
regression targets, one binary label; 30 % of each label missing). Every row is in the
training split (no validation), so an epoch is pure training.

Each round times one training epoch of every variant, in alternating order:

* ``fm`` — ``Trainer.fit`` as ``fm fit`` runs it: fm's default progress bar
  (``TQDMProgressBar`` redrawn every 20 steps), ``CSVLogger``,
  ``log_every_n_steps=50``, the model's own ``self.log`` calls (checkpointing off);
* ``plain`` — ``for batch in loader: loss = model.compute_losses(batch)[0]; backward; step``.

With ``--diagnose`` more variants show where a gap comes from:
``fm_rich_bar_every_step`` (Lightning's own default bar, redrawn every step),
``fm_no_progress_bar`` (no bar) and
``fm_no_log`` (no bar, no logger, the model's ``self.log`` replaced by a no-op: Lightning's
loop alone).
Epoch times are measured from
``on_train_epoch_start`` to ``on_train_epoch_end`` (Trainer set-up excluded) and compared as
medians over the rounds after one warm-up round. Results go to
``<out>/train_throughput.json`` and ``<out>/train_throughput.md``.
"""

from __future__ import annotations

import argparse
import copy
import json
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import numpy as np
import pandas as pd
import torch
from lightning.pytorch.callbacks import TQDMProgressBar
from lightning.pytorch.loggers import CSVLogger

from foundation_model.cli.lightning_cli import PROGRESS_REFRESH_STEPS, default_progress_bar
from foundation_model.data import CompoundDataModule, RandomSplitter
from foundation_model.models import FlexibleMultiTaskModel
from foundation_model.models.task_head import ClassificationTask, RegressionTask


def make_data(rows: int, features: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Descriptor table and attributes (``y_a``, ``y_b``, ``label``) with 30 % missing labels."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((rows, features)).astype(np.float32)
    ids = pd.Index([f"r{i}" for i in range(rows)], name="id")
    w = rng.standard_normal((features, 3)) / np.sqrt(features)
    h = x @ w
    attrs = pd.DataFrame(
        {
            "y_a": h[:, 0] + 0.1 * rng.standard_normal(rows),
            "y_b": np.tanh(h[:, 1]) * h[:, 2],
            "label": (h[:, 2] > 0).astype(int),
        },
        index=ids,
    )
    for col in attrs.columns:
        attrs.loc[rng.random(rows) < 0.3, col] = np.nan
    return pd.DataFrame(x, index=ids, columns=[f"d{j}" for j in range(features)]), attrs


class EpochTimer(pl.Callback):
    """Records wall time from ``on_train_epoch_start`` to ``on_train_epoch_end``."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self._t0 = 0.0

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._t0 = time.perf_counter()

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if pl_module.device.type == "cuda":
            torch.cuda.synchronize()
        self.times.append(time.perf_counter() - self._t0)


def lightning_epoch(model: pl.LightningModule, dm: Any, log_dir: Path, variant: Variant) -> float:
    """One ``Trainer.fit`` epoch; returns the epoch's wall time."""
    timer = EpochTimer()
    callbacks: list[pl.Callback] = [timer]
    if variant.progress_refresh == PROGRESS_REFRESH_STEPS:
        callbacks.append(default_progress_bar())  # exactly the bar `fm fit` adds
    elif variant.progress_refresh:
        callbacks.append(TQDMProgressBar(refresh_rate=variant.progress_refresh))
    trainer = pl.Trainer(
        max_epochs=1,
        accelerator="auto",
        devices=1,
        logger=CSVLogger(str(log_dir), name="bench") if variant.logger else False,
        enable_progress_bar=variant.progress_bar,
        enable_checkpointing=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        limit_val_batches=0,
        callbacks=callbacks,
    )
    trainer.fit(model, dm)
    return timer.times[-1]


def plain_epoch(
    model: Any, loader: Any, optimizer: torch.optim.Optimizer, device: torch.device
) -> float:
    """One epoch of a hand-written loop over the same loader; returns its wall time."""
    model.train()
    start = time.perf_counter()
    for batch in loader:
        batch = move_batch(batch, device)
        loss = model.compute_losses(batch)[0]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def move_batch(batch: Any, device: torch.device) -> Any:
    """Copy every tensor of a :class:`Batch` to ``device``."""
    if device.type == "cpu":
        return batch
    out = copy.copy(batch)
    for key, value in vars(batch).items():
        if isinstance(value, torch.Tensor):
            setattr(out, key, value.to(device, non_blocking=True))
        elif isinstance(value, dict):
            setattr(out, key, {k: v.to(device, non_blocking=True) for k, v in value.items()})
    return out


@dataclass(frozen=True)
class Variant:
    """How a Lightning variant is run.

    Args:
        progress_bar: enable a progress bar.
        progress_refresh: use ``TQDMProgressBar(refresh_rate=...)`` (0: Lightning's default bar).
        logger: attach a ``CSVLogger``.
        no_log: replace the model's ``self.log`` by a no-op.
    """

    progress_bar: bool = True
    progress_refresh: int = 0
    logger: bool = True
    no_log: bool = False


VARIANTS = {
    "fm": Variant(progress_refresh=PROGRESS_REFRESH_STEPS),
    "fm_rich_bar_every_step": Variant(),
    "fm_no_progress_bar": Variant(progress_bar=False),
    "fm_no_log": Variant(progress_bar=False, logger=False, no_log=True),
}


ModelFactory = Callable[[Variant], FlexibleMultiTaskModel]


def build(args: argparse.Namespace) -> tuple[CompoundDataModule, ModelFactory]:
    """The data module and a factory of identically initialised models."""
    formula, attrs = make_data(args.rows, args.features, args.seed)
    tasks = [RegressionTask("y_a"), RegressionTask("y_b"), ClassificationTask("label")]
    dm = CompoundDataModule(
        formula,
        tasks,
        attrs,
        splitter=RandomSplitter(val_fraction=0.0, test_fraction=0.0, seed=args.seed),
        batch_size=args.batch_size,
    )
    dm.setup("fit")

    def new_model(variant: Variant = Variant()) -> FlexibleMultiTaskModel:
        torch.manual_seed(args.seed)
        model = FlexibleMultiTaskModel(
            dm.tasks,
            dm.formula_dim,
            encoder_dims=[256, 128],
            deposit_dim=128,
            optimizer=partial(torch.optim.AdamW, lr=1e-3),
        )
        if variant.no_log:
            model.log = lambda *a, **k: None  # what the model's self.log calls cost
        return model

    return dm, new_model


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Alternate the variants for ``args.rounds`` (+1 warm-up) rounds; return the summary."""
    torch.set_num_threads(args.threads)
    dm, new_model = build(args)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    n_train = len(dm.splits.train)

    plain_model = new_model().to(device)
    plain_model.set_statistics(dm.statistics())
    plain_opt = torch.optim.AdamW(plain_model.parameters(), lr=1e-3)
    names = list(VARIANTS) if args.diagnose else ["fm"]
    models = {name: new_model(VARIANTS[name]) for name in names}

    times: dict[str, list[float]] = {name: [] for name in [*models, "plain"]}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds + 1):
            order = [*models, "plain"] if r % 2 == 0 else ["plain", *models]
            for name in order:
                if name == "plain":
                    t = plain_epoch(plain_model, dm.train_dataloader(), plain_opt, device)
                else:
                    t = lightning_epoch(models[name], dm, Path(tmp), VARIANTS[name])
                if r > 0:  # round 0 warms up allocators, kernels and imports
                    times[name].append(t)
                print(f"round {r} {name:<20} {n_train / t:10.0f} samples/s", flush=True)

    medians = {name: statistics.median(v) for name, v in times.items()}
    rates = {name: n_train / t for name, t in medians.items()}
    # fm and plain run back to back in every round: their per-round ratio cancels the slow
    # drift of a shared machine's speed, which moves both medians by 10-20 % between runs
    paired = [p / f for f, p in zip(times["fm"], times["plain"], strict=True)]
    return {
        "samples_per_s_fm": rates["fm"],
        "samples_per_s_plain": rates["plain"],
        "ratio": rates["fm"] / rates["plain"],
        "paired_ratios": paired,
        "paired_ratio_median": statistics.median(paired),
        "samples_per_s": rates,
        "epoch_seconds": times,
        "variants": {name: asdict(VARIANTS[name]) for name in models},
        "setup": {
            "rows": args.rows,
            "features": args.features,
            "batch_size": args.batch_size,
            "steps_per_epoch": -(-n_train // args.batch_size),
            "tasks": ["regression y_a", "regression y_b", "classification label (2 classes)"],
            "model": "FlexibleMultiTaskModel(encoder_dims=[256, 128], deposit_dim=128)",
            "rounds": args.rounds,
            "warmup_rounds": 1,
            "device": str(device),
            "torch_threads": torch.get_num_threads(),
            "torch": torch.__version__,
            "lightning": pl.__version__,
            "python": platform.python_version(),
            "machine": platform.machine(),
        },
    }


def markdown(result: dict[str, Any]) -> str:
    """A short Markdown report of :func:`run`'s result."""
    s = result["setup"]
    lines = [
        "# Training throughput: Lightning `Trainer` vs plain PyTorch loop",
        "",
        f"{s['rows']} rows x {s['features']} descriptors, 3 tasks "
        "(2 regression + 1 classification), "
        f"batch {s['batch_size']} ({s['steps_per_epoch']} steps/epoch), device `{s['device']}`, "
        f"{s['torch_threads']} torch thread(s), torch {s['torch']}. Median over {s['rounds']} "
        "alternating rounds (1 warm-up round dropped); epoch time excludes Trainer set-up.",
        "",
        "| variant | samples/s | median epoch (s) | vs plain |",
        "|---|---:|---:|---:|",
    ]
    plain = result["samples_per_s"]["plain"]
    for name, rate in result["samples_per_s"].items():
        median = statistics.median(result["epoch_seconds"][name])
        lines.append(f"| `{name}` | {rate:,.0f} | {median:.3f} | {rate / plain:.2f} |")
    lines += ["", f"**ratio (fm / plain) = {result['ratio']:.2f}** (goal >= 0.9)", ""]
    paired = sorted(result.get("paired_ratios", []))
    if paired:
        q1, _, q3 = statistics.quantiles(paired, n=4) if len(paired) > 1 else paired * 3
        lines += [
            f"Per-round ratio (fm and plain timed back to back in each round): median "
            f"{result['paired_ratio_median']:.2f}, quartiles {q1:.2f}-{q3:.2f}, "
            f"range {paired[0]:.2f}-{paired[-1]:.2f} over {len(paired)} rounds.",
            "",
        ]
    lines += overhead_breakdown(result)
    return "\n".join(lines)


def overhead_breakdown(result: dict[str, Any]) -> list[str]:
    """Extra milliseconds per training step over the plain loop, split by cause (diagnose runs)."""
    names = ("fm", "fm_rich_bar_every_step", "fm_no_progress_bar", "fm_no_log")
    if not all(n in result["epoch_seconds"] for n in names):
        return []
    steps = result["setup"]["steps_per_epoch"]
    ms = {
        n: 1e3 * statistics.median(v) / steps for n, v in result["epoch_seconds"].items()
    }  # median ms per step
    rows = [
        ("Lightning loop alone (`fm_no_log` - `plain`)", ms["fm_no_log"] - ms["plain"]),
        (
            "model's per-step `self.log` + CSVLogger (`fm_no_progress_bar` - `fm_no_log`)",
            ms["fm_no_progress_bar"] - ms["fm_no_log"],
        ),
        ("fm's progress bar (`fm` - `fm_no_progress_bar`)", ms["fm"] - ms["fm_no_progress_bar"]),
        (
            "Lightning's default bar instead (`fm_rich_bar_every_step` - `fm_no_progress_bar`)",
            ms["fm_rich_bar_every_step"] - ms["fm_no_progress_bar"],
        ),
    ]
    out = [
        f"Overhead per training step (plain loop: {ms['plain']:.2f} ms/step):",
        "",
        "| cause | ms/step |",
        "|---|---:|",
    ]
    out += [f"| {label} | {value:+.2f} |" for label, value in rows]
    return [*out, ""]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(description="Lightning vs plain-loop training throughput.")
    p.add_argument("--rows", type=int, default=20_000)
    p.add_argument("--features", type=int, default=150)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--threads", type=int, default=1, help="torch intra-op threads (CPU)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--diagnose", action="store_true", help="also time variants without bar/logging")
    p.add_argument("--out", type=Path, default=Path("results/bench"))
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and write the JSON and Markdown reports."""
    args = parse_args(argv)
    result = run(args)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "train_throughput.json").write_text(json.dumps(result, indent=2) + "\n")
    (args.out / "train_throughput.md").write_text(markdown(result))
    print(markdown(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
