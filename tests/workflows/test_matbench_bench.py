"""The Matbench runner on one fold of steels with few epochs; failures are reported."""

from __future__ import annotations

import json
import math
from pathlib import Path

import yaml

from foundation_model.workflows.matbench_bench import BenchOptions, run_matbench

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "samples" / "generated_configs" / "matbench_steels.yaml"


def test_one_fold_of_steels(opts_base, tmp_path):
    result = run_matbench(
        BenchOptions(task="matbench_steels", out_dir=tmp_path, config=CONFIG, **opts_base)
    )
    saved = json.loads((tmp_path / "matbench_steels.json").read_text())
    assert (
        saved["task"] == "matbench_steels"
        and saved["metric"] == "mae"
        and saved["folds_run"] == [0]
    )
    for key in ("model", "rf_scm_magpie", "dummy"):
        assert len(saved[key]["per_fold"]) == 1 and math.isfinite(saved[key]["mean"])
    assert saved["failed_folds"] == []
    assert saved["rf_scm_magpie"]["mean"] < saved["dummy"]["mean"]  # the baseline learns something
    assert (tmp_path / "matbench_steels.png").stat().st_size > 1000
    text = (tmp_path / "matbench_steels.md").read_text()
    assert "RF-SCM/Magpie | 103.5125" in text
    # a reduced budget is said next to the numbers, not only in the fold store
    assert saved["max_epochs_override"] == opts_base["max_epochs"]
    assert f"Epochs capped at {opts_base['max_epochs']} by --max-epochs." in text
    if opts_base.get("rf_estimators", 500) != 500:
        assert f"RF baselines with {opts_base['rf_estimators']} trees" in text
    assert result["seconds"] > 0


def test_failed_fold_is_reported_not_hidden(opts_base, tmp_path):
    cfg = yaml.safe_load(CONFIG.read_text())
    cfg["model"]["init_args"]["encoder_dims"] = [-4]  # an impossible layer width
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(cfg))
    result = run_matbench(BenchOptions(task="steels", out_dir=tmp_path, config=bad, **opts_base))
    assert result["model"]["per_fold"] == [None] and result["model"]["mean"] is None
    assert result["failed_folds"][0]["fold"] == 0 and result["failed_folds"][0]["error"]
    assert math.isfinite(result["rf_scm_magpie"]["mean"])


def test_sigma_runs_keep_what_a_recalibration_study_needs(opts_base, tmp_path):
    """An ensemble run with a noise head writes the raw spread, its two parts and the
    validation rows its σ map was fitted on: refitting that map from the saved validation
    rows gives the saved test σ."""
    import numpy as np

    from foundation_model.models.calibration import fit_sigma_calibration

    cfg = yaml.safe_load(CONFIG.read_text())
    cfg["model"]["init_args"]["ensemble_size"] = 3
    cfg["data"]["init_args"]["tasks"][0]["init_args"]["noise_head"] = True
    path = tmp_path / "k3.yaml"
    path.write_text(yaml.safe_dump(cfg))
    out = tmp_path / "out"
    run_matbench(BenchOptions(task="steels", out_dir=out, config=path, **opts_base))
    saved = json.loads((out / "matbench_steels.json").read_text())
    assert saved["calibration"]["arrays"] == "matbench_steels_uncertainty.npz"
    a = np.load(out / "matbench_steels_uncertainty.npz")
    n_train = 312 - len(a["y"])
    assert len(a["val_y"]) == round(0.1 * n_train) and set(a["fold"]) == {0}
    assert (a["spread"] > 0).all() and np.isfinite(a["val_values"]).all()
    scale, floor = fit_sigma_calibration(a["val_y"], a["val_values"], a["val_spread"])
    refit = np.sqrt((scale * a["spread"]) ** 2 + floor**2)
    np.testing.assert_allclose(refit, a["std"], rtol=1e-4)
    for prefix in ("", "val_"):  # the two parts of the spread: members and noise head
        ens, noise = a[f"{prefix}spread_ensemble"], a[f"{prefix}spread_noise"]
        assert (ens > 0).all() and (noise > 0).all()
        np.testing.assert_allclose(np.hypot(ens, noise), a[f"{prefix}spread"], rtol=1e-4)
        d = a[f"{prefix}latent_distance"]  # to the nearest training rows, in h_task space
        assert d.shape == a[f"{prefix}y"].shape and (d > 0).all() and np.isfinite(d).all()


