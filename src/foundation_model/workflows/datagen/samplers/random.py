"""Uniform random sampling (the baseline)."""

from __future__ import annotations

from collections.abc import Sequence

import ase
import numpy as np

from foundation_model.workflows.datagen.samplers.base import Sampler


class RandomSampler(Sampler):
    """``n_samples`` frames drawn uniformly without replacement.

    Args:
        n_samples: frames to keep.
    """

    def select(self, frames: Sequence[ase.Atoms], seed: int) -> list[int]:
        rng = np.random.default_rng(seed)
        return [int(i) for i in rng.choice(len(frames), self._k(len(frames)), replace=False)]
