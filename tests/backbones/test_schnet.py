"""Physics invariances of a small random backbone (SchNet-style, float64)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from ase.build import bulk
from scipy.spatial.transform import Rotation

from foundation_model.backbones import SchNetBackbone


@pytest.fixture()
def model() -> SchNetBackbone:
    return SchNetBackbone(cutoff=4.0, hidden=16, num_interactions=2, num_rbf=12).double().eval()


@pytest.fixture()
def cell():
    atoms = bulk("Cu", "fcc", 3.6, cubic=True) * (2, 1, 1)
    atoms.symbols[[1, 5]] = "Al"
    atoms.rattle(0.1, seed=3)
    return atoms


def predict(model, atoms, forces="conservative", stress="conservative"):
    batch = model.collate([model.atoms_to_data(atoms)])
    out = model(batch, forces=forces, stress=stress)
    return {k: v.detach().numpy() for k, v in out.items() if k in ("energy", "forces", "stress")}


def test_energy_invariant_under_rotation_and_translation(model, cell):
    ref = predict(model, cell)
    moved = cell.copy()
    moved.translate([0.3, -1.2, 2.0])
    rot = Rotation.random(random_state=0).as_matrix()
    rotated = cell.copy()
    rotated.set_cell(cell.cell @ rot.T, scale_atoms=True)  # rotates cell and positions
    for other in (moved, rotated):
        assert predict(model, other)["energy"] == pytest.approx(ref["energy"], abs=1e-9)
    out = predict(model, rotated)
    np.testing.assert_allclose(out["forces"], ref["forces"] @ rot.T, atol=1e-9)
    np.testing.assert_allclose(out["stress"][0], rot @ ref["stress"][0] @ rot.T, atol=1e-9)


def test_forces_are_minus_energy_gradient(model, cell):
    forces = predict(model, cell)["forces"]
    h = 1e-5
    for atom, axis in [(0, 0), (3, 1), (6, 2)]:
        plus, minus = cell.copy(), cell.copy()
        plus.positions[atom, axis] += h
        minus.positions[atom, axis] -= h
        fd = -(predict(model, plus)["energy"] - predict(model, minus)["energy"]) / (2 * h)
        assert forces[atom, axis] == pytest.approx(fd[0], abs=1e-7)


def test_stress_is_strain_derivative(model, cell):
    stress = predict(model, cell)["stress"][0]
    h = 1e-5
    for i, j in [(0, 0), (1, 2), (0, 1)]:
        eps = np.zeros((3, 3))
        eps[i, j] = eps[j, i] = h
        energies = []
        for sign in (1, -1):
            strained = cell.copy()
            strained.set_cell(cell.cell @ (np.eye(3) + sign * eps), scale_atoms=True)
            energies.append(predict(model, strained)["energy"][0])
        fd = (energies[0] - energies[1]) / (2 * h) / cell.get_volume() / (1 if i == j else 2)
        assert stress[i, j] == pytest.approx(fd, abs=1e-8)


def test_direct_forces_are_equivariant_and_sum_to_zero(model, cell):
    ref = predict(model, cell, "direct", "direct")
    np.testing.assert_allclose(ref["forces"].sum(0), 0.0, atol=1e-10)
    rot = Rotation.random(random_state=1).as_matrix()
    rotated = cell.copy()
    rotated.set_cell(cell.cell @ rot.T, scale_atoms=True)
    out = predict(model, rotated, "direct", "direct")
    np.testing.assert_allclose(out["forces"], ref["forces"] @ rot.T, atol=1e-9)
    np.testing.assert_allclose(out["stress"][0], rot @ ref["stress"][0] @ rot.T, atol=1e-9)


def test_unknown_element_is_reported(tiny_schnet):
    with pytest.raises(ValueError, match=r"does not know element\(s\) \['Au'\]"):
        tiny_schnet.atoms_to_data(bulk("Au", "fcc", 4.08))


def test_same_seed_same_weights():
    a, b = SchNetBackbone(hidden=8, seed=3), SchNetBackbone(hidden=8, seed=3)
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(pa, pb)
