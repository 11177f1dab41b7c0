"""Per-element reference energies fitted by least squares on the training split."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor, nn

MAX_Z = 119


def composition_matrix(numbers: Sequence[np.ndarray]) -> np.ndarray:
    """``(S, MAX_Z)`` element counts of each structure."""
    counts = np.zeros((len(numbers), MAX_Z))
    for i, z in enumerate(numbers):
        np.add.at(counts[i], np.asarray(z, dtype=int), 1.0)
    return counts


def fit_reference_energies(
    numbers: Sequence[np.ndarray], energies: np.ndarray, ridge: float = 1e-8
) -> np.ndarray:
    """Least-squares ``E_s ~ sum_Z n_sZ e_Z``; returns ``e (MAX_Z,)`` (zero for absent elements).

    Args:
        numbers: atomic numbers of every structure.
        energies: ``(S,)`` energies (labels, or label minus backbone prediction) in eV.
        ridge: tiny L2 term that keeps collinear compositions (e.g. only pure elements
            at one ratio) solvable.
    """
    counts = composition_matrix(numbers)
    present = counts.sum(0) > 0
    A = counts[:, present]  # (S, K)
    y = np.asarray(energies, dtype=float)
    lhs = A.T @ A + ridge * len(y) * np.eye(A.shape[1])
    coef = np.linalg.solve(lhs, A.T @ y)
    out = np.zeros(MAX_Z)
    out[present] = coef
    return out


class ReferenceEnergies(nn.Module):
    """Adds ``sum_i e[Z_i]`` to the backbone energy; ``e`` is a buffer fitted on train data."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("values", torch.zeros(MAX_Z))
        self.register_buffer("fitted", torch.tensor(False))
        self.register_buffer("present", torch.zeros(MAX_Z, dtype=torch.bool))  # fitted on
        self._warned: set[int] = set()  # elements already warned about (no fitted energy)

    def set(self, values: np.ndarray | Tensor, present: np.ndarray | None = None) -> None:
        """Store fitted energies.

        Args:
            values: ``(MAX_Z,)`` energies in eV.
            present: ``(MAX_Z,)`` elements the fit saw (default: those with a nonzero
                energy; a fitted energy can be exactly 0, e.g. on labels from the backbone
                itself).
        """
        values = np.asarray(values, dtype=float)
        present = values != 0 if present is None else np.asarray(present, dtype=bool)
        self.values.copy_(torch.as_tensor(values, dtype=self.values.dtype))
        self.present.copy_(torch.as_tensor(present))
        self.fitted.fill_(True)

    def _load_from_state_dict(self, state_dict: dict, prefix: str, *args, **kwargs) -> None:
        values = state_dict.get(prefix + "values")
        if prefix + "present" not in state_dict and values is not None:
            state_dict[prefix + "present"] = values != 0  # checkpoints from before ``present``
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def forward(self, numbers: Tensor, batch_index: Tensor, num_graphs: int) -> Tensor:
        per_atom = self.values[numbers]  # (N,)
        if bool(self.fitted) and not self.training:
            self._warn_unfitted(numbers[~self.present[numbers]])
        return per_atom.new_zeros(num_graphs).index_add(0, batch_index, per_atom)  # (B,)

    def _warn_unfitted(self, numbers: Tensor) -> None:
        """Warn once per element that has no fitted reference energy (absent from the
        fine-tuning structures): its atoms add 0 eV, so total energies are off by a constant."""
        if numbers.numel() == 0:
            return
        from ase.data import chemical_symbols

        new = sorted(set(numbers.unique().tolist()) - self._warned)
        if new:
            self._warned.update(new)
            warnings.warn(
                f"{[chemical_symbols[z] for z in new]} had no structure in the fine-tuning "
                "data, so their reference energy is 0 eV: total energies of structures with "
                "them are shifted (forces are not); add such structures to the training set.",
                stacklevel=3,
            )

    def extra_repr(self) -> str:
        nz = torch.nonzero(self.values).flatten().tolist()
        return f"fitted={bool(self.fitted)}, elements={nz}"
