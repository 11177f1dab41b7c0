"""MLIPFineTuneModule with the pure-torch backbone: training, schema, EMA, checkpoints."""

from __future__ import annotations

import copy

import lightning.pytorch as pl
import numpy as np
import pytest
import torch
from ase.build import bulk

from foundation_model.backbones import (
    EnergyProperty,
    ForcesProperty,
    GraphProperty,
    MLIPCalculator,
    MLIPDataModule,
    MLIPFineTuneModule,
    SchNetBackbone,
    StressProperty,
)


def tag(structures):
    """Add a regression (volume per atom) and a classification (is surface) label."""
    out = []
    for atoms in structures:
        a = atoms.copy()
        a.calc = atoms.calc
        a.info["volume_per_atom"] = a.get_volume() / len(a)
        a.info["is_surface"] = int(a.info.get("config_type") == "surface")
        out.append(a)
    return out


def trainer(tmp_path, epochs: int) -> pl.Trainer:
    return pl.Trainer(
        max_epochs=epochs,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
    )


def make_module(**kwargs) -> MLIPFineTuneModule:
    props = [
        EnergyProperty(),
        ForcesProperty(loss="huber", huber_delta=0.05),
        StressProperty(loss="mse"),
        GraphProperty("volume_per_atom", reduction="mean", hidden=8),
        GraphProperty(
            "is_surface", reduction="max", task_type="classification", num_classes=2, hidden=8
        ),
    ]
    backbone = SchNetBackbone(cutoff=4.0, hidden=16, num_interactions=2, num_rbf=12)
    return MLIPFineTuneModule(
        backbone, props, optimizer=lambda p: torch.optim.Adam(p, lr=5e-3), **kwargs
    )


@pytest.fixture(scope="module")
def trained(tmp_path_factory, emt_structures):
    """A module trained a few epochs (EMA on) and its checkpoint."""
    tmp = tmp_path_factory.mktemp("fit")
    torch.manual_seed(0)
    dm = MLIPDataModule(tag(emt_structures), batch_size=6, split_fractions=[0.75, 0.25, 0.0])
    module = make_module(ema_decay=0.9)
    tr = trainer(tmp, 6)
    before = tr.validate(module, dm, verbose=False)[0]
    tr.fit(module, dm)
    after = tr.validate(module, dm, verbose=False)[0]
    path = tmp / "mlip.ckpt"
    tr.save_checkpoint(path)
    return module, dm, before, after, path


def test_fine_tuning_learns_every_property(trained):
    module, _, before, after, _ = trained
    assert bool(module.reference.fitted)
    assert after["val_forces_mae"] < before["val_forces_mae"]
    assert after["val_total_loss"] < before["val_total_loss"]
    for key in (
        "val_energy_mae_per_atom",
        "val_stress_mae",
        "val_volume_per_atom_mae",
        "val_is_surface_accuracy",
    ):
        assert np.isfinite(after[key])


def test_checkpoint_rebuilds_without_config(trained, emt_structures):
    module, _, _, _, path = trained
    loaded = MLIPFineTuneModule.load_from_checkpoint(path)
    assert isinstance(loaded.backbone, SchNetBackbone)
    assert [p.name for p in loaded.properties] == [p.name for p in module.properties]
    assert loaded.ema is not None and loaded.ema.num_updates == module.ema.num_updates
    structures = tag(emt_structures[:3])
    module.eval()
    loaded.eval()
    a = module(module.batch_from_atoms(structures))
    b = loaded(loaded.batch_from_atoms(structures))
    for key in ("energy", "forces", "stress", "volume_per_atom"):
        torch.testing.assert_close(a[key], b[key])
    calc = MLIPCalculator.from_checkpoint(path)  # EMA weights
    atoms = structures[0].copy()
    atoms.calc = calc
    assert np.isfinite(atoms.get_potential_energy())
    assert atoms.get_stress().shape == (6,)
    assert calc.results["is_surface"] in (0, 1)
    assert calc.results["is_surface_probabilities"].shape == (2,)
    assert np.isfinite(calc.results["volume_per_atom"])


def test_freeze_backbone_and_component_lr(tmp_path, emt_structures):
    module = make_module(freeze_backbone=True, component_lr={"graph_heads": 1e-2})
    before = {k: v.clone() for k, v in module.backbone.state_dict().items()}
    groups = module.configure_optimizers().param_groups
    assert [g["lr"] for g in groups] == [1e-2]
    assert all(not p.requires_grad for p in module.backbone.parameters())
    trainer(tmp_path, 1).fit(module, MLIPDataModule(tag(emt_structures), batch_size=8))
    for key, value in module.backbone.state_dict().items():
        assert torch.equal(value, before[key])


