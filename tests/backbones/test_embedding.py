"""Backbone embeddings as the structure input of FlexibleMultiTaskModel."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from foundation_model.backbones import SchNetBackbone, embedding_table


def test_embedding_table_feeds_compound_datamodule(tmp_path, emt_structures):
    from foundation_model.data.datamodule import CompoundDataModule
    from foundation_model.models.task_head.regression import RegressionTask

    ids = [f"s{i}" for i in range(len(emt_structures))]
    backbone = SchNetBackbone(cutoff=4.0, hidden=16, num_interactions=2, num_rbf=12)
    out = tmp_path / "emb.parquet"
    table = embedding_table(
        emt_structures, ids, backbone=backbone, batch_size=5, out=out, device="cpu"
    )
    assert table.shape == (len(ids), 16) and list(table.index) == ids
    assert table.columns[0] == "schnet_emb_0"
    np.testing.assert_allclose(pd.read_parquet(out).to_numpy(), table.to_numpy())
    # rotation-invariant: the same structure rotated embeds identically
    rotated = emt_structures[0].copy()
    rotated.rotate(33, "z", rotate_cell=True)
    again = embedding_table([rotated], backbone=backbone, device="cpu")
    np.testing.assert_allclose(again.to_numpy()[0], table.to_numpy()[0], atol=1e-5)

    rng = np.random.default_rng(0)
    formula = pd.DataFrame(
        rng.normal(size=(len(ids), 3)), index=pd.Index(ids, name="id"), columns=["a", "b", "c"]
    )
    attrs = pd.DataFrame(
        {"y": [a.get_potential_energy() / len(a) for a in emt_structures]}, index=formula.index
    )
    dm = CompoundDataModule(
        formula, [RegressionTask("y")], attrs, structure_desc_source=str(out), batch_size=8
    )
    dm.setup("fit")
    assert dm.structure_dim == 16


def test_embedding_table_from_file(emt_file):
    from foundation_model.backbones import embedding_table_from_file

    table = embedding_table_from_file(
        emt_file, id_key="config_type_missing", backbone=SchNetBackbone(hidden=8)
    )
    assert list(table.index[:3]) == ["0", "1", "2"] and table.shape[1] == 8


def test_embedding_table_input_errors(emt_structures):
    backbone = SchNetBackbone(hidden=8)
    with pytest.raises(ValueError, match="ids must be unique"):
        embedding_table(emt_structures[:2], ["a", "a"], backbone=backbone)
    with pytest.raises(ValueError, match="no structures"):
        embedding_table([], backbone=backbone)
