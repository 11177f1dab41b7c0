"""Parts of the corpus builder on tiny inputs: parsing, counting, aggregation, checks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from foundation_model.data.corpus.aggregate import PropertyReport, aggregate, clean_rows
from foundation_model.data.corpus.build import assemble, check_corpus, derived_labels
from foundation_model.data.corpus.formulas import reduced_formula
from foundation_model.data.corpus.janaf import JanafCurve, one_per_formula, parse_table

TABLE = (
    "Aluminum Oxide (Al2O3)\tAl2O3(cr)\n"
    "T(K)\tCp\tS\t-[G-H(Tr)]/T\tH-H(Tr)\n"
    "0\t0.\t0.\tINFINITE\t-10.0\n"
    "100\t12.8\t4.3\t10.0\t-9.0\n"
    "200\t51.1\t24.6\t15.0\t-7.0\n"
    "500\t112.5\t106.2\t60.0\t20.0\n"
    "500\t120.0\t110.0\tTRANSITION\n"
    "600\tbad\t1.0\t0\t0\n"
    "700\t120.1\t145.6\t80.0\t50.0\n"
)


def test_reduced_formula_is_canonical_and_rejects_garbage() -> None:
    assert reduced_formula("Al4O6") == reduced_formula("O3Al2") == "Al2O3"
    assert reduced_formula("Ni6Pb4Se4") == reduced_formula("Ni3(PbSe)2")
    assert reduced_formula("not a formula!") is None


def test_parse_table_drops_zero_kelvin_repeats_and_text() -> None:
    t, cp, s = parse_table(TABLE)
    assert t.tolist() == [100.0, 200.0, 500.0, 700.0]  # 0 K, repeated 500 K and 'bad' dropped
    assert cp.tolist() == [12.8, 51.1, 112.5, 120.1]
    assert s.tolist() == [4.3, 24.6, 106.2, 145.6]


def test_one_curve_per_formula_prefers_more_points_then_smaller_id() -> None:
    def curve(tid: str, n: int) -> JanafCurve:
        t = np.arange(1.0, n + 1)
        return JanafCurve(tid, "SiO2", "SiO2", "x", t, t, t)

    chosen = one_per_formula([curve("O-036", 5), curve("O-037", 7), curve("O-035", 7)])
    assert [c.table_id for c in chosen] == ["O-035"]


def test_clean_and_aggregate_count_every_dropped_row() -> None:
    raw = pd.DataFrame(
        {
            "formula": ["Fe2O3", "O3Fe2", "NaCl", "Xx9", "KBr", "KBr", "LiF"],
            "value": [1.0, 3.0, 2.0, 5.0, np.nan, 4.0, "oops"],
        }
    )
    report = PropertyReport(unit="eV")
    rows = clean_rows(raw, frozenset({"NaCl"}), report)
    series = aggregate(rows, "median", report)
    assert report.rows_read == 7
    assert report.rows_non_finite == 2 and report.rows_unparsable == 1
    assert report.rows_leakage_removed == 1
    assert report.formulas_with_duplicates == 1 and report.rows_merged == 1
    assert series.to_dict() == {"Fe2O3": 2.0, "KBr": 4.0}
    kept = report.rows_read - report.rows_non_finite - report.rows_unparsable
    assert kept - report.rows_leakage_removed - report.rows_merged == report.rows_kept
    assert aggregate(rows, "min", PropertyReport(unit="eV"))["Fe2O3"] == 1.0


def test_derived_labels_and_assembled_order() -> None:
    gap = pd.Series({"A": 0.0, "B": 1.2}, name="oqmd_band_gap")
    aflow = pd.Series({"C": 0.0}, name="aflow_band_gap")
    curves = pd.DataFrame(
        {"cp_T": [[1.0, 2.0]], "cp": [[3.0, 4.0]], "s_T": [[1.0, 2.0]], "s": [[5.0, 6.0]]},
        index=pd.Index(["B"], name="formula"),
    )
    table = assemble([aflow, gap], curves)
    assert list(table.index) == ["A", "B", "C"]
    assert list(table.columns) == [
        "aflow_band_gap",
        "oqmd_band_gap",
        "is_metal",
        "cp_T",
        "cp",
        "s_T",
        "s",
    ]
    assert table["is_metal"].tolist() == [1.0, 0.0, 1.0]  # C from the AFLOW gap
    assert table.loc["A", "cp"] is None and table.loc["B", "cp"] == [3.0, 4.0]
    labels = derived_labels(pd.DataFrame({"mp_e_above_hull": [0.0, 0.1, np.nan]}))
    assert labels["mp_on_hull"].tolist()[:2] == [1.0, 0.0] and np.isnan(labels["mp_on_hull"][2])


def test_check_corpus_rejects_leaks_and_ragged_curves() -> None:
    table = pd.DataFrame(
        {"cp_T": [[1.0, 2.0], None], "cp": [[1.0, 2.0], None]},
        index=pd.Index(["Al2O3", "NaCl"], name="formula"),
    )
    check_corpus(table, frozenset({"KBr"}))
    with pytest.raises(RuntimeError, match="leakage rule broken"):
        check_corpus(table, frozenset({"NaCl"}))
    table.loc["Al2O3", "cp"] = [1.0]
    with pytest.raises(RuntimeError, match="lengths differ"):
        check_corpus(table, frozenset())
