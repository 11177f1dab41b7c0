from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from foundation_model.data import CompoundDataModule, PredefinedSplitter
from foundation_model.models.task_head import ClassificationTask, RegressionTask, SequenceRNNTask


def tasks():
    return [RegressionTask("y"), ClassificationTask("cls"), SequenceRNNTask("cp", "T", "cp")]


def test_loads_files_and_frames_identically(tables, table_files):
    a = CompoundDataModule(
        table_files["formula"], tasks(), table_files["attributes"], table_files["structure"]
    )
    b = CompoundDataModule(tables["formula"], tasks(), tables["attributes"], tables["structure"])
    a.setup("fit"), b.setup("fit")
    assert a.formula_dim == 10 and a.structure_dim == 5
    assert torch.equal(a.tensors.x_formula, b.tensors.x_formula)
    assert torch.equal(a.tensors.masks["cp"], b.tensors.masks["cp"])
    assert list(a.ids) == list(tables["formula"].index)
    cls = a.tasks[1]
    assert cls.num_classes == 2 and cls.class_names == ["insulator", "metal"]
    has = a.tensors.has_structure.numpy()
    assert has.sum() == len(tables["structure"])


def test_batches_are_stacked_and_masks_follow_missing_labels(tables):
    dm = CompoundDataModule(tables["formula"], tasks(), tables["attributes"], batch_size=32)
    dm.setup("fit")
    batch = next(iter(dm.train_dataloader()))
    assert batch.x_formula.shape == (32, 10)
    assert batch.seq_x["cp"].shape[0] == 32 and batch.seq_x["cp"].shape[2] == 1
    rows = dm.ids[batch.index.numpy()]
    expected = tables["attributes"].loc[rows, "y"].notna().to_numpy()
    assert np.array_equal(batch.masks["y"].numpy(), expected)
    lengths = batch.seq_mask["cp"].sum(1)
    assert batch.seq_mask["cp"].shape[1] == int(lengths.max())


def test_statistics_use_train_rows_only(tables):
    dm = CompoundDataModule(tables["formula"], tasks(), tables["attributes"])
    stats = dm.statistics()
    train_ids = dm.ids[dm.splits.train]
    y = tables["attributes"].loc[train_ids, "y"].dropna()
    assert np.isclose(stats.targets["y"][0], y.mean(), atol=1e-5)
    assert np.allclose(
        stats.formula_mean, tables["formula"].loc[train_ids].mean().to_numpy(), atol=1e-5
    )


def test_predefined_split_and_predict_split(tables):
    dm = CompoundDataModule(
        tables["formula"],
        tasks(),
        tables["attributes"],
        splitter=PredefinedSplitter("split"),
        predict_split="test",
    )
    dm.setup("fit")
    assert all(dm.ids[dm.splits.test].str[1:].astype(int) % 10 == 0)
    assert len(dm.predict_rows()) == len(dm.splits.test)


def test_predict_without_attributes_needs_known_classes(tables):
    dm = CompoundDataModule(
        tables["formula"], [RegressionTask("y"), ClassificationTask("cls", num_classes=2)]
    )
    dm.setup("predict")
    assert not dm.tensors.masks["y"].any()
    assert len(dm.predict_rows()) == len(tables["formula"])


def test_integer_labels_and_log_transform(tables):
    attrs = tables["attributes"].copy()
    attrs["cls_int"] = attrs["cls"].map({"metal": 1, "insulator": 0})
    attrs["pos"] = np.exp(attrs["y"])
    dm = CompoundDataModule(
        tables["formula"],
        [ClassificationTask("cls_int"), RegressionTask("pos", log_transform=True)],
        attrs,
    )
    assert dm.tasks[0].num_classes == 2 and dm.tasks[0].class_names is None
    mean, _ = dm.statistics().targets["pos"]
    train = attrs.loc[dm.ids[dm.splits.train], "pos"].dropna()
    assert np.isclose(mean, np.log10(train).mean(), atol=1e-4)


def test_parquet_and_pickle_sources(tmp_path, tables):
    f = tmp_path / "f.parquet"
    tables["formula"].to_parquet(f)
    back = pd.read_parquet(f)
    assert back.equals(tables["formula"])
    a = tmp_path / "a.pkl"
    tables["attributes"].to_pickle(a)
    dm = CompoundDataModule(str(f), tasks(), str(a))
    assert dm.formula_dim == 10 and dm.tensors.masks["cp"].any()


def test_one_row_last_training_batch_is_dropped(tables):
    dm = CompoundDataModule(tables["formula"], tasks(), tables["attributes"])
    dm.setup("fit")
    dm.batch_size = len(dm.splits.train) - 1  # leaves exactly one row for a last batch
    sizes = [len(b) for b in dm.train_dataloader()]
    assert sizes == [dm.batch_size]
    dm.batch_size = len(dm.splits.train) - 2
    assert [len(b) for b in dm.train_dataloader()] == [dm.batch_size, 2]
