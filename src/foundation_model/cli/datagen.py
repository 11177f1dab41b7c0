"""``fm datagen``: MLIP training data (generate -> explore -> sample -> store).

Examples::

    fm datagen run --config samples/datagen/cu_al_alloy.yaml
    fm datagen run --config samples/datagen/cu_al_alloy.yaml --resume
    fm datagen run --config samples/datagen/cu_al_alloy.yaml --explore.init_args.steps=400 \\
        --executor.init_args.n_workers=2
    fm datagen run --config samples/datagen/cu_al_alloy.yaml --print_config

Every key of the YAML can be overridden on the command line; each stage is chosen by
``class_path`` (see :class:`foundation_model.workflows.datagen.pipeline.DatagenPipeline`).
"""

from __future__ import annotations

import sys
from typing import Any

USAGE = "usage: fm datagen run --config X.yaml [--resume] [--<key>=<value> ...]"


def build_parser() -> Any:
    """The jsonargparse parser of ``fm datagen run``."""
    from jsonargparse import ActionConfigFile, ArgumentParser

    from foundation_model.workflows.datagen.pipeline import DatagenPipeline

    parser = ArgumentParser(
        prog="fm datagen run",
        description="Generate, explore, sample and store MLIP training data.",
        exit_on_error=False,
    )
    parser.add_argument("--config", action=ActionConfigFile, help="YAML configuration")
    parser.add_argument(
        "--resume", type=bool, default=False, help="continue a run: skip finished work"
    )
    parser.add_class_arguments(DatagenPipeline, fail_untyped=True)
    return parser


def _normalise(argv: list[str]) -> list[str]:
    """``--resume`` alone means ``--resume=true``; ``--resume true|false`` is kept whole."""
    out: list[str] = []
    rest = iter(argv)
    for arg in rest:
        if arg != "--resume":
            out.append(arg)
            continue
        value = next(rest, None)
        if value is not None and value.lower() in ("true", "false"):
            out.append(f"--resume={value.lower()}")
        else:
            out.append("--resume=true")
            if value is not None:
                out.append(value)  # the next option, not a value of --resume
    return out


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``fm datagen``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE)
        return 0
    if argv[0] != "run":
        print(f"fm datagen: unknown subcommand {argv[0]!r}. {USAGE}", file=sys.stderr)
        return 2
    from foundation_model.cli.workflow_errors import run_reporting_errors
    from foundation_model.workflows.datagen.pipeline import DatagenPipeline

    parser = build_parser()
    resume = False

    def run() -> dict:
        nonlocal resume
        cfg = parser.parse_args(_normalise(argv[1:]))
        resume = bool(cfg.resume)
        init = parser.instantiate_classes(cfg)
        kwargs = {k: v for k, v in vars(init).items() if k not in ("config", "resume", "__path__")}
        return DatagenPipeline(**kwargs).run(resume=resume)

    code, summary = run_reporting_errors("datagen", run, argv[1:])
    if summary is None:
        return code
    print(
        f"fm datagen: {summary['n_seeds']} seeds, {summary['n_trajectories']} trajectories, "
        f"{summary['n_frames']} frames -> {summary['n_samples']} samples -> "
        f"{summary['n_rows']} rows in {summary['database']}"
        + (f" (skipped: {len(summary['skipped_this_run'])} finished items)" if resume else "")
    )
    return 0
