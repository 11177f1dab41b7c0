"""From raw ``(formula, value)`` rows to one value per reduced formula, with a count of
every row dropped on the way (the numbers written to ``corpus.json``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np
import pandas as pd

from foundation_model.data.corpus.formulas import reduce_formulas

Aggregation = Literal["median", "min"]
HOW = {
    "median": "median of the values per reduced formula",
    "min": "minimum per reduced formula (the lowest-energy polymorph)",
}


@dataclass
class PropertyReport:
    """What happened to the rows of one property.

    Attributes:
        unit: unit of the stored values.
        rows_read: rows in the source files.
        rows_non_finite: rows with a missing or non-finite value (dropped).
        rows_unparsable: rows whose formula pymatgen cannot parse (dropped).
        rows_leakage_removed: rows whose reduced formula occurs in a Matbench v0.1 task.
        formulas_with_duplicates: reduced formulas that had more than one remaining row.
        rows_merged: remaining rows folded into another row of the same reduced formula.
        duplicates_how: how duplicates were aggregated.
        rows_kept: rows in the corpus (one per reduced formula).
    """

    unit: str
    rows_read: int = 0
    rows_non_finite: int = 0
    rows_unparsable: int = 0
    rows_leakage_removed: int = 0
    formulas_with_duplicates: int = 0
    rows_merged: int = 0
    duplicates_how: str = ""
    rows_kept: int = 0

    def as_dict(self) -> dict[str, object]:
        """A JSON-ready dict."""
        return asdict(self)


def clean_rows(
    raw: pd.DataFrame, leaked: frozenset[str] | set[str], report: PropertyReport
) -> pd.DataFrame:
    """Finite values with parseable, non-Matbench formulas; adds a ``reduced`` column.

    Args:
        raw: columns ``formula`` and ``value``.
        leaked: reduced formulas that must not enter the corpus.
        report: counts are written here.
    """
    report.rows_read = len(raw)
    values = pd.to_numeric(raw["value"], errors="coerce").to_numpy(np.float64)
    finite = np.isfinite(values)
    report.rows_non_finite = int((~finite).sum())
    rows = pd.DataFrame({"formula": raw["formula"].to_numpy()[finite], "value": values[finite]})
    rows["reduced"] = reduce_formulas(rows["formula"]).to_numpy()
    parsed = rows["reduced"].notna().to_numpy()
    report.rows_unparsable = int((~parsed).sum())
    rows = rows[parsed]
    is_leaked = rows["reduced"].isin(leaked).to_numpy()
    report.rows_leakage_removed = int(is_leaked.sum())
    return rows[~is_leaked].reset_index(drop=True)


def aggregate(rows: pd.DataFrame, how: Aggregation, report: PropertyReport) -> pd.Series:
    """One value per reduced formula (index sorted), counting merged duplicates.

    Args:
        rows: output of :func:`clean_rows`.
        how: ``median`` or ``min``.
        report: counts are written here.
    """
    counts = rows.groupby("reduced", sort=True)["value"].size()
    report.formulas_with_duplicates = int((counts > 1).sum())
    report.rows_merged = int((counts - 1).sum())
    report.duplicates_how = HOW[how]
    out = rows.groupby("reduced", sort=True)["value"].agg(how).astype(np.float64)
    out.index.name = "formula"
    report.rows_kept = len(out)
    return out
