"""Explorer: ensemble by vacuum detection, Metropolis swaps, explosion guards; validation."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms, units
from ase.build import bulk, fcc111
from ase.calculators.calculator import Calculator, all_changes

from foundation_model.workflows.datagen.calculators import EMTSpec
from foundation_model.workflows.datagen.explore.explorer import MDExplorer, run_trajectory
from foundation_model.workflows.datagen.explore.guards import ExplosionGuard
from foundation_model.workflows.datagen.explore.mc import attempt_swap, mc_sweep, swappable
from foundation_model.workflows.datagen.explore.vacuum import choose_ensemble, vacuum_axes
from foundation_model.workflows.datagen.validation import StructureValidator


class SiteEnergy(Calculator):
    """E = sum_i eps[Z_i] * x_i: swapping atoms i, j changes E by (eps_i - eps_j)(x_j - x_i)."""

    implemented_properties = ["energy", "forces"]

    def __init__(self, eps: dict[int, float]) -> None:
        super().__init__()
        self.eps = eps

    def calculate(self, atoms=None, properties=None, system_changes=all_changes) -> None:
        super().calculate(atoms, properties, system_changes)
        e = np.array([self.eps[z] for z in self.atoms.numbers])
        forces = np.zeros((len(self.atoms), 3))
        forces[:, 0] = -e
        self.results = {"energy": float(e @ self.atoms.positions[:, 0]), "forces": forces}


def _pair() -> Atoms:
    atoms = Atoms("CuAu", positions=[[0, 0, 0], [2.0, 0, 0]], cell=[10, 10, 10], pbc=True)
    atoms.calc = SiteEnergy({29: 1.0, 79: 0.0})
    return atoms  # E = 0; after the swap Cu sits at x = 2: E = 2 eV


def test_vacuum_detection_picks_ensembles() -> None:
    slab = fcc111("Cu", (2, 2, 3), vacuum=6.0)
    slab.pbc = True  # periodic along z but with a vacuum gap: still a slab
    assert vacuum_axes(slab) == [2] and choose_ensemble(slab) == "nvt"
    assert choose_ensemble(bulk("Cu", "fcc", a=3.6, cubic=True).repeat(2)) == "npt"


def test_dynamics_actually_used_nvt_for_slab_npt_for_bulk() -> None:
    explorer = MDExplorer(EMTSpec(), temperatures=[500.0], steps=6, sample_interval=3)
    slab = fcc111("Cu", (2, 2, 3), vacuum=6.0)
    cube = bulk("Cu", "fcc", a=3.7, cubic=True).repeat(2)
    results = [run_trajectory(t) for t in explorer.tasks([slab, cube], seed=0)]
    assert (results[0].ensemble, results[0].dynamics) == ("nvt", "Langevin")
    assert (results[1].ensemble, results[1].dynamics) == ("npt", "LangevinBAOAB")
    assert np.allclose(results[0].frames[-1].cell, slab.cell)  # NVT keeps the cell
    assert not np.allclose(results[1].frames[-1].cell, cube.cell)  # NPT moves it
    frame = results[1].frames[0]
    assert frame.calc is None and frame.arrays["forces"].shape == (32, 3)
    assert frame.info["stress"].shape == (6,) and frame.info["md_step"] == 3
    assert frame.info["dynamics"] == "LangevinBAOAB"


def test_metropolis_swap_accepts_downhill_and_judges_uphill() -> None:
    atoms = _pair()
    atoms.calc = SiteEnergy({29: 0.0, 79: 1.0})  # swap lowers E from 2 to 0 eV
    ok, delta = attempt_swap(atoms, 0, 1, 300.0, np.random.default_rng(0))
    assert ok and delta == pytest.approx(-2.0) and atoms.get_potential_energy() == 0.0
    temperature = 2.0 / (units.kB * np.log(2.0))  # exp(-dE/kT) = 0.5 for dE = +2 eV
    for seed in range(8):
        u = np.random.default_rng(seed).random()
        atoms = _pair()
        ok, delta = attempt_swap(atoms, 0, 1, temperature, np.random.default_rng(seed))
        assert delta == pytest.approx(2.0)
        assert ok == (u < 0.5)
        assert atoms.positions[0, 0] == (2.0 if ok else 0.0)  # rejected: swap undone
        assert atoms.get_potential_energy() == pytest.approx(2.0 if ok else 0.0)
    cold = _pair()
    assert not attempt_swap(cold, 0, 1, 1.0, np.random.default_rng(0))[0]  # kT << 2 eV


def test_charge_swap_prevention() -> None:
    atoms = Atoms("MgCaO", positions=np.eye(3) * 2, cell=[8, 8, 8], pbc=True)
    atoms.set_initial_charges([2, 2, -2])
    assert swappable(atoms, 0, 1) and not swappable(atoms, 0, 2)
    assert swappable(atoms, 0, 2, charge_rule="none")
    atoms.calc = SiteEnergy({12: 0.0, 20: 0.0, 8: 0.0})
    stats = mc_sweep(atoms, 20, 300.0, np.random.default_rng(0))
    assert stats.attempted == 20 and atoms.get_chemical_symbols()[2] == "O"
    assert atoms.positions[2].tolist() == [0, 0, 2]  # the anion never moved


def test_explosion_guard_stops_and_dumps_crashed_structure() -> None:
    explorer = MDExplorer(
        EMTSpec(),
        temperatures=[300.0],
        steps=20,
        sample_interval=5,
        ensemble="nvt",
        guard=ExplosionGuard(max_force=0.5),
    )
    squeezed = bulk("Cu", "fcc", a=3.0, cubic=True).repeat(2)  # huge forces
    squeezed.positions[0] += 0.3
    result = run_trajectory(explorer.tasks([squeezed], seed=1)[0])
    assert result.steps == 1 and "max_force" in result.stopped
    assert result.crashed is not None and result.crashed.info["md_step"] == 1
    assert result.frames == []


def test_validation_rejects_with_reasons_and_replicates() -> None:
    v = StructureValidator()
    close = Atoms("Cu2", positions=[[0, 0, 0], [0.5, 0, 0]], cell=[9, 9, 9], pbc=True)
    assert v.check(close, 4.0)[1] == "too_close"
    charged = bulk("NaCl", "rocksalt", a=5.6, cubic=True)
    charged.set_initial_charges([1, -1] * 3 + [1, 1])
    assert v.check(charged, 4.0)[1] == "not_neutral"
    small = bulk("Cu", "fcc", a=3.6, cubic=True)
    out, reason, _ = v.check(small, 5.0)
    assert reason == "" and len(out) == 4 * 8 and out.info["replicated"] == "2x2x2"
    strict = StructureValidator(replicate=False, min_width_factor=2.0)
    assert strict.check(small, 5.0)[1] == "cell_too_small"
    assert StructureValidator(max_atoms=10).check(small, 5.0)[1] == "too_many_atoms"


def test_explorer_settings_are_validated() -> None:
    with pytest.raises(ValueError, match="temperatures must be > 0"):
        MDExplorer(EMTSpec(), temperatures=[300.0, -5.0])
    with pytest.raises(ValueError, match="sample_interval"):
        MDExplorer(EMTSpec(), steps=5, sample_interval=10)
