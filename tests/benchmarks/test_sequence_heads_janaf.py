"""``benchmarks/sequence_heads_janaf.py``: per-curve scores, the paired comparison with kNN
and the seed-repeat report."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from benchmark_scripts import load_benchmark


def test_per_curve_errors_split_level_and_shape():
    bench = load_benchmark("sequence_heads_janaf")
    truth = [np.array([1.0, 2.0, 3.0]), np.array([5.0, 5.0])]
    shifted = [t + 0.5 for t in truth]  # right shape, wrong level
    errors = bench.per_curve_errors(shifted, truth)
    assert errors.shape == (2, 4)
    np.testing.assert_allclose(errors[:, 1], [0.5, 0.5])  # level
    np.testing.assert_allclose(errors[:, 2], [0.0, 0.0], atol=1e-12)  # shape
    np.testing.assert_allclose(errors[:, 3], [2.0 / 3.0, 0.0])  # flat line at the true mean
    assert bench.curve_scores(shifted, truth)["mae"] == pytest.approx(0.5)


def test_paired_difference_sees_a_consistent_small_gain_and_not_noise():
    bench = load_benchmark("sequence_heads_janaf")
    rng = np.random.default_rng(0)
    reference = rng.uniform(1.0, 5.0, 80)  # per-curve errors vary a lot between curves
    better = reference - 0.05  # 1-5 % better on every curve
    d = bench.paired_difference(better, reference)
    assert d["mean"] == pytest.approx(-0.05) and d["ci_high"] < 0
    noisy = reference + rng.normal(0.0, 0.5, 80)
    d = bench.paired_difference(noisy, reference)
    assert d["ci_low"] < d["mean"] < d["ci_high"]
    assert d["ci_low"] < 0 < d["ci_high"]


def test_seed_repeats_and_their_table():
    bench = load_benchmark("sequence_heads_janaf")
    rng = np.random.default_rng(1)
    knn = np.abs(rng.normal(2.0, 0.5, (40, 4)))
    seeds = np.stack([knn - 0.1 + rng.normal(0, 0.01, (40, 4)) for _ in range(3)])
    seeds[2, :, 2] += 1.0  # the third seed is worse than kNN on shape
    rep = bench.seed_repeats(seeds, knn, first_seed=2026)
    assert rep["seeds"] == [2026, 2027, 2028]
    assert rep["seeds_beating_knn"] == {"mae": 3, "level": 3, "shape": 2}
    assert rep["std"]["shape"] > rep["std"]["level"]
    assert rep["minus_knn"]["level"]["ci_high"] < 0
    summary = {
        "n_curves": 100,
        "n_train": 60,
        "n_val": 15,
        "n_test": 40,
        "epochs": 2,
        "seed": 2026,
        "seconds": 1.0,
        "methods": {
            "knn": {"chosen": {"k": 5}, "test": {"mae": 2, "level": 1, "shape": 1, "flat": 3}},
            "rnn": {
                "chosen": {"hidden_size": 64},
                "test": {"mae": 1.9, "level": 0.9, "shape": 1.1, "flat": 3},
                "repeats": rep,
            },
        },
    }
    text = bench.markdown(summary)
    assert "refit with 3 torch seeds" in text
    assert "3 / 3 / 2 of 3" in text


def test_corpus_curve_formulas_reads_cp_or_s_and_explains_a_missing_table(tmp_path):
    bench = load_benchmark("sequence_heads_janaf")
    table = pd.DataFrame(
        {
            "oqmd_band_gap": [0.1, 0.2, np.nan, 1.0],
            "cp": [[1.0, 2.0], None, None, None],
            "s": [None, None, [3.0], None],
        },
        index=pd.Index(["NaCl", "MgO", "Fe2O3", "SiO2"], name="formula"),
    )
    path = tmp_path / "corpus.parquet"
    table.to_parquet(path)
    assert bench.corpus_curve_formulas(path) == {"NaCl", "Fe2O3"}
    table.reset_index().to_parquet(path)  # formula as a column works too
    assert bench.corpus_curve_formulas(path) == {"NaCl", "Fe2O3"}
    with pytest.raises(SystemExit, match="fm data corpus"):
        bench.corpus_curve_formulas(tmp_path / "missing.parquet")


def test_seed_ensemble_scores_the_mean_curve_against_both_knns():
    bench = load_benchmark("sequence_heads_janaf")
    truth = [np.array([1.0, 2.0, 3.0]), np.array([4.0, 4.0])]
    # two seeds off by +-0.5: each seed has level error 0.5, their mean curve none
    runs = [[t + 0.5 for t in truth], [t - 0.5 for t in truth]]
    knn = bench.per_curve_errors([t + 1.0 for t in truth], truth)
    ens = bench.seed_ensemble(runs, truth, knn, knn)
    assert ens["seeds"] == 2
    assert ens["test"]["mae"] == pytest.approx(0.0)
    assert ens["minus_knn"]["level"]["mean"] == pytest.approx(-1.0)
    assert ens["minus_knn_same_features"]["shape"]["mean"] == pytest.approx(0.0)


def test_pretrained_section_table():
    bench = load_benchmark("sequence_heads_janaf")
    ci = {"mean": -0.2, "ci_low": -0.4, "ci_high": -0.05}
    rep = {
        "seeds": [2026, 2027],
        "mean": {"mae": 2.0, "level": 1.5, "shape": 1.4},
        "std": {"mae": 0.1, "level": 0.1, "shape": 0.1},
        "minus_knn": {"mae": ci, "level": ci, "shape": ci},
    }
    section = {
        "checkpoint": "fm-base.ckpt",
        "network": {"encoder_dims": [512, 256], "deposit_dim": 256},
        "dropped_from_test": ["BHO"],
        "dropped_from_val": [],
        "n_train": 10,
        "n_val": 3,
        "n_test": 4,
        "methods": {
            "knn": {"chosen": {"k": 5}, "test": {"mae": 2.5, "level": 2, "shape": 2}},
            "rnn pretrained": {
                "chosen": {"mode": "full"},
                "test": {"mae": 2.1, "level": 1.6, "shape": 1.5},
                "repeats": rep,
                "repeats_vs_knn_same_features": rep,
                "ensemble": {
                    "seeds": 2,
                    "test": {"mae": 1.9, "level": 1.4, "shape": 1.3},
                    "minus_knn": {"level": ci, "shape": ci},
                    "minus_knn_same_features": {"level": ci, "shape": ci},
                },
            },
        },
    }
    text = "\n".join(bench.markdown_pretrained(section))
    assert "1 test curves (BHO)" in text
    assert "| rnn pretrained, 2-seed ensemble | 1.900 |" in text
    assert "-0.200 [-0.400, -0.050]" in text


def test_pretrained_section_runs_on_the_shipped_checkpoint(tmp_path):
    """Every arm of the pretrained section trains (1 epoch) on a few synthetic curves, and
    curves the corpus holds are kept out of validation and test."""
    import argparse
    from pathlib import Path

    bench = load_benchmark("sequence_heads_janaf")
    ckpt = Path("results/pretrained/fm-base/model.ckpt")
    formulas = ["NaCl", "MgO", "Al2O3", "SiO2", "KCl", "CaO", "TiO2", "ZnO", "LiF", "BaO"]
    temps = [100.0, 200.0, 298.15, 400.0, 600.0]
    rng = np.random.default_rng(0)
    curves = pd.DataFrame(
        {
            "cp_T": [temps] * len(formulas),
            "cp": [
                list(25.0 * (1 - np.exp(-np.array(temps) / rng.uniform(80, 300)))) for _ in formulas
            ],
        },
        index=pd.Index(formulas, name="formula"),
    )
    corpus = pd.DataFrame(
        {"cp": [[1.0], None], "s": [None, [2.0]]}, index=pd.Index(["KCl", "ZnO"], name="formula")
    )
    corpus.to_parquet(tmp_path / "corpus.parquet")
    data = {
        "curves": curves,
        "train": pd.Index(formulas[:5]),
        "val": pd.Index(formulas[5:7]),  # CaO, TiO2
        "test": pd.Index(formulas[7:]),  # ZnO (in the corpus), LiF, BaO
    }
    knn = {"chosen": {"k": 1, "weighted": False}}
    knn["predictions"] = bench.run_knn(
        pd.DataFrame(rng.normal(size=(10, 3)), index=curves.index),
        curves,
        data["train"].append(data["val"]),
        data["test"],
        knn["chosen"],
    )
    results = {"knn": knn, **{h: {"chosen": grid[0]} for h, (_, grid) in bench.HEADS.items()}}
    args = argparse.Namespace(
        corpus=tmp_path / "corpus.parquet", pretrained=ckpt, epochs=1, seeds=2
    )
    out = bench.pretrained_section(args, curves, data, results, lambda *_: None)
    assert out["dropped_from_test"] == ["ZnO"] and out["n_test"] == 2
    assert out["dropped_from_val"] == [] and out["n_train"] == 5
    for head in bench.HEADS:
        pre = out["methods"][f"{head} pretrained"]
        assert pre["chosen"] in bench.PRETRAINED_MODES
        assert len(pre["predictions"]) == 2 and all(
            len(p) == len(temps) for p in pre["predictions"]
        )
        assert np.isfinite(pre["ensemble"]["test"]["mae"])
        assert out["methods"][f"{head} scratch, same network"]["repeats"]["seeds"] == [2026, 2027]
    assert "knn same features" in out["methods"]


def test_blend_weight_is_chosen_on_validation_and_scored_on_test(tmp_path):
    """A head right on the level but noisy and a kNN right on the shape but offset: the
    half-and-half blend is best on validation, and the test scores use that weight."""
    bench = load_benchmark("sequence_heads_janaf")
    temps = [100.0, 300.0, 600.0]
    rng = np.random.default_rng(0)
    formulas = [f"X{i}" for i in range(12)]
    truth = {f: np.array([10.0, 20.0, 25.0]) + rng.uniform(0, 5) for f in formulas}
    curves = pd.DataFrame(
        {"cp_T": [temps] * 12, "cp": [list(truth[f]) for f in formulas]},
        index=pd.Index(formulas, name="formula"),
    )
    data = {"curves": curves, "val": pd.Index(formulas[:6]), "test": pd.Index(formulas[6:])}
    # head: +1 on one half of the points, -1 on the other; kNN: the opposite
    wiggle = np.array([1.0, -1.0, 1.0])

    def preds(split: str, sign: float) -> list[np.ndarray]:
        return [truth[f] + sign * wiggle for f in data[split]]

    results = {
        "knn": {"predictions": preds("test", -1.0), "val_predictions": preds("val", -1.0)},
        "rnn": {"predictions": preds("test", 1.0), "val_predictions": preds("val", 1.0)},
    }
    runs = {"rnn": [preds("test", 1.0), preds("test", 1.0)]}
    out = bench.blend_section(results, runs, data)["rnn"]
    assert out["weight"] == 0.5
    assert [r["weight"] for r in out["inner_validation"]] == list(bench.BLEND_WEIGHTS)
    assert out["blend"]["repeats"]["mean"]["mae"] == pytest.approx(0.0, abs=1e-12)
    assert out["head"]["repeats"]["mean"]["mae"] == pytest.approx(1.0)
    assert out["blend"]["ensemble"]["minus_knn"]["mae"]["mean"] == pytest.approx(-1.0)
    text = "\n".join(bench.markdown_blend({"rnn": out}, 2))
    assert "| rnn | 0.5 | 0.000 ± 0.000 |" in text
    assert "| rnn alone | 1 | 1.000 ± 0.000 |" in text
    bench.plot_blend({"rnn": out}, tmp_path / "blend.png")
    assert (tmp_path / "blend.png").stat().st_size > 1000
