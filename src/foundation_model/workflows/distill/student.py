"""Step 6: the student, a linear ACE potential fitted with ``pyace`` and exported to ``.yace``.

Files of a saved student (``ACEStudent.save(directory)``):

* ``student.yace`` - the potential (C-tilde basis, per-element ``E0`` set to the reference
  energies), loadable by ``pyace.PyACECalculator`` and LAMMPS ``pair_style pace``.
* ``student.yaml`` - the same potential as a B-basis (what the active set needs).
* ``student.asi`` - the D-optimality active set: MD with :func:`student_calculator`
  reports the extrapolation grade ``gamma`` per atom (``calc.results["gamma"]``).
* ``student.json`` - elements and reference energies.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ase
import numpy as np

from foundation_model.utils.class_path import ClassPathSerializable
from foundation_model.workflows.distill.ace_basis import (
    ACEBasisSpec,
    DesignRows,
    design_rows,
    fit_reference_energies,
    import_pyace,
    weighted_solve,
)
from foundation_model.workflows.distill.periodic import ace_structure


@dataclass
class ACEStudent:
    """A fitted linear ACE potential.

    Attributes:
        basis: the ``pyace.ACEBBasisSet`` holding the fitted coefficients.
        elements: sorted element symbols of the basis.
        reference: per-element reference energies (eV), order of ``elements``.
    """

    basis: Any
    elements: list[str]
    reference: np.ndarray

    @property
    def coefficients(self) -> np.ndarray:
        return np.asarray(self.basis.basis_coeffs, dtype=float)

    def with_coefficients(self, coefficients: np.ndarray, reference: np.ndarray) -> ACEStudent:
        """A copy with new coefficients and reference energies (the basis is cloned)."""
        pyace = import_pyace()
        basis = pyace.ACEBBasisSet(self.basis.to_BBasisConfiguration())
        basis.basis_coeffs = np.asarray(coefficients, dtype=float).tolist()
        return ACEStudent(basis, list(self.elements), np.asarray(reference, dtype=float))

    def save(self, directory: str | Path, active_set_structures: list[ase.Atoms] | None = None):
        """Write ``student.yace``, ``student.yaml``, ``student.json`` (and ``student.asi``).

        Returns:
            The path of ``student.yace``.
        """
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        yace = directory / "student.yace"
        self.basis.to_ACECTildeBasisSet().save_yaml(str(yace))
        e0 = ", ".join(f"{float(v):.12g}" for v in self.reference)
        text = re.sub(r"^E0: \[.*\]$", f"E0: [{e0}]", yace.read_text(), count=1, flags=re.M)
        yace.write_text(text)
        self.basis.save(str(directory / "student.yaml"))
        meta = {"elements": self.elements, "reference_energies": self.reference.tolist()}
        (directory / "student.json").write_text(json.dumps(meta, indent=2) + "\n")
        if active_set_structures:
            write_active_set(self.basis, active_set_structures, directory / "student.asi")
        return yace

    @classmethod
    def load(cls, directory: str | Path) -> ACEStudent:
        """Read a student written by :meth:`save`."""
        pyace = import_pyace()
        directory = Path(directory)
        meta = json.loads((directory / "student.json").read_text())
        basis = pyace.ACEBBasisSet(str(directory / "student.yaml"))
        return cls(basis, list(meta["elements"]), np.asarray(meta["reference_energies"]))


def write_active_set(basis: Any, structures: list[ase.Atoms], path: str | Path) -> Path:
    """D-optimality (MaxVol) active set of ``structures`` written as ``.asi``."""
    from pyace.activelearning import (
        compute_A_active_inverse,
        compute_active_set,
        compute_B_projections,
        save_active_inverse_set,
    )

    cutoff = float(basis.cutoffmax)
    clean = [ace_structure(a, cutoff) for a in structures]  # slabs: periodic equivalents
    projections, index = compute_B_projections(
        basis, clean, structure_ind_list=list(range(len(clean)))
    )
    try:
        active, _ = compute_active_set(projections, index, tol=1.001, max_iters=300)
    except ValueError as err:  # fewer atoms of an element than basis functions
        raise ValueError(
            f"The active set needs more atoms of every element than ACE functions per "
            f"element: give more structures or a smaller basis ({err})."
        ) from err
    inverse = compute_A_active_inverse(active)
    save_active_inverse_set(str(path), inverse, elements_name=list(basis.elements_name))
    return Path(path)


def student_calculator(directory: str | Path, active_set: bool = True) -> Any:
    """ASE calculator of a saved student.

    With ``active_set`` (and ``student.asi`` present) the B-basis is evaluated with the
    active set, so ``calc.results["gamma"]`` holds the per-atom extrapolation grade; the
    reference energies are added back to its energies. Otherwise ``student.yace`` is used
    and ``gamma`` is NaN (unknown, not zero). Slabs and wires work: they are evaluated as
    their periodic equivalent (:func:`.periodic.ace_structure`).

    Args:
        directory: a saved student folder (``<step>/student``), or a ``fm distill``
            ``output_dir``: its current final student (the delta-corrected one, else the
            plain student) as recorded in the run's ``state.json``.
        active_set: evaluate with the active set (gives ``gamma``) when there is one.
    """
    directory = current_student(Path(directory))
    asi = directory / "student.asi"
    meta = json.loads((directory / "student.json").read_text())
    if not (active_set and asi.is_file()):
        calc = _student_calculator_class()(str(directory / "student.yace"))
        calc.elements = list(meta["elements"])
        return calc
    calc = _student_calculator_class()(str(directory / "student.yaml"))
    calc.elements = list(meta["elements"])
    calc.reference = dict(zip(meta["elements"], meta["reference_energies"], strict=True))
    calc.set_active_set(str(asi))
    return calc


def current_student(directory: Path) -> Path:
    """``directory`` itself when it holds a student, else the final student of the
    ``fm distill`` run it is the output folder of (older step folders of resumed runs with
    other settings stay beside it, so the name alone does not tell which is current).

    Raises:
        FileNotFoundError: one line, when neither is there.
    """
    if (directory / "student.json").is_file():
        return directory
    if not (directory / "state.json").is_file():
        raise FileNotFoundError(
            f"{directory} holds no student (student.json) and no fm distill run "
            "(state.json); give a '<run>/7_delta-<hash>/student' folder or the run's output_dir."
        )
    from foundation_model.workflows.run_state_file import read_state

    steps = read_state(directory / "state.json", "distill").get("steps", {})
    for step in ("delta", "student"):
        record = steps.get(step) or {}
        found = directory / str(record.get("directory", "")) / "student"
        if record.get("status") == "done" and (found / "student.json").is_file():
            return found
    raise FileNotFoundError(
        f"{directory}: the fm distill run has no finished student yet; run it to the end "
        "(fm distill --config ... --resume)."
    )


def _student_calculator_class() -> type:
    pyace = import_pyace()

    class StudentACECalculator(pyace.PyACECalculator):
        """``PyACECalculator`` that refuses elements outside the student's basis with one
        line (pyace's own error is a bare "Unsupported species"), evaluates slabs and
        wires as their periodic equivalent (pyace reads only fully periodic or fully open
        cells), reports ``gamma`` as NaN without an active set (pyace's zeros would read as
        safe interpolation), and adds the reference energies back on a B-basis
        (``student.yace`` holds them already)."""

        reference: dict[str, float] = {}
        elements: list[str] = []

        def get_atomic_env(self, atoms: ase.Atoms) -> Any:
            return super().get_atomic_env(ace_structure(atoms, float(self.cutoff)))

        def calculate(self, atoms=None, properties=("energy", "forces"), system_changes=None):
            symbols = set((atoms or self.atoms).get_chemical_symbols())
            unknown = sorted(symbols - set(self.elements)) if self.elements else []
            if unknown:
                raise ValueError(
                    f"The ACE student knows only {self.elements}; this structure also has "
                    f"{unknown}: distil again with those elements in the pool."
                )
            kwargs = {} if system_changes is None else {"system_changes": system_changes}
            super().calculate(atoms, properties, **kwargs)
            shift = sum(self.reference.get(s, 0.0) for s in self.atoms.get_chemical_symbols())
            for key in ("energy", "free_energy"):
                if key in self.results:
                    self.results[key] = float(self.results[key]) + shift
            if not self.is_active_set_configured:
                self.results["gamma"] = np.full(len(self.atoms), np.nan)

    return StudentACECalculator


class ACEStudentTrainer(ClassPathSerializable):
    """Fits the student on surrogate-labelled structures (a weighted linear ACE fit).

    Args:
        basis: shape of the ACE basis.
        energy_weight: weight of an energy-per-atom row (eV/atom)^-2 relative to a force row.
        force_weight: weight of a force-component row.
        ridge: Tikhonov regularisation (relative to the normal matrix' mean diagonal).
    """

    def __init__(
        self,
        basis: ACEBasisSpec | None = None,
        energy_weight: float = 10.0,
        force_weight: float = 1.0,
        ridge: float = 1e-8,
    ) -> None:
        self.basis = ACEBasisSpec.from_dict(basis) if basis is not None else ACEBasisSpec()
        self.energy_weight = float(energy_weight)
        self.force_weight = float(force_weight)
        self.ridge = float(ridge)

    def init_args(self) -> dict[str, Any]:
        args = super().init_args()
        args["basis"] = self.basis.to_dict()
        return args

    def rows(self, student_or_elements: ACEStudent | list[str], structures: list[ase.Atoms]):
        """Design rows of ``structures`` for a student's basis (or a new basis)."""
        if isinstance(student_or_elements, ACEStudent):
            return design_rows(student_or_elements.basis, structures, student_or_elements.elements)
        elements = sorted(student_or_elements)
        return design_rows(self.basis.build(elements), structures, elements)

    def fit(self, structures: list[ase.Atoms], elements: list[str] | None = None) -> ACEStudent:
        """Fit a new student on labelled ``structures``."""
        elements = sorted(elements or {s for a in structures for s in a.get_chemical_symbols()})
        basis = self.basis.build(elements)
        rows = design_rows(basis, structures, elements)
        return self.fit_rows(basis, elements, rows)

    def fit_rows(self, basis: Any, elements: list[str], rows: DesignRows) -> ACEStudent:
        """Fit the coefficients of ``basis`` on prepared rows."""
        reference = fit_reference_energies(rows.composition, rows.energies)
        rows = rows.with_reference(reference)
        coefficients = weighted_solve([(rows, self.energy_weight, self.force_weight)], self.ridge)
        basis.basis_coeffs = coefficients.tolist()
        return ACEStudent(basis, list(elements), reference)
