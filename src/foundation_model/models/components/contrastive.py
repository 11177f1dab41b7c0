"""Contrastive alignment of formula and structure latents (symmetric InfoNCE)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class ContrastiveAlignment(nn.Module):
    """InfoNCE between projected formula and structure latents of the same rows.

    Rows of the batch that have a structure are positives with themselves and negatives
    with every other such row. Fewer than two such rows give a zero loss.

    Args:
        latent_dim: encoder latent width.
        projection_dim: width of the projection heads.
        temperature: softmax temperature.
    """

    def __init__(self, latent_dim: int, projection_dim: int = 64, temperature: float = 0.1) -> None:
        super().__init__()
        if temperature <= 0:
            raise ValueError(f"temperature must be positive, got {temperature}.")
        self.proj_formula = nn.Linear(latent_dim, projection_dim)
        self.proj_structure = nn.Linear(latent_dim, projection_dim)
        self.temperature = temperature

    def forward(self, h_formula: Tensor, h_structure: Tensor, has_structure: Tensor) -> Tensor:
        """Symmetric InfoNCE over rows with ``has_structure``; latents are ``(B, D)``."""
        rows = has_structure.bool()
        if int(rows.sum()) < 2:
            return (h_formula.sum() + h_structure.sum()) * 0.0
        zf = F.normalize(self.proj_formula(h_formula[rows]), dim=-1)  # (N, P)
        zs = F.normalize(self.proj_structure(h_structure[rows]), dim=-1)  # (N, P)
        logits = zf @ zs.T / self.temperature  # (N, N)
        labels = torch.arange(logits.shape[0], device=logits.device)
        return 0.5 * (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels))
