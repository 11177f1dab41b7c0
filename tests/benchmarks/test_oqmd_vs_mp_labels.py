import pandas as pd
import pytest

from benchmark_scripts import load_benchmark


def test_ground_states_take_the_lowest_value_per_reduced_formula():
    bench = load_benchmark("oqmd_vs_mp_labels")
    formulas = pd.Series(["Fe2O3", "Fe4O6", "NaCl", "not a formula", "Cl1Na1"])
    values = pd.Series([-1.0, -1.5, -2.0, -9.0, None])
    out = bench.ground_states(formulas, values)
    assert out.to_dict() == {"Fe2O3": -1.5, "NaCl": -2.0}


def test_compare_by_element_count_and_the_report():
    bench = load_benchmark("oqmd_vs_mp_labels")
    idx = ["NaCl", "KBr", "LiFeO2"]
    n_el = pd.Series([2, 2, 3], index=idx)
    diffs = {
        "MP - OQMD": pd.Series([0.0, 0.2, -0.05], index=idx),
        "OQMD - head": pd.Series([-0.3, -0.1, -0.4], index=idx),
        "MP - head": pd.Series([-0.3, 0.1, -0.45], index=idx),
    }
    out = bench.compare(diffs, n_el)
    assert out["MP - OQMD"]["2"] == {
        "rows": 2,
        "median": pytest.approx(0.1),
        "mae": pytest.approx(0.1),
        "within_0.1": 0.5,
    }
    assert out["OQMD - head"]["all"]["median"] == pytest.approx(-0.3)
    text = bench.markdown(
        {"formulas": 3, "checkpoint": "m.ckpt", "differences": out, "seconds": 1.0}
    )
    assert "| 3 | 1 | -0.050 / 0.050 | -0.400 / 0.400 | -0.450 / 0.450 |" in text
