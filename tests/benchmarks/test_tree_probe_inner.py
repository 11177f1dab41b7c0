"""``benchmarks/tree_probe_inner.py``: fm-base's representation as random-forest inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from benchmark_scripts import load_benchmark

CKPT = Path(__file__).resolve().parents[2] / "results/pretrained/fm-base/model.ckpt"


def test_pretrained_inputs_of_the_shipped_checkpoint():
    bench = load_benchmark("tree_probe_inner")
    from foundation_model.inference.predictor import Predictor
    from foundation_model.workflows.finetune_recipe import PretrainedBase

    base = PretrainedBase.read(CKPT)
    rng = np.random.default_rng(0)
    x = base.align(pd.DataFrame(index=["a", "b", "c"]))  # every column at its median
    x.iloc[1] = x.iloc[1] * (1.0 + 0.5 * rng.standard_normal(x.shape[1]))
    latent, heads = bench.pretrained_inputs(Predictor.from_checkpoint(CKPT).model, x)
    assert list(latent.index) == ["a", "b", "c"] and list(heads.index) == ["a", "b", "c"]
    assert latent.shape[1] == base.architecture["deposit_dim"]
    assert heads.shape[1] >= 1 and np.isfinite(heads.to_numpy()).all()
    # different descriptors give a different representation, equal ones the same (up to
    # float32 rounding of batched arithmetic, which depends on the CPU's vector width)
    assert not np.allclose(latent.iloc[0], latent.iloc[1], rtol=1e-3)
    np.testing.assert_allclose(latent.iloc[0], latent.iloc[2], rtol=1e-5, atol=1e-6)


def test_inner_scores_see_an_informative_input():
    bench = load_benchmark("tree_probe_inner")
    rng = np.random.default_rng(1)
    x = pd.DataFrame(rng.normal(size=(150, 3)), columns=["a", "b", "c"])
    y = pd.Series(3.0 * x["a"] + rng.normal(0.0, 0.1, 150))
    with_signal = np.mean(bench.inner_scores(x, y, "regression", seed=0))
    without = np.mean(bench.inner_scores(x[["b", "c"]], y, "regression", seed=0))
    assert with_signal < 0.5 * without
    labels = (x["a"] > 0).astype(int)
    assert np.mean(bench.inner_scores(x, labels, "classification", seed=0)) > 0.85


def test_markdown_reports_differences_and_inner_fold_wins():
    bench = load_benchmark("tree_probe_inner")
    rows = {
        "steels": {
            "metric": "mae",
            "n_train": 249,
            "rf_desc": [100.0, 110.0, 120.0],
            "rf_desc_latent": [90.0, 115.0, 110.0],
            "rf_desc_heads": [101.0, 111.0, 121.0],
            "rf_latent": [130.0, 130.0, 130.0],
        }
    }
    md = bench.markdown(rows)
    assert "| steels | mae | 249 | 110 | 105 (-5; 2/3) | 111 (+1; 0/3) | 130 (+20; 0/3) |" in md
