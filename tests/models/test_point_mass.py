"""Regression with a point mass (``point_mass``): a gate classifies rows at the point mass."""

from __future__ import annotations

import lightning.pytorch as pl
import numpy as np
import pandas as pd
import pytest
import torch

from foundation_model.data import CompoundDataModule, RandomSplitter
from foundation_model.models import FlexibleMultiTaskModel
from foundation_model.models.task_head import RegressionTask


def _zero_inflated(n: int, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Half the rows (``x2 > 0``) sit at exactly 0, like the band gaps of metals; the others
    follow ``2 + x0 + x1`` (at least 0.1): a step that a plain regression blurs."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 6)).astype(np.float32)
    smooth = np.maximum(0.1, 2.0 + x[:, 0] + x[:, 1] + 0.1 * rng.standard_normal(n))
    y = np.where(x[:, 2] > 0, 0.0, smooth)
    ids = pd.Index([f"r{i}" for i in range(n)], name="id")
    return pd.DataFrame(x, index=ids, columns=[f"d{j}" for j in range(6)]), pd.DataFrame(
        {"y": y}, index=ids
    )


def _fit(task: RegressionTask, ensemble_size: int = 1, epochs: int = 25):
    pl.seed_everything(0)
    x, attrs = _zero_inflated(2000)
    dm = CompoundDataModule(
        x,
        [task],
        attrs,
        splitter=RandomSplitter(val_fraction=0.15, test_fraction=0.25, seed=0),
        batch_size=128,
    )
    model = FlexibleMultiTaskModel(
        dm.tasks, dm.formula_dim, encoder_dims=[64], deposit_dim=32, ensemble_size=ensemble_size
    )
    trainer = pl.Trainer(
        max_epochs=epochs,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(model, dm)
    trainer.test(model, dm, verbose=False)
    return model, dm, trainer


def test_point_mass_gate_predicts_the_mass_exactly_and_lowers_the_error(tmp_path):
    plain, _, _ = _fit(RegressionTask("y", hidden_dims=[32], loss="l1"))
    gated, dm, trainer = _fit(RegressionTask("y", hidden_dims=[32], loss="l1", point_mass=0.0))
    a, b = plain.eval_outputs["test"]["y"], gated.eval_outputs["test"]["y"]
    m = b["mask"]
    mae_plain = np.abs(a["pred"][m] - a["target"][m]).mean()
    mae_gated = np.abs(b["pred"][m] - b["target"][m]).mean()
    at_mass = b["target"][m] == 0.0
    predicted_at_mass = b["pred"][m] == 0.0
    assert 0.3 < at_mass.mean() < 0.7
    assert (predicted_at_mass == at_mass).mean() > 0.9  # the gate classifies the rows
    assert mae_gated < 0.9 * mae_plain  # rows at the mass are predicted exactly
    # the gate's point mass in model units came from the target scaler
    scaler = gated.target_scalers["y"]
    expected = float(scaler.transform(torch.tensor([0.0]))[0])
    assert float(gated.heads["y"].members[0].point_mass_z) == pytest.approx(expected)

    # a checkpoint rebuilds the gate and predicts the same values
    path = tmp_path / "gated.ckpt"
    trainer.save_checkpoint(path)
    back = FlexibleMultiTaskModel.load_from_checkpoint(path, weights_only=False)
    batch = next(iter(dm.test_dataloader()))
    gated.eval()
    back.eval()
    with torch.no_grad():
        out = gated.to_outputs(batch, gated.member_predictions(batch))
        again = back.to_outputs(batch, back.member_predictions(batch))
    torch.testing.assert_close(out["y_value"], again["y_value"])
    prob = out["y_point_mass_probability"]
    assert ((prob >= 0) & (prob <= 1)).all()
    assert torch.equal(out["y_value"] == 0.0, prob > 0.5)


def test_point_mass_with_noise_head_and_ensemble_has_calibrated_shapes():
    task = RegressionTask("y", hidden_dims=[16], noise_head=True, point_mass=0.0)
    model, dm, _ = _fit(task, ensemble_size=3, epochs=2)
    batch = next(iter(dm.val_dataloader()))
    with torch.no_grad():
        stacked = model.member_predictions(batch)["y"]
        out = model.to_outputs(batch, model.member_predictions(batch))
    assert stacked.shape == (3, len(batch), 3)  # mean, log noise scale, point-mass logit
    assert out["y_value"].shape == out["y_std"].shape == out["y_point_mass_probability"].shape
    assert torch.isfinite(out["y_std"]).all() and (out["y_std"] > 0).all()
    columns = task.frame_columns({k: v.numpy() for k, v in out.items()})
    assert set(columns) == {"y_value", "y_std", "y_point_mass_probability"}


@pytest.mark.parametrize(
    "kwargs", [{"point_mass": float("nan")}, {"point_mass": 0.0, "log_transform": True}]
)
def test_bad_point_mass_is_a_one_line_error(kwargs):
    with pytest.raises(ValueError, match="point_mass must be a finite number"):
        RegressionTask("y", **kwargs)


def test_physical_bounds_clip_predictions_and_refuse_contrary_labels():
    """``min_value`` raises predictions below a physical floor to it (no negative band gap);
    labels beyond a bound are a config error."""
    plain, _, _ = _fit(RegressionTask("y", hidden_dims=[32], loss="l1"), epochs=3)
    bounded, _, _ = _fit(RegressionTask("y", hidden_dims=[32], loss="l1", min_value=0.0), epochs=3)
    a, b = plain.eval_outputs["test"]["y"], bounded.eval_outputs["test"]["y"]
    assert (a["pred"] < 0).any()  # an unbounded regression does dip below 0 here
    assert (b["pred"] >= 0).all()
    np.testing.assert_allclose(b["pred"], np.maximum(a["pred"], 0.0), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match=r"label\(s\) above max_value 1 \(e.g. .* in row 'r"):
        _fit(RegressionTask("y", max_value=1.0), epochs=1)
    with pytest.raises(ValueError, match="min_value < max_value"):
        RegressionTask("y", min_value=2.0, max_value=1.0)
