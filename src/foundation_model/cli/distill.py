"""``fm distill``: active learning and distillation into an ACE potential.

``fm distill run --config samples/distill/cu_al_emt.yaml [--resume]`` builds a
:class:`~foundation_model.workflows.distill.pipeline.DistillPipeline` from the YAML
(jsonargparse, ``class_path``/``init_args`` for every swappable part, as ``fm fit`` and
``fm datagen``) and runs it. ``--resume`` continues a run at its first unverified step.
Any setting can be overridden on the command line, e.g. ``--seed 3`` or
``--oracle.init_args.budget 40``; ``--print_config`` shows the resolved configuration.
"""

from __future__ import annotations

import sys
from typing import Any

USAGE = """usage: fm distill run --config CONFIG.yaml [--resume] [--print_config] [--KEY VALUE ...]

Runs the 7-step workflow (pool, committee selection with the oracle, teacher fine-tuning,
surrogate MD, surrogate labels, ACE student, delta learning) and writes a report.
"""


def build_parser() -> Any:
    """The jsonargparse parser of ``fm distill run`` (flat: the pipeline's arguments)."""
    from jsonargparse import ActionConfigFile, ArgumentParser

    from foundation_model.workflows.distill.pipeline import DistillPipeline

    parser = ArgumentParser(prog="fm distill run", description=USAGE, exit_on_error=False)
    parser.add_argument("--config", action=ActionConfigFile, help="YAML configuration")
    parser.add_argument(
        "--resume", action="store_true", help="continue at the first unverified step"
    )
    parser.add_class_arguments(DistillPipeline, nested_key=None, fail_untyped=False)
    return parser


def build_pipeline(argv: list[str]) -> tuple[Any, bool]:
    """The pipeline described by ``argv`` and whether to resume."""
    from foundation_model.workflows.distill.pipeline import DistillPipeline

    parser = build_parser()
    cfg = parser.parse_args(argv)
    resume = bool(cfg.pop("resume", False))
    cfg.pop("config", None)
    init = parser.instantiate_classes(cfg)
    return DistillPipeline(**{k: v for k, v in init.items() if k != "__path__"}), resume


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``fm distill``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE)
        return 0
    if argv[0] != "run":
        print(f"fm distill: unknown subcommand {argv[0]!r}\n{USAGE}", file=sys.stderr)
        return 2
    from foundation_model.cli.workflow_errors import run_reporting_errors

    def run() -> tuple[Any, str]:
        pipeline, resume = build_pipeline(argv[1:])
        return pipeline, pipeline.run(resume=resume)

    code, result = run_reporting_errors("distill", run, argv[1:])
    if result is None:
        return code
    pipeline, status = result
    report = pipeline.artifact("report", "report.md")
    print(f"fm distill: {status}")
    if report.is_file():
        print(report.read_text())
    return 0
