"""Gated fusion of formula and structure latents with modality dropout."""

from __future__ import annotations

import torch
from torch import Tensor, nn


class GatedFusion(nn.Module):
    """``h = g * h_formula + (1 - g) * h_structure`` with ``g = sigmoid(W [h_f; h_s])``.

    Rows without a structure (``has_structure`` False) use the formula latent alone. During
    training each row's structure is also dropped with probability ``modality_dropout`` so
    that the model stays usable on formula-only inputs.

    Args:
        dim: width of both latents.
        modality_dropout: probability of hiding the structure of a row in training.
    """

    def __init__(self, dim: int, modality_dropout: float = 0.0) -> None:
        super().__init__()
        self.gate = nn.Linear(2 * dim, dim)
        self.modality_dropout = modality_dropout

    def forward(self, h_formula: Tensor, h_structure: Tensor, has_structure: Tensor) -> Tensor:
        """Fuse ``(B, D)`` latents; ``has_structure`` is ``(B,)`` bool."""
        use = has_structure.bool()
        if self.training and self.modality_dropout > 0:
            keep = torch.rand_like(use, dtype=h_formula.dtype) >= self.modality_dropout
            use = use & keep
        g = torch.sigmoid(self.gate(torch.cat([h_formula, h_structure], dim=-1)))  # (B, D)
        fused = g * h_formula + (1.0 - g) * h_structure
        return torch.where(use.unsqueeze(-1), fused, h_formula)
