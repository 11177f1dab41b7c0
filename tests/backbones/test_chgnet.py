"""CHGNet adapter (needs ``uv sync --extra chgnet``); CHGNet 0.3.0 weights load offline."""

from __future__ import annotations

import pytest

pytest.importorskip("chgnet", reason="CHGNet not installed: uv sync --extra chgnet")

from adapter_checks import check_physics, check_short_fine_tune, check_unknown_element  # noqa: E402

from foundation_model.backbones import (  # noqa: E402
    CHGNetBackbone,
    MLIPCalculator,
    MLIPDataModule,
    MLIPFineTuneModule,
)


@pytest.fixture(scope="module")
def backbone() -> CHGNetBackbone:
    return CHGNetBackbone("0.3.0")


def test_chgnet_physics_and_unknown_element(backbone):
    module = MLIPFineTuneModule(backbone, fit_reference_energies=False)
    check_physics(MLIPCalculator(module, device="cpu"))
    assert backbone.node_dim == 64
    check_unknown_element(module, "Am")


def test_chgnet_short_fine_tune(backbone, emt_structures, tmp_path):
    module = MLIPFineTuneModule(
        backbone, freeze_backbone=False, component_lr={"backbone.net.mlp": 1e-3}
    )
    check_short_fine_tune(module, emt_structures, tmp_path)


def test_chgnet_rejects_a_slab_when_data_load(backbone, emt_structures, tmp_path):
    """A slab (pbc=T,T,F) fails before training, naming the file, the structure and the fix."""
    import ase.io
    import lightning.pytorch as pl

    slab = emt_structures[4].copy()
    slab.pbc = [True, True, False]
    path = tmp_path / "slab.extxyz"
    ase.io.write(path, [*emt_structures[:4], slab, *emt_structures[5:8]], format="extxyz")
    module = MLIPFineTuneModule(backbone)
    trainer = pl.Trainer(
        max_steps=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
    )
    with pytest.raises(
        ValueError,
        match=r"^CHGNetBackbone needs 3D-periodic cells, but structure 4 of .*slab\.extxyz, "
        r"Ni4 has pbc=\[True, True, False\]: give it a vacuum-padded 3D cell",
    ):
        trainer.fit(module, MLIPDataModule(str(path), split_fractions=[0.5, 0.5, 0.0]))
    assert trainer.global_step == 0
    with pytest.raises(ValueError, match="needs 3D-periodic cells"):  # the runtime guard
        module.atoms_to_sample(slab, 0, has_labels=False)


def test_chgnet_names_a_structure_with_an_isolated_atom(backbone, emt_structures):
    """An atom with no neighbour within the graph cutoff: one line naming the structure
    (CHGNet's own error names a graph_id of None)."""
    from ase import Atoms

    lone = Atoms("Au", cell=[20.0, 20.0, 20.0], pbc=True)
    with pytest.raises(
        ValueError,
        match=r"^Structure 3 of a\.extxyz \(Au\) has 1 isolated atom\(s\) \(e\.g\. index 0\): "
        r"no neighbour within CHGNet's 6 Å graph cutoff",
    ):
        backbone.check_structure(lone, "3 of a.extxyz")
    backbone.check_structure(emt_structures[0], "0 of a.extxyz")  # a bulk cell passes
    one_atom_bulk = Atoms("Au", cell=[2.9, 2.9, 2.9], pbc=True)  # its images are neighbours
    backbone.check_structure(one_atom_bulk, "1 of a.extxyz")
