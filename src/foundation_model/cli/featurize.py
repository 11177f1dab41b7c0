"""``fm featurize``: formulas (and optional structures) -> descriptor table.

Example::

    fm featurize --input my.csv --formula-column formula --preset magpie \\
        --output data/my_magpie.parquet

Row ids: ``--id-column`` if given, otherwise the input's first column (a Parquet input's
index), which is what ``fm fit`` uses as ids when the same CSV is the attributes table, so
descriptor and target rows match. ``--row-numbers`` uses 0..N-1 instead.
    fm featurize --backbone sevennet --input structures.extxyz --id-key id \\
        --output data/my_sevennet.parquet     # MLIP embeddings as structure descriptors
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from foundation_model.cli.predict_input import positive_int

PRESET_HELP = (
    "composition preset: magpie (RF-SCM/Magpie set, 132 columns) "
    "or rich (Magpie + 7 more featurizers)"
)


def build_parser() -> argparse.ArgumentParser:
    """The ``fm featurize`` argument parser."""
    p = argparse.ArgumentParser(
        prog="fm featurize", description="Featurize formulas with matminer."
    )
    p.add_argument(
        "--input",
        required=True,
        type=Path,
        help="input table (.csv or .parquet); with --backbone a structure file (extxyz, ASE .db)",
    )
    p.add_argument("--formula-column", default="formula", help="column holding formulas")
    p.add_argument(
        "--id-column",
        default=None,
        help="column of row ids (default: the first column, or a Parquet input's index; "
        "fm fit reads the first CSV column as ids too, so the same CSV used as the "
        "attributes table matches these rows)",
    )
    p.add_argument(
        "--row-numbers",
        action="store_true",
        help="use row numbers 0..N-1 as ids instead (they match no other table by themselves)",
    )
    p.add_argument("--preset", default=None, help=PRESET_HELP + " (default: magpie)")
    p.add_argument(
        "--like",
        type=Path,
        default=None,
        help="a pretrained checkpoint: use its preset and write exactly its descriptor "
        "columns, NaNs filled with its training medians (for fine-tuning it, e.g. "
        "results/pretrained/fm-base/model.ckpt)",
    )
    p.add_argument("--output", required=True, type=Path, help="output table (.parquet or .csv)")
    p.add_argument(
        "--structure-column",
        default=None,
        help="column with CIF / pymatgen JSON / extxyz / POSCAR text, one structure per cell",
    )
    p.add_argument("--structure-preset", default="structure_basic", help="structure preset")
    p.add_argument(
        "--structure-output",
        type=Path,
        default=None,
        help="structure descriptors (default: <output>_structure)",
    )
    p.add_argument(
        "--errors",
        type=Path,
        default=None,
        help="side file of failed inputs (default: <output stem>.errors.csv, "
        "e.g. my.parquet -> my.errors.csv)",
    )
    p.add_argument(
        "--cache-dir", type=Path, default=Path("data/cache/features"), help="feature cache folder"
    )
    p.add_argument("--no-cache", action="store_true", help="do not read or write the cache")
    p.add_argument(
        "--no-impute",
        action="store_true",
        help="keep NaNs (default: drop all-NaN columns, fill medians)",
    )
    p.add_argument("--n-jobs", type=positive_int, default=1, help="worker processes")
    p.add_argument(
        "--backbone",
        default=None,
        help="embed structures with an MLIP instead of matminer: sevennet, chgnet, "
        "a MACE model file or a fine-tuned .ckpt (needs the backbone's extra)",
    )
    p.add_argument(
        "--id-key", default="id", help="with --backbone: atoms.info key of row ids (default id)"
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def _read_input(
    path: Path, formula_column: str = "formula", id_column: str | None = None
):  # -> pd.DataFrame
    """The input table; a CSV's formula cells stay text (pandas would read the formula
    "NaN", Na + N, as a missing value), and so do its ids (``id_column``, else the first
    column: ``0001`` stays ``0001``)."""
    import pandas as pd

    from foundation_model.features.table_io import ids_as_text, not_utf8

    if not path.exists():
        raise FileNotFoundError(f"--input {path} does not exist.")
    if path.suffix.lower() == ".csv":
        try:
            return pd.read_csv(
                path, converters={formula_column: str, **ids_as_text(path, id_column)}
            )
        except pd.errors.EmptyDataError as err:
            raise ValueError(f"--input {path} is empty (no header, no rows).") from err
        except UnicodeDecodeError as err:
            raise ValueError(not_utf8(f"--input {path}", err)) from None
    if path.suffix.lower() in (".parquet", ".pq"):
        return pd.read_parquet(path).reset_index()
    raise ValueError(f"--input {path}: unsupported suffix {path.suffix!r}; use .csv or .parquet.")


def default_id_column(df, args: argparse.Namespace) -> str | None:  # df: pd.DataFrame
    """The id column: ``--id-column``, else the first column (``None`` with ``--row-numbers``).

    Raises:
        ValueError: when the first column has duplicates (one line, with what to do).
    """
    if args.id_column or args.row_numbers:
        return args.id_column
    if df.shape[1] == 0:
        raise ValueError(f"--input {args.input} has no columns.")
    first = str(df.columns[0])
    values = df[first].astype(str)
    if values.duplicated().any():
        dup = values[values.duplicated()].iloc[0]
        raise ValueError(
            f"--input {args.input}: the first column {first!r} (the default row ids) repeats "
            f"{dup!r}; pass --id-column with a unique column, or --row-numbers."
        )
    return first


def _cache_note(info: dict) -> str:
    """``cache hit`` / ``cache miss``, per part when formulas and structures differ."""
    parts = {"formulas": info["cache_hit"]}
    if "structure_cache_hit" in info:
        parts["structures"] = info["structure_cache_hit"]
    if len(set(parts.values())) == 1:
        return f"cache {'hit' if info['cache_hit'] else 'miss'}"
    return "cache " + ", ".join(f"{k} {'hit' if v else 'miss'}" for k, v in parts.items())


def run_backbone(args: argparse.Namespace) -> int:
    """Embed the structures of ``args.input`` with ``args.backbone``; one row per structure."""
    from foundation_model.backbones import embedding_table_from_file

    if not args.input.exists():
        raise FileNotFoundError(f"--input {args.input} does not exist.")
    if args.input.suffix.lower() in (".csv", ".parquet"):
        raise ValueError(
            f"--backbone reads a structure file (extxyz, CIF, POSCAR, ASE .db), not the table "
            f"{args.input}; write its structures to one first (e.g. ase.io.write('s.extxyz', "
            "atoms_list)), rows in the table's order."
        )
    table = embedding_table_from_file(
        args.input, id_key=args.id_key, backbone=args.backbone, out=args.output
    )
    print(
        f"fm featurize: {len(table)} structures x {table.shape[1]} embedding columns of "
        f"backbone {args.backbone} -> {args.output}; use it as "
        "data.init_args.structure_desc_source."
    )
    return 0


def run(args: argparse.Namespace) -> int:
    """Featurize ``args.input`` and write the outputs."""
    if args.backbone:
        return run_backbone(args)
    from foundation_model.features.pipeline import featurize_table
    from foundation_model.features.table_io import (
        check_not_input,
        check_table_suffix,
        write_table,
    )
    from foundation_model.utils.atomic import writable_folder

    outputs = {"--output": args.output, "--structure-output": args.structure_output}
    for flag, path in {**outputs, "--errors": args.errors}.items():
        if path is not None:  # before any work: a wrong suffix must not cost a featurization
            check_table_suffix(path, flag)
            writable_folder(Path(path).parent, f"{flag} {path}: its folder")
    check_not_input(
        args.input,
        {
            "--output": args.output,
            "--structure-output": args.structure_output
            or args.output.with_name(args.output.stem + "_structure" + args.output.suffix),
            "--errors": args.errors or args.output.with_name(args.output.stem + ".errors.csv"),
        },
    )

    base = None
    if args.like is not None:
        from foundation_model.workflows.finetune_recipe import PretrainedBase

        base = PretrainedBase.read(args.like)  # one-line error for a bad checkpoint
        if args.preset is not None and base.preset and args.preset != base.preset:
            raise ValueError(
                f"--preset {args.preset} is not the preset of --like {args.like} "
                f"({base.preset}); leave --preset out: --like writes the checkpoint's columns."
            )
        args.preset = base.preset or args.preset
    args.preset = args.preset or "magpie"
    df = _read_input(args.input, args.formula_column, args.id_column)
    result = featurize_table(
        df,
        args.formula_column,
        preset=args.preset,
        id_column=default_id_column(df, args),
        structure_column=args.structure_column,
        structure_preset=args.structure_preset,
        cache_dir=None if args.no_cache else args.cache_dir,
        n_jobs=args.n_jobs,
        impute=not args.no_impute and base is None,
        progress=not args.quiet,
    )
    if base is not None:
        result.features = base.align(result.features)
    errors_path = args.errors or args.output.with_name(args.output.stem + ".errors.csv")
    if len(result.errors) or errors_path.exists():
        write_table(result.errors.set_index("id"), errors_path)
    if len(result.features) == 0:
        where = f"; reasons in {errors_path}" if len(result.errors) else ""
        raise NoRowsError(
            f"no row of {args.input} could be featurized ({result.info['n_inputs']} input "
            f"row(s), {len(result.errors)} failure(s){where}); nothing written to {args.output}."
        )
    write_table(result.features, args.output)
    if result.structure_features is not None:
        s_out = args.structure_output or args.output.with_name(
            args.output.stem + "_structure" + args.output.suffix
        )
        write_table(result.structure_features, s_out)
    info = result.info
    print(
        f"fm featurize: {len(result.features)}/{info['n_inputs']} rows x "
        f"{result.features.shape[1]} descriptors -> {args.output} ({info['seconds']:.2f} s, "
        f"{_cache_note(info)}); "
        f"{len(result.errors)} failure(s){' -> ' + str(errors_path) if len(result.errors) else ''}"
        + (
            f"; {info['rows_without_structure']} row(s) without a structure (formula only)."
            if info.get("rows_without_structure")
            else "."
        )
    )
    return 0


class NoRowsError(ValueError):
    """Featurization produced no row."""


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``fm featurize``: 0 on success, 1 when no row survives, 2 on bad input."""
    args = build_parser().parse_args(argv)
    try:
        return run(args)
    except NoRowsError as err:
        print(f"fm featurize: error: {err}", file=sys.stderr)
        return 1
    except (FileNotFoundError, KeyError, ValueError, ImportError) as err:
        msg = err.args[0] if isinstance(err, KeyError) and err.args else err
        print(f"fm featurize: error: {msg}", file=sys.stderr)
        return 2
    except OSError as err:  # e.g. the disk filled while writing: files are written atomically
        where = f" {err.filename}" if err.filename else ""
        print(
            f"fm featurize: error: cannot write{where} ({err.strerror or err}); no output "
            "was left half-written: free space or pick another --output and run again.",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
