"""``LatentDistance``: how far a row lies from the training rows in the shared representation.

A model's error grows away from the data it was trained on, and an ensemble's spread sees
only part of that. This component keeps the shared representation (``h_task``) of a fixed
subsample of training rows in the checkpoint and gives, for any row, the mean Euclidean
distance to its ``k`` nearest kept rows. The σ map of a regression task can then add it as a
second uncertainty signal (``FlexibleMultiTaskModel(sigma_distance_rows=...)``); on Matbench
it ranked the errors better than the spread alone (``results/bench/calibration/``).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

# distance-matrix entries per block of query rows (float64: 256 MB): the benchmark's check
# over every training row (a bank of ~85k on mp_gap) would need one (rows, bank) matrix of
# many GB for the ~21k test rows at once
MAX_PAIRS = 1 << 25


class LatentDistance(nn.Module):
    """A bank of training-row representations and the kNN distance to it.

    Args:
        rows: most training rows kept (the bank's size in the checkpoint).
        dim: width of the representation.
        k: neighbours averaged.
    """

    def __init__(self, rows: int, dim: int, k: int = 5) -> None:
        super().__init__()
        if rows < 1:
            raise ValueError(f"LatentDistance needs rows >= 1, got {rows}.")
        if k < 1:
            raise ValueError(f"LatentDistance needs k >= 1, got {k}.")
        self.k = k
        self.register_buffer("bank", torch.zeros(rows, dim))
        self.register_buffer("count", torch.zeros((), dtype=torch.long))

    @property
    def ready(self) -> bool:
        """Whether the bank holds any row (it is empty until the first validation epoch)."""
        return int(self.count) > 0

    @staticmethod
    def choose_rows(train_rows: np.ndarray, rows: int, seed: int = 0) -> np.ndarray:
        """The training rows the bank keeps: all of them, or a seeded random ``rows`` of
        them (sorted), so that every process and every epoch keeps the same ones."""
        train_rows = np.asarray(train_rows)
        if train_rows.size <= rows:
            return np.sort(train_rows)
        return np.sort(np.random.default_rng(seed).choice(train_rows, rows, replace=False))

    @torch.no_grad()
    def fill(self, latents: Tensor) -> None:
        """Replace the bank with ``latents`` ``(n, dim)``; rows beyond the bank's size are
        dropped (pass :meth:`choose_rows`'s rows)."""
        if latents.ndim != 2 or latents.shape[1] != self.bank.shape[1]:
            raise ValueError(
                f"LatentDistance.fill expects (n, {self.bank.shape[1]}) latents, "
                f"got {tuple(latents.shape)}."
            )
        n = min(latents.shape[0], self.bank.shape[0])
        self.bank.zero_()
        self.bank[:n] = latents[:n].to(self.bank)
        self.count.fill_(n)

    def forward(self, h: Tensor) -> Tensor:
        """Mean distance of each row of ``h`` ``(B, dim)`` to its ``k`` nearest bank rows,
        ``(B,)``; NaN while the bank is empty."""
        n = int(self.count)
        if n == 0:
            return torch.full((h.shape[0],), float("nan"), device=h.device, dtype=h.dtype)
        bank = self.bank[:n].double()
        step = max(1, MAX_PAIRS // n)  # query rows per block: memory bounded, any size
        parts = []
        for i in range(0, h.shape[0], step):
            # float64: cdist's matrix-product form loses ~1e-4 at zero distance in float32
            dist = torch.cdist(h[i : i + step].double(), bank)
            parts.append(dist.topk(min(self.k, n), dim=1, largest=False).values.mean(dim=1))
        if not parts:
            return h.new_zeros(0)
        return torch.cat(parts).to(h.dtype)
