"""Reading and atomically writing descriptor tables (format chosen by file suffix)."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

TABLE_SUFFIXES = (".parquet", ".pq", ".csv")


def _check_suffix(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        raise ValueError(
            f"Unsupported table suffix {path.suffix!r} for {path}; "
            f"use one of {', '.join(TABLE_SUFFIXES)}."
        )
    return suffix


def _atomic(path: Path, write: Any, mode: str = "wb") -> None:
    """Write through ``write(tmp_path)`` to a temp file in the same folder, then rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; give the usual file mode
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_table(df: pd.DataFrame, path: str | Path) -> Path:
    """Write ``df`` (index kept) to Parquet or CSV by suffix, atomically.

    Args:
        df: the table; its index is the row id.
        path: destination; ``.parquet``/``.pq`` or ``.csv``.
    """
    path = Path(path)
    suffix = _check_suffix(path)
    if suffix == ".csv":
        _atomic(path, lambda p: df.to_csv(p))
        if df.attrs.get("fm_featurizer"):  # CSV has no metadata: a side file carries it
            write_json(df.attrs["fm_featurizer"], path.with_name(path.name + ".featurizer.json"))
    else:
        _atomic(path, lambda p: df.to_parquet(p, engine="pyarrow"))
    return path


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a table written by :func:`write_table` (CSV: first column is the index).

    Args:
        path: a ``.parquet``/``.pq`` or ``.csv`` file.
    """
    path = Path(path)
    suffix = _check_suffix(path)
    if not path.exists():
        raise FileNotFoundError(f"Table not found: {path}.")
    if suffix == ".csv":
        return pd.read_csv(path, index_col=0)
    return pd.read_parquet(path, engine="pyarrow")


def write_json(data: Any, path: str | Path, compact: bool = False) -> Path:
    """Write JSON atomically (indent 2, or one line when ``compact``).

    Args:
        data: JSON-serialisable object.
        path: destination file.
        compact: no indentation (for large id lists).
    """
    path = Path(path)
    text = json.dumps(data, indent=None if compact else 2, default=str) + "\n"
    _atomic(path, lambda p: p.write_text(text))
    return path


def write_text(text: str, path: str | Path) -> Path:
    """Write a text file atomically.

    Args:
        text: file content.
        path: destination file.
    """
    path = Path(path)
    _atomic(path, lambda p: p.write_text(text))
    return path
