"""Checks shared by the tests of every backbone adapter."""

from __future__ import annotations

import ase
import lightning.pytorch as pl
import numpy as np
import pytest
import torch
from ase.build import bulk
from ase.calculators.fd import calculate_numerical_forces, calculate_numerical_stress

from foundation_model.backbones import MLIPCalculator, MLIPDataModule, MLIPFineTuneModule


def test_cell() -> ase.Atoms:
    atoms = bulk("Cu", "fcc", 3.6, cubic=True) * (2, 1, 1)
    atoms.symbols[[2, 5]] = "Ni"
    atoms.rattle(0.05, seed=0)
    return atoms


def check_physics(calc: MLIPCalculator, rtol: float = 2e-2) -> None:
    """Forces and stress equal finite differences; energy rotation/translation invariant."""
    atoms = test_cell()
    atoms.calc = calc
    energy = atoms.get_potential_energy()
    forces, stress = atoms.get_forces(), atoms.get_stress()
    fd_forces = calculate_numerical_forces(atoms, 2e-3, iatoms=[0, 3])
    np.testing.assert_allclose(forces[[0, 3]], fd_forces, rtol=rtol, atol=2e-3)
    fd_stress = calculate_numerical_stress(atoms, 1e-3)
    np.testing.assert_allclose(stress, fd_stress, rtol=rtol, atol=2e-4)
    moved = atoms.copy()
    moved.rotate(40, "x", rotate_cell=True)
    moved.translate([0.4, 0.1, -0.7])
    moved.calc = calc
    assert moved.get_potential_energy() == pytest.approx(energy, abs=2e-4 * len(atoms))
    rot = moved.cell.array.T @ np.linalg.inv(atoms.cell.array.T)
    np.testing.assert_allclose(moved.get_forces(), forces @ rot.T, atol=2e-4)


def check_unknown_element(module: MLIPFineTuneModule, symbol: str) -> None:
    atoms = ase.Atoms(symbol + "Cu", positions=[[0, 0, 0], [1.3, 1.3, 0]], cell=[5, 5, 5], pbc=True)
    with pytest.raises(ValueError, match=f"does not know element.*'{symbol}'"):
        module.atoms_to_sample(atoms, 0, has_labels=False)


def check_short_fine_tune(
    module: MLIPFineTuneModule, structures: list[ase.Atoms], tmp_path
) -> None:
    """Two training steps, then the checkpoint -> calculator round trip."""
    dm = MLIPDataModule(
        structures[:6], val_path=structures[6:8], test_path=structures[6:8], batch_size=3
    )
    trainer = pl.Trainer(
        max_steps=2,
        limit_val_batches=1,
        num_sanity_val_steps=0,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
    )
    module.eval()  # as after a zero-shot evaluation: fit must still train in train mode
    first = {n: p.detach().clone() for n, p in module.named_parameters() if p.requires_grad}
    trainer.fit(module, dm)
    assert bool(module.reference.fitted)
    changed = [
        n for n, p in module.named_parameters() if n in first and not torch.equal(p, first[n])
    ]
    assert changed, "no parameter moved during fine-tuning"
    assert np.isfinite(float(trainer.callback_metrics["val_forces_mae"]))
    path = tmp_path / "adapter.ckpt"
    trainer.save_checkpoint(path)
    calc = MLIPCalculator.from_checkpoint(path, device="cpu", use_ema=False)
    atoms = structures[6].copy()
    atoms.calc = calc
    module.eval()
    expected = module(module.batch_from_atoms([structures[6]]))["energy"].item()
    assert atoms.get_potential_energy() == pytest.approx(expected, abs=1e-4)
