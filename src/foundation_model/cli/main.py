"""Entry point of ``fm``. Dispatches before importing anything heavy, so ``fm --help`` is fast.

* ``fm fit|validate|test|predict ...`` -> :mod:`foundation_model.cli.lightning_cli`
* ``fm featurize ...`` -> :mod:`foundation_model.cli.featurize`
* ``fm data ...`` -> :mod:`foundation_model.cli.data`
* ``fm bench ...`` -> :mod:`foundation_model.cli.bench`
* ``fm datagen ...`` -> :mod:`foundation_model.cli.datagen`
* ``fm distill ...`` -> :mod:`foundation_model.cli.distill`
* ``fm ui ...`` -> :mod:`foundation_model.cli.ui`
* ``fm calibrate ...`` -> :mod:`foundation_model.cli.calibrate`
"""

from __future__ import annotations

import importlib
import sys
import warnings
from pathlib import Path

_PYTHON_FORMAT = warnings.formatwarning

LIGHTNING_COMMANDS = ("fit", "validate", "test", "predict")
TOOL_COMMANDS = {
    "featurize": (
        "foundation_model.cli.featurize",
        "Featurize formulas/structures into a descriptor table.",
    ),
    "data": (
        "foundation_model.cli.data",
        "Build datasets (Matbench v0.1 with official folds; the pretraining corpus).",
    ),
    "bench": (
        "foundation_model.cli.bench",
        "Run benchmarks (the Matbench protocol; the same on your own table).",
    ),
    "calibrate": (
        "foundation_model.cli.calibrate",
        "Add a latent-distance σ to a trained checkpoint (weights unchanged).",
    ),
    "datagen": (
        "foundation_model.cli.datagen",
        "Generate MLIP training data: generate -> explore -> sample -> store.",
    ),
    "distill": (
        "foundation_model.cli.distill",
        "Active learning + distillation of a pretrained potential into ACE.",
    ),
    "ui": ("foundation_model.cli.ui", "Serve the local web app (predict, datagen, results)."),
}

#: what Ctrl-C leaves behind, per tool command
AFTER_CTRL_C = {
    "featurize": "no table was written; the chunks of inputs already featurized are kept in "
    "the feature cache: run the same command again to featurize only the rest (with "
    "--no-cache, or for --backbone embeddings, nothing is kept)",
    "bench": "finished folds are kept under --out (<task>.folds/): run the same command "
    "again to go on from there",
}

USAGE = """usage: fm <command> [options]

Training (LightningCLI; `fm <command> --help` for every option):
  fit        train a model:            fm fit --config cfg.yaml
  validate   evaluate on the val split: fm validate --config cfg.yaml --ckpt_path ckpt
  test       evaluate on the test split: fm test --config cfg.yaml --ckpt_path ckpt
  predict    write a predictions CSV:  fm predict --config cfg.yaml --ckpt_path ckpt
             or, from the checkpoint alone: fm predict --ckpt_path ckpt --input new.csv

Data and workflows:
{tools}
"""


_PACKAGE = str(Path(__file__).resolve().parents[1])


def one_line_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    line: str | None = None,
) -> str:
    """``fm: warning: <message>`` for fm's own warnings (they are written for the user, the
    source line under them is noise); other libraries' warnings as Python shows them."""
    if str(Path(filename).resolve()).startswith(_PACKAGE):
        return f"fm: warning: {message}\n"
    return _PYTHON_FORMAT(message, category, filename, lineno, line)


def main(argv: list[str] | None = None) -> int:
    """Run ``fm`` with ``argv`` (default: ``sys.argv[1:]``)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        tools = "\n".join(f"  {k:<10} {v[1]}" for k, v in TOOL_COMMANDS.items())
        print(USAGE.format(tools=tools))
        return 0
    command = argv[0]
    from foundation_model.utils.upstream_warnings import hide_upstream_noise

    hide_upstream_noise()  # every subcommand: fit, datagen, distill, bench, ...
    warnings.formatwarning = one_line_warning
    if command == "predict":
        from foundation_model.cli import predict_input

        if predict_input.wants_input_mode(argv[1:]):
            return predict_input.main(argv[1:])
        flags = {a.split("=", 1)[0] for a in argv[1:]}
        if {"--input", "--output"} & flags and {"--config", "-c"} & flags:
            print(
                "fm predict: error: --input/--output predict new rows from the checkpoint "
                "alone (fm predict --ckpt_path CKPT --input new.csv --output preds.csv, no "
                "--config); with --config, set --data.init_args.formula_desc_source and "
                "--prediction_writer.output_path instead.",
                file=sys.stderr,
            )
            return 2
        if {"-h", "--help"} & set(argv[1:]):  # the checkpoint-only form first, then Lightning's
            predict_input.build_parser().print_help()
            print("\nWith --config, `fm predict` is LightningCLI's predict subcommand:\n")
    if command in LIGHTNING_COMMANDS:
        from foundation_model.cli.lightning_cli import run_lightning_cli

        return run_lightning_cli(argv)
    if command in TOOL_COMMANDS:
        module = importlib.import_module(TOOL_COMMANDS[command][0])
        try:
            return int(module.main(argv[1:]) or 0)
        except KeyboardInterrupt:  # datagen and distill say how to resume themselves
            kept = AFTER_CTRL_C.get(command, "files already written are kept")
            print(f"\nfm {command}: interrupted; {kept}.", file=sys.stderr)  # after a bar
            return 130
    print(f"fm: unknown command {command!r}; run `fm --help` for the list.", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
