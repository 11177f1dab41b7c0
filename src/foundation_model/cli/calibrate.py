"""``fm calibrate``: give a trained checkpoint a σ for its regression tasks.

``fm calibrate --ckpt_path CKPT --config CFG --output NEW.ckpt [--rows 4096] [--k 5]``
keeps the shared representation of ``--rows`` training rows of the config's split in a new
checkpoint and fits each regression task's σ to the distance from them on the validation
rows (:mod:`foundation_model.workflows.calibrate_checkpoint`). The weights are copied
unchanged; the test rows' coverage and rank scores are printed and stored in the checkpoint
(``fm_calibration``) and, with ``--report``, in a JSON file.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def build_parser() -> argparse.ArgumentParser:
    """The ``fm calibrate`` argument parser."""
    from foundation_model.models.calibration import SIGMA_FITS

    p = argparse.ArgumentParser(
        prog="fm calibrate",
        description="Add the latent-distance σ to a trained checkpoint (weights unchanged).",
    )
    p.add_argument("--ckpt_path", type=Path, required=True, help="the trained checkpoint")
    p.add_argument(
        "--config",
        type=Path,
        required=True,
        help="the fm fit YAML it was trained with (its data section and split)",
    )
    p.add_argument("--output", type=Path, required=True, help="the new checkpoint")
    p.add_argument(
        "--rows", type=int, default=4096, help="training rows kept in the checkpoint (default 4096)"
    )
    p.add_argument("--k", type=int, default=5, help="nearest kept rows averaged (default 5)")
    p.add_argument(
        "--sigma-fit",
        choices=list(SIGMA_FITS),
        default=None,
        help="how the σ map is fitted on the validation rows (default: the checkpoint's own "
        "sigma_fit, matched unless it was trained with another)",
    )
    p.add_argument("--report", type=Path, default=None, help="also write the report as JSON")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --output")
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``fm calibrate``."""
    args, overrides = build_parser().parse_known_args(argv)
    bad = [a for a in overrides if not a.startswith("--")]
    if bad:
        print(f"fm calibrate: error: unexpected argument(s) {bad}", file=sys.stderr)
        return 2
    from foundation_model.workflows.calibrate_checkpoint import (
        CalibrationOptions,
        calibrate_checkpoint,
    )

    try:
        report = calibrate_checkpoint(
            CalibrationOptions(
                checkpoint=args.ckpt_path,
                config=args.config,
                output=args.output,
                rows=args.rows,
                k=args.k,
                overrides=tuple(overrides),
                overwrite=args.overwrite,
                sigma_fit=args.sigma_fit,
            )
        )
    except (FileNotFoundError, FileExistsError, KeyError, ValueError) as err:
        msg = err.args[0] if isinstance(err, KeyError) and err.args else err
        print(f"fm calibrate: error: {msg}", file=sys.stderr)
        return 2
    if args.report is not None:
        from foundation_model.utils.atomic import write_json

        write_json(report, args.report)  # strict JSON: a constant σ's NaN Spearman -> null
    if not report["tasks"]:
        print(
            "No regression task: the checkpoint gains the latent distance only (a "
            "latent_distance output column per row, no σ)."
        )
    for name, task in report["tasks"].items():
        t = task["test"]
        if t is None:
            print(f"{name}: σ fitted; fewer than 5 test rows to score it on")
            continue
        rho = t["spearman_error_sigma"]
        rank = "n/a (σ is constant)" if rho is None or rho != rho else f"{rho:.2f}"
        print(
            f"{name}: test ±1σ {t['coverage_1sigma']:.3f} ±2σ {t['coverage_2sigma']:.3f} "
            f"area {t['miscalibration_area']:.3f} Spearman {rank} ({t['rows']} rows)"
        )
    print(f"Calibrated checkpoint: {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
