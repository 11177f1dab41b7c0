"""Package a pretraining run as a shipped model folder (``results/pretrained/fm-base/``).

Writes into ``--out``:

* ``model.ckpt`` — the run's checkpoint with weights, hyper-parameters and input schema
  only (optimizer, scheduler and callback states dropped), checked to load and predict;
* ``config.yaml`` — the resolved config the run was started with (LightningCLI's copy);
* ``corpus.json`` — the provenance of the corpus it was trained on;
* ``test_metrics.json`` — per-task metrics on the run's held-out test split;
* ``README.md`` — the model card (data, tasks, size, training time, test metrics, transfer
  benchmark table when ``results/bench/matbench_all.json`` exists, intended use, limits).

    uv run python samples/helper_tools/ship_pretrained.py --run results/runs/pretrain_base \\
        --train-minutes 29 --out results/pretrained/fm-base
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import torch

MAX_MB = 25.0
KEEP = (
    "state_dict",
    "hyper_parameters",
    "fm_input_schema",
    "fm_calibration",  # fm calibrate's report, when the run was calibrated afterwards
    "epoch",
    "global_step",
)


def slim_checkpoint(src: Path, dst: Path) -> dict:
    """Copy ``src`` to ``dst`` with only :data:`KEEP` keys (plus Lightning's version)."""
    from foundation_model.utils.checkpoint import load_checkpoint

    ckpt = load_checkpoint(src)
    slim = {k: ckpt[k] for k in KEEP if k in ckpt}
    slim["pytorch-lightning_version"] = ckpt.get("pytorch-lightning_version")
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_suffix(".tmp")
    torch.save(slim, tmp)
    tmp.replace(dst)
    return slim


def test_metrics(config: Path, ckpt: Path) -> dict[str, float]:
    """``fm test`` of ``ckpt`` on the run's own test split (same config, same splitter seed)."""
    import lightning.pytorch as pl

    from foundation_model.cli.lightning_cli import load_fit_config
    from foundation_model.data import CompoundDataModule
    from foundation_model.models import FlexibleMultiTaskModel
    from foundation_model.models.task_head.base import TaskSpec
    from foundation_model.workflows.bench_model import instantiate

    cfg = load_fit_config(config)
    args = dict(cfg["data"]["init_args"])
    args["tasks"] = [TaskSpec.from_dict(t) for t in args["tasks"]]
    args["splitter"] = instantiate(args["splitter"])
    dm = CompoundDataModule(**args)
    model = FlexibleMultiTaskModel.load_from_checkpoint(ckpt, map_location="cpu")
    trainer = pl.Trainer(accelerator="cpu", logger=False, enable_progress_bar=False)
    out = trainer.test(model, dm, verbose=False)[0]
    return {k: float(v) for k, v in sorted(out.items())}


def card(
    info: dict,
    slim: dict,
    metrics: dict,
    corpus: dict,
    bench: dict | None,
    minutes: float,
    out: Path = Path("results/pretrained/fm-base"),
    made_with: str = "samples/generated_configs/pretrain_base.yaml",
) -> str:
    """The model card of the model shipped in ``out`` (its folder name is the model's name;
    ``made_with`` says which config, with which overrides, trained it)."""
    ckpt = (out / "model.ckpt").as_posix()
    hp = slim["hyper_parameters"]
    n_params = sum(v.numel() for k, v in slim["state_dict"].items() if not k.endswith("_scaler"))
    schema = slim["fm_input_schema"]["formula"]
    tasks = [t["init_args"]["name"] for t in hp["tasks"]]
    meta = corpus["corpus"]
    lines = [
        f"# {out.name}: the pretrained FlexibleMultiTaskModel",
        "",
        "A composition-only multi-task model pretrained on ~300k computed compounds, shipped "
        "to be fine-tuned on small (experimental) property tables and to predict the corpus "
        "properties of new formulas from this checkpoint alone.",
        "",
        "## Use",
        "",
        "```python",
        "import foundation_model",
        f"model = foundation_model.load('{ckpt}')",
        "model.predict(['Fe2O3', 'GaN'])   # every pretraining task, one column each",
        "```",
        "",
        "Fine-tune on your own table (a `target` column; descriptors with `fm featurize "
        f"--like {ckpt}`, which writes exactly this checkpoint's columns):",
        "",
        "```bash",
        "uv run fm fit --config samples/generated_configs/finetune_from_base.yaml \\",
        "    --data.init_args.formula_desc_source=my.parquet "
        "--data.init_args.attributes_source=my.csv",
        "```",
        "",
        "## Data",
        "",
        f"`corpus.json` (this folder): {meta.get('rows', '?')} reduced formulas, corpus "
        f"sha256 `{str(meta.get('sha256', '?'))[:16]}…`, built offline by `fm data corpus` "
        "from the OQMD / AFLOW / Materials Project tables in the crabnet 2.0.8 wheel, "
        "matminer's transport table and the JANAF curves. No formula of any Matbench v0.1 "
        "task is in it (leakage rule; the count removed is in `corpus.json`). Inputs: "
        f"{len(schema['columns'])} matminer descriptors, preset "
        f"`{(schema.get('featurizer') or {}).get('preset')}`.",
        "",
        "## Model",
        "",
        f"Formula encoder {hp['encoder_dims']} → deposit {hp['deposit_dim']} "
        f"({hp.get('norm')} norm, dropout {hp.get('dropout')}), one head per task "
        f"({len(tasks)} tasks), learnable log-σ task weighting, masked feature modelling "
        f"(weight {hp.get('mfm_weight')}). {n_params / 1e6:.2f}M parameters. The run "
        f"trained {info['max_epochs']} epochs in {minutes:.0f} min on 2 CPU cores; this "
        f"checkpoint is epoch {info['epoch']} (step {info['global_step']}, the run's "
        f"`{info['file']}`"
        + (", lowest validation `val_task_error`" if info["file"] == "best.ckpt" else "")
        + f"). Config: `config.yaml` (= `{made_with}`).",
        "",
        "## Held-out test split of the corpus (5 %)",
        "",
        "| task | metric | value |",
        "|---|---|---|",
    ]
    for key, value in metrics.items():
        name = key.removeprefix("test_")
        for suffix in ("_mae", "_roc_auc", "_accuracy"):
            if name.endswith(suffix):
                lines.append(f"| {name.removesuffix(suffix)} | {suffix[1:]} | {value:.4g} |")
    lines += ["", "Tasks with tens of labelled rows (AFLOW, transport, MP) have a few test rows."]
    if bench:
        lines += ["", "## Transfer to Matbench (composition only)", ""]
        lines += [
            "See `results/bench/matbench_all.md` for the full table with the published "
            "figures; the fine-tuned model (one recipe) vs the same network from scratch and "
            "the random forests, means over the official folds:",
            "",
            "| task | metric | fine-tuned | scratch | RF Magpie | RF same features |",
            "|---|---|---|---|---|---|",
        ]
        for task, r in bench["tasks"].items():
            lines.append(
                f"| {task.removeprefix('matbench_')} | {r['metric']} | "
                + " | ".join(
                    f"{r[k]:.4g}" if r[k] is not None else "—"
                    for k in (
                        "model_pretrained",
                        "model_scratch",
                        "rf_scm_magpie",
                        "rf_same_features",
                    )
                )
                + " |"
            )
    lines += [
        "",
        "## Intended use and limits",
        "",
        "- Inputs are compositions only: polymorphs of one formula get one prediction.",
        "- The corpus is ~99.9 % OQMD DFT (PBE) data: band gaps are PBE gaps "
        "(underestimated), formation enthalpies are OQMD's.",
        "- The small AFLOW / transport / MP / JANAF heads saw tens of rows each; treat their "
        "outputs as rough.",
        "- One head per task (no ensemble): this checkpoint gives no `<task>_std`; fine-tune "
        "with `ensemble_size: 5` for calibrated uncertainty on your task.",
        "- Formulas far from the corpus (e.g. elements absent from OQMD) are extrapolations.",
    ]
    return "\n".join(lines) + "\n"


def _max_epochs(config: Path) -> int | None:
    import yaml

    return (yaml.safe_load(config.read_text()).get("trainer") or {}).get("max_epochs")


def main(argv: list[str] | None = None) -> int:
    """Package the run."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--run", type=Path, default=Path("results/runs/pretrain_base"))
    p.add_argument(
        "--checkpoint",
        default="best.ckpt",
        help="file in <run>/checkpoints (best.ckpt: lowest val_task_error; last.ckpt: newest)",
    )
    p.add_argument("--corpus", type=Path, default=Path("data/corpus/corpus.json"))
    p.add_argument("--bench", type=Path, default=Path("results/bench/matbench_all.json"))
    p.add_argument("--train-minutes", type=float, required=True, help="measured wall time")
    p.add_argument("--out", type=Path, default=Path("results/pretrained/fm-base"))
    p.add_argument("--skip-test", action="store_true", help="reuse <out>/test_metrics.json")
    p.add_argument(
        "--made-with",
        default="samples/generated_configs/pretrain_base.yaml",
        help="the config (and overrides) the run was started with, for the model card",
    )
    args = p.parse_args(argv)
    src = args.run / "checkpoints" / args.checkpoint
    configs = sorted(args.run.glob("version_*/config.yaml"))
    if not src.is_file() or not configs:
        print(f"ship_pretrained: error: {src} or a config.yaml under {args.run} is missing.")
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    slim = slim_checkpoint(src, args.out / "model.ckpt")
    size_mb = (args.out / "model.ckpt").stat().st_size / 2**20
    if size_mb > MAX_MB:
        print(f"ship_pretrained: error: model.ckpt is {size_mb:.1f} MB (> {MAX_MB} MB).")
        return 1
    shutil.copyfile(configs[-1], args.out / "config.yaml")
    shutil.copyfile(args.corpus, args.out / "corpus.json")
    metrics_path = args.out / "test_metrics.json"
    if args.skip_test and metrics_path.exists():
        metrics = json.loads(metrics_path.read_text())
    else:
        metrics = test_metrics(configs[-1], args.out / "model.ckpt")
        metrics_path.write_text(json.dumps(metrics, indent=2))
    import foundation_model

    pred = foundation_model.load(args.out / "model.ckpt").predict(["Fe2O3", "GaN", "NaCl"])
    print(pred.filter(like="oqmd_formation_enthalpy").round(3).to_string())
    bench = json.loads(args.bench.read_text()) if args.bench.is_file() else None
    info = {
        "epoch": int(slim.get("epoch", -1)),
        "global_step": slim.get("global_step"),
        "file": args.checkpoint,
        "max_epochs": _max_epochs(configs[-1]),
    }
    corpus = json.loads(args.corpus.read_text())
    text = card(info, slim, metrics, corpus, bench, args.train_minutes, args.out, args.made_with)
    (args.out / "README.md").write_text(text)
    print(f"wrote {args.out} (model.ckpt {size_mb:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
