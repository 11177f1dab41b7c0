"""Reading and atomically writing descriptor tables (format chosen by file suffix)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from foundation_model.utils import atomic

TABLE_SUFFIXES = (".parquet", ".pq", ".csv")


def check_table_suffix(path: str | Path, what: str = "table") -> str:
    """The lower-case suffix of a table path :func:`write_table` / :func:`read_table`
    handle; anything else is a one-line error naming ``what``.

    Args:
        path: the table's path.
        what: the option or key that named it (e.g. ``--output``).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        raise ValueError(
            f"{what} {path}: unsupported table suffix {path.suffix!r}; "
            f"use one of {', '.join(TABLE_SUFFIXES)}."
        )
    return suffix


def check_not_input(source: str | Path, outputs: dict[str, str | Path | None]) -> None:
    """One-line error when an output path is the input file itself: the input is never
    overwritten.

    Args:
        source: the input file.
        outputs: option name (e.g. ``--output``) -> the path it will write (None: not used).
    """
    src = Path(source).resolve()
    for flag, path in outputs.items():
        if path is not None and Path(path).resolve() == src:
            raise ValueError(
                f"{flag} {path} is the input file; write to another file (the input is "
                "never overwritten)."
            )


def write_table(df: pd.DataFrame, path: str | Path) -> Path:
    """Write ``df`` (index kept) to Parquet or CSV by suffix, atomically.

    Args:
        df: the table; its index is the row id.
        path: destination; ``.parquet``/``.pq`` or ``.csv``.
    """
    path = Path(path)
    suffix = check_table_suffix(path)
    atomic.write_dataframe(df, path)
    if suffix == ".csv" and df.attrs.get("fm_featurizer"):  # CSV has no metadata: a side file
        write_json(df.attrs["fm_featurizer"], path.with_name(path.name + ".featurizer.json"))
    return path


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a table written by :func:`write_table` (CSV: first column is the index).

    Args:
        path: a ``.parquet``/``.pq`` or ``.csv`` file.
    """
    path = Path(path)
    suffix = check_table_suffix(path)
    if not path.exists():
        raise FileNotFoundError(f"Table not found: {path}.")
    if suffix == ".csv":  # the ids as written (``0001`` stays text)
        return index_by_first_column(pd.read_csv(path, converters=ids_as_text(path)))
    return pd.read_parquet(path, engine="pyarrow")


def not_utf8(what: str, err: UnicodeDecodeError) -> str:
    """The one-line message for a table that is not UTF-8 text (``what``: e.g. ``--input
    my.csv`` or ``The upload``), with the fix."""
    return f"{what} is not UTF-8 text ({err.reason} at byte {err.start}); save it as 'CSV UTF-8'."


def index_by_first_column(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` indexed by its first column, as ``read_csv(index_col=0)`` would, but with the
    cells kept as read: ``index_col`` applies pandas' missing-value words (``NA``, ``N/A``,
    ``null``, ``None``...) to the index even where a converter keeps the column as text,
    which would turn such ids into NaN.

    Args:
        df: a table read with its first column as a normal column.
    """
    if not isinstance(df.index, pd.RangeIndex):
        return df  # a header one name short (R's write.table): pandas took the ids already
    first = df.columns[0]
    out = df.set_index(first)
    if str(first) == "Unnamed: 0":  # a blank header cell: index_col=0 leaves no name
        out.index.name = None
    return out


def ids_as_text(path: str | Path, id_column: str | None = None) -> dict[str, type]:
    """``read_csv`` converters that keep a CSV's id column (``id_column``, else its first
    column) as the text in the file: ids such as ``0001`` or ``2.10`` would otherwise become
    the numbers 1 and 2.1 (and collide with ``1`` and ``2.1``).

    Args:
        path: the CSV.
        id_column: the id column, when not the first.
    """
    header = pd.read_csv(path, nrows=0).columns
    column = id_column if id_column is not None else (header[0] if len(header) else None)
    return {column: str} if column is not None and column in header else {}


def write_json(data: Any, path: str | Path, compact: bool = False) -> Path:
    """Write JSON atomically (indent 2, or one line when ``compact``).

    Args:
        data: JSON-serialisable object.
        path: destination file.
        compact: no indentation (for large id lists).
    """
    return atomic.write_json(data, path, compact)


def write_text(text: str, path: str | Path) -> Path:
    """Write a text file atomically.

    Args:
        text: file content.
        path: destination file.
    """
    return atomic.write_text(text, path)
