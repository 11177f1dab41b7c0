"""A small pure-PyTorch SchNet-style backbone: the reference adapter, no extra needed.

It is randomly initialised (or loaded from a fine-tuned checkpoint) and exists so the
whole fine-tuning stack - data, schema, module, calculator - runs and is tested without
an optional package. It also supports direct (non-conservative) forces and stress.
"""

from __future__ import annotations

import math

import ase
import torch
from torch import Tensor, nn

from foundation_model.backbones.base import (
    BackboneOutput,
    ForceMode,
    MLIPBackbone,
    element_set,
    scatter_sum,
)
from foundation_model.backbones.graph import RadiusGraph, energy_gradients, strained_geometry


class GaussianBasis(nn.Module):
    """Gaussian radial basis on ``[0, cutoff]`` times a cosine cutoff envelope."""

    def __init__(self, cutoff: float, num: int) -> None:
        super().__init__()
        self.cutoff = cutoff
        self.register_buffer("centers", torch.linspace(0.0, cutoff, num))
        self.width = cutoff / max(num - 1, 1)

    def forward(self, distance: Tensor) -> tuple[Tensor, Tensor]:
        d = distance.unsqueeze(-1)  # (E, 1)
        basis = torch.exp(-0.5 * ((d - self.centers) / self.width) ** 2)  # (E, R)
        envelope = 0.5 * (torch.cos(math.pi * distance / self.cutoff) + 1.0)
        envelope = envelope * (distance < self.cutoff).to(distance.dtype)  # (E,)
        return basis, envelope


class Interaction(nn.Module):
    """Continuous-filter convolution with a residual update."""

    def __init__(self, hidden: int, num_rbf: int) -> None:
        super().__init__()
        self.filter = nn.Sequential(
            nn.Linear(num_rbf, hidden), nn.SiLU(), nn.Linear(hidden, hidden)
        )
        self.pre = nn.Linear(hidden, hidden, bias=False)
        self.post = nn.Sequential(nn.Linear(hidden, hidden), nn.SiLU(), nn.Linear(hidden, hidden))

    def forward(self, h: Tensor, basis: Tensor, envelope: Tensor, edge_index: Tensor) -> Tensor:
        src, dst = edge_index
        w = self.filter(basis) * envelope.unsqueeze(-1)  # (E, H)
        messages = self.pre(h)[dst] * w  # (E, H)
        return h + self.post(scatter_sum(messages, src, h.shape[0]))  # (N, H)


class SchNetBackbone(MLIPBackbone):
    """SchNet-style invariant message passing over a radius graph.

    Args:
        cutoff: neighbour cutoff radius in Å.
        hidden: width of the atom features.
        num_interactions: number of message-passing layers.
        num_rbf: number of Gaussian radial basis functions.
        elements: chemical symbols the model accepts (default: H..Pu).
        seed: seed of the random initialisation.
    """

    supports_direct_forces = True
    supports_direct_stress = True

    def __init__(
        self,
        cutoff: float = 5.0,
        hidden: int = 64,
        num_interactions: int = 3,
        num_rbf: int = 32,
        elements: list[str] | None = None,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.cutoff = float(cutoff)
        self.hidden, self.num_interactions, self.num_rbf, self.seed = (
            hidden,
            num_interactions,
            num_rbf,
            seed,
        )
        self.node_dim = hidden
        self.element_symbols = list(elements) if elements is not None else None
        self.elements = element_set(elements) if elements is not None else set(range(1, 95))
        generator_state = torch.random.get_rng_state()
        torch.manual_seed(seed)
        self.embedding = nn.Embedding(100, hidden)
        self.basis = GaussianBasis(self.cutoff, num_rbf)
        self.interactions = nn.ModuleList(
            [Interaction(hidden, num_rbf) for _ in range(num_interactions)]
        )
        self.energy_head = nn.Sequential(
            nn.Linear(hidden, hidden // 2), nn.SiLU(), nn.Linear(hidden // 2, 1)
        )
        self.direct_head = nn.Sequential(
            nn.Linear(2 * hidden + num_rbf, hidden), nn.SiLU(), nn.Linear(hidden, 2)
        )
        torch.random.set_rng_state(generator_state)

    def init_args(self) -> dict:
        return {
            "cutoff": self.cutoff,
            "hidden": self.hidden,
            "num_interactions": self.num_interactions,
            "num_rbf": self.num_rbf,
            "elements": self.element_symbols,
            "seed": self.seed,
        }

    def atoms_to_data(self, atoms: ase.Atoms, has_labels: bool = False) -> RadiusGraph:
        self.check_elements(atoms)
        return RadiusGraph.from_atoms(atoms, self.cutoff)

    def collate(self, data_list: list[RadiusGraph]) -> RadiusGraph:
        return RadiusGraph.collate(data_list)

    def reset_output_heads(self) -> None:
        for layer in self.energy_head:
            if isinstance(layer, nn.Linear):
                layer.reset_parameters()

    def forward(
        self, batch: RadiusGraph, forces: ForceMode | None = None, stress: ForceMode | None = None
    ) -> BackboneOutput:
        self.check_modes(forces, stress)
        batch = batch.cast(self.embedding.weight.dtype)
        with torch.enable_grad():
            pos, strain, vectors = strained_geometry(
                batch, forces == "conservative", stress == "conservative"
            )
            distance = vectors.norm(dim=-1)  # (E,)
            basis, envelope = self.basis(distance)
            h = self.embedding(batch.numbers)  # (N, H)
            for layer in self.interactions:
                h = layer(h, basis, envelope, batch.edge_index)
            atomic = self.energy_head(h).squeeze(-1)  # (N,)
            energy = scatter_sum(atomic, batch.batch_index, batch.num_graphs)  # (B,)
            out: BackboneOutput = {
                "energy": energy,
                "node_features": h,
                "batch_index": batch.batch_index,
            }
            f, s = energy_gradients(
                energy,
                pos if forces == "conservative" else None,
                strain if stress == "conservative" else None,
                batch.volume,
                create_graph=self.training,
            )
        if forces == "direct" or stress == "direct":
            f_direct, s_direct = self._direct(h, basis, envelope, vectors, distance, batch)
            f = f_direct if forces == "direct" else f
            s = s_direct if stress == "direct" else s
        if f is not None:
            out["forces"] = f
        if s is not None:
            out["stress"] = s
        return out

    def _direct(
        self,
        h: Tensor,
        basis: Tensor,
        envelope: Tensor,
        vectors: Tensor,
        distance: Tensor,
        batch: RadiusGraph,
    ) -> tuple[Tensor, Tensor]:
        """Equivariant direct forces and stress from scalar edge weights along edge vectors."""
        src, dst = batch.edge_index
        weights = self.direct_head(torch.cat([h[src], h[dst], basis], -1)) * envelope.unsqueeze(
            -1
        )  # (E, 2)
        unit = vectors / distance.clamp_min(1e-9).unsqueeze(-1)  # (E, 3)
        # symmetrise over the edge direction so that forces sum to zero (Newton's third law)
        pair = (
            weights[:, 0]
            + self.direct_head(torch.cat([h[dst], h[src], basis], -1))[:, 0] * envelope
        )
        f = scatter_sum(0.5 * pair.unsqueeze(-1) * unit, src, h.shape[0])  # (N, 3)
        outer = torch.einsum("ei,ej->eij", vectors, unit) * weights[:, 1, None, None]  # (E, 3, 3)
        s = scatter_sum(outer, batch.batch_index[src], batch.num_graphs) / batch.volume.view(
            -1, 1, 1
        )
        return f, s
