from __future__ import annotations

import lightning.pytorch as pl
import numpy as np
import pytest
import torch

from foundation_model.data import CompoundDataModule
from foundation_model.models import FlexibleMultiTaskModel
from foundation_model.models.components.piecewise_linear import PiecewiseLinearEncoding
from foundation_model.models.task_head import RegressionTask


def _trainer() -> pl.Trainer:
    return pl.Trainer(
        max_epochs=2, logger=False, enable_checkpointing=False, enable_progress_bar=False
    )


def _fit_and_save(tables, path, bins: int):
    """A small model with ``formula_bins=bins`` fitted for 2 epochs, saved at ``path``."""
    dm = CompoundDataModule(tables["formula"], [RegressionTask("y")], tables["attributes"])
    model = FlexibleMultiTaskModel(
        dm.tasks, dm.formula_dim, encoder_dims=[16], deposit_dim=8, formula_bins=bins
    )
    trainer = _trainer()
    trainer.fit(model, dm)
    trainer.save_checkpoint(path)
    return model, dm


def _warm_started(dm, path, **kwargs) -> FlexibleMultiTaskModel:
    """A model with 3 bins warm-started from ``path``."""
    return FlexibleMultiTaskModel(
        dm.tasks,
        dm.formula_dim,
        encoder_dims=[16],
        deposit_dim=8,
        formula_bins=3,
        init_from_checkpoint=str(path),
        **kwargs,
    )


def test_encoding_of_values_below_inside_and_above_the_bins():
    enc = PiecewiseLinearEncoding(3, 4, 5)
    q = np.array(
        [
            [0.0, 0.0, 2.0],
            [1.0, 0.0, 2.0],
            [2.0, 0.0, 2.0],
            [3.0, 0.5, 2.0],
            [4.0, 1.0, 2.0],
        ]
    )  # column 0: 4 bins of width 1; column 1: mostly 0 (2 bins); column 2: constant
    enc.set_edges(q)
    assert bool(enc.fitted)
    assert enc.valid.sum(dim=1).tolist() == [4.0, 2.0, 0.0]
    x = torch.tensor([[-1.0, 0.25, 7.0], [2.5, 0.0, 2.0], [6.0, 2.0, -3.0]])
    e = enc.encode(x)
    # below the first edge the first bin goes negative, the rest are 0
    assert e[0, 0].tolist() == [-1.0, 0.0, 0.0, 0.0]
    assert e[1, 0].tolist() == [1.0, 1.0, 0.5, 0.0]
    # above the last edge the last bin goes past 1
    assert e[2, 0].tolist() == [1.0, 1.0, 1.0, 3.0]
    assert e[0, 1].tolist() == [0.5, 0.0, 0.0, 0.0]
    assert e[2, 1].tolist() == [1.0, 3.0, 0.0, 0.0]
    assert torch.count_nonzero(e[:, 2]) == 0  # a constant column carries nothing


def test_projection_starts_at_zero_and_learns():
    enc = PiecewiseLinearEncoding(2, 3, 4)
    enc.set_edges(
        np.quantile(np.random.default_rng(0).normal(size=(50, 2)), [0, 1 / 3, 2 / 3, 1], 0)
    )
    x = torch.randn(6, 2)
    out = enc(x)
    assert out.shape == (6, 4) and torch.count_nonzero(out) == 0
    out.sum().backward()  # zero at the start, yet the weights get a gradient
    assert torch.count_nonzero(enc.proj.weight.grad) > 0


