"""Shared encoder: formula MLP, optional structure MLP with gated fusion, deposit block."""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor, nn

from foundation_model.models.components.deposit import Deposit
from foundation_model.models.components.gated_fusion import GatedFusion
from foundation_model.models.components.mlp import MLP, Norm
from foundation_model.models.components.piecewise_linear import PiecewiseLinearEncoding


@dataclass
class EncoderOutput:
    """What the encoder hands to heads and self-supervised modules."""

    h_formula: Tensor  # (B, D_latent)
    h_structure: Tensor | None  # (B, D_latent)
    h_latent: Tensor  # (B, D_latent) after fusion
    h_task: Tensor  # (B, D_deposit)


class FoundationEncoder(nn.Module):
    """Encode formula (and optionally structure) descriptors into ``h_task``.

    Args:
        formula_input_dim: number of formula descriptor columns.
        hidden_dims: encoder widths after the input; the last is the latent width.
        deposit_dim: width of ``h_task``.
        structure_input_dim: number of structure descriptor columns (0 disables the branch).
        structure_hidden_dims: structure encoder widths (default: ``hidden_dims``); the last
            must equal the formula latent width.
        norm: normalisation in encoder blocks.
        activation: ``torch.nn`` activation name.
        dropout: dropout in encoder blocks.
        residual: residual connections between equal-width blocks.
        modality_dropout: probability of hiding a row's structure during training.
        formula_bins: if > 0, each raw formula descriptor is also encoded in this many
            quantile bins (:class:`PiecewiseLinearEncoding`), added to the first formula
            layer; 0 leaves the encoder without that branch.
    """

    def __init__(
        self,
        formula_input_dim: int,
        hidden_dims: list[int],
        deposit_dim: int,
        structure_input_dim: int = 0,
        structure_hidden_dims: list[int] | None = None,
        norm: Norm = "layer",
        activation: str = "SiLU",
        dropout: float = 0.0,
        residual: bool = False,
        modality_dropout: float = 0.0,
        formula_bins: int = 0,
    ) -> None:
        super().__init__()
        if formula_input_dim <= 0:
            raise ValueError(f"formula_input_dim must be positive, got {formula_input_dim}.")
        if not hidden_dims:
            raise ValueError("hidden_dims must name at least one layer width.")
        self.formula = MLP([formula_input_dim, *hidden_dims], norm, activation, dropout, residual)
        if formula_bins < 0:
            raise ValueError(f"formula_bins must be >= 0, got {formula_bins}.")
        # off by default: no extra state, so checkpoints made without it load unchanged
        self.formula_bins: PiecewiseLinearEncoding | None = None
        if formula_bins > 0:
            self.formula_bins = PiecewiseLinearEncoding(
                formula_input_dim, formula_bins, hidden_dims[0]
            )
        latent = hidden_dims[-1]
        self.structure: MLP | None = None
        self.fusion: GatedFusion | None = None
        if structure_input_dim > 0:
            s_dims = list(structure_hidden_dims or hidden_dims)
            if s_dims[-1] != latent:
                raise ValueError(
                    f"structure_hidden_dims must end at the formula latent width {latent}, "
                    f"got {s_dims}."
                )
            self.structure = MLP(
                [structure_input_dim, *s_dims], norm, activation, dropout, residual
            )
            self.fusion = GatedFusion(latent, modality_dropout)
        self.deposit = Deposit(latent, deposit_dim)
        self.latent_dim = latent
        self.deposit_dim = deposit_dim

    def forward(
        self,
        x_formula: Tensor,
        x_structure: Tensor | None = None,
        has_structure: Tensor | None = None,
        x_formula_raw: Tensor | None = None,
    ) -> EncoderOutput:
        """Encode a batch: standardised ``x_formula (B, F)``, ``x_structure (B, S)``,
        ``has_structure (B,)``; ``x_formula_raw (B, F)`` (unscaled) feeds ``formula_bins``."""
        extra = None
        if self.formula_bins is not None:
            if x_formula_raw is None:
                raise ValueError("this encoder has formula_bins: pass x_formula_raw.")
            extra = self.formula_bins(x_formula_raw)  # (B, hidden_dims[0])
        h_f = self.formula(x_formula, extra)  # (B, D)
        h_s = None
        h = h_f
        if self.structure is not None and x_structure is not None and self.fusion is not None:
            h_s = self.structure(x_structure)  # (B, D)
            if has_structure is None:
                has_structure = x_structure.new_ones(x_structure.shape[0], dtype=bool)
            h = self.fusion(h_f, h_s, has_structure)
        return EncoderOutput(h_formula=h_f, h_structure=h_s, h_latent=h, h_task=self.deposit(h))
