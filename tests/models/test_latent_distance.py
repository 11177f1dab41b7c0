"""The latent distance to the training rows as a second signal of σ (``sigma_distance_rows``)."""

from __future__ import annotations

import warnings

import lightning.pytorch as pl
import numpy as np
import pandas as pd
import pytest
import torch

from foundation_model.cli.prediction_writer import predictions_to_frame
from foundation_model.data import CompoundDataModule, RandomSplitter
from foundation_model.models import FlexibleMultiTaskModel
from foundation_model.models.calibration import distance_weight
from foundation_model.models.components.latent_distance import LatentDistance
from foundation_model.models.task_head import RegressionTask


def _brute_force(h: np.ndarray, bank: np.ndarray, k: int) -> np.ndarray:
    d = np.sqrt(((h[:, None, :] - bank[None, :, :]) ** 2).sum(-1))
    return np.sort(d, axis=1)[:, :k].mean(axis=1)


def test_distance_is_the_mean_over_the_k_nearest_kept_rows():
    rng = np.random.default_rng(0)
    bank, h = rng.standard_normal((40, 6)), rng.standard_normal((9, 6))
    ld = LatentDistance(rows=64, dim=6, k=3)
    assert not ld.ready and torch.isnan(ld(torch.tensor(h, dtype=torch.float32))).all()
    ld.fill(torch.tensor(bank, dtype=torch.float32))
    assert ld.ready and int(ld.count) == 40
    got = ld(torch.tensor(h, dtype=torch.float32)).numpy()
    np.testing.assert_allclose(got, _brute_force(h, bank, 3), rtol=1e-5)
    # a kept row is its own nearest neighbour: distance 0 when k = 1
    ld1 = LatentDistance(rows=64, dim=6, k=1)
    ld1.fill(torch.tensor(bank, dtype=torch.float32))
    assert float(ld1(torch.tensor(bank[:3], dtype=torch.float32)).abs().max()) < 1e-3
    # more rows than the bank holds: the first ones are kept
    small = LatentDistance(rows=10, dim=6)
    small.fill(torch.tensor(bank, dtype=torch.float32))
    assert int(small.count) == 10
    with pytest.raises(ValueError, match=r"expects \(n, 6\)"):
        small.fill(torch.zeros(3, 5))


