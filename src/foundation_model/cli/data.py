"""``fm data``: dataset builders.

``fm data matbench --out data/matbench [--tasks steels expt_gap]`` writes every Matbench
v0.1 task usable from compositions (the four composition tasks and formula views of the
structure tasks) with official ids and 5-fold splits.

``fm data corpus --out data/corpus`` writes the offline pretraining corpus
(``corpus.parquet`` + ``corpus.json``; see :mod:`foundation_model.data.corpus`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def build_parser() -> argparse.ArgumentParser:
    """The ``fm data`` argument parser."""
    p = argparse.ArgumentParser(prog="fm data", description="Build datasets.")
    sub = p.add_subparsers(dest="dataset", required=True)
    mb = sub.add_parser("matbench", help="Matbench v0.1 composition tasks + official folds")
    mb.add_argument("--out", type=Path, default=Path("data/matbench"), help="output folder")
    mb.add_argument("--tasks", nargs="*", default=None, help="task names (default: all 13)")
    mb.add_argument("--composition-only", action="store_true", help="only the 4 composition tasks")
    mb.add_argument(
        "--cache-dir", type=Path, default=Path("data/cache/wheels"), help="download cache"
    )
    mb.add_argument("--no-matminer", action="store_true", help="skip matminer's online loader")
    corpus = sub.add_parser("corpus", help="offline pretraining corpus (no Matbench formulas)")
    corpus.add_argument("--out", type=Path, default=Path("data/corpus"), help="output folder")
    corpus.add_argument(
        "--cache-dir", type=Path, default=Path("data/cache/wheels"), help="download cache"
    )
    corpus.add_argument("--quiet", action="store_true", help="no progress bar")
    corpus.add_argument(
        "--sources",
        nargs="*",
        default=None,
        help="subset of oqmd aflow materials_project matminer_transport janaf (default: all)",
    )
    return p


def run_corpus(args: argparse.Namespace) -> int:
    """``fm data corpus``: build the corpus and print what was written."""
    from foundation_model.data.corpus.build import build_corpus
    from foundation_model.utils.atomic import writable_folder

    try:
        writable_folder(args.out)
        result = build_corpus(
            args.out, args.cache_dir, progress=not args.quiet, sources=args.sources
        )
    except (ValueError, RuntimeError, FileNotFoundError, NotADirectoryError, OSError) as err:
        print(f"fm data corpus: error: {err}", file=sys.stderr)
        return 2
    corpus = result.summary["corpus"]
    print(
        f"wrote {result.parquet} ({corpus['rows']} formulas x {len(corpus['columns'])} columns, "
        f"sha256 {corpus['sha256'][:16]}...) and {result.info} in {result.seconds:.0f} s"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``fm data``."""
    args = build_parser().parse_args(argv)
    if args.dataset == "corpus":
        return run_corpus(args)
    from foundation_model.data.matbench import COMPOSITION_TASKS, write_matbench
    from foundation_model.utils.atomic import writable_folder

    tasks = list(COMPOSITION_TASKS) if args.composition_only else args.tasks
    try:
        writable_folder(args.out)
        paths = write_matbench(args.out, tasks, args.cache_dir, try_matminer=not args.no_matminer)
    except (ValueError, RuntimeError, FileNotFoundError) as err:
        print(f"fm data matbench: error: {err}", file=sys.stderr)
        return 2
    for path in paths:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
