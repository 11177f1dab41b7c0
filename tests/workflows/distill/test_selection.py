"""Committee disagreement and selection under the budget."""

from __future__ import annotations

import numpy as np
import pytest

from foundation_model.workflows.distill.selection import (
    CommitteeSelector,
    committee_disagreement,
    random_selection,
)


def _committee(n_structures: int, noisy: dict[int, float], seed: int = 0):
    """3 members that agree up to 1 meV/Å except on ``noisy`` structures (spread in eV/Å)."""
    rng = np.random.default_rng(seed)
    n_atoms = rng.integers(4, 12, n_structures)
    base_e = rng.normal(size=n_structures) * n_atoms
    energies = np.stack([base_e + rng.normal(0, 1e-3, n_structures) for _ in range(3)])
    forces = []
    for s, n in enumerate(n_atoms):
        base = rng.normal(size=(n, 3))
        spread = noisy.get(s, 1e-3)
        forces.append(np.stack([base + rng.normal(0, spread, (n, 3)) for _ in range(3)]))
    return energies, forces, n_atoms


def test_top_k_picks_the_planted_disagreements() -> None:
    energies, forces, n_atoms = _committee(40, {3: 0.5, 17: 0.3, 29: 0.8})
    selector = CommitteeSelector(per_round=3)
    scores = selector.score(energies, forces, n_atoms).score
    assert selector.select(scores, budget_left=None) == [29, 3, 17]  # highest first
    assert selector.select(scores, budget_left=2) == [29, 3]  # capped by the budget
    assert selector.select(scores, budget_left=None, exclude={29})[:2] == [3, 17]


def test_energy_disagreement_alone_is_detected() -> None:
    energies, forces, n_atoms = _committee(10, {})
    energies[:, 6] += np.array([-1.0, 0.0, 1.0]) * n_atoms[6]  # 0.8 eV/atom spread
    d = committee_disagreement(energies, forces, n_atoms)
    assert int(np.argmax(d.score)) == 6 and d.energy_std[6] == pytest.approx(
        np.sqrt(2 / 3), rel=1e-2
    )


def test_threshold_mode_and_validation() -> None:
    energies, forces, n_atoms = _committee(20, {2: 0.5, 5: 0.05})
    selector = CommitteeSelector(mode="threshold", threshold=0.2, per_round=10)
    assert selector.select(selector.score(energies, forces, n_atoms).score, None) == [2]
    with pytest.raises(ValueError, match="threshold"):
        CommitteeSelector(mode="threshold")
    with pytest.raises(ValueError, match=">= 2 members"):
        committee_disagreement(energies[:1], forces, n_atoms)


def test_random_selection_is_seeded_and_excludes() -> None:
    a = random_selection(30, 5, seed=3, exclude={0, 1})
    assert a == random_selection(30, 5, seed=3, exclude={0, 1})
    assert len(set(a)) == 5 and not {0, 1} & set(a)
