"""``fm bench`` reads model configs with the parser of ``fm fit`` (one schema, one loader)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from foundation_model.cli.lightning_cli import load_fit_config
from foundation_model.workflows.bench_model import fit_predict_fold
from foundation_model.workflows.matbench_bench import load_config
from synthetic_tables import bench_config

ROOT = Path(__file__).resolve().parents[2]


def _config(tmp_path: Path, **extra) -> Path:
    cfg = {**bench_config("val_target_mae", stop=True), **extra}
    path = tmp_path / "bench.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_the_loader_is_fm_fits_schema(tmp_path):
    cfg = load_fit_config(_config(tmp_path), ["--early_stopping.patience=7"])
    assert cfg["early_stopping"]["init_args"]["patience"] == 7
    assert cfg["model"]["init_args"]["norm"] == "layer"  # defaults filled in, as fm fit does
    assert cfg["model"]["init_args"]["optimizer"]["class_path"] == "torch.optim.AdamW"
    steels = load_config(ROOT / "samples" / "generated_configs" / "matbench_steels.yaml")
    assert steels["trainer"]["callbacks"][0]["init_args"]["monitor"] == "val_steels_yield_mae"


def test_a_key_fm_fit_rejects_is_rejected(tmp_path, capsys):
    bad = _config(tmp_path, modle={"typo": 1})
    with pytest.raises(ValueError, match=r"bench\.yaml does not fit the fm fit schema") as err:
        load_config(bad)
    assert "modle" in str(err.value) and "\n" not in str(err.value)  # the key, in one line
    assert capsys.readouterr().err == ""  # no usage text printed beside it
    with pytest.raises(FileNotFoundError, match="nope.yaml not found"):
        load_config(tmp_path / "nope.yaml")


def test_fold_from_a_config_path_uses_top_level_callbacks(tmp_path, capsys, caplog):
    rng = np.random.default_rng(0)
    ids = [f"r{i}" for i in range(120)]
    x = pd.DataFrame(rng.normal(size=(120, 6)), index=ids, columns=[f"d{i}" for i in range(6)])
    y = pd.Series(x["d0"] * 2.0 + 1.0, index=ids)
    pred = fit_predict_fold(_config(tmp_path), x, y, ids[:100], ids[100:], seed=0)
    assert pred.values.shape == (20,) and np.isfinite(pred.values).all()
    shown = capsys.readouterr().err + caplog.text  # Lightning's per-fit info lines held back
    assert "GPU available" not in shown and "Restoring states" not in shown


def test_classification_fold_labels_at_the_training_positive_rate(tmp_path):
    cfg = bench_config("val_task_error")
    cfg["data"]["init_args"]["tasks"] = [
        {
            "class_path": "foundation_model.models.task_head.ClassificationTask",
            "init_args": {"name": "target", "column": "target", "num_classes": 2},
        }
    ]
    rng = np.random.default_rng(0)
    ids = [f"r{i}" for i in range(150)]
    x = pd.DataFrame(rng.normal(size=(150, 4)), index=ids, columns=[f"d{i}" for i in range(4)])
    y = pd.Series((x["d0"] > -0.7).astype(int), index=ids)  # about 75 % positive
    pred = fit_predict_fold(cfg, x, y, ids[:120], ids[120:], seed=0)
    rate = float(y.loc[ids[:120]].mean())
    assert pred.threshold == pytest.approx(rate) and rate > 0.6
    np.testing.assert_array_equal(pred.values, (pred.proba >= rate).astype(int))


def test_latent_distance_is_zero_for_a_training_rows_twin_only():
    import numpy as np
    import pandas as pd
    import torch

    from foundation_model.data import CompoundDataModule, PredefinedSplitter
    from foundation_model.models import FlexibleMultiTaskModel
    from foundation_model.models.task_head import RegressionTask
    from foundation_model.workflows.bench_model import latent_distances

    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 4)).astype(np.float32)
    x[40:45] = x[:5]  # validation rows that repeat training rows
    ids = pd.Index([f"r{i}" for i in range(60)], name="id")
    split = ["train"] * 40 + ["val"] * 10 + ["test"] * 10
    attrs = pd.DataFrame({"y": x[:, 0], "split": split}, index=ids)
    dm = CompoundDataModule(
        pd.DataFrame(x, index=ids, columns=list("abcd")),
        [RegressionTask("y")],
        attrs,
        splitter=PredefinedSplitter("split"),
    )
    dm.setup("fit")
    torch.manual_seed(0)
    model = FlexibleMultiTaskModel(dm.tasks, dm.formula_dim, encoder_dims=[8], deposit_dim=8)
    model.set_statistics(dm.statistics())
    val, test = latent_distances(model, dm, k=1)
    assert val.shape == (10,) and test.shape == (10,)
    np.testing.assert_allclose(val[:5], 0.0, atol=1e-5)  # a training row's twin, in order
    assert (val[5:] > 1e-3).all() and (test > 1e-3).all()  # new rows


def test_a_deferred_sigma_fit_gives_the_per_epoch_fits_predictions_and_sigma():
    """The σ map fitted once on the kept weights equals the one the fit's best epoch made."""
    cfg = bench_config("val_task_error")
    cfg["trainer"]["max_epochs"] = 10
    cfg["model"]["init_args"] |= {"sigma_distance_rows": 64, "ensemble_size": 2, "dropout": 0.2}
    # a large step: the validation error rises and falls, so the kept epoch is not the last
    cfg["model"]["init_args"]["optimizer"] = {
        "class_path": "torch.optim.AdamW",
        "init_args": {"lr": 0.05},
    }
    rng = np.random.default_rng(1)
    ids = [f"r{i}" for i in range(160)]
    x = pd.DataFrame(rng.normal(size=(160, 5)), index=ids, columns=[f"d{i}" for i in range(5)])
    y = pd.Series(x["d0"] ** 2 + rng.normal(scale=0.3, size=160), index=ids)
    preds = [
        fit_predict_fold(cfg, x, y, ids[:130], ids[130:], seed=3, defer_sigma=d)
        for d in (True, False)
    ]
    deferred, per_epoch = preds
    assert per_epoch.std is not None and np.isfinite(per_epoch.std).all()
    for key in ("values", "std", "spread"):
        np.testing.assert_array_equal(getattr(deferred, key), getattr(per_epoch, key))
    assert deferred.val is not None and per_epoch.val is not None
    assert set(deferred.val) == set(per_epoch.val) and "latent_distance" in deferred.val
    for key, value in per_epoch.val.items():
        np.testing.assert_array_equal(deferred.val[key], value)
    assert deferred.val_score == per_epoch.val_score
