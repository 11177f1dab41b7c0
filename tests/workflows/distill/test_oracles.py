"""Oracle contract: labels, batches, retries, failures kept, budget."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk, molecule
from ase.calculators.emt import EMT
from flaky_calculator import flaky_oracle_class

from foundation_model.workflows.distill.oracles.base import OracleBudgetError
from foundation_model.workflows.distill.oracles.emt import EMTOracle
from foundation_model.workflows.distill.oracles.espresso import EspressoOracle
from foundation_model.workflows.distill.oracles.vasp import VaspOracle
from foundation_model.workflows.distill.oracles.xtb import XTBOracle

FlakyOracle = flaky_oracle_class()


def _cells(n: int, first_seed: int = 0) -> list[Atoms]:
    out = []
    for i in range(first_seed, first_seed + n):
        atoms = bulk("Cu", "fcc", 3.6, cubic=True)
        atoms.rattle(0.05, seed=i)
        out.append(atoms)
    return out


def test_emt_oracle_labels_like_emt_and_counts_calls() -> None:
    oracle = EMTOracle(budget=5)
    cells = _cells(3)
    batch = oracle.compute_batch(cells)
    assert batch.indices == [0, 1, 2] and not batch.failures and oracle.calls == 3
    ref = cells[1].copy()
    ref.calc = EMT()
    assert batch.labelled[1].info["energy"] == pytest.approx(ref.get_potential_energy())
    assert np.allclose(batch.labelled[1].arrays["forces"], ref.get_forces())
    assert batch.labelled[1].info["stress"].shape == (6,)
    assert batch.labelled[1].calc is None and batch.labelled[1].info["oracle"] == "EMTOracle"
    single = oracle.compute(cells[0])
    assert single.info["energy"] == pytest.approx(batch.labelled[0].info["energy"])
    assert oracle.remaining == 1
    with pytest.raises(OracleBudgetError, match="2 calls requested, 1 left"):
        oracle.compute_batch(cells[:2])
    assert oracle.calls == 4  # a refused request spends nothing


def test_elements_the_method_lacks_are_refused_before_any_call() -> None:
    oracle = EMTOracle(budget=10)
    structures = [*_cells(1), bulk("Fe", "bcc", 2.87)]  # EMT has no iron
    with pytest.raises(
        ValueError, match=r"EMT \(ASE's effective-medium potential\) has no parameters for \['Fe'\]"
    ):
        oracle.compute_batch(structures)
    assert oracle.calls == 0 and oracle.remaining == 10


def test_failures_are_recorded_not_dropped() -> None:
    from flaky_calculator import FailsOnceEMT

    structures = _cells(3, first_seed=100)  # structures no other test has labelled
    for i in (0, 2):  # these two were "seen": only the middle one fails its first attempt
        atoms = structures[i]
        FailsOnceEMT.seen.add(
            atoms.positions.round(6).tobytes() + atoms.cell.array.round(6).tobytes()
        )
    oracle = FlakyOracle(max_retries=0)
    batch = oracle.compute_batch(structures)
    assert batch.indices == [0, 2]
    assert len(batch.failures) == 1 and batch.failures[0].index == 1
    assert batch.failures[0].attempts == 1 and "SCF" in batch.failures[0].error
    assert batch.calls == 3 and oracle.calls == 3
    strict = FlakyOracle(max_retries=0)
    with pytest.raises(RuntimeError, match="after 1 attempt"):
        strict.compute(bulk("Cu", "fcc", 3.57))


def test_a_failed_calculation_leaves_no_broken_calculator_behind() -> None:
    """A calculator whose calculation raised is rebuilt for the next structure."""
    from foundation_model.workflows.datagen.calculators import EMTSpec, cached_calculator
    from foundation_model.workflows.datagen.labelling import LabelTask, label_structure

    spec = EMTSpec()
    broken = cached_calculator(spec)
    with pytest.raises(Exception):  # noqa: B017 -- EMT raises KeyError for silicon
        label_structure(LabelTask(bulk("Si", "diamond", 5.43), spec, True))
    assert cached_calculator(spec) is not broken
    labelled = label_structure(LabelTask(_cells(1)[0], spec, True))
    assert np.isfinite(labelled.info["energy"])


def test_retry_recovers_a_transient_failure() -> None:
    batch = FlakyOracle(max_retries=1).compute_batch(_cells(2))
    assert batch.indices == [0, 1] and not batch.failures and batch.calls == 4
    no_retry = FlakyOracle(max_retries=0).compute_batch([bulk("Cu", "fcc", 3.55)])
    assert no_retry.failures and "SCF did not converge" in no_retry.failures[0].error


def test_budget_exhausted_during_retries_is_reported() -> None:
    oracle = FlakyOracle(budget=3, max_retries=2)
    batch = oracle.compute_batch([bulk("Cu", "fcc", 3.52), bulk("Cu", "fcc", 3.53)])
    assert oracle.calls == 3 and len(batch.labelled) == 1
    assert len(batch.failures) == 1 and batch.failures[0].attempts == 1


def test_xtb_oracle_charged_molecule_and_periodic_cell() -> None:
    pytest.importorskip("tblite")
    oracle = XTBOracle(charge=-1)
    sn2 = molecule("CH3Cl")
    sn2.append("Cl")
    sn2.positions[-1] = sn2.positions[0] + [0.0, 0.0, -3.2]  # Cl- behind the carbon
    labelled = oracle.compute(sn2)
    assert labelled.arrays["forces"].shape == (6, 3) and "stress" not in labelled.info
    assert np.isfinite(labelled.info["energy"])
    periodic = XTBOracle().compute(bulk("Si", "diamond", 5.43))
    assert periodic.info["stress"].shape == (6,)
    assert XTBOracle.from_dict(oracle.to_dict()).charge == -1


def test_espresso_input_generation(tmp_path) -> None:
    oracle = EspressoOracle(
        pseudopotentials={"Cu": "Cu.pbe.UPF"},
        input_data={"system": {"ecutwfc": 40}},
        kpts=[3, 3, 3],
        directory=str(tmp_path / "qe"),
    )
    path = oracle.write_inputs(bulk("Cu", "fcc", 3.6), tmp_path / "in")
    text = path.read_text().lower()
    for needle in ("tprnfor", "tstress", "ecutwfc", "cu.pbe.upf", "k_points automatic"):
        assert needle in text
    with pytest.raises(ValueError, match="pseudopotential"):
        oracle.write_inputs(bulk("Al", "fcc", 4.05), tmp_path / "al")
    assert EspressoOracle.from_dict(oracle.to_dict()).kpts == [3, 3, 3]


@pytest.mark.skipif(shutil.which("pw.x") is None, reason="Quantum ESPRESSO (pw.x) not installed")
def test_espresso_runs(tmp_path) -> None:  # pragma: no cover - needs pw.x and pseudopotentials
    pseudo_dir = tmp_path
    oracle = EspressoOracle({"Cu": "Cu.pbe.UPF"}, pseudo_dir=str(pseudo_dir), kpts=[2, 2, 2])
    labelled = oracle.compute(bulk("Cu", "fcc", 3.6))
    assert np.isfinite(labelled.info["energy"])


def test_vasp_input_generation(tmp_path) -> None:
    oracle = VaspOracle(incar={"ENCUT": 400, "xc": "PBE"}, kpts=[4, 4, 4])
    atoms = bulk("Cu", "fcc", 3.6, cubic=True)
    atoms[0].symbol = "Al"
    folder = oracle.write_inputs(atoms, tmp_path / "vasp")
    incar = (folder / "INCAR").read_text().upper()
    assert "ENCUT = 400" in incar and "IBRION = -1" in incar and "NSW = 0" in incar
    assert "4 4 4" in (folder / "KPOINTS").read_text()
    assert sorted((folder / "POSCAR").read_text().split("\n")[5].split()) == ["Al", "Cu"]


@pytest.mark.skipif(shutil.which("vasp_std") is None, reason="VASP (vasp_std) not installed")
def test_vasp_runs(tmp_path) -> None:  # pragma: no cover - needs VASP and its potentials
    labelled = VaspOracle(directory=str(tmp_path)).compute(bulk("Cu", "fcc", 3.6))
    assert np.isfinite(labelled.info["energy"])
