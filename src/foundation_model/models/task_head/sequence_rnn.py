"""Recurrent sequence head (LSTM or GRU) conditioned on ``h_task``."""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from foundation_model.models.task_head.sequence_base import (
    PointEmbedding,
    SequenceHead,
    SequenceTask,
)


class SequenceRNNHead(SequenceHead):
    """Each step sees ``[embed(x_t); h_task]``; the initial state is a projection of ``h_task``."""

    def __init__(
        self,
        d_in: int,
        cell: Literal["lstm", "gru"],
        hidden_size: int,
        num_layers: int,
        bidirectional: bool,
        dropout: float,
        loss: str,
    ) -> None:
        super().__init__(loss)
        if cell not in ("lstm", "gru"):
            raise ValueError(f"cell must be 'lstm' or 'gru', got {cell!r}.")
        self.cell = cell
        self.embed = PointEmbedding(hidden_size)
        rnn_cls = nn.LSTM if cell == "lstm" else nn.GRU
        self.rnn = rnn_cls(
            hidden_size + d_in,
            hidden_size,
            num_layers=num_layers,
            batch_first=True,
            bidirectional=bidirectional,
            dropout=dropout if num_layers > 1 else 0.0,
        )
        n_dir = 2 if bidirectional else 1
        self.init_state = nn.Linear(d_in, hidden_size * num_layers * n_dir)
        self.state_shape = (num_layers * n_dir, hidden_size)
        self.out = nn.Linear(hidden_size * n_dir, 1)

    def forward(
        self, h_task: Tensor, seq_x: Tensor | None = None, seq_mask: Tensor | None = None
    ) -> Tensor:
        if seq_x is None:
            raise ValueError("A sequence head needs the sequence points seq_x (B, L, 1).")
        B, L, _ = seq_x.shape
        if seq_mask is None:
            seq_mask = torch.ones(B, L, dtype=torch.bool, device=seq_x.device)
        inp = torch.cat([self.embed(seq_x), h_task.unsqueeze(1).expand(B, L, -1)], dim=-1)
        h0 = torch.tanh(self.init_state(h_task)).view(B, *self.state_shape).transpose(0, 1)
        state = (h0.contiguous(), torch.zeros_like(h0)) if self.cell == "lstm" else h0.contiguous()
        lengths = seq_mask.sum(dim=1).clamp_min(1).cpu()  # (B,)
        packed = pack_padded_sequence(inp, lengths, batch_first=True, enforce_sorted=False)
        out, _ = self.rnn(packed, state)
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=L)  # (B, L, H*dirs)
        return self.out(out).squeeze(-1)  # (B, L)


class SequenceRNNTask(SequenceTask):
    """Sequence task predicted by an LSTM/GRU head.

    Args:
        name: task name.
        x_column: column of per-row input points.
        y_column: column of per-row target values.
        cell: ``lstm`` or ``gru``.
        hidden_size: recurrent width.
        num_layers: stacked recurrent layers.
        bidirectional: run the sequence both ways.
        dropout: dropout between recurrent layers.
        loss: ``mse``, ``l1`` or ``huber``.
        loss_weight: fixed weight ``w_t`` in the total loss.
    """

    def __init__(
        self,
        name: str,
        x_column: str,
        y_column: str,
        cell: Literal["lstm", "gru"] = "gru",
        hidden_size: int = 64,
        num_layers: int = 2,
        bidirectional: bool = True,
        dropout: float = 0.0,
        loss: Literal["mse", "l1", "huber"] = "mse",
        loss_weight: float = 1.0,
    ) -> None:
        super().__init__(name, x_column, y_column, loss, loss_weight)
        self.cell = cell
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bidirectional = bidirectional
        self.dropout = dropout

    def build_head(self, d_in: int) -> SequenceRNNHead:
        return SequenceRNNHead(
            d_in,
            self.cell,
            self.hidden_size,
            self.num_layers,
            self.bidirectional,
            self.dropout,
            self.loss,
        )