def _fitted_encoding(seed: int = 0) -> PiecewiseLinearEncoding:
    """4 descriptors in 5 bins: one zero-inflated, one constant, two ordinary."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(200, 4))
    x[rng.random(200) < 0.7, 1] = 0.0
    x[:, 2] = 1.5
    enc = PiecewiseLinearEncoding(4, 5, 3)
    enc.set_edges(np.quantile(x, np.linspace(0, 1, 6), axis=0))
    return enc


def test_only_valid_columns_train_and_the_map_equals_the_dense_one():
    enc = _fitted_encoding()
    n_valid = int(enc.valid.sum())
    assert 0 < n_valid < 4 * 5
    assert enc.proj.weight.shape == (3, n_valid)  # the trainable weight is compact
    dense = torch.nn.Linear(20, 3, bias=False)
    torch.nn.init.zeros_(dense.weight)
    opt_c = torch.optim.AdamW(enc.parameters(), lr=0.05, weight_decay=0.01)
    opt_d = torch.optim.AdamW(dense.parameters(), lr=0.05, weight_decay=0.01)
    gen = torch.Generator().manual_seed(1)
    for _ in range(5):  # the same Adam steps on the dense map and the compact one
        x = torch.randn(8, 4, generator=gen)
        target = torch.randn(8, 3, generator=gen)
        for opt, out in ((opt_c, enc(x)), (opt_d, dense(enc.encode(x).flatten(1)))):
            opt.zero_grad()
            ((out - target) ** 2).mean().backward()
            opt.step()
    assert torch.count_nonzero(enc.proj.weight) > 0
    on = enc.valid.flatten() > 0
    # weights on invalid columns of the dense map see only weight decay of 0: they stay 0
    assert torch.count_nonzero(dense.weight.detach()[:, ~on]) == 0
    assert torch.allclose(enc.proj.dense_weight(), dense.weight.detach(), atol=1e-6)
    x = torch.randn(5, 4, generator=gen)
    assert torch.allclose(enc(x), dense(enc.encode(x).flatten(1)), atol=1e-6)


def test_forward_on_valid_columns_is_bitwise_the_full_encoding_map():
    enc = _fitted_encoding()
    with torch.no_grad():
        enc.proj.weight.normal_()
    x = torch.randn(16, 4) * 3.0  # values below, inside and above the bins
    columns = enc.proj.columns
    full = enc.encode(x).flatten(1).index_select(1, columns) @ enc.proj.weight.t()
    assert torch.equal(enc(x), full)
    enc.double()  # the per-column bounds follow the module's dtype
    assert enc(x.double()).dtype == torch.float64
    assert torch.allclose(enc(x.double()), full.double(), atol=1e-5)


def test_state_dict_stores_the_dense_matrix_and_loads_into_a_fresh_module():
    enc = _fitted_encoding()
    with torch.no_grad():
        enc.proj.weight.normal_()
    state = enc.state_dict()
    assert state["proj.weight"].shape == (3, 20)  # the layout does not depend on the data
    assert "proj.columns" not in state
    fresh = PiecewiseLinearEncoding(4, 5, 3)  # unfitted: no trainable column yet
    assert fresh.proj.weight.shape == (3, 0)
    fresh.load_state_dict(state)
    x = torch.randn(6, 4)
    assert fresh.proj.weight.shape == enc.proj.weight.shape
    assert torch.equal(fresh(x), enc(x))
    bad = dict(state, **{"proj.weight": torch.zeros(3, 19)})
    with pytest.raises(RuntimeError, match=r"size mismatch for proj.weight.*\(3, 19\)"):
        fresh.load_state_dict(bad)


def test_refitted_edges_keep_the_weights_of_columns_still_valid():
    enc = _fitted_encoding(0)
    with torch.no_grad():
        enc.proj.weight.normal_()
    before = enc.proj.dense_weight().clone()
    rng = np.random.default_rng(3)
    x = rng.normal(size=(200, 4))
    x[:, 1] = 0.0  # now constant: its bins leave
    enc.set_edges(np.quantile(x, np.linspace(0, 1, 6), axis=0))
    after = enc.proj.dense_weight()
    on = enc.valid.flatten() > 0
    assert enc.proj.weight.shape == (3, int(on.sum()))
    kept = on & (before.abs().sum(0) > 0)
    assert torch.equal(after[:, kept], before[:, kept])
    assert torch.count_nonzero(after[:, on & ~kept]) == 0  # a newly valid column starts at 0


def test_wrong_quantile_shape_and_bad_counts_are_errors():
    enc = PiecewiseLinearEncoding(3, 4, 5)
    with pytest.raises(ValueError, match=r"shape \(4, 3\), expected \(5, 3\) for 4 bins"):
        enc.set_edges(np.zeros((4, 3)))
    with pytest.raises(ValueError, match="n_bins must be >= 1"):
        PiecewiseLinearEncoding(3, 0, 5)
    with pytest.raises(ValueError, match="formula_bins must be >= 0"):
        FlexibleMultiTaskModel([RegressionTask("y")], 3, formula_bins=-1)


def test_model_fits_bins_on_the_training_rows_and_a_checkpoint_keeps_them(tables, tmp_path):
    path = tmp_path / "bins.ckpt"
    model, dm = _fit_and_save(tables, path, 4)
    train = dm.tensors.x_formula[dm.splits.train].numpy()
    edges = np.quantile(train, np.linspace(0, 1, 5), axis=0)
    bins = model.encoder.formula_bins
    assert bool(bins.fitted)
    assert np.allclose(bins.lower[:, 0].numpy(), edges[0], atol=1e-6)
    assert torch.count_nonzero(bins.proj.weight) > 0  # the branch trained
    loaded = FlexibleMultiTaskModel.load_from_checkpoint(path)
    assert loaded.hparams["formula_bins"] == 4
    batch = next(iter(dm.train_dataloader()))
    model.eval()
    loaded.eval()
    with torch.no_grad():
        assert torch.allclose(model(batch)["y"], loaded(batch)["y"])


def test_warm_start_without_bins_starts_as_the_checkpoint(tables, tmp_path):
    path = tmp_path / "pre.ckpt"
    pre, dm = _fit_and_save(tables, path, 0)
    ft = _warm_started(dm, path, init_components=["encoder", "heads"])
    assert not bool(ft.encoder.formula_bins.fitted)  # not in the checkpoint: fitted at setup
    ft.set_statistics(dm.statistics(formula_bins=3))
    assert bool(ft.encoder.formula_bins.fitted)
    batch = next(iter(dm.train_dataloader()))
    pre.eval()
    ft.eval()
    with torch.no_grad():
        assert torch.allclose(pre(batch)["y"], ft(batch)["y"])  # the new branch adds zero


def test_bins_without_quantiles_name_the_fix(tables):
    dm = CompoundDataModule(tables["formula"], [RegressionTask("y")], tables["attributes"])
    model = FlexibleMultiTaskModel(dm.tasks, dm.formula_dim, encoder_dims=[16], formula_bins=2)
    with pytest.raises(ValueError, match=r"formula_bins=2 .*dm.statistics\(formula_bins=2\)"):
        model.set_statistics(dm.statistics())


def test_task_input_scaling_refits_the_bins_of_a_checkpoint_with_bins(tables, tmp_path):
    path = tmp_path / "pre.ckpt"
    pre, dm = _fit_and_save(tables, path, 3)
    shifted = CompoundDataModule(
        tables["formula"] * 3.0 + 1.0, [RegressionTask("y")], tables["attributes"]
    )
    for scaling, refit in (("checkpoint", False), ("task", True)):
        ft = _warm_started(dm, path, init_input_scaling=scaling)
        assert torch.equal(
            ft.encoder.formula_bins.proj.weight, pre.encoder.formula_bins.proj.weight
        )
        _trainer().fit(ft, shifted)
        same = torch.equal(ft.encoder.formula_bins.lower, pre.encoder.formula_bins.lower)
        assert same is not refit, scaling


def test_dominant_edges_give_a_zero_inflated_descriptor_its_bins(tables):
    formula = tables["formula"].copy()
    first = formula.columns[0]
    formula[first] = np.where(np.arange(len(formula)) % 5 == 0, formula[first].abs() + 1.0, 0.0)
    dm = CompoundDataModule(formula, [RegressionTask("y")], tables["attributes"])
    counts = {}
    for rule in ("quantile", "dominant"):
        model = FlexibleMultiTaskModel(
            dm.tasks, dm.formula_dim, encoder_dims=[16], formula_bins=4, formula_bin_edges=rule
        )
        _trainer().fit(model, dm)
        counts[rule] = int(model.encoder.formula_bins.valid[0].sum())
        assert model.hparams["formula_bin_edges"] == rule  # saved with the checkpoint
    assert counts["quantile"] <= 1 < counts["dominant"]


def test_unknown_bin_edge_rule_is_an_error(tables):
    dm = CompoundDataModule(tables["formula"], [RegressionTask("y")], tables["attributes"])
    with pytest.raises(ValueError, match="formula_bin_edges must be one of"):
        FlexibleMultiTaskModel(dm.tasks, dm.formula_dim, formula_bins=2, formula_bin_edges="x")
