"""Linear ACE design matrices with python-ace (``pyace``), without TensorFlow.

A linear ACE potential predicts ``E = sum_i E0[el_i] + sum_k c_k B_k`` and forces
``F = sum_k c_k dB_k``. :func:`design_rows` builds the rows of that linear model for a
list of labelled structures: one row per structure for the energy per atom (after the
per-element reference energies are subtracted, since the basis has no constant term) and
three rows per atom for the force components. Weighted least squares over these rows is
the student fit (:mod:`.student`) and the delta correction (:mod:`.delta`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import ase
import numpy as np

from foundation_model.utils.class_path import ClassPathSerializable


def import_pyace() -> Any:
    """Import ``pyace`` or raise an error naming the extra that installs it."""
    try:
        import pyace
    except ImportError as err:
        raise ImportError(
            "The ACE student needs python-ace (import pyace): install it with `uv sync "
            "--locked --extra ace` (with the --extra flags you already use: uv sync removes "
            "extras it is not given)."
        ) from err
    return pyace


class ACEBasisSpec(ClassPathSerializable):
    """The shape of the linear ACE basis (one set of functions for every element block).

    Args:
        cutoff: radial cutoff in Å.
        nradmax_by_orders: radial functions per body order (order 1, 2, 3, ...).
        lmax_by_orders: largest angular momentum per body order.
        nradbase: radial base functions (at least ``nradmax_by_orders[0]``).
        radbase: radial base (``ChebExpCos`` or ``ChebPow``).
        radparameter: parameter of the radial base.
    """

    def __init__(
        self,
        cutoff: float = 5.0,
        nradmax_by_orders: list[int] | None = None,
        lmax_by_orders: list[int] | None = None,
        nradbase: int | None = None,
        radbase: str = "ChebExpCos",
        radparameter: float = 5.25,
    ) -> None:
        self.cutoff = float(cutoff)
        if not self.cutoff > 0:
            raise ValueError(f"student basis cutoff must be > 0 Å, got {cutoff}.")
        self.nradmax_by_orders = list(nradmax_by_orders or [8, 4, 3])
        self.lmax_by_orders = list(lmax_by_orders or [0, 2, 1])
        if len(self.nradmax_by_orders) != len(self.lmax_by_orders):
            raise ValueError("nradmax_by_orders and lmax_by_orders need one entry per order.")
        if min(self.nradmax_by_orders) < 1 or min(self.lmax_by_orders) < 0:
            raise ValueError(
                "student basis nradmax_by_orders must be >= 1 and lmax_by_orders >= 0, got "
                f"{self.nradmax_by_orders} and {self.lmax_by_orders}."
            )
        self.nradbase = int(nradbase or self.nradmax_by_orders[0])
        self.radbase = radbase
        self.radparameter = float(radparameter)

    def potential_config(self, elements: list[str]) -> dict[str, Any]:
        """The ``pyace`` multispecies potential configuration of a linear basis."""
        return {
            "deltaSplineBins": 0.001,
            "elements": sorted(elements),
            # ndensity 1 with F(rho) = rho keeps the energy linear in the coefficients
            "embeddings": {
                "ALL": {
                    "npot": "FinnisSinclairShiftedScaled",
                    "fs_parameters": [1, 1],
                    "ndensity": 1,
                }
            },
            "bonds": {
                "ALL": {
                    "radbase": self.radbase,
                    "radparameters": [self.radparameter],
                    "rcut": self.cutoff,
                    "dcut": 0.01,
                    "NameOfCutoffFunction": "cos",
                    "NameOfCutoffFunctionij": "cos",
                }
            },
            "functions": {
                "ALL": {
                    "nradmax_by_orders": self.nradmax_by_orders,
                    "lmax_by_orders": self.lmax_by_orders,
                }
            },
        }

    def build(self, elements: list[str]) -> Any:
        """A fresh ``pyace.ACEBBasisSet`` over ``elements`` with zero coefficients."""
        pyace = import_pyace()
        from pyace.multispecies_basisextension import create_multispecies_basis_config

        return pyace.ACEBBasisSet(create_multispecies_basis_config(self.potential_config(elements)))


@dataclass
class DesignRows:
    """Rows of the linear ACE model for a set of structures.

    Attributes:
        matrix: ``(S + 3N, K)`` energy-per-atom rows, then force-component rows.
        target: ``(S + 3N,)`` targets (energy rows: minus reference energies, per atom).
        n_structures: ``S``, the number of energy rows.
        composition: ``(S, E)`` atom counts per element (order of ``elements``).
        energies: ``(S,)`` total labelled energies (eV).
        elements: element order of ``composition``.
    """

    matrix: np.ndarray
    target: np.ndarray
    n_structures: int
    composition: np.ndarray
    energies: np.ndarray
    elements: list[str] = field(default_factory=list)

    @property
    def n_atoms(self) -> np.ndarray:
        return self.composition.sum(1)

    def with_reference(self, reference: np.ndarray) -> DesignRows:
        """The same rows with energy targets relative to per-element ``reference`` (eV)."""
        target = self.target.copy()
        target[: self.n_structures] = (self.energies - self.composition @ reference) / self.n_atoms
        return DesignRows(
            self.matrix, target, self.n_structures, self.composition, self.energies, self.elements
        )


def composition_matrix(structures: list[ase.Atoms], elements: list[str]) -> np.ndarray:
    """``(S, E)`` atom counts of every element in every structure."""
    index = {e: i for i, e in enumerate(elements)}
    out = np.zeros((len(structures), len(elements)))
    for s, atoms in enumerate(structures):
        for symbol in atoms.get_chemical_symbols():
            if symbol not in index:
                raise ValueError(f"Element {symbol} is not in the ACE basis elements {elements}.")
            out[s, index[symbol]] += 1
    return out


def fit_reference_energies(composition: np.ndarray, energies: np.ndarray) -> np.ndarray:
    """Per-element energies (eV) by least squares of ``energies ~ composition @ e0``."""
    e0, *_ = np.linalg.lstsq(composition, energies, rcond=None)
    return e0


def design_rows(basis: Any, structures: list[ase.Atoms], elements: list[str]) -> DesignRows:
    """Linear ACE rows of labelled structures (``info['energy']``, ``arrays['forces']``).

    The rows are computed in this process, structure by structure, so a structure pyace
    cannot read raises here (naming it) instead of leaving zero rows behind. Slabs and
    wires are evaluated as their periodic equivalent (:func:`.periodic.ace_structure`).

    Args:
        basis: a ``pyace.ACEBBasisSet``.
        structures: labelled structures.
        elements: element order (the basis' sorted elements).

    Raises:
        ValueError: no structures, an element outside ``elements``, or a structure whose
            atomic environment pyace cannot build or evaluate.
    """
    if not structures:
        raise ValueError("No labelled structure to build ACE rows from.")
    composition = composition_matrix(structures, elements)  # unknown elements: one line
    energies = np.array([float(a.info["energy"]) for a in structures])
    forces = [np.asarray(a.arrays["forces"], dtype=float).reshape(-1) for a in structures]
    n_atoms = [len(a) for a in structures]
    evaluate = _RowEvaluator(basis)
    matrix = np.zeros((len(structures) + 3 * sum(n_atoms), evaluate.n_functions))  # (S + 3N, K)
    row = len(structures)
    for s, atoms in enumerate(structures):
        energy_row, force_rows = evaluate(atoms, s)
        matrix[s] = energy_row
        matrix[row : row + 3 * n_atoms[s]] = force_rows
        row += 3 * n_atoms[s]
    target = np.concatenate([energies / np.asarray(n_atoms), *forces])
    rows = DesignRows(matrix, target, len(structures), composition, energies, list(elements))
    return rows.with_reference(np.zeros(len(elements)))


class _RowEvaluator:
    """Energy-per-atom row ``(K,)`` and force rows ``(3N, K)`` of one structure (the
    rows of ``pyace.linearacefit``, computed without its worker processes)."""

    def __init__(self, basis: Any) -> None:
        pyace = import_pyace()
        from pyace.linearacefit import compute_nfunc_func_ind_shift

        self.basis = basis
        self.evaluator = pyace.ACEBEvaluator(basis)  # kept: the calculator only points to it
        self.calc = pyace.ACECalculator(self.evaluator)
        self.n_functions, self.shift = compute_nfunc_func_ind_shift(basis)

    def __call__(self, atoms: ase.Atoms, index: int) -> tuple[np.ndarray, np.ndarray]:
        from pyace.atomicenvironment import aseatoms_to_atomicenvironment

        from foundation_model.workflows.distill.periodic import ace_structure

        cutoff = float(self.basis.cutoffmax)
        try:
            readable = ace_structure(atoms, cutoff)
        except ValueError as err:
            raise ValueError(f"ACE rows of structure {index}: {err}") from err
        try:
            env = aseatoms_to_atomicenvironment(
                readable, cutoff=cutoff, elements_mapper_dict=self.basis.elements_to_index_map
            )
            self.calc.compute(env, compute_projections=True, compute_b_grad=True)
        except (ValueError, KeyError, RuntimeError) as err:
            raise ValueError(
                f"pyace could not evaluate structure {index} ({atoms.get_chemical_formula()}, "
                f"pbc={np.asarray(atoms.pbc).tolist()}): {str(err).rstrip('.')}; fix or "
                "remove that structure."
            ) from err
        n = len(atoms)
        energy_row = np.zeros(self.n_functions)
        # species_type lists the real atoms first, then their periodic images
        species = list(env.species_type)[:n]
        for kind, projection in zip(species, self.calc.projections, strict=True):
            start = self.shift[kind]
            energy_row[start : start + len(projection)] += projection
        grads = np.asarray(self.calc.forces_bfuncs, dtype=float)  # (N, K, 3)
        return energy_row / n, grads.transpose(0, 2, 1).reshape(3 * n, self.n_functions)


def weighted_solve(
    blocks: list[tuple[DesignRows, float, float]],
    ridge: float,
    prior: np.ndarray | None = None,
) -> np.ndarray:
    """Coefficients minimising ``sum_b w_b |A_b c - y_b|^2 + ridge |c - prior|^2``.

    Args:
        blocks: ``(rows, energy_weight, force_weight)``; a weight multiplies the squared
            residual of every energy (per atom) or force-component row of that block.
        ridge: Tikhonov strength (relative to the mean diagonal of the normal matrix).
        prior: coefficients the fit is pulled towards (zero when ``None``).
    """
    k = blocks[0][0].matrix.shape[1]
    normal = np.zeros((k, k))
    rhs = np.zeros(k)
    for rows, w_energy, w_force in blocks:
        weights = np.full(rows.matrix.shape[0], float(w_force))
        weights[: rows.n_structures] = float(w_energy)
        weighted = rows.matrix * weights[:, None]
        normal += rows.matrix.T @ weighted
        rhs += weighted.T @ rows.target
    scale = float(np.mean(np.diag(normal))) or 1.0
    lam = ridge * scale
    prior = np.zeros(k) if prior is None else np.asarray(prior, dtype=float)
    return np.linalg.solve(normal + lam * np.eye(k), rhs + lam * prior)


def predict_rows(rows: DesignRows, coefficients: np.ndarray, reference: np.ndarray) -> tuple:
    """Predicted total energies ``(S,)`` and forces ``(N, 3)`` of ``rows``."""
    pred = rows.matrix @ coefficients
    energies = pred[: rows.n_structures] * rows.n_atoms + rows.composition @ reference
    return energies, pred[rows.n_structures :].reshape(-1, 3)
