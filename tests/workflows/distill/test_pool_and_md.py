"""Step 1 (datagen generators + DIRECT), the SN2 generator, and the MD guards of step 4."""

from __future__ import annotations

import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.emt import EMT
from ase.calculators.lj import LennardJones

from foundation_model.backbones.md import run_md
from foundation_model.workflows.datagen.calculators import EMTSpec, ImportedCalculatorSpec
from foundation_model.workflows.datagen.executor import TaskExecutor
from foundation_model.workflows.datagen.generators.alloy import AlloyGenerator
from foundation_model.workflows.datagen.samplers.descriptors import SOAPDescriptor
from foundation_model.workflows.datagen.samplers.direct import DIRECTSampler
from foundation_model.workflows.distill.pool import PoolStage
from foundation_model.workflows.distill.sn2 import SN2PathGenerator, sn2_geometry
from foundation_model.workflows.distill.surrogate_md import SurrogateMD


def _cu_al_pool(n_structures: int, n_samples: int) -> PoolStage:
    """Cu3Al supercells -> DIRECT on SOAP."""
    pytest.importorskip("dscribe")
    return PoolStage(
        generators=[
            AlloyGenerator(
                ["Cu", "Al"], [0.75, 0.25], supercell=[2, 2, 1], n_structures=n_structures
            )
        ],
        sampler=DIRECTSampler(
            n_samples=n_samples,
            descriptor=SOAPDescriptor(r_cut=4.0, n_max=3, l_max=2, species=["Al", "Cu"]),
        ),
        cutoff=3.0,
    )


def test_a_pool_smaller_than_the_samples_asked_for_is_kept_with_a_warning(capsys) -> None:
    stage = _cu_al_pool(n_structures=4, n_samples=10)
    pool, info = stage.run(TaskExecutor(progress=False), seed=0)
    assert info["pool"] == len(pool) == 4 - info["duplicates_removed"]
    err = capsys.readouterr().err
    assert f"n_samples=10 but the pool has {len(pool)} distinct structures" in err


def test_pool_from_generators_and_direct() -> None:
    stage = _cu_al_pool(n_structures=12, n_samples=5)
    pool, info = stage.run(TaskExecutor(progress=False), seed=0)
    assert info["seeds"] == 12 and info["pool"] == len(pool) == 5
    assert all(a.calc is None and "energy" not in a.info for a in pool)
    again, _ = stage.run(TaskExecutor(progress=False), seed=0)
    assert [a.get_chemical_formula() for a in pool] == [a.get_chemical_formula() for a in again]


def test_sn2_path_geometry() -> None:
    reactant, ts, product = sn2_geometry(0.0), sn2_geometry(0.5), sn2_geometry(1.0)
    assert reactant.get_distance(0, 4) == pytest.approx(1.80)  # C-Cl bond
    assert ts.get_distance(0, 4) == pytest.approx(ts.get_distance(0, 5))  # symmetric TS
    assert np.allclose(ts.positions[1:4, 2], 0.0)  # planar CH3 at the transition state
    assert product.get_distance(0, 5) == pytest.approx(1.80)
    for i in (1, 2, 3):
        assert reactant.get_distance(0, i) == pytest.approx(1.09)
    structures = SN2PathGenerator(n_structures=6).generate(seed=1)
    assert len(structures) == 6 and not structures[0].pbc.any()
    s = [a.info["reaction_coordinate"] for a in structures]
    assert s == sorted(s) and s[0] < 0.1 and s[-1] > 0.9


def test_md_guards_fire_on_a_planted_explosion() -> None:
    atoms = bulk("Cu", "fcc", 3.6, cubic=True)
    atoms.positions[1] = atoms.positions[0] + [0.3, 0.0, 0.0]  # two atoms almost on top
    too_close = run_md(atoms, EMT(), steps=5, min_distance=0.6, max_force=1e9)
    assert too_close.steps == 1 and "closer than" in too_close.stopped
    # a strongly repulsive Lennard-Jones squeeze: huge forces, then an energy jump
    squeezed = bulk("Cu", "fcc", 3.0, cubic=True)
    lj = LennardJones(sigma=2.6, epsilon=1.0, rc=6.0)
    forces = run_md(squeezed, lj, steps=5, max_force=5.0, min_distance=0.1)
    assert forces.steps == 1 and "force above" in forces.stopped
    jump = run_md(
        squeezed,
        lj,
        steps=5,
        timestep_fs=2.0,
        max_force=1e9,
        min_distance=0.1,
        max_energy_jump=0.05,
    )
    assert jump.steps == 1 and "energy jump" in jump.stopped
    calm = run_md(bulk("Cu", "fcc", 3.6, cubic=True), EMT(), steps=5, max_energy_jump=0.5)
    assert calm.steps == 5 and calm.stopped == ""


def test_surrogate_md_prunes_stopped_trajectories() -> None:
    start = bulk("Cu", "fcc", 3.6, cubic=True) * (2, 1, 1)
    md = SurrogateMD(n_trajectories=2, steps=12, sample_interval=3, max_force=1e9)
    frames, summary = md.run([start], EMTSpec(), TaskExecutor(progress=False), seed=0)
    assert len(frames) == 8 and all(s["stopped"] == "" for s in summary)
    assert all(a.calc is None and "energy" not in a.info for a in frames)
    # an over-attractive pair potential collapses the cell: the distance guard stops it and
    # the frame sampled just before the guard fired is pruned
    lj = ImportedCalculatorSpec(
        "ase.calculators.lj.LennardJones", {"sigma": 1.2, "epsilon": 0.5, "rc": 4.0}
    )
    md = SurrogateMD(
        n_trajectories=1, steps=200, sample_interval=1, max_force=1e9, min_distance=2.2
    )
    frames, summary = md.run([start], lj, TaskExecutor(progress=False), seed=0)
    assert "closer than 2.2" in summary[0]["stopped"] and summary[0]["steps"] < 200
    assert len(frames) == summary[0]["frames"] == summary[0]["steps"] - 2


def test_identical_structures_are_removed_from_the_pool() -> None:
    """Without vacancies the covalent generator yields identical copies: one is kept, so a
    structure cannot be in the oracle test set and the training set at once."""
    from foundation_model.workflows.datagen.generators.covalent import CovalentGenerator

    stage = PoolStage(
        generators=[CovalentGenerator(["Si"], "diamond", supercell=[1, 1, 1], n_structures=3)]
    )
    pool, info = stage.run(TaskExecutor(progress=False), seed=0)
    assert info["seeds"] == 3 and len(pool) == 1 and info["duplicates_removed"] == 2
    from foundation_model.workflows.distill.pool import remove_duplicates

    cell = bulk("Cu", "fcc", 3.6, cubic=True)
    noisy = cell.copy()
    noisy.positions += 1e-9  # float noise: the same structure
    moved = cell.copy()
    moved.positions[0, 0] += 1e-3  # a different structure
    permuted = cell[[1, 0, 2, 3]]  # atom order matters
    unique, removed = remove_duplicates([cell, noisy, moved, permuted, cell.copy()])
    assert removed == 2 and unique[0] is cell and unique[1] is moved and unique[2] is permuted
