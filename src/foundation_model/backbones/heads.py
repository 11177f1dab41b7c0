"""Heads for graph (per-structure) properties on top of a backbone's atom features."""

from __future__ import annotations

from torch import Tensor, nn

from foundation_model.backbones.base import scatter_max, scatter_mean, scatter_sum
from foundation_model.backbones.properties import GraphProperty

_REDUCE = {"mean": scatter_mean, "sum": scatter_sum, "max": scatter_max}


class GraphPropertyHead(nn.Module):
    """Per-atom MLP whose outputs are pooled per structure with the property's reduction.

    Args:
        node_dim: width of the backbone's atom features.
        prop: the property (its ``hidden``, ``reduction`` and output width are used).
    """

    def __init__(self, node_dim: int, prop: GraphProperty) -> None:
        super().__init__()
        self.reduction = prop.reduction
        self.mlp = nn.Sequential(
            nn.Linear(node_dim, prop.hidden), nn.SiLU(), nn.Linear(prop.hidden, prop.out_dim)
        )

    def forward(self, node_features: Tensor, batch_index: Tensor, num_graphs: int) -> Tensor:
        per_atom = self.mlp(node_features)  # (N, C)
        return _REDUCE[self.reduction](per_atom, batch_index, num_graphs)  # (B, C)