def test_freeze_backbone_without_graph_properties_says_nothing_is_left_to_train():
    backbone = SchNetBackbone(cutoff=4.0, hidden=16, num_interactions=2, num_rbf=12)
    props = [EnergyProperty(), ForcesProperty()]
    with pytest.raises(ValueError, match=r"leaves nothing to train .*add a GraphProperty"):
        MLIPFineTuneModule(backbone, props, freeze_backbone=True)


def test_reset_output_heads_changes_readout_only():
    a = make_module()
    b = MLIPFineTuneModule(a.backbone.to_dict(), a.hparams["properties"], reset_output_heads=True)
    assert torch.equal(a.backbone.embedding.weight, b.backbone.embedding.weight)
    assert not torch.equal(a.backbone.energy_head[0].weight, b.backbone.energy_head[0].weight)


def test_predict_uses_ema_weights(trained, emt_structures, tmp_path):
    module, _, _, _, _ = trained
    structures = tag(emt_structures[:5])
    raw = {n: p.detach().clone() for n, p in module.named_parameters()}
    dm = MLIPDataModule(tag(emt_structures), predict_path=structures)
    out = trainer(tmp_path, 1).predict(module, dm)
    predicted = torch.cat([b["energy"] for b in out])
    assert torch.cat([b["row_index"] for b in out]).tolist() == [0, 1, 2, 3, 4]
    for name, value in module.named_parameters():  # raw weights are back after predict
        assert torch.equal(value, raw[name]), name
    ema = copy.deepcopy(module).eval()
    ema.use_ema_weights()
    expected = ema(ema.batch_from_atoms(structures))["energy"].detach()
    torch.testing.assert_close(predicted, expected)
    module.eval()
    with_raw = module(module.batch_from_atoms(structures))["energy"].detach()
    assert (predicted - with_raw).abs().max() > 1e-4  # the EMA really differs here


def test_structure_without_labels_is_masked_not_rejected(tmp_path, emt_structures):
    bare = bulk("Cu", "fcc", 3.6, cubic=True)
    dm = MLIPDataModule(
        [*emt_structures[:8], bare], val_path=emt_structures[:2], test_path=emt_structures[:2]
    )
    module = MLIPFineTuneModule(SchNetBackbone(hidden=8))
    trainer(tmp_path, 1).fit(module, dm)
    assert bool(module.reference.fitted)


def test_schema_errors():
    backbone = SchNetBackbone(hidden=8)
    with pytest.raises(ValueError, match="unique"):
        MLIPFineTuneModule(backbone, [EnergyProperty(), EnergyProperty()])
    with pytest.raises(ValueError, match="reserved"):
        GraphProperty("energy")
    with pytest.raises(ValueError, match="Unknown loss"):
        ForcesProperty(loss="l3")
    from foundation_model.backbones.calculator import pretrained_backbone

    with pytest.raises(ValueError, match="Unknown pretrained model"):
        pretrained_backbone("not-a-model")


def test_predict_gives_stress_only_for_3d_periodic_structures(tmp_path):
    """Molecules and slabs have no stress: NaN (an empty CSV cell), as in MLIPCalculator."""
    from ase import Atoms
    from ase.build import fcc111

    torch.manual_seed(0)
    module = MLIPFineTuneModule(SchNetBackbone(hidden=8), fit_reference_energies=False)
    dimer = Atoms("Cu2", positions=[[0, 0, 0], [0, 0, 2.3]])  # pbc False, no cell
    slab = fcc111("Cu", (2, 2, 3), vacuum=5.0)  # pbc (True, True, False)
    crystal = bulk("Cu", "fcc", 3.6, cubic=True)
    dm = MLIPDataModule([crystal], predict_path=[dimer, slab, crystal], batch_size=3)
    stress = trainer(tmp_path, 1).predict(module, dm)[0]["stress"]  # (3, 6)
    assert stress.shape == (3, 6)
    assert torch.isnan(stress[:2]).all() and torch.isfinite(stress[2]).all()
    crystal.calc = MLIPCalculator(module, device="cpu")
    np.testing.assert_allclose(stress[2].numpy(), crystal.get_stress(), rtol=1e-4, atol=1e-7)
    only_molecules = MLIPDataModule([crystal], predict_path=[dimer, dimer.copy()])
    stress = trainer(tmp_path, 1).predict(module, only_molecules)[0]["stress"]
    assert stress.shape == (2, 6) and torch.isnan(stress).all()
