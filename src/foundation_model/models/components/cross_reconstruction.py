"""Cross-modal reconstruction: predict one modality's descriptors from the other's latent."""

from __future__ import annotations

from torch import Tensor, nn


class CrossReconstruction(nn.Module):
    """Decode structure descriptors from the formula latent and vice versa.

    Args:
        latent_dim: encoder latent width.
        formula_dim: number of formula descriptors.
        structure_dim: number of structure descriptors.
    """

    def __init__(self, latent_dim: int, formula_dim: int, structure_dim: int) -> None:
        super().__init__()
        self.formula_to_structure = nn.Linear(latent_dim, structure_dim)
        self.structure_to_formula = nn.Linear(latent_dim, formula_dim)

    def forward(
        self,
        h_formula: Tensor,
        h_structure: Tensor,
        x_formula: Tensor,
        x_structure: Tensor,
        has_structure: Tensor,
    ) -> Tensor:
        """Mean of both reconstruction MSEs over rows with a structure."""
        rows = has_structure.bool()
        if not bool(rows.any()):
            return (h_formula.sum() + h_structure.sum()) * 0.0
        to_s = ((self.formula_to_structure(h_formula[rows]) - x_structure[rows]) ** 2).mean()
        to_f = ((self.structure_to_formula(h_structure[rows]) - x_formula[rows]) ** 2).mean()
        return 0.5 * (to_s + to_f)
