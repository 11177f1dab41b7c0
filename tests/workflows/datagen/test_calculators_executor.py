"""Calculator specs (late binding) and the task executor (failure capture, ordering)."""

from __future__ import annotations

import json
import math
import pickle

import numpy as np
import pytest
from ase.build import bulk, molecule

from foundation_model.workflows.datagen.calculators import (
    CalculatorSpec,
    EMTSpec,
    ImportedCalculatorSpec,
    MLIPSpec,
    TBLiteSpec,
    as_spec,
    cached_calculator,
)
from foundation_model.workflows.datagen.executor import TaskExecutor, TaskResult
from foundation_model.workflows.datagen.labelling import LabelTask, label_structure


def test_specs_round_trip_and_pickle() -> None:
    for spec in (
        EMTSpec(cutoff=4.5),
        MLIPSpec(model="chgnet", cutoff=6.0),
        TBLiteSpec(method="GFN1-xTB", charge=-1, multiplicity=2),
        ImportedCalculatorSpec("ase.calculators.lj.LennardJones", {"sigma": 2.0}),
    ):
        back = as_spec(spec.to_dict())
        assert type(back) is type(spec)
        assert back.key() == spec.key()
        assert pickle.loads(pickle.dumps(spec)).key() == spec.key()
    with pytest.raises(ValueError, match="not a CalculatorSpec"):
        CalculatorSpec.from_dict({"class_path": "ase.calculators.emt.EMT"})
    with pytest.raises(ValueError, match="cutoff"):
        EMTSpec(cutoff=0)
    with pytest.raises(ValueError, match="tblite method"):
        TBLiteSpec(method="DFTB")


def test_emt_and_imported_specs_build_the_same_energy() -> None:
    atoms = bulk("Cu", "fcc", a=3.6, cubic=True)
    e = []
    for spec in (EMTSpec(), ImportedCalculatorSpec("ase.calculators.emt.EMT")):
        a = atoms.copy()
        a.calc = spec.build()
        e.append(a.get_potential_energy())
    assert e[0] == pytest.approx(e[1])
    assert cached_calculator(EMTSpec()) is cached_calculator(EMTSpec())


def test_tblite_spec_labels_a_molecule_with_charge() -> None:
    pytest.importorskip("tblite", reason="tblite not installed: uv sync --extra ace")
    water = molecule("H2O")
    neutral = label_structure(LabelTask(water, TBLiteSpec(), stress=False))
    cation = label_structure(LabelTask(water, TBLiteSpec(charge=1, multiplicity=2), stress=False))
    assert neutral.calc is None and neutral.arrays["forces"].shape == (3, 3)
    # removing an electron costs energy (ionisation energy of water is ~12.6 eV)
    assert 8.0 < cation.info["energy"] - neutral.info["energy"] < 20.0
    assert "stress" not in neutral.info


def test_label_structure_stress_in_ev_per_a3() -> None:
    atoms = bulk("Cu", "fcc", a=3.4)  # compressed: positive pressure, negative ASE stress
    out = label_structure(LabelTask(atoms, EMTSpec()))
    assert out.info["stress"].shape == (6,)
    assert out.info["stress"][0] < 0 and abs(out.info["stress"][0]) < 1.0  # eV/Å³, not GPa
    assert out.info["label_calculator"] == "EMT"


def test_inline_executor_captures_failures_in_order() -> None:
    seen: list[int] = []
    with TaskExecutor(n_workers=1, progress=False) as ex:
        results = ex.map(math.sqrt, [4.0, -1.0, 9.0], on_result=lambda r: seen.append(r.index))
    assert [r.index for r in results] == [0, 1, 2] and seen == [0, 1, 2]
    assert results[0].value == 2.0 and results[2].value == 3.0
    assert not results[1].ok and results[1].error.startswith("ValueError")
    assert "Traceback" in results[1].traceback


def test_process_pool_executor_runs_in_other_processes() -> None:
    import os

    tasks = [LabelTask(bulk("Cu", "fcc", a=a), EMTSpec()) for a in (3.5, 3.6, 3.7)]
    tasks.append(LabelTask(bulk("Cu", "fcc", a=3.6), ImportedCalculatorSpec("no.such.Calc")))
    # fork: spawned workers re-import numpy/ase, ~10 s on this loaded 2-core machine
    with TaskExecutor(n_workers=2, start_method="fork", progress=False) as ex:
        results = ex.map(label_structure, tasks, description="label")
    assert len(results) == 4 and all(isinstance(r, TaskResult) for r in results)
    assert [r.ok for r in results] == [True, True, True, False]
    assert "Cannot import calculator" in results[3].error
    assert all(not r.worker.endswith(f":{os.getpid()}") for r in results)
    energies = [r.value.info["energy"] for r in results[:3]]
    assert np.argmin(energies) == 1  # EMT Cu equilibrium is near a = 3.6 Å


_CTRL_C_SCRIPT = """
import time
from foundation_model.workflows.datagen.executor import TaskExecutor
ex = TaskExecutor(n_workers=2, start_method="fork", progress=False)
workers = []
def interrupt(result):
    workers.extend(ex._pool._processes.values())  # the workers, one still sleeping
    raise KeyboardInterrupt
start = time.perf_counter()
try:
    ex.map(time.sleep, [0.1, 120.0, 120.0], on_result=interrupt)
except KeyboardInterrupt:
    pass
import json
alive = [w.pid for w in workers if w.is_alive()]
print(json.dumps({"workers": len(workers), "alive": alive, "closed": ex._pool is None,
                  "seconds": time.perf_counter() - start}))
"""


def test_ctrl_c_stops_the_pool_workers_at_once() -> None:
    """A Ctrl-C in the main process (here raised where a result is saved) stops the
    workers still running instead of waiting for their long tasks, and leaves none behind.
    Run in a fresh interpreter: the test process's own threads and children stay out."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", _CTRL_C_SCRIPT], capture_output=True, text=True, timeout=100
    )
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["workers"] == 2 and out["alive"] == [] and out["closed"], out
    assert out["seconds"] < 60, out  # not the 120 s of the running tasks


def test_executor_rejects_bad_settings() -> None:
    with pytest.raises(ValueError, match="n_workers"):
        TaskExecutor(n_workers=0)
    with pytest.raises(ValueError, match="backend"):
        TaskExecutor(backend="ray")  # type: ignore[arg-type]
    ex = TaskExecutor(n_workers=2, backend="dask", scheduler_address="tcp://x:1")
    assert pickle.loads(pickle.dumps(ex)).scheduler_address == "tcp://x:1"
