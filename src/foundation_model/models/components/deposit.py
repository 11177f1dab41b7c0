"""Deposit block: the shared representation handed to every task head."""

from __future__ import annotations

from torch import Tensor, nn


class Deposit(nn.Module):
    """``Linear + Tanh`` mapping the encoder latent to ``h_task``.

    Args:
        d_in: latent width.
        d_out: width of ``h_task``.
    """

    def __init__(self, d_in: int, d_out: int) -> None:
        super().__init__()
        self.linear = nn.Linear(d_in, d_out)
        self.act = nn.Tanh()

    def forward(self, h: Tensor) -> Tensor:  # (B, d_in) -> (B, d_out)
        return self.act(self.linear(h))
