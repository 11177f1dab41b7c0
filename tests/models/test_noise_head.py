"""Regression with a noise head (heteroscedastic): the predicted σ follows the real noise."""

from __future__ import annotations

import lightning.pytorch as pl
import numpy as np
import pandas as pd
import pytest
import torch

from foundation_model.data import CompoundDataModule, RandomSplitter
from foundation_model.models import FlexibleMultiTaskModel
from foundation_model.models.calibration import calibration_metrics
from foundation_model.models.losses import masked_noise_nll
from foundation_model.models.task_head import RegressionTask


def _heteroscedastic(n: int, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``y = x0 + x1^2`` plus Gaussian noise whose std grows with ``|x1|`` (0.05 .. ~1.5)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 6)).astype(np.float32)
    noise = 0.05 + 0.6 * np.abs(x[:, 1])
    y = x[:, 0] + x[:, 1] ** 2 + noise * rng.standard_normal(n)
    ids = pd.Index([f"r{i}" for i in range(n)], name="id")
    return (
        pd.DataFrame(x, index=ids, columns=[f"d{j}" for j in range(6)]),
        pd.DataFrame({"y": y, "noise": noise}, index=ids),
    )


def _quiet_trainer(max_epochs: int) -> pl.Trainer:
    return pl.Trainer(
        max_epochs=max_epochs,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )


@pytest.mark.parametrize("loss", ["mse", "l1"])
def test_noise_head_sigma_is_calibrated_and_ranks_errors(loss):
    pl.seed_everything(0)
    x, attrs = _heteroscedastic(3000)
    dm = CompoundDataModule(
        x,
        [RegressionTask("y", hidden_dims=[32], loss=loss, noise_head=True)],
        attrs[["y"]],
        splitter=RandomSplitter(val_fraction=0.15, test_fraction=0.25, seed=0),
        batch_size=128,
    )
    model = FlexibleMultiTaskModel(dm.tasks, dm.formula_dim, encoder_dims=[64, 32], deposit_dim=32)
    trainer = _quiet_trainer(40)
    trainer.fit(model, dm)
    trainer.test(model, dm, verbose=False)
    test = model.eval_outputs["test"]["y"]
    m = test["mask"]
    got = calibration_metrics(test["target"][m], test["pred"][m], test["std"][m])
    # one head (K=1): the spread is the predicted noise alone, recalibrated on validation rows
    assert 0.60 <= got["coverage_1sigma"] <= 0.77
    assert 0.90 <= got["coverage_2sigma"] <= 0.99
    assert got["spearman_error_sigma"] > 0.2  # single draws: |err| ranks noisily even for a true σ
    # predictions from one head carry a finite, positive <task>_std in original units
    model.eval()
    with torch.no_grad():
        batch = next(iter(dm.test_dataloader()))
        out = model.to_outputs(batch, model.member_predictions(batch))
    assert torch.isfinite(out["y_std"]).all() and (out["y_std"] > 0).all()
    true_noise = attrs["noise"].to_numpy()[dm.splits.test]
    rho = pd.Series(test["std"][m]).corr(pd.Series(true_noise[m]), method="spearman")
    assert rho > 0.8  # σ tracks the real noise level, row by row


def test_noise_nll_is_minimised_at_the_true_scale():
    rng = np.random.default_rng(0)
    err = torch.tensor(rng.laplace(scale=0.5, size=20000), dtype=torch.float32)
    target, mask = err, torch.ones_like(err, dtype=torch.bool)
    scales = [0.25, 0.5, 1.0]

    def nll(family: str, s: float) -> float:
        pred = torch.stack([torch.zeros_like(err), torch.full_like(err, np.log(s))], dim=-1)
        return float(masked_noise_nll(pred, target, mask, family))

    laplace = [nll("laplace", s) for s in scales]
    assert laplace[1] < min(laplace[0], laplace[2])  # b = 0.5
    gaussian = [nll("gaussian", s) for s in (0.5, np.sqrt(2) * 0.5, 1.0)]
    assert gaussian[1] < min(gaussian[0], gaussian[2])  # std of Laplace(0.5) = 0.707
    # masked rows are ignored, NaN targets included
    target_nan = target.clone()
    target_nan[:10] = float("nan")
    mask[:10] = False
    pred = torch.zeros(err.shape[0], 2)
    assert torch.isfinite(masked_noise_nll(pred, target_nan, mask, "laplace"))


def test_sigma_fit_chooses_the_validation_map():
    """``sigma_fit`` picks the map fitted at each validation epoch; a bad name is an error."""
    from foundation_model.models.calibration import SIGMA_FITS

    x, attrs = _heteroscedastic(800, seed=1)
    task = RegressionTask("y", hidden_dims=[16], noise_head=True)
    scales = {}
    for name in SIGMA_FITS:
        pl.seed_everything(0)
        dm = CompoundDataModule(
            x,
            [task],
            attrs[["y"]],
            splitter=RandomSplitter(val_fraction=0.2, test_fraction=0.2, seed=0),
            batch_size=128,
        )
        model = FlexibleMultiTaskModel(
            dm.tasks, dm.formula_dim, encoder_dims=[16], deposit_dim=16, sigma_fit=name
        )
        trainer = _quiet_trainer(3)
        trainer.fit(model, dm)
        val = model.eval_outputs["val"]["y"]
        m = val["mask"]
        want = SIGMA_FITS[name](val["target"][m], val["pred"][m], val["spread"][m])
        got = (float(model.sigma_scales[0]), float(model.sigma_floors[0]))
        np.testing.assert_allclose(got, want, rtol=1e-5)
        scales[name] = got
    assert scales["conformal"] != scales["matched"]  # the methods differ on the same rows
    with pytest.raises(ValueError, match="sigma_fit must be one of"):
        FlexibleMultiTaskModel([task], 6, sigma_fit="isotonic")
