"""Benchmark: accuracy per oracle call, committee (uncertainty) vs random selection.

Pool: Cu-Al fcc cells (datagen ``AlloyGenerator``, 16 atoms) with strained and rattled
copies (datagen ``Augmentation``). Oracle: EMT. A random held-out test set is labelled once;
then, for each strategy and seed, ``ActiveLearning`` runs ``rounds`` rounds of
``per_round`` oracle calls from the same random initial set. At every round a committee
(SchNet members fine-tuned with ``MLIPFineTuneModule``) is trained on the labels so far;
the committee-mean force MAE on the test set is the learning curve (budgets = labels used).

Usage:
    uv run python benchmarks/distill_selection.py --seeds 0 1 --rounds 4
Writes ``results/bench/distill_selection.{json,md,png}``.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np


def make_pool(n_per_fraction: int, seed: int) -> list:
    from foundation_model.workflows.datagen.generators.alloy import AlloyGenerator
    from foundation_model.workflows.datagen.generators.augment import Augmentation

    seeds = []
    for k, fraction in enumerate((0.25, 0.5)):
        gen = AlloyGenerator(
            ["Cu", "Al"], [1 - fraction, fraction], supercell=[2, 2, 1], n_structures=n_per_fraction
        )
        seeds += gen.generate(seed + k)
    aug = Augmentation(n_strained=2, max_strain=0.06, n_rattled=3, rattle_std=0.15)
    return aug.apply(seeds, seed)


def learning_curve(strategy: str, pool: list, args: Any, seed: int, workdir: Path) -> list:
    from foundation_model.workflows.distill.active import ActiveLearning
    from foundation_model.workflows.distill.oracles.emt import EMTOracle
    from foundation_model.workflows.distill.selection import CommitteeSelector
    from foundation_model.workflows.distill.teacher import TeacherTrainer

    teacher = TeacherTrainer(
        {
            "class_path": "foundation_model.backbones.SchNetBackbone",
            "init_args": {"cutoff": 4.5, "hidden": 32, "num_interactions": 2, "num_rbf": 16},
        },
        batch_size=4,
        lr=3e-3,
    )
    loop = ActiveLearning(
        n_test=args.n_test,
        n_initial=args.per_round,
        rounds=args.rounds,
        committee_size=args.committee,
        committee_epochs=args.epochs,
        selector=CommitteeSelector(per_round=args.per_round),
        strategy=strategy,
    )
    out = loop.run(pool, EMTOracle(), teacher, workdir / f"{strategy}_{seed}", seed)
    rounds = out["rounds"]
    # the committee of round r was trained on the labels held after round r - 1
    return [
        {"labels": rounds[r - 1]["labelled"], "force_mae": rounds[r]["test_force_mae"]}
        for r in range(1, len(rounds))
    ]


def plot(summary: dict, path: Path) -> None:
    from foundation_model.plotting._figure import new_figure, save

    fig, (ax,) = new_figure()
    for strategy, curve in summary["mean"].items():
        x = [p["labels"] for p in curve]
        ax.plot(x, [1000 * p["force_mae"] for p in curve], "o-", label=strategy)
    ax.set(xlabel="oracle labels (training)", ylabel="test force MAE (meV/Å)")
    ax.set_title("EMT Cu-Al: committee vs random selection")
    ax.legend()
    save(fig, path)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--per-round", type=int, default=10)
    parser.add_argument("--n-test", type=int, default=40)
    parser.add_argument("--committee", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--pool-seeds", type=int, default=20, help="seeds per composition")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/fm_distill_selection"))
    parser.add_argument("--out", type=Path, default=Path("results/bench/distill_selection"))
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(1)
    start = time.perf_counter()
    curves: dict[str, list] = {"committee": [], "random": []}
    for seed in args.seeds:
        pool = make_pool(args.pool_seeds, seed)
        for strategy in curves:
            curve = learning_curve(strategy, pool, args, seed, args.workdir)
            curves[strategy].append(curve)
            print(strategy, seed, [(p["labels"], round(1000 * p["force_mae"], 1)) for p in curve])
    mean = {
        s: [
            {
                "labels": c[0][i]["labels"],
                "force_mae": float(np.mean([run[i]["force_mae"] for run in c])),
            }
            for i in range(len(c[0]))
        ]
        for s, c in curves.items()
    }
    summary = {
        "pool_structures": len(make_pool(args.pool_seeds, args.seeds[0])),
        "atoms_per_structure": 16,
        "oracle": "EMT",
        "committee": f"{args.committee} SchNet members, {args.epochs} epochs each",
        "settings": {k: str(v) for k, v in vars(args).items()},
        "curves": curves,
        "mean": mean,
        "seconds": time.perf_counter() - start,
        "machine": platform.machine(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(summary, indent=2) + "\n")
    lines = [
        "# Accuracy per oracle call: committee vs random selection (EMT Cu-Al)",
        "",
        f"Pool {summary['pool_structures']} structures x 16 atoms, test set {args.n_test}, "
        f"seeds {args.seeds}, {summary['committee']}; force MAE of the committee mean.",
        "",
        "| labels | committee (meV/Å) | random (meV/Å) |",
        "|---|---|---|",
    ]
    for a, b in zip(mean["committee"], mean["random"], strict=True):
        lines.append(
            f"| {a['labels']} | {1000 * a['force_mae']:.1f} | {1000 * b['force_mae']:.1f} |"
        )
    lines += ["", f"Wall time {summary['seconds']:.0f} s (CPU, 1 torch thread)."]
    args.out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    plot(summary, args.out.with_suffix(".png"))
    print("\n".join(lines))
    return summary


if __name__ == "__main__":
    main()