def test_seed_ensemble_trains_one_network_per_seed(opts_base, tmp_path, monkeypatch):
    import foundation_model.workflows.bench_model as bench_model

    seen: list[int] = []
    real = bench_model.fit_predict_fold

    def counting(cfg, x, y, train, test, seed, *args):
        seen.append(seed)
        return real(cfg, x, y, train, test, seed, *args)

    monkeypatch.setattr(bench_model, "fit_predict_fold", counting)
    opts = BenchOptions(
        task="matbench_steels", out_dir=tmp_path, config=CONFIG, seeds=2, **opts_base
    )
    run_matbench(opts)
    saved = json.loads((tmp_path / "matbench_steels.json").read_text())
    assert seen == [0, 1000] and saved["seeds"] == 2
    assert math.isfinite(saved["model"]["mean"]) and saved["failed_folds"] == []


def test_finished_folds_are_read_back_and_failed_ones_rerun(opts_base, tmp_path, monkeypatch):
    import foundation_model.workflows.bench_model as bench_model

    opts = {**opts_base, "folds": [0, 1], "max_epochs": 2}
    real = bench_model.fit_predict_fold

    def fail_fold_1(cfg, x, y, train, test, seed, *args):
        if seed == 1:  # fold 1 (seed = fold): an interrupted or failed fold
            raise RuntimeError("fold 1 broke")
        return real(cfg, x, y, train, test, seed, *args)

    monkeypatch.setattr(bench_model, "fit_predict_fold", fail_fold_1)
    first = run_matbench(BenchOptions(task="steels", out_dir=tmp_path, config=CONFIG, **opts))
    assert [f["fold"] for f in first["failed_folds"]] == [1]
    stored = sorted(p.name for p in (tmp_path / "matbench_steels.folds").rglob("fold_*"))
    assert stored == ["fold_0.json", "fold_0.npz"]  # the failed fold is not kept

    trained: list[int] = []

    def only_fold_1(cfg, x, y, train, test, seed, *args):
        trained.append(seed)
        return real(cfg, x, y, train, test, seed, *args)

    monkeypatch.setattr(bench_model, "fit_predict_fold", only_fold_1)
    second = run_matbench(BenchOptions(task="steels", out_dir=tmp_path, config=CONFIG, **opts))
    assert trained == [1] and second["failed_folds"] == []
    for key in ("model", "rf_scm_magpie", "dummy"):
        assert second[key]["per_fold"][0] == first[key]["per_fold"][0], key
    assert (tmp_path / "matbench_steels.png").stat().st_size > 1000

    # other settings (here the epoch budget) never read these folds; resume=False retrains
    trained.clear()
    other = {**opts, "folds": [0], "max_epochs": 1}
    run_matbench(BenchOptions(task="steels", out_dir=tmp_path, config=CONFIG, **other))
    run_matbench(BenchOptions(task="steels", out_dir=tmp_path, config=CONFIG, resume=False, **opts))
    assert trained == [0, 0, 1]
    assert len(list((tmp_path / "matbench_steels.folds").iterdir())) == 2


def test_default_configs_are_found_from_another_folder(tmp_path, monkeypatch):
    from foundation_model.workflows.matbench_bench import CONFIG_DIR, config_dir

    here = config_dir()
    assert (here / "finetune_from_base.yaml").is_file()
    monkeypatch.chdir(tmp_path)  # no samples/ here: the source checkout's are used
    away = config_dir()
    assert away.is_absolute() and (away / "finetune_from_base.yaml").is_file()
    assert away.parts[-2:] == CONFIG_DIR.parts