def test_many_query_rows_go_through_in_blocks_with_the_same_distances(monkeypatch):
    """The distance matrix is built a block of query rows at a time (bounded memory: a
    bank of every training row of a 100k-row task and its test rows at once would need many
    GB); the blocks, the last one short, give the distances of one pass."""
    from foundation_model.models.components import latent_distance as module

    rng = np.random.default_rng(2)
    bank, h = rng.standard_normal((40, 6)), rng.standard_normal((9, 6))
    ld = LatentDistance(rows=40, dim=6, k=3)
    ld.fill(torch.tensor(bank, dtype=torch.float32))
    whole = ld(torch.tensor(h, dtype=torch.float32)).numpy()
    monkeypatch.setattr(module, "MAX_PAIRS", 2 * 40)  # blocks of 2 query rows
    shapes: list[tuple[int, int]] = []
    cdist = torch.cdist

    def spy(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        shapes.append((a.shape[0], b.shape[0]))
        return cdist(a, b)

    monkeypatch.setattr(torch, "cdist", spy)
    blocks = ld(torch.tensor(h, dtype=torch.float32)).numpy()
    assert shapes == [(2, 40)] * 4 + [(1, 40)]
    np.testing.assert_allclose(blocks, whole, rtol=1e-12)
    np.testing.assert_allclose(blocks, _brute_force(h, bank, 3), rtol=1e-5)
    assert ld(torch.zeros(0, 6)).shape == (0,)


def test_kept_rows_are_a_fixed_subsample_of_the_training_rows():
    train = np.arange(100, 1100)
    a = LatentDistance.choose_rows(train, 200)
    assert a.size == 200 and np.array_equal(a, LatentDistance.choose_rows(train, 200))
    assert np.isin(a, train).all() and np.all(np.diff(a) > 0)
    np.testing.assert_array_equal(LatentDistance.choose_rows(train[:50], 200), train[:50])


def test_distance_weight_does_not_depend_on_the_targets_units():
    rng = np.random.default_rng(1)
    d = rng.uniform(0.1, 2.0, 400)
    spread = rng.uniform(0.5, 1.0, 400)
    err = rng.standard_normal(400) * np.hypot(0.3 * spread, d)  # errors driven by the distance
    w = distance_weight(err, np.zeros(400), spread, d)
    w_big = distance_weight(1e5 * err, np.zeros(400), 1e5 * spread, d)
    assert w > 0.3 and w_big == pytest.approx(1e5 * w, rel=1e-3)
    # no spread at all (one member, no noise head): d on the error's scale
    assert distance_weight(err, np.zeros(400), np.zeros(400), d) > 0


def _data(n: int, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``y = x0^3 + x1``: a model's error grows where training rows are sparse (the tails)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 4)).astype(np.float32)
    y = x[:, 0] ** 3 + x[:, 1] + 0.05 * rng.standard_normal(n)
    ids = pd.Index([f"r{i}" for i in range(n)], name="id")
    return (
        pd.DataFrame(x, index=ids, columns=[f"d{j}" for j in range(4)]),
        pd.DataFrame({"y": y}, index=ids),
    )


def _fit(task: RegressionTask, rows: int, ensemble: int, tmp_path, epochs: int = 15):
    pl.seed_everything(0)
    x, attrs = _data(1500)
    dm = CompoundDataModule(
        x,
        [task],
        attrs,
        splitter=RandomSplitter(val_fraction=0.2, test_fraction=0.2, seed=0),
        batch_size=128,
    )
    model = FlexibleMultiTaskModel(
        dm.tasks,
        dm.formula_dim,
        encoder_dims=[64, 32],
        deposit_dim=16,
        ensemble_size=ensemble,
        sigma_distance_rows=rows,
    )
    trainer = pl.Trainer(
        max_epochs=epochs,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
    )
    trainer.fit(model, dm)
    return model, dm, trainer


def test_off_by_default_adds_no_state():
    model = FlexibleMultiTaskModel([RegressionTask("y")], 4)
    assert model.latent_distance is None
    assert not [k for k in model.state_dict() if "distance" in k]


def test_sigma_combines_spread_and_distance_and_survives_the_checkpoint(tmp_path):
    task = RegressionTask("y", hidden_dims=[16], noise_head=True)
    model, dm, trainer = _fit(task, rows=300, ensemble=3, tmp_path=tmp_path)
    assert int(model.latent_distance.count) == 300  # a subsample of the 900 training rows
    w = float(model.sigma_distance_weights[0])
    assert w > 0
    model.eval()
    batch = next(iter(dm.test_dataloader()))
    with torch.no_grad():
        out = model.to_outputs(batch, model.member_predictions(batch))
        h = model.encode(batch).h_task.numpy()
    kept = LatentDistance.choose_rows(dm.splits.train, 300)
    with torch.no_grad():
        bank = model.encode(next(iter(_loader(dm, kept)))).h_task.numpy()
    np.testing.assert_allclose(out["latent_distance"].numpy(), _brute_force(h, bank, 5), rtol=1e-4)
    a, b = float(model.sigma_scales[0]), float(model.sigma_floors[0])
    expect = np.sqrt(
        (a * np.hypot(out["y_spread"].numpy(), w * out["latent_distance"].numpy())) ** 2 + b**2
    )
    np.testing.assert_allclose(out["y_std"].numpy(), expect, rtol=1e-4)
    # the checkpoint keeps the kept rows and the weight: a reload predicts the same σ
    path = tmp_path / "m.ckpt"
    trainer.save_checkpoint(path)
    back = FlexibleMultiTaskModel.load_from_checkpoint(path)
    back.eval()
    with torch.no_grad():
        again = back.to_outputs(batch, back.member_predictions(batch))
    np.testing.assert_allclose(again["y_std"].numpy(), out["y_std"].numpy(), rtol=1e-5)
    # predictions tables carry the distance as a column of its own
    frame = predictions_to_frame([again], back.task_specs)
    assert "latent_distance" in frame.columns and "y_std" in frame.columns


def _loader(dm: CompoundDataModule, rows: np.ndarray):
    from torch.utils.data import DataLoader

    from foundation_model.data.dataset import CompoundDataset, identity_collate

    return DataLoader(
        CompoundDataset(dm.tensors, rows), batch_size=10_000, collate_fn=identity_collate
    )


def test_a_single_model_gets_sigma_from_the_distance_alone(tmp_path):
    model, dm, trainer = _fit(RegressionTask("y", hidden_dims=[16]), 2000, 1, tmp_path, 25)
    trainer.test(model, dm, verbose=False)
    test = model.eval_outputs["test"]["y"]
    m = test["mask"]
    assert np.isfinite(test["std"][m]).all() and (test["std"][m] > 0).all()
    # σ grows away from the training rows: rows far out get a larger σ than rows near them
    far = np.asarray(dm.tensors.x_formula.abs().amax(dim=1)[dm.splits.test] > 2.0)
    assert np.median(test["std"][m & far]) > np.median(test["std"][m & ~far])
    err = np.abs(test["pred"][m] - test["target"][m])
    assert pd.Series(err).corr(pd.Series(test["std"][m]), method="spearman") > 0.3


def test_the_distance_changes_sigma_only_never_the_training(tmp_path):
    task = RegressionTask("y", hidden_dims=[16], noise_head=True)
    with_d, _, _ = _fit(task, rows=300, ensemble=2, tmp_path=tmp_path / "a", epochs=3)
    without, _, _ = _fit(task, rows=0, ensemble=2, tmp_path=tmp_path / "b", epochs=3)
    a, b = with_d.eval_outputs["val"]["y"], without.eval_outputs["val"]["y"]
    np.testing.assert_array_equal(a["pred"], b["pred"])
    np.testing.assert_array_equal(a["spread"], b["spread"])
    assert "distance" in a and "distance" not in b


def _sigma_warnings(model: FlexibleMultiTaskModel, dm: CompoundDataModule, root) -> list[str]:
    """The "no σ was fitted" warnings of one epoch of ``model`` on ``dm``."""
    trainer = pl.Trainer(
        max_epochs=1,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        enable_checkpointing=False,
        default_root_dir=root,
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trainer.fit(model, dm)
    return [str(w.message) for w in caught if "no σ was fitted" in str(w.message)]


@pytest.mark.parametrize("rows, warns", [(12, True), (60, False)])
def test_a_validation_split_too_small_for_a_sigma_is_said_at_the_end_of_the_fit(
    rows, warns, tmp_path
):
    x, attrs = _data(rows)
    dm = CompoundDataModule(
        x, [RegressionTask("y")], attrs, splitter=RandomSplitter(0.2, 0.0, seed=0), batch_size=8
    )
    small = dict(encoder_dims=[8], deposit_dim=4)
    said = _sigma_warnings(
        FlexibleMultiTaskModel(dm.tasks, 4, **small, sigma_distance_rows=64), dm, tmp_path
    )
    assert bool(said) == warns
    if warns:
        assert "'y'" in said[0] and "y_std will be empty" in said[0]
        assert "larger splitter val_fraction" in said[0]
    # a model with no σ source at all (one member, no noise head, no distance) is not warned
    assert not _sigma_warnings(FlexibleMultiTaskModel(dm.tasks, 4, **small), dm, tmp_path)
