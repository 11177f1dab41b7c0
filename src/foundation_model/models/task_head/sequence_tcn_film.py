"""Dilated temporal convolution head with FiLM conditioning on ``h_task``."""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn

from foundation_model.models.task_head.sequence_base import (
    PointEmbedding,
    SequenceHead,
    SequenceTask,
)


class FiLMConvBlock(nn.Module):
    """``Conv1d (dilated, same length) -> FiLM(gamma, beta from h_task) -> SiLU`` + residual."""

    def __init__(self, channels: int, d_cond: int, kernel_size: int, dilation: int) -> None:
        super().__init__()
        pad = dilation * (kernel_size - 1) // 2
        self.conv = nn.Conv1d(channels, channels, kernel_size, dilation=dilation, padding=pad)
        self.film = nn.Linear(d_cond, 2 * channels)
        self.act = nn.SiLU()

    def forward(self, h: Tensor, cond: Tensor, mask: Tensor) -> Tensor:
        """``h (B, C, L)``, ``cond (B, D)``, ``mask (B, 1, L)``."""
        gamma, beta = self.film(cond).unsqueeze(-1).chunk(2, dim=1)  # (B, C, 1) each
        out = self.act((1.0 + gamma) * self.conv(h) + beta)
        return (h + out) * mask


class SequenceTCNFiLMHead(SequenceHead):
    """Stack of dilated, FiLM-conditioned residual conv blocks over the point embeddings."""

    def __init__(
        self, d_in: int, channels: int, kernel_size: int, dilations: list[int], loss: str
    ) -> None:
        super().__init__(loss)
        if kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd to keep lengths, got {kernel_size}.")
        self.embed = PointEmbedding(channels)
        self.blocks = nn.ModuleList(
            FiLMConvBlock(channels, d_in, kernel_size, d) for d in dilations
        )
        self.out = nn.Conv1d(channels, 1, 1)

    def forward(
        self, h_task: Tensor, seq_x: Tensor | None = None, seq_mask: Tensor | None = None
    ) -> Tensor:
        if seq_x is None:
            raise ValueError("A sequence head needs the sequence points seq_x (B, L, 1).")
        B, L, _ = seq_x.shape
        if seq_mask is None:
            seq_mask = torch.ones(B, L, dtype=torch.bool, device=seq_x.device)
        m = seq_mask.to(seq_x.dtype).unsqueeze(1)  # (B, 1, L)
        h = self.embed(seq_x).transpose(1, 2) * m  # (B, C, L)
        for block in self.blocks:
            h = block(h, h_task, m)
        return self.out(h).squeeze(1)  # (B, L)


class SequenceTCNFiLMTask(SequenceTask):
    """Sequence task predicted by a dilated TCN whose blocks are FiLM-modulated by ``h_task``.

    Points should be ordered along ``x`` in each row (the convolution is local in index).

    Args:
        name: task name.
        x_column: column of per-row input points.
        y_column: column of per-row target values.
        channels: convolution width.
        kernel_size: odd convolution kernel size.
        dilations: dilation of each residual block.
        loss: ``mse``, ``l1`` or ``huber``.
        loss_weight: fixed weight ``w_t`` in the total loss.
    """

    def __init__(
        self,
        name: str,
        x_column: str,
        y_column: str,
        channels: int = 64,
        kernel_size: int = 3,
        dilations: list[int] | None = None,
        loss: Literal["mse", "l1", "huber"] = "mse",
        loss_weight: float = 1.0,
    ) -> None:
        super().__init__(name, x_column, y_column, loss, loss_weight)
        self.channels = channels
        self.kernel_size = kernel_size
        self.dilations = list(dilations) if dilations else [1, 2, 4, 8]

    def build_head(self, d_in: int) -> SequenceTCNFiLMHead:
        return SequenceTCNFiLMHead(d_in, self.channels, self.kernel_size, self.dilations, self.loss)
