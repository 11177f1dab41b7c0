"""Reading and validating the tables a data module is built from."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

TableSource = str | Path | pd.DataFrame

_READERS = {
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".pkl": "pickle",
    ".pickle": "pickle",
    ".pd.xz": "pickle",
}


def _read_csv(
    path: Path,
    what: str,
    index_col: int | None,
    id_column: str | None = None,
    text_columns: tuple[str, ...] = (),
) -> pd.DataFrame:
    """A CSV whose id column (``index_col``'s column or ``id_column``) and ``text_columns``
    are read as the text written in the file, so ids such as ``0001`` or ``2.10`` are not
    turned into numbers, nor the formula ``NaN`` (Na + N) into a missing value."""
    from foundation_model.features.table_io import ids_as_text, index_by_first_column

    try:
        text = ids_as_text(path, id_column) if index_col == 0 or id_column else {}
        text |= dict.fromkeys(text_columns, str)
        df = pd.read_csv(path, converters=text)
        return index_by_first_column(df) if index_col == 0 and len(df.columns) else df
    except pd.errors.EmptyDataError as err:
        raise ValueError(f"{what}: {path} is empty (no header, no rows).") from err
    except (pd.errors.ParserError, UnicodeDecodeError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ValueError(f"{what}: {path} is not a readable CSV ({first}).") from err


def load_table(
    source: TableSource,
    what: str,
    id_column: str | None = None,
    require_rows: bool = True,
    first_column_ids: bool = True,
    text_columns: tuple[str, ...] = (),
) -> pd.DataFrame:
    """Load a table from a DataFrame, CSV, Parquet or pickled DataFrame.

    The row index is the sample id: ``id_column`` if given, otherwise the first CSV column
    (or the DataFrame's existing index for Parquet/pickle files and in-memory frames).

    Args:
        source: a path or a DataFrame.
        what: the table's role, used in error messages (e.g. ``"formula_desc_source"``).
        id_column: column holding row ids.
        require_rows: a table without rows (an empty file, a header only) is an error.
        first_column_ids: without ``id_column``, read a CSV's first column as the ids
            (False: every CSV column stays a column and the ids are the row numbers).
        text_columns: CSV columns read as the text in the file (e.g. a formula column:
            ``NaN`` is sodium nitride, not a missing value; an empty cell stays empty).

    Raises:
        ValueError: one line naming the role and the file, e.g. for an empty CSV.
    """
    if isinstance(source, pd.DataFrame):
        df = source.copy()
    else:
        path = Path(source)
        if not path.exists():
            raise FileNotFoundError(
                f"{what}: file not found: {path} (check the path in your config)."
            )
        suffix = (
            "".join(path.suffixes[-2:]) if path.name.endswith(".pd.xz") else path.suffix.lower()
        )
        kind = _READERS.get(suffix)
        if kind is None:
            raise ValueError(
                f"{what}: unsupported file type {path.suffix!r} for {path}; "
                "use .csv, .parquet or .pkl."
            )
        if kind == "csv":
            index_col = 0 if first_column_ids and not id_column else None
            df = _read_csv(path, what, index_col, id_column, text_columns)
        elif kind == "parquet":
            df = pd.read_parquet(path)
        else:
            df = pd.read_pickle(path)
            if not isinstance(df, pd.DataFrame):
                raise ValueError(f"{what}: {path} does not hold a pandas DataFrame.")
    if require_rows and df.empty and len(df.index) == 0:
        name = "the DataFrame given" if isinstance(source, pd.DataFrame) else str(source)
        header = f" (only a header: {list(df.columns)[:5]})" if len(df.columns) else ""
        raise ValueError(f"{what}: {name} has no rows{header}; it needs at least one row.")
    if id_column and id_column in df.columns:
        df = df.set_index(id_column)
    elif id_column and df.index.name != id_column:  # a named index (fm featurize) is the ids
        raise KeyError(
            f"{what}: id column {id_column!r} not found; columns are {list(df.columns)[:10]}"
            f" (index: {df.index.name!r})."
        )
    if df.index.has_duplicates:
        dup = df.index[df.index.duplicated()].unique()[:5].tolist()
        name = "the DataFrame given" if isinstance(source, pd.DataFrame) else str(source)
        raise ValueError(
            f"{what}: duplicated row ids {dup} in {name}; ids (the index) must be unique."
        )
    df.index = df.index.map(str)
    return df


def require_columns(df: pd.DataFrame, columns: list[str], what: str, task: str) -> None:
    """Raise a one-line error naming each missing column."""
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise KeyError(
            f"{what}: column(s) {missing} needed by task {task!r} not found; "
            f"available columns: {list(df.columns)[:20]} (point task {task!r} at your column: "
            "its `column:` in the config's task list; on the command line "
            "--data.init_args.tasks.column=NAME when the config has one task, else a whole "
            "list --data.init_args.tasks='[...]' as the README shows)."
        )


def parse_sequence(cell: Any, what: str, row: str) -> list[float] | None:
    """Parse one sequence cell: list/array, JSON list string, or ``;``-separated string.

    Returns None for a missing or empty cell.
    """
    if cell is None:
        return None
    if isinstance(cell, float) and math.isnan(cell):
        return None
    if isinstance(cell, str):
        text = cell.strip()
        if not text or text.lower() in {"nan", "none", "[]"}:
            return None
        try:
            parsed = (
                json.loads(text) if text.startswith("[") else [float(v) for v in text.split(";")]
            )
        except (ValueError, json.JSONDecodeError) as err:
            raise ValueError(
                f"{what}: row {row!r}: cannot parse sequence {text[:40]!r} ({err}); write it "
                "as a JSON list ([1.5, 2, 3]) or as numbers separated by ';' (1.5;2;3)."
            ) from err
        cell = parsed
    try:
        values = np.asarray(cell, dtype=np.float64).ravel()
    except (TypeError, ValueError) as err:
        raise ValueError(
            f"{what}: row {row!r}: the sequence {str(cell)[:40]!r} is not all numbers ({err})."
        ) from err
    if values.size == 0:
        return None
    if not np.isfinite(values).all():
        raise ValueError(f"{what}: row {row!r}: NaN/inf inside a sequence; remove those points.")
    return values.tolist()
