"""The sampler interface."""

from __future__ import annotations

from collections.abc import Sequence

import ase
import numpy as np

from foundation_model.utils.class_path import ClassPathSerializable


class Sampler(ClassPathSerializable):
    """Picks ``n_samples`` frames out of many.

    Subclasses implement :meth:`select`; after it, :attr:`features` may hold the
    per-frame descriptor matrix used (for the descriptor-space plot).

    Args:
        n_samples: frames to keep (all frames when fewer exist).
    """

    def __init__(self, n_samples: int = 100) -> None:
        if n_samples < 1:
            raise ValueError(f"{type(self).__name__}: n_samples must be >= 1.")
        self.n_samples = int(n_samples)
        self.features: np.ndarray | None = None

    def select(self, frames: Sequence[ase.Atoms], seed: int) -> list[int]:
        """Indices (into ``frames``) of the chosen frames, in pick order."""
        raise NotImplementedError

    def _k(self, n: int) -> int:
        return min(self.n_samples, n)
