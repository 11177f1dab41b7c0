"""Farthest point sampling on descriptors, per structure or per atomic environment."""

from __future__ import annotations

from collections.abc import Sequence

import ase
import numpy as np

from foundation_model.workflows.datagen.samplers.base import Sampler
from foundation_model.workflows.datagen.samplers.descriptors import Descriptor, SOAPDescriptor


def _sq_dist_to(x: np.ndarray, sq_norms: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Squared distances ``(n,)`` from every row of ``x`` to ``y``, by one matrix-vector
    product (no ``(n, D)`` temporary)."""
    return np.maximum(sq_norms - 2.0 * (x @ y) + y @ y, 0.0)


def farthest_point_sampling(x: np.ndarray, k: int, first: int = 0) -> list[int]:
    """Greedy FPS: start at ``first``, then repeatedly take the point farthest (Euclidean)
    from all points taken so far. ``x`` is ``(n, D)``; returns ``k`` distinct indices."""
    x = np.asarray(x, dtype=float)
    k = min(k, len(x))
    sq_norms = np.einsum("ij,ij->i", x, x)  # (n,)
    chosen = [int(first)]
    dist = _sq_dist_to(x, sq_norms, x[first])  # (n,) squared distance to the chosen set
    dist[first] = -1.0
    for _ in range(k - 1):
        nxt = int(np.argmax(dist))
        chosen.append(nxt)
        np.minimum(dist, _sq_dist_to(x, sq_norms, x[nxt]), out=dist)
        dist[chosen] = -1.0
    return chosen


def covering_radius(x: np.ndarray, chosen: Sequence[int]) -> float:
    """Largest distance from any point to its nearest chosen point (lower is better)."""
    x = np.asarray(x, dtype=float)
    sq_norms = np.einsum("ij,ij->i", x, x)
    dist = np.full(len(x), np.inf)
    for i in chosen:
        np.minimum(dist, _sq_dist_to(x, sq_norms, x[i]), out=dist)
    dist[list(chosen)] = 0.0
    return float(np.sqrt(dist.max()))


def fps_environments(envs: Sequence[np.ndarray], k: int, first: int = 0) -> list[int]:
    """FPS of structures by their atomic environments.

    A structure's distance to the chosen set is that of its environment farthest from
    every chosen environment; taking a structure adds all its environments to the set.
    """
    owner = np.concatenate([np.full(len(e), i) for i, e in enumerate(envs)])
    x = np.concatenate(envs).astype(float)  # (sum n_atoms, D)
    sq_norms = np.einsum("ij,ij->i", x, x)
    k = min(k, len(envs))
    dist = np.full(len(x), np.inf)
    chosen: list[int] = []
    nxt = int(first)
    while len(chosen) < k:
        chosen.append(nxt)
        for v in envs[nxt]:
            np.minimum(dist, _sq_dist_to(x, sq_norms, v), out=dist)
        dist[np.isin(owner, chosen)] = -1.0
        nxt = int(owner[int(np.argmax(dist))])
    return chosen


class FPSSampler(Sampler):
    """Farthest point sampling on a descriptor (SOAP by default).

    Args:
        n_samples: frames to keep.
        descriptor: the descriptor (``SOAPDescriptor`` or ``BackboneDescriptor``).
        per_environment: FPS over atomic environments instead of structure averages
            (needs a descriptor with environments, i.e. SOAP).
        first: ``random`` (seeded) or ``highest_energy`` for the first pick.
    """

    def __init__(
        self,
        n_samples: int = 100,
        descriptor: Descriptor | None = None,
        per_environment: bool = False,
        first: str = "random",
    ) -> None:
        super().__init__(n_samples)
        if first not in ("random", "highest_energy"):
            raise ValueError(f"FPSSampler: first must be random or highest_energy, got {first!r}.")
        self.descriptor = descriptor or SOAPDescriptor()
        self.per_environment = per_environment
        self.first = first

    def _first(self, frames: Sequence[ase.Atoms], seed: int) -> int:
        if self.first == "highest_energy":
            e = [a.info.get("energy", -np.inf) / len(a) for a in frames]
            return int(np.argmax(e))
        return int(np.random.default_rng(seed).integers(len(frames)))

    def select(self, frames: Sequence[ase.Atoms], seed: int) -> list[int]:
        first = self._first(frames, seed)
        k = self._k(len(frames))
        if self.per_environment:
            envs = self.descriptor.environments(frames)
            self.features = np.stack([e.mean(axis=0) for e in envs])
            return fps_environments(envs, k, first)
        self.features = self.descriptor.structures(frames)
        return farthest_point_sampling(self.features, k, first)
