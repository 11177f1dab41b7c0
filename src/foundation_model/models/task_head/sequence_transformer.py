"""Transformer-encoder sequence head conditioned on ``h_task``."""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn

from foundation_model.models.task_head.sequence_base import (
    PointEmbedding,
    SequenceHead,
    SequenceTask,
)


class SequenceTransformerHead(SequenceHead):
    """Tokens are point embeddings; a context token built from ``h_task`` is prepended."""

    def __init__(
        self,
        d_in: int,
        d_model: int,
        nhead: int,
        num_layers: int,
        dim_feedforward: int,
        dropout: float,
        loss: str,
    ) -> None:
        super().__init__(loss)
        if d_model % nhead:
            raise ValueError(f"d_model={d_model} must be divisible by nhead={nhead}.")
        self.embed = PointEmbedding(d_model)
        self.context = nn.Linear(d_in, d_model)
        layer = nn.TransformerEncoderLayer(
            d_model, nhead, dim_feedforward, dropout, batch_first=True, norm_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, num_layers, enable_nested_tensor=False)
        self.out = nn.Linear(d_model, 1)

    def forward(
        self, h_task: Tensor, seq_x: Tensor | None = None, seq_mask: Tensor | None = None
    ) -> Tensor:
        if seq_x is None:
            raise ValueError("A sequence head needs the sequence points seq_x (B, L, 1).")
        B, L, _ = seq_x.shape
        if seq_mask is None:
            seq_mask = torch.ones(B, L, dtype=torch.bool, device=seq_x.device)
        ctx = self.context(h_task).unsqueeze(1)  # (B, 1, D)
        tokens = torch.cat([ctx, self.embed(seq_x) + ctx], dim=1)  # (B, L+1, D)
        pad = torch.cat([seq_mask.new_zeros(B, 1), ~seq_mask.bool()], dim=1)  # True = ignore
        h = self.encoder(tokens, src_key_padding_mask=pad)  # (B, L+1, D)
        return self.out(h[:, 1:]).squeeze(-1)  # (B, L)


class SequenceTransformerTask(SequenceTask):
    """Sequence task predicted by a Transformer encoder head.

    Args:
        name: task name.
        x_column: column of per-row input points.
        y_column: column of per-row target values.
        d_model: token width.
        nhead: attention heads.
        num_layers: encoder layers.
        dim_feedforward: feed-forward width.
        dropout: dropout inside the encoder.
        loss: ``mse``, ``l1`` or ``huber``.
        loss_weight: fixed weight ``w_t`` in the total loss.
    """

    def __init__(
        self,
        name: str,
        x_column: str,
        y_column: str,
        d_model: int = 64,
        nhead: int = 4,
        num_layers: int = 2,
        dim_feedforward: int = 128,
        dropout: float = 0.0,
        loss: Literal["mse", "l1", "huber"] = "mse",
        loss_weight: float = 1.0,
    ) -> None:
        super().__init__(name, x_column, y_column, loss, loss_weight)
        self.d_model = d_model
        self.nhead = nhead
        self.num_layers = num_layers
        self.dim_feedforward = dim_feedforward
        self.dropout = dropout

    def build_head(self, d_in: int) -> SequenceTransformerHead:
        return SequenceTransformerHead(
            d_in,
            self.d_model,
            self.nhead,
            self.num_layers,
            self.dim_feedforward,
            self.dropout,
            self.loss,
        )
