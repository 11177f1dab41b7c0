"""Atomic file writes: write a temporary file in the destination folder, then rename it.

A reader never sees half a file: either the old content or the new one. ``os.replace`` is
atomic when source and destination are on the same file system, which is why the temporary
file lives in the destination's folder. On any failure the temporary file is removed and
the destination is left untouched.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = [
    "atomic_write",
    "write_bytes",
    "write_dataframe",
    "write_json",
    "write_text",
    "save_torch",
]


def _default_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def atomic_write(path: str | Path, write: Callable[[Path], Any]) -> Path:
    """Create ``path`` through ``write(tmp_path)`` and an atomic rename.

    Args:
        path: destination file; its folder is created when missing.
        write: callable that writes the whole content to the path it is given.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        os.chmod(tmp, _default_mode())  # mkstemp creates 0600; give the usual file mode
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def write_bytes(data: bytes, path: str | Path) -> Path:
    """Write ``data`` to ``path`` atomically.

    Args:
        data: file content.
        path: destination file.
    """
    return atomic_write(path, lambda p: p.write_bytes(data))


def write_text(text: str, path: str | Path, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically.

    Args:
        text: file content.
        path: destination file.
        encoding: text encoding.
    """
    return atomic_write(path, lambda p: p.write_text(text, encoding=encoding))


def writable_folder(folder: Path, flag: str = "--out") -> None:
    """Create ``folder`` before any work; one that cannot be made or written to (a file in
    the way, no permission, a read-only file system) is a one-line ``ValueError`` naming
    the option."""
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"{flag} {folder} is a file, not a folder; give a folder path.")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ValueError(
            f"{flag} {folder}: cannot create this folder ({err.strerror or err}); give a "
            "writable folder path."
        ) from None
    if not os.access(folder, os.W_OK):
        raise ValueError(
            f"{flag} {folder}: this folder is not writable (no permission or a read-only "
            "file system); give a writable folder path."
        )


def json_safe(value: Any) -> Any:
    """``value`` with every NaN or infinity (also numpy floats) replaced by ``None``, so
    that it is strict JSON (``null``) that any parser reads."""
    if isinstance(value, float):  # numpy float64 is a float too
        return float(value) if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


def write_json(data: Any, path: str | Path, compact: bool = False) -> Path:
    """Write ``data`` as JSON atomically (indent 2, or one line when ``compact``).

    Objects JSON does not know (paths, numpy scalars) are written with ``str``; NaN and
    infinities become ``null`` (:func:`json_safe`), so the file is strict JSON that any
    parser (JavaScript's ``JSON.parse``, ``jq``) reads.

    Args:
        data: JSON-serialisable object.
        path: destination file.
        compact: no indentation (for large id lists).
    """
    text = json.dumps(json_safe(data), indent=None if compact else 2, default=str, allow_nan=False)
    text += "\n"
    return write_text(text, path)


def write_dataframe(df: Any, path: str | Path, index: bool = True) -> Path:
    """Write a pandas DataFrame as CSV or Parquet (chosen by suffix) atomically.

    Args:
        df: the table.
        path: destination; ``.csv``, ``.parquet`` or ``.pq``.
        index: write the row index (CSV: as the first column).

    Raises:
        ValueError: for any other suffix.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return atomic_write(path, lambda p: df.to_csv(p, index=index))
    if suffix in (".parquet", ".pq"):
        return atomic_write(path, lambda p: df.to_parquet(p, engine="pyarrow", index=index))
    raise ValueError(f"Cannot write a table to {path}: use a .csv, .parquet or .pq file name.")


def save_torch(obj: Any, path: str | Path) -> Path:
    """``torch.save(obj)`` to ``path`` atomically (e.g. a checkpoint dict).

    Args:
        obj: anything ``torch.save`` accepts.
        path: destination file.
    """
    import torch

    return atomic_write(path, lambda p: torch.save(obj, p))
