"""DFT oracle: Quantum ESPRESSO (``pw.x``) through ASE.

Inputs are written by ASE's ``espresso-in`` writer; :meth:`EspressoOracle.write_inputs`
writes one for inspection without running anything. Each worker process computes in its
own sub-directory of ``directory`` (no two processes share files).
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


def _espresso_settings(input_data: dict[str, Any] | None) -> dict[str, Any]:
    """``input_data`` with the flags an oracle needs (forces and stress printed)."""
    data = {key: dict(value) for key, value in (input_data or {}).items()}
    control = data.setdefault("control", {})
    control.setdefault("calculation", "scf")
    control.setdefault("tprnfor", True)
    control.setdefault("tstress", True)
    return data


class EspressoSpec(CalculatorSpec):
    """Builds ``ase.calculators.espresso.Espresso`` in the worker.

    Args:
        command: the ``pw.x`` command (e.g. ``mpirun -np 4 pw.x``).
        pseudo_dir: folder of the pseudopotential files.
        pseudopotentials: element -> pseudopotential file name.
        input_data: ``pw.x`` namelists, e.g. ``{system: {ecutwfc: 40}}``.
        kpts: Monkhorst-Pack grid (``None``: Gamma only).
        directory: parent folder of the per-process working folders.
        cutoff: interaction range used for cell-size validation (Å).
    """

    def __init__(
        self,
        command: str = "pw.x",
        pseudo_dir: str = ".",
        pseudopotentials: dict[str, str] | None = None,
        input_data: dict[str, Any] | None = None,
        kpts: list[int] | None = None,
        directory: str = "espresso",
        cutoff: float = 6.0,
    ) -> None:
        super().__init__(cutoff)
        self.command = command
        self.pseudo_dir = pseudo_dir
        self.pseudopotentials = dict(pseudopotentials or {})
        self.input_data = _espresso_settings(input_data)
        self.kpts = list(kpts) if kpts is not None else None
        self.directory = directory

    def build(self) -> Calculator:
        from ase.calculators.espresso import Espresso, EspressoProfile

        profile = EspressoProfile(command=self.command, pseudo_dir=self.pseudo_dir)
        return Espresso(
            profile=profile,
            directory=str(Path(self.directory) / f"worker_{os.getpid()}"),
            input_data=self.input_data,
            pseudopotentials=self.pseudopotentials,
            kpts=tuple(self.kpts) if self.kpts else None,
        )

    @property
    def label(self) -> str:
        return "QuantumESPRESSO"


class EspressoOracle(Oracle):
    """Quantum ESPRESSO as the reference (``pw.x`` must be on the path to run).

    Args:
        pseudopotentials: element -> pseudopotential file name.
        pseudo_dir: folder of the pseudopotential files.
        command: the ``pw.x`` command.
        input_data: ``pw.x`` namelists (``control.tprnfor``/``tstress`` are switched on).
        kpts: Monkhorst-Pack grid (``None``: Gamma only).
        directory: working folder.
        budget: most oracle calls allowed (``None``: unlimited).
        max_retries: extra attempts for a failed structure.
        executor: where batches run (default: in this process).
        stress: compute the stress of 3D-periodic cells.
    """

    def __init__(
        self,
        pseudopotentials: dict[str, str],
        pseudo_dir: str = ".",
        command: str = "pw.x",
        input_data: dict[str, Any] | None = None,
        kpts: list[int] | None = None,
        directory: str = "espresso",
        budget: int | None = None,
        max_retries: int = 1,
        executor: TaskExecutor | None = None,
        stress: bool = True,
    ) -> None:
        super().__init__(budget, max_retries, executor, stress)
        self.pseudopotentials = dict(pseudopotentials)
        self.pseudo_dir = pseudo_dir
        self.command = command
        self.input_data = _espresso_settings(input_data)
        self.kpts = list(kpts) if kpts is not None else None
        self.directory = directory

    def calculator_spec(self) -> EspressoSpec:
        return EspressoSpec(
            self.command,
            self.pseudo_dir,
            self.pseudopotentials,
            self.input_data,
            self.kpts,
            self.directory,
        )

    def write_inputs(self, atoms: ase.Atoms, directory: str | Path) -> Path:
        """Write the ``pw.x`` input of ``atoms`` (no run); returns its path."""
        missing = sorted(set(atoms.get_chemical_symbols()) - set(self.pseudopotentials))
        if missing:
            raise ValueError(f"No pseudopotential given for {missing}.")
        path = Path(directory) / "espresso.pwi"
        path.parent.mkdir(parents=True, exist_ok=True)
        ase.io.write(
            path,
            atoms,
            format="espresso-in",
            input_data=self.input_data,
            pseudopotentials=self.pseudopotentials,
            kpts=tuple(self.kpts) if self.kpts else None,
        )
        return path
