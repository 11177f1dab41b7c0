"""Which rows a run trained, validated and tested on, as digests kept in its checkpoint.

``fm fit`` stores :func:`split_fingerprint` of its data in the checkpoint (``fm_split``).
When the same table is evaluated again (``fm test`` / ``fm validate`` / ``fm calibrate``,
or a resumed ``fm fit``), :func:`check_same_split` refuses a split whose evaluated rows are
not the ones the run held out: with other splitter settings, the "test" rows would include
rows the model trained on, and the score would look better than it is. Other tables (new
data) are not checked: every row of them is unseen.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

import numpy as np

from foundation_model.data.splitters import SplitIndices

PARTS = ("train", "val", "test")


def _digest(ids: Iterable[str]) -> str:
    """First 16 hex digits of the sha256 of the sorted ids, one per line."""
    text = "\n".join(sorted(ids))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def split_fingerprint(ids: Iterable[Any], splits: SplitIndices) -> dict[str, Any]:
    """Digests of all row ids and of each split's ids (order-free), with row counts.

    Args:
        ids: the row ids of the table, in row order.
        splits: positional indices of each split into ``ids``.
    """
    text = np.asarray([str(i) for i in ids], dtype=object)
    out: dict[str, Any] = {"rows": _digest(text), "n_rows": len(text)}
    for part in PARTS:
        rows = getattr(splits, part)
        out[part] = _digest(text[rows])
        out[f"n_{part}"] = len(rows)
    return out


def check_same_split(
    stored: dict[str, Any] | None, current: dict[str, Any] | None, part: str
) -> None:
    """Refuse to evaluate ``part`` of the table a checkpoint was trained on unless it is
    the part that run held out.

    Args:
        stored: the checkpoint's ``fm_split`` (None for older checkpoints: nothing checked).
        current: :func:`split_fingerprint` of the data now attached.
        part: ``train`` (resuming a fit), ``val`` or ``test``.

    Raises:
        ValueError: one line naming the part, the row counts and the fix.
    """
    if not stored or not current or stored.get("rows") != current.get("rows"):
        return  # an older checkpoint, or another table: its rows were never trained on
    if stored.get(part) == current.get(part):
        return
    was, now = stored.get(f"n_{part}"), current.get(f"n_{part}")
    raise ValueError(
        f"the {part} split ({now} rows) is not the {part} split of the run that "
        f"wrote the checkpoint ({was} rows) on the same table, so it may hold rows the model "
        "trained on; use the run's splitter settings (its config.yaml), or fm predict for "
        "new rows."
    )


def check_loaded_split(stored: dict[str, Any] | None, trainer: Any) -> None:
    """:func:`check_same_split` for a checkpoint a trainer is loading: the part its current
    stage evaluates (resumed fit: train, validate: val, test: test) against the attached
    data module's :func:`split_fingerprint` (nothing to check without either).

    Args:
        stored: the checkpoint's ``fm_split``.
        trainer: the Lightning trainer loading it (None: loaded outside a trainer).
    """
    dm = getattr(trainer, "datamodule", None) if trainer is not None else None
    if stored is None or dm is None or not hasattr(dm, "split_fingerprint"):
        return
    fn = str(getattr(trainer.state.fn, "value", trainer.state.fn))
    part = {"fit": "train", "validate": "val", "test": "test"}.get(fn)
    if part is not None:
        check_same_split(stored, dm.split_fingerprint(), part)
