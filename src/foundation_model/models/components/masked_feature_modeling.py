"""Masked feature modelling: hide random descriptor entries and reconstruct them."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn


class MaskedFeatureModeling(nn.Module):
    """Self-supervised auxiliary on (standardised) formula descriptors.

    A fraction ``mask_ratio`` of entries is replaced by zero (the training mean after
    standardisation), the corrupted row is encoded, and a linear decoder reconstructs the
    original values; the loss is the MSE on the hidden entries only.

    Args:
        latent_dim: encoder latent width.
        feature_dim: number of formula descriptors.
        mask_ratio: fraction of entries hidden per row.
    """

    def __init__(self, latent_dim: int, feature_dim: int, mask_ratio: float = 0.15) -> None:
        super().__init__()
        if not 0.0 < mask_ratio < 1.0:
            raise ValueError(f"mask_ratio must be in (0, 1), got {mask_ratio}.")
        self.decoder = nn.Linear(latent_dim, feature_dim)
        self.mask_ratio = mask_ratio

    def forward(self, x: Tensor, encode: Callable[[Tensor], Tensor]) -> Tensor:
        """Loss for a batch ``x (B, F)``; ``encode`` maps descriptors to the latent ``(B, D)``."""
        hidden = torch.rand_like(x) < self.mask_ratio  # (B, F) True = masked
        corrupted = x.masked_fill(hidden, 0.0)
        recon = self.decoder(encode(corrupted))  # (B, F)
        err = (recon - x) ** 2 * hidden
        return err.sum() / hidden.sum().clamp_min(1)
