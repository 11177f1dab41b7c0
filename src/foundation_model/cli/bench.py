"""``fm bench``: benchmarks.

``fm bench matbench --task matbench_steels [--out results/bench/runs] [--folds 0] [--max-epochs 5]``
runs the official Matbench v0.1 protocol for the model config
``samples/generated_configs/matbench_<task>.yaml`` (or ``--config``) and the RF-SCM/Magpie
baseline on the same folds.

``fm bench matbench --task matbench_expt_gap --pretrained results/pretrained/fm-base/model.ckpt``
runs the transfer comparison instead: the pretrained encoder fine-tuned with the one recipe
(``--config`` is then the recipe YAML, default
``samples/generated_configs/finetune_from_base.yaml``) against the same network from scratch,
RF on Magpie, RF on the model's own descriptors and a Dummy, fold by fold.

``fm bench table --data my.csv --target y --pretrained results/pretrained/fm-base/model.ckpt``
runs the same comparison on your own table (a formula column and one target, regression or
two classes) over ``--n-folds`` shuffled folds (stratified for classes); ``--config`` instead
of ``--pretrained`` compares one model config with the RF on Magpie.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _shared_options(sp: argparse.ArgumentParser) -> None:
    """The options every ``fm bench`` suite takes."""
    sp.add_argument(
        "--out",
        type=Path,
        default=Path("results/bench/runs"),
        help="results folder (the files under results/bench/ itself are the repository's "
        "reference runs)",
    )
    sp.add_argument(
        "--config",
        type=Path,
        default=None,
        help="model YAML (fm fit schema); with --pretrained the fine-tuning recipe YAML",
    )
    sp.add_argument(
        "--pretrained",
        type=Path,
        default=None,
        help="pretrained checkpoint: compare it fine-tuned against scratch and both RFs",
    )
    sp.add_argument(
        "--folds", type=int, nargs="+", default=None, help="subset of folds, e.g. --folds 0"
    )
    sp.add_argument("--max-epochs", type=int, default=None, help="override trainer.max_epochs")
    sp.add_argument(
        "--preset", default=None, help="model descriptor preset (default: from the config)"
    )
    sp.add_argument(
        "--feature-cache", type=Path, default=Path("data/cache/features"), help="feature cache"
    )
    sp.add_argument("--rf-estimators", type=int, default=500, help="trees of the RF baseline")
    sp.add_argument("--seed", type=int, default=0, help="base seed (fold k uses seed + k)")
    sp.add_argument(
        "--seeds",
        type=int,
        default=1,
        help="networks per model entry, predictions averaged (a seed ensemble; RFs unchanged)",
    )
    sp.add_argument(
        "--combine",
        default=None,
        help="with --pretrained: 'pick' keeps the fine-tuning mode with the lowest "
        "inner-validation error, 'all' averages every mode's networks (default: the recipe's)",
    )
    sp.add_argument("--n-jobs", type=int, default=1, help="featurization processes")
    sp.add_argument(
        "--workers",
        type=int,
        default=1,
        help="processes training a fold's networks side by side (scratch, fine-tuning modes, "
        "seed-ensemble members), the torch threads shared among them",
    )
    sp.add_argument(
        "--no-resume",
        dest="resume",
        action="store_false",
        help="train every fold again instead of reading the folds that a run with the same "
        "settings finished before (kept in <out>/<task>.folds/; fm bench table: "
        "<out>/<name>.folds/)",
    )
    sp.add_argument("--quiet", action="store_true", help="no progress bars")


class _DefaultsHelp(argparse.ArgumentDefaultsHelpFormatter):
    """Help with each option's default, except where it says nothing or is already said:
    flags (``--no-resume``'s default True would read as "on"), None, or a help text that
    names its default."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if action.nargs == 0 or action.default is None or "(default" in text:
            return text
        return super()._get_help_string(action)


def build_parser() -> argparse.ArgumentParser:
    """The ``fm bench`` argument parser."""
    p = argparse.ArgumentParser(prog="fm bench", description="Run benchmarks.")
    sub = p.add_subparsers(dest="suite", required=True)
    fmt = _DefaultsHelp
    mb = sub.add_parser(
        "matbench", help="Matbench v0.1 protocol (5 official folds)", formatter_class=fmt
    )
    mb.add_argument("--task", required=True, help="e.g. matbench_steels or steels")
    mb.add_argument(
        "--data-dir", type=Path, default=Path("data/matbench"), help="fm data matbench output"
    )
    _shared_options(mb)
    tb = sub.add_parser(
        "table",
        help="the same protocol on your own table (k shuffled folds)",
        description="Benchmark a model on your own table: a formula column and one target "
        "(regression, or two classes), split into --n-folds shuffled folds (stratified by "
        "class). With --pretrained: the checkpoint fine-tuned by the one recipe against the "
        "same network from scratch, RF on Magpie, RF on the model's descriptors and a Dummy; "
        "with --config: that model against RF on Magpie. Writes <out>/<name>.json/.md/.png; "
        "the descriptor tables go to <out>/features/.",
        formatter_class=fmt,
    )
    tb.add_argument("--data", type=Path, required=True, help="CSV / Parquet / pickle table")
    tb.add_argument("--target", required=True, help="the target column")
    tb.add_argument("--formula-column", default="formula", help="the formula column")
    tb.add_argument("--id-column", default=None, help="unique row ids (default: row numbers)")
    tb.add_argument(
        "--task-type",
        default="auto",
        choices=["auto", "regression", "classification"],
        help="auto: classification for booleans, 0/1 or two text labels",
    )
    tb.add_argument("--positive-class", default=None, help="label counted as class 1 (two classes)")
    tb.add_argument("--n-folds", type=int, default=5, help="shuffled folds")
    tb.add_argument("--name", default=None, help="name of the output files (default: file stem)")
    _shared_options(tb)
    return p


def _fmt(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.4f}"


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``fm bench``."""
    args = build_parser().parse_args(argv)
    from foundation_model.workflows.matbench_bench import BenchOptions, run_matbench

    try:
        custom = None
        if args.suite == "table":
            from foundation_model.data.table_task import table_task

            custom = table_task(
                args.data,
                args.target,
                args.formula_column,
                args.id_column,
                args.task_type,
                args.n_folds,
                args.seed,
                args.name,
                args.positive_class,
            )
        opts = BenchOptions(
            task=custom.name if custom else args.task,
            custom_task=custom,
            out_dir=args.out,
            config=args.config,
            folds=args.folds,
            max_epochs=args.max_epochs,
            preset=args.preset,
            data_dir=args.out if custom else args.data_dir,
            feature_cache=args.feature_cache,
            rf_estimators=args.rf_estimators,
            seed=args.seed,
            seeds=args.seeds,
            combine=args.combine,
            n_jobs=args.n_jobs,
            workers=args.workers,
            progress=not args.quiet,
            pretrained=args.pretrained,
            resume=args.resume,
        )
        result = run_matbench(opts)
    except (FileNotFoundError, KeyError, ValueError, RuntimeError) as err:
        text = err.args[0] if isinstance(err, KeyError) and err.args else err
        print(f"fm bench {args.suite}: error: {text}", file=sys.stderr)
        return 2
    from foundation_model.workflows.bench_report import ENTRY_LABELS

    scores = ", ".join(
        f"{key} {_fmt(result[key]['mean'])}" for key in ENTRY_LABELS if key in result
    )
    print(
        f"{result['task']} folds {result['folds_run']} ({result['metric']}): {scores} "
        f"({result['seconds']:.0f} s) -> {args.out / (result['task'] + '.json')}"
    )
    if result["failed_folds"]:
        for failed in result["failed_folds"]:  # the reason too, not only the JSON's
            reason = str(failed["error"]).splitlines()[0] if failed.get("error") else "?"
            print(f"fold {failed['fold']} failed: {reason}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
