"""DFT oracle: VASP through ASE.

:meth:`VaspOracle.write_inputs` writes INCAR, KPOINTS and POSCAR (and POTCAR when
``VASP_PP_PATH`` points at the pseudopotential library) without running anything. Each
worker process computes in its own sub-directory of ``directory``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import ase
import ase.io
from ase.calculators.calculator import Calculator

from foundation_model.workflows.datagen.calculators import CalculatorSpec
from foundation_model.workflows.datagen.executor import TaskExecutor
from foundation_model.workflows.distill.oracles.base import Oracle


def _vasp_settings(incar: dict[str, Any] | None) -> dict[str, Any]:
    """INCAR settings with what an oracle needs (single point, stress computed)."""
    settings = {key.lower(): value for key, value in (incar or {}).items()}
    settings.setdefault("ibrion", -1)
    settings.setdefault("nsw", 0)
    settings.setdefault("isif", 2)
    settings.setdefault("lwave", False)
    settings.setdefault("lcharg", False)
    return settings


class VaspSpec(CalculatorSpec):
    """Builds ``ase.calculators.vasp.Vasp`` in the worker.

    Args:
        command: the VASP command (e.g. ``mpirun -np 4 vasp_std``).
        incar: INCAR tags (lower or upper case), e.g. ``{encut: 400, xc: PBE}``.
        kpts: Monkhorst-Pack grid.
        directory: parent folder of the per-process working folders.
        cutoff: interaction range used for cell-size validation (Å).
    """

    def __init__(
        self,
        command: str = "vasp_std",
        incar: dict[str, Any] | None = None,
        kpts: list[int] | None = None,
        directory: str = "vasp",
        cutoff: float = 6.0,
    ) -> None:
        super().__init__(cutoff)
        self.command = command
        self.incar = _vasp_settings(incar)
        self.kpts = list(kpts or [1, 1, 1])
        self.directory = directory

    def build(self) -> Calculator:
        from ase.calculators.vasp import Vasp

        return Vasp(
            command=self.command,
            directory=str(Path(self.directory) / f"worker_{os.getpid()}"),
            kpts=tuple(self.kpts),
            **self.incar,
        )

    @property
    def label(self) -> str:
        return "VASP"


class VaspOracle(Oracle):
    """VASP as the reference (the VASP binary and ``VASP_PP_PATH`` are needed to run).

    Args:
        incar: INCAR tags, e.g. ``{xc: PBE, encut: 400}`` (single point by default).
        kpts: Monkhorst-Pack grid.
        command: the VASP command.
        directory: working folder.
        budget: most oracle calls allowed (``None``: unlimited).
        max_retries: extra attempts for a failed structure.
        executor: where batches run (default: in this process).
        stress: compute the stress of 3D-periodic cells.
    """

    def __init__(
        self,
        incar: dict[str, Any] | None = None,
        kpts: list[int] | None = None,
        command: str = "vasp_std",
        directory: str = "vasp",
        budget: int | None = None,
        max_retries: int = 1,
        executor: TaskExecutor | None = None,
        stress: bool = True,
    ) -> None:
        super().__init__(budget, max_retries, executor, stress)
        self.incar = _vasp_settings(incar)
        self.kpts = list(kpts or [1, 1, 1])
        self.command = command
        self.directory = directory

    def calculator_spec(self) -> VaspSpec:
        return VaspSpec(self.command, self.incar, self.kpts, self.directory)

    def write_inputs(self, atoms: ase.Atoms, directory: str | Path) -> Path:
        """Write INCAR, KPOINTS, POSCAR (+ POTCAR with ``VASP_PP_PATH``); returns the folder."""
        from ase.calculators.vasp import Vasp

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        calc = Vasp(directory=str(directory), kpts=tuple(self.kpts), **self.incar)
        if os.environ.get("VASP_PP_PATH"):
            calc.write_input(atoms)  # reads the POTCARs: all four files
            return directory
        # the part of Vasp.initialize that does not read POTCARs
        calc.check_xc()
        calc.atoms = atoms
        calc._set_spinpol(atoms)
        calc.sort, calc.resort = calc._make_sort(atoms, special_setups=[])
        calc.write_incar(atoms, directory=str(directory))
        calc.write_kpoints(atoms, directory=str(directory))
        ase.io.write(directory / "POSCAR", atoms, format="vasp", direct=True, sort=True)
        return directory
