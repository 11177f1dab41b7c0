"""``benchmarks/within_system_ranking.py``: pair ROC-AUC inside and across chemical systems."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from benchmark_scripts import load_benchmark


def test_chemical_system_is_the_sorted_element_set():
    bench = load_benchmark("within_system_ranking")
    assert bench.chemical_system("Cu46Zr46Al8") == "Al-Cu-Zr"
    assert bench.chemical_system("Zr2Cu") == bench.chemical_system("CuZr")


def test_within_and_across_pairs_partition_the_roc_auc():
    bench = load_benchmark("within_system_ranking")
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 60)
    p = np.round(rng.random(60), 1)  # ties on purpose
    g = rng.integers(0, 4, 60)
    pairs = bench.pair_auc(y, p, g)
    (w, nw), (a, na) = pairs["within"], pairs["across"]
    assert nw + na == (y == 1).sum() * (y == 0).sum()
    assert (w * nw + a * na) / (nw + na) == pytest.approx(roc_auc_score(y, p))
    # a score that orders rows only inside each group: perfect within, not across
    p = g * 10.0 + y
    assert bench.pair_auc(y, p, g)["within"][0] == 1.0
    assert bench.pair_auc(y, p, g)["across"][0] < 1.0


def _task(tmp_path, shift: float):
    """A 2-fold task of 8 formulas with a fold store of one entry."""
    data, runs = tmp_path / "data", tmp_path / "runs"
    data.mkdir()
    formulas = ["CuZr", "Cu2Zr", "CuZr2", "AlNi", "Al3Ni", "AlNi3", "Fe", "FeB"]
    target = [1, 0, 1, 0, 1, 0, 0, 1]
    ids = [f"t-{i}" for i in range(8)]
    pd.DataFrame({"id": ids, "formula": formulas, "target": target}).to_csv(
        data / "t.csv", index=False
    )
    (data / "t_folds.json").write_text(json.dumps({"fold_0": ids[:4], "fold_1": ids[4:]}))
    store = runs / "t.folds" / "abc"
    store.mkdir(parents=True)
    for k, part in enumerate((slice(0, 4), slice(4, 8))):
        y = np.array(target[part])
        np.savez(store / f"fold_{k}.npz", **{"m/y": y, "m/proba": y * shift + 0.1 * k})
    return data, runs


def test_the_report_reads_the_fold_store(tmp_path):
    bench = load_benchmark("within_system_ranking")
    data, runs = _task(tmp_path, shift=0.5)
    out = tmp_path / "out"
    assert (
        bench.main(["--task", "t", "--runs", str(runs), "--data-dir", str(data), "--out", str(out)])
        == 0
    )
    result = json.loads((out / "within_system_t.json").read_text())
    m = result["entries"]["m"]
    assert m["roc_auc_proba_per_fold_mean"] == 1.0
    # fold 0: CuZr, Cu2Zr, CuZr2 share Cu-Zr; positives CuZr, CuZr2 vs negative Cu2Zr -> 2 pairs
    # fold 1 (Al3Ni, AlNi3, Fe, FeB): Al3Ni vs AlNi3 -> 1 pair (Fe and B-Fe differ)
    assert m["within_system"]["pairs"] == 3
    assert "| m | 1.0000 | 1.0000 | 3 |" in (out / "within_system_t.md").read_text()


def test_a_missing_fold_store_names_the_command(tmp_path):
    bench = load_benchmark("within_system_ranking")
    data, runs = _task(tmp_path, shift=0.5)
    (runs / "t.folds" / "abc" / "fold_1.npz").unlink()
    with pytest.raises(SystemExit, match="run benchmarks/matbench_all.py --tasks t"):
        bench.main(["--task", "t", "--runs", str(runs), "--data-dir", str(data)])


def test_a_store_of_other_test_rows_is_refused(tmp_path):
    bench = load_benchmark("within_system_ranking")
    data, runs = _task(tmp_path, shift=0.5)
    (data / "t_folds.json").write_text(
        json.dumps({"fold_0": ["t-4", "t-5", "t-6", "t-7"], "fold_1": ["t-0", "t-1", "t-2", "t-3"]})
    )
    with pytest.raises(SystemExit, match="does not match the test ids of fold 0"):
        bench.main(["--task", "t", "--runs", str(runs), "--data-dir", str(data)])
