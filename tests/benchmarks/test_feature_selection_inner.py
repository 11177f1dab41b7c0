"""``benchmarks/feature_selection_inner.py``: its entries and report."""

from __future__ import annotations

from benchmark_scripts import load_benchmark


def test_entries_follow_the_column_counts_and_the_report_names_the_varying_columns():
    bench = load_benchmark("feature_selection_inner")
    entries = bench.entries((40, 8))
    assert list(entries)[:3] == ["scratch_all", "scratch_k40", "scratch_k8"]
    assert {"finetuned_k8", "rf_k40", "rf_all"} <= set(entries)
    maes = {k: [1.0, 3.0] for k in entries}
    result = {
        "task": "matbench_steels",
        "seeds": 2,
        "inner_folds": 2,
        "protocol": "inner",
        "mae_per_inner_fold": maes,
        "mae_mean": {k: 2.0 for k in entries},
        "seconds": 1.0,
        "ks": [40, 8],
        "chosen_columns_per_inner_fold": [
            {"k40": ["a", "b", "c"], "k8": ["a", "b", "c"]},
            {"k40": ["a", "b"], "k8": ["a", "b"]},
        ],
    }
    text = bench.markdown(result)
    assert "(3, 2 per inner fold here)" in text
    assert "| scratch, 8 chosen descriptors | 2 | 1, 3 |" in text


def test_column_counts_are_an_option(tmp_path):
    import pytest

    bench = load_benchmark("feature_selection_inner")
    with pytest.raises(SystemExit, match="fm data matbench"):  # parsed, then refused: no data
        bench.main(["--ks", "16", "8", "--data-dir", str(tmp_path), "--out", str(tmp_path)])
