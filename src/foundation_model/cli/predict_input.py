"""``fm predict --ckpt_path CKPT --input new.csv --output preds.csv``: predict new rows from
a checkpoint alone (no config, no hand featurizing).

The input needs a formula column (optionally structures, structure descriptors, or per-row
sequence points). Rows that cannot be parsed or featurized go to ``<output>.errors.csv``
with their reason (``row``: the 0-based position among the input's data rows, blank lines
not counted; ``id``: the row's id); the others are predicted. Columns: ``formula``,
``<task>_value``, ``<task>_std``, ``<task>_probabilities_<class>``, ``<task>_label``,
``<task>_entropy``, ``<task>_sequence`` (+ ``_sequence_std``, ``_sequence_x``), and
``structure_used`` for models trained with structures.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

#: files of atomic structures (an MLIP's input, not a table of formulas)
STRUCTURE_SUFFIXES = (".extxyz", ".xyz", ".traj", ".db", ".cif", ".vasp", ".poscar")


def wants_input_mode(argv: list[str]) -> bool:
    """True for ``fm predict`` with ``--input`` and no ``--config`` (the checkpoint-only path)."""
    flags = {a.split("=", 1)[0] for a in argv}
    return "--input" in flags and not ({"--config", "-c"} & flags)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="fm predict",
        description="Predict new materials from a checkpoint alone.",
    )
    p.add_argument("--ckpt_path", "--ckpt-path", required=True, help="a `fm fit` checkpoint")
    p.add_argument("--input", required=True, type=Path, help="table of new rows (.csv/.parquet)")
    p.add_argument("--output", type=Path, help="predictions CSV (default: <input>.predictions.csv)")
    p.add_argument("--formula-column", default="formula", help="column with formulas")
    p.add_argument("--structure-column", default="structure", help="column with structures")
    p.add_argument(
        "--id-column",
        default=None,
        help="column copied to the output as `id` (default: a Parquet table's named index, "
        "where `fm featurize` writes its ids, or a CSV's first column as in `fm fit` and "
        "`fm featurize` unless that column is the formula, structure or a model input)",
    )
    p.add_argument("--batch-size", type=positive_int, default=1024, help="rows per forward pass")
    p.add_argument(
        "--n-jobs",
        type=positive_int,
        default=1,
        help="worker processes that featurize the formulas/structures (as fm featurize --n-jobs)",
    )
    return p


def positive_int(text: str) -> int:
    """An ``int`` of at least 1 (argparse names the option on failure)."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _read(path: Path, formula_column: str = "formula") -> tuple[object, str | None]:
    """The input table and, for a Parquet table with a named index (``fm featurize``
    writes its ids there), that index's name: the ids column. A CSV's formula cells stay
    text (pandas would read the formula "NaN" as a missing value)."""
    import pandas as pd

    from foundation_model.features.table_io import not_utf8

    if not path.is_file():
        raise FileNotFoundError(f"--input {path}: file not found.")
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            frame = pd.read_parquet(path)
            name = frame.index.name
            return (frame.reset_index(), str(name)) if name else (frame, None)
        if path.suffix.lower() == ".csv":
            return pd.read_csv(path, converters={formula_column: str}), None
    except pd.errors.EmptyDataError:
        raise ValueError(f"--input {path}: the file is empty (expected a header row).") from None
    except UnicodeDecodeError as err:
        raise ValueError(not_utf8(f"--input {path}", err)) from None
    hint = ""
    if path.suffix.lower() in STRUCTURE_SUFFIXES:
        hint = (
            " Structures for a fine-tuned interatomic potential are predicted with "
            "`fm predict --config cfg.yaml --ckpt_path run.ckpt "
            f"--data.init_args.predict_path={path}`."
        )
    raise ValueError(
        f"--input {path}: unsupported suffix {path.suffix!r}; use .csv or .parquet.{hint}"
    )


def _first_column_ids(table: Any, args: argparse.Namespace, predictor: Any) -> str | None:
    """A CSV's first column holds the ids (as ``fm fit`` and ``fm featurize`` read it)
    unless it is the formula, the structure, or a column the model reads."""
    first = str(table.columns[0])
    inputs = {args.formula_column, args.structure_column, *predictor.schema.formula.columns}
    if predictor.schema.structure is not None:
        inputs |= set(predictor.schema.structure.columns)
    inputs |= {t.x_column for t in predictor.model.task_specs if t.is_sequence}
    return None if first in inputs else first


def run(args: argparse.Namespace) -> int:
    from foundation_model.features.table_io import (
        check_not_input,
        check_table_suffix,
        write_table,
    )
    from foundation_model.utils.checkpoint import check_checkpoint_file

    out = args.output or args.input.with_name(args.input.stem + ".predictions.csv")
    err_path = out.with_name(out.stem + ".errors.csv")
    check_table_suffix(out, "--output")  # before any work: nothing written on a bad suffix
    check_not_input(args.input, {"--output": out, "errors file": err_path})
    table, index_ids = _read(args.input, args.formula_column)
    if len(table) == 0:
        raise ValueError(f"--input {args.input}: the table has no rows (only a header?).")
    check_checkpoint_file(args.ckpt_path)
    from foundation_model.inference import load  # torch + lightning: after the quick checks

    predictor = load(args.ckpt_path, args.batch_size, args.n_jobs)
    id_column = args.id_column or index_ids or _first_column_ids(table, args, predictor)
    if id_column in table.columns and args.input.suffix.lower() == ".csv":
        import pandas as pd  # the ids as written in the file: 0001 stays 0001, 2.10 stays 2.10

        ids = pd.read_csv(args.input, usecols=[id_column], converters={id_column: str})
        table[id_column] = ids[id_column]  # converters keep "NA" or "null" ids as text
    preds, errors = predictor.predict_with_errors(
        table, args.formula_column, args.structure_column, id_column
    )
    if len(errors):
        write_table(errors.set_index("row"), err_path)
        print(f"{len(errors)} row(s) could not be predicted: reasons in {err_path}")
    elif err_path.exists():
        err_path.unlink()  # a stale errors file from an earlier run would mislead
    if len(preds) == 0:  # an earlier predictions file is kept, as fm featurize does
        raise ValueError(
            f"no row of {args.input} could be predicted ({len(errors)} failure(s); reasons "
            f"in {err_path}); nothing written to {out}."
        )
    write_table(preds.set_index(preds.columns[0]), out)
    print(f"Predictions for {len(preds)} rows written to {out}")
    return 0


def main(argv: list[str]) -> int:
    """Entry point for ``fm predict --input ...``."""
    args = build_parser().parse_args(argv)
    try:
        return run(args)
    except (ValueError, KeyError, FileNotFoundError) as err:
        import os

        if os.environ.get("FM_DEBUG"):
            raise
        message = err.args[0] if isinstance(err, KeyError) and err.args else err
        print(f"fm predict: error: {message}", file=sys.stderr)
        return 1
