"""What a trained model expects as input, stored in its checkpoint.

A model sees descriptor *columns*: the schema records their names in order, the fill value
of each (the median over the training rows), and the featurizer configuration that made
them, so new formulas can be featurized, aligned by column name and imputed exactly as the
training rows were — never re-fitted on the new table.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd


@dataclass
class DescriptorSchema:
    """One descriptor table's contract.

    Attributes:
        columns: descriptor names, in the order the model reads them.
        fill: per column, the value that replaces a NaN (training-row median).
        featurizer: ``{"kind", "preset", "featurizers", "versions"}`` of the featurizer that
            made the columns, or None when the table came from elsewhere.
        dropped: columns that featurizer makes but the model does not use (e.g. all-NaN).
    """

    columns: list[str]
    fill: list[float]
    featurizer: dict[str, Any] | None = None
    dropped: list[str] = field(default_factory=list)

    def align(self, table: pd.DataFrame, what: str) -> np.ndarray:
        """``table`` -> ``(N, F)`` float32 in schema order, NaNs filled with training medians.

        Raises a one-line error naming missing or unexpected columns, or a cell holding text
        that is not a number (an empty cell is filled, a typo is not).

        Args:
            table: descriptor table (any column order).
            what: the table's role in messages.
        """
        names = [str(c) for c in table.columns]
        missing = [c for c in self.columns if c not in names]
        extra = [c for c in names if c not in self.columns and c not in self.dropped]
        if missing or extra:
            parts = []
            for label, cols in (("missing", missing), ("unexpected", extra)):
                if cols:
                    more = f" and {len(cols) - 5} more" if len(cols) > 5 else ""
                    parts.append(f"{len(cols)} {label} column(s) {cols[:5]}{more}")
            how = (
                f"featurize with preset {self.featurizer.get('preset')!r}"
                if self.featurizer
                else "give the same descriptor columns the model was trained on"
            )
            raise ValueError(f"{what}: {'; '.join(parts)}: {how}.")
        frame = table.copy()
        frame.columns = names
        raw = frame[self.columns]
        numeric = raw.apply(pd.to_numeric, errors="coerce")
        bad = numeric.isna() & raw.notna()  # text that is not a number (not an empty cell)
        if bad.to_numpy().any():
            row, col = np.argwhere(bad.to_numpy())[0]
            raise ValueError(
                f"{what}: descriptor {self.columns[col]!r} holds the text "
                f"{raw.iat[row, col]!r} (row {raw.index[row]!r}); descriptors must be numbers "
                "(leave a cell empty to fill it with the training median)."
            )
        values = numeric.to_numpy(np.float64)
        values[~np.isfinite(values)] = np.nan
        fill = np.asarray(self.fill, dtype=np.float64)
        values = np.where(np.isnan(values), fill[None, :], values)
        return values.astype(np.float32)


@dataclass
class InputSchema:
    """Everything needed to turn a new table into model inputs.

    Attributes:
        formula: the formula-descriptor contract.
        structure: the structure-descriptor contract (None: the model uses no structures).
        sequence_points: per sequence task, default points (the longest training curve's)
            used when a new row gives none.
        sequence_ranges: per sequence task, ``[min, max]`` of the training rows' points
            (new points outside it are extrapolations, and prediction warns).
    """

    formula: DescriptorSchema
    structure: DescriptorSchema | None = None
    sequence_points: dict[str, list[float]] = field(default_factory=dict)
    sequence_ranges: dict[str, list[float]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for a checkpoint."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> InputSchema:
        """Rebuild from :meth:`to_dict`."""
        structure = data.get("structure")
        return cls(
            formula=DescriptorSchema(**data["formula"]),
            structure=DescriptorSchema(**structure) if structure else None,
            sequence_points={k: list(v) for k, v in (data.get("sequence_points") or {}).items()},
            sequence_ranges={k: list(v) for k, v in (data.get("sequence_ranges") or {}).items()},
        )


def descriptor_values(df: pd.DataFrame, what: str) -> np.ndarray:
    """``df`` as float64 with NaN for missing/inf; one-line error for text columns."""
    bad = [c for c in df.columns if not pd.api.types.is_numeric_dtype(df[c])]
    if bad:
        raise ValueError(
            f"{what}: non-numeric descriptor column(s) {bad[:5]}; descriptors must be numbers "
            "(drop text columns such as formulas, or featurize them with `fm featurize`)."
        )
    values = df.to_numpy(dtype=np.float64)
    values[~np.isfinite(values)] = np.nan
    return values


def training_fill(values: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Per-column median over ``rows`` (0.0 for a column with no finite value there)."""
    import warnings

    sub = values[rows]
    if sub.shape[0] == 0:
        return np.zeros(values.shape[1])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns
        med = np.nanmedian(sub, axis=0)
    return np.where(np.isfinite(med), med, 0.0)


def featurizer_of(source: Any) -> dict[str, Any] | None:
    """The featurizer record ``fm featurize`` attached to a table (Parquet metadata or a
    ``<file>.featurizer.json`` beside a CSV), or None."""
    import json
    from pathlib import Path

    if isinstance(source, pd.DataFrame):
        return source.attrs.get("fm_featurizer")
    if source is None:
        return None
    path = Path(source)
    side = path.with_name(path.name + ".featurizer.json")
    if side.exists():
        return json.loads(side.read_text())
    if path.suffix.lower() in (".parquet", ".pq") and path.exists():
        try:
            return pd.read_parquet(path, columns=[]).attrs.get("fm_featurizer")
        except (OSError, ValueError):
            return None
    return None
