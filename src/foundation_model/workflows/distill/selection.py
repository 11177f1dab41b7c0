"""Step 2: committee disagreement and selection under the oracle budget.

A committee of fine-tuned models predicts every pool structure; where the members disagree
the model is unsure, so an oracle label there is worth most. The score of a structure is

``energy_weight * std_m(E_m / N) + force_weight * mean_atoms( sqrt(sum_xyz var_m(F_m)) )``

(eV/atom and eV/Å). :class:`CommitteeSelector` picks the top-k or every structure above a
threshold, capped by what is left of the budget.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from foundation_model.utils.class_path import ClassPathSerializable


@dataclass
class Disagreement:
    """Committee disagreement per structure.

    Attributes:
        energy_std: ``(S,)`` standard deviation of the energy per atom (eV/atom).
        force_std: ``(S,)`` mean over atoms of the force standard deviation (eV/Å).
        score: ``(S,)`` the weighted sum used for ranking.
    """

    energy_std: np.ndarray
    force_std: np.ndarray
    score: np.ndarray


def committee_disagreement(
    energies: np.ndarray,
    forces: list[np.ndarray],
    n_atoms: np.ndarray,
    energy_weight: float = 1.0,
    force_weight: float = 1.0,
) -> Disagreement:
    """Disagreement of ``M`` members on ``S`` structures.

    Args:
        energies: ``(M, S)`` total energies (eV).
        forces: per structure ``(M, N_s, 3)`` forces (eV/Å).
        n_atoms: ``(S,)`` atoms per structure.
        energy_weight: weight of the energy term.
        force_weight: weight of the force term.
    """
    energies = np.asarray(energies, dtype=float)
    if energies.ndim != 2 or energies.shape[0] < 2:
        raise ValueError(f"A committee needs >= 2 members; energies have shape {energies.shape}.")
    e_std = (energies / np.asarray(n_atoms, dtype=float)).std(axis=0)  # (S,)
    f_std = np.array([np.sqrt(f.var(axis=0).sum(-1)).mean() for f in forces])  # (S,)
    return Disagreement(e_std, f_std, energy_weight * e_std + force_weight * f_std)


class CommitteeSelector(ClassPathSerializable):
    """Chooses the structures to label in one round.

    Args:
        mode: ``top_k`` (the ``per_round`` highest scores) or ``threshold`` (every score
            above ``threshold``, highest first, at most ``per_round``).
        per_round: most structures labelled per round.
        threshold: score threshold of ``threshold`` mode (eV/atom + eV/Å).
        energy_weight: weight of the energy disagreement in the score.
        force_weight: weight of the force disagreement in the score.
    """

    def __init__(
        self,
        mode: Literal["top_k", "threshold"] = "top_k",
        per_round: int = 10,
        threshold: float | None = None,
        energy_weight: float = 1.0,
        force_weight: float = 1.0,
    ) -> None:
        if mode not in ("top_k", "threshold"):
            raise ValueError(f"Unknown selection mode {mode!r}: use top_k or threshold.")
        if mode == "threshold" and threshold is None:
            raise ValueError("Selection mode 'threshold' needs a threshold.")
        if per_round < 1:
            raise ValueError(f"per_round must be >= 1, got {per_round}.")
        self.mode = mode
        self.per_round = int(per_round)
        self.threshold = threshold
        self.energy_weight = float(energy_weight)
        self.force_weight = float(force_weight)

    def score(self, energies: np.ndarray, forces: list, n_atoms: np.ndarray) -> Disagreement:
        """The committee disagreement with this selector's weights."""
        return committee_disagreement(
            energies, forces, n_atoms, self.energy_weight, self.force_weight
        )

    def select(
        self, scores: np.ndarray, budget_left: int | None, exclude: set[int] | None = None
    ) -> list[int]:
        """Indices to label, highest score first.

        Args:
            scores: ``(S,)`` disagreement scores.
            budget_left: oracle calls left (``None``: unlimited).
            exclude: indices already labelled.
        """
        exclude = exclude or set()
        order = [int(i) for i in np.argsort(-np.asarray(scores), kind="stable") if i not in exclude]
        if self.mode == "threshold":
            order = [i for i in order if scores[i] > float(self.threshold)]
        k = self.per_round if budget_left is None else min(self.per_round, budget_left)
        return order[: max(k, 0)]


def random_selection(n: int, k: int, seed: int, exclude: set[int] | None = None) -> list[int]:
    """``k`` random indices of ``range(n)`` not in ``exclude`` (the baseline strategy)."""
    exclude = exclude or set()
    candidates = np.array([i for i in range(n) if i not in exclude], dtype=int)
    rng = np.random.default_rng(seed)
    return [int(i) for i in rng.permutation(candidates)[: min(k, len(candidates))]]
