"""The leakage rule: no reduced formula of any Matbench v0.1 task enters the corpus.

The formulas come from the crabnet 2.0.8 wheel's ``crabnet/data/matbench/*.csv`` (all 13
tasks; structure tasks as the formulas of their structures), the same files
``fm data matbench`` reads.
"""

from __future__ import annotations

from pathlib import Path

from foundation_model.data.corpus.formulas import reduce_formulas
from foundation_model.data.corpus.provenance import wheel_csv
from foundation_model.data.matbench import CRABNET_STEMS
from foundation_model.data.matbench_sources import CRABNET


def matbench_formulas(cache_dir: Path) -> tuple[frozenset[str], dict[str, object]]:
    """Reduced formulas of all 13 Matbench v0.1 tasks and a provenance record.

    Args:
        cache_dir: wheel cache folder (the crabnet wheel is downloaded once when missing).
    """
    reduced: set[str] = set()
    files: dict[str, object] = {}
    unparsable = 0
    for task, stem in sorted(CRABNET_STEMS.items()):
        table, record = wheel_csv(*CRABNET, f"crabnet/data/matbench/{stem}.csv", cache_dir)
        if "formula" not in table.columns:
            raise ValueError(f"{record['file']} has no 'formula' column; the wheel is not 2.0.8.")
        forms = reduce_formulas(table["formula"])
        unparsable += int(forms.isna().sum())
        reduced.update(forms.dropna())
        files[task] = record
    info = {
        "rule": "no pymatgen reduced formula occurring in any Matbench v0.1 task enters the "
        "corpus (structure tasks reduced to their formulas)",
        "package": CRABNET[0],
        "version": CRABNET[1],
        "tasks": files,
        "matbench_reduced_formulas": len(reduced),
        "matbench_rows_unparsable": unparsable,
    }
    return frozenset(reduced), info
