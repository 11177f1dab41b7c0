"""Basis-expansion sequence head: a curve as a short sum of smooth functions of ``x``.

Thermodynamic curves such as Cp(T) are smooth and few-parameter: the NIST-JANAF tables are
summarised by the five Shomate coefficients per temperature range. This head builds that
prior in. From ``h_task`` an MLP predicts ``degree + 1`` coefficients ``c_k``, and the
curve at a (standardised) point ``x`` is ``sum_k c_k P_k(u)``, with ``P_k`` the Legendre
polynomials and ``u = tanh(x / 2)``. The ``tanh`` keeps ``u`` in ``(-1, 1)`` and flattens
the curve far outside the training points instead of letting a polynomial run away. The
whole shape of a curve then comes from the composition through ``degree + 1`` numbers,
where the other sequence heads predict each point.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

from foundation_model.models.components.mlp import MLP
from foundation_model.models.task_head.sequence_base import SequenceHead, SequenceTask


def legendre(u: Tensor, degree: int) -> Tensor:
    """``P_0(u) ... P_degree(u)`` stacked on a new last axis (Bonnet's recursion).

    Args:
        u: points in ``[-1, 1]``, any shape.
        degree: highest polynomial degree (>= 0).
    """
    polys = [torch.ones_like(u)]
    if degree >= 1:
        polys.append(u)
    for n in range(1, degree):
        polys.append(((2 * n + 1) * u * polys[n] - n * polys[n - 1]) / (n + 1))
    return torch.stack(polys, dim=-1)


class SequenceBasisHead(SequenceHead):
    """``h_task -> MLP -> (degree + 1)`` Legendre coefficients, evaluated at each point."""

    def __init__(
        self, d_in: int, degree: int, hidden_dims: list[int], dropout: float, loss: str
    ) -> None:
        super().__init__(loss)
        self.degree = degree
        self.coefficients = MLP(
            [d_in, *hidden_dims, degree + 1], "none", "SiLU", dropout, plain_last=True
        )

    def forward(
        self, h_task: Tensor, seq_x: Tensor | None = None, seq_mask: Tensor | None = None
    ) -> Tensor:
        if seq_x is None:
            raise ValueError("A sequence head needs the sequence points seq_x (B, L, 1).")
        coef = self.coefficients(h_task)  # (B, K)
        basis = legendre(torch.tanh(seq_x[..., 0] / 2.0), self.degree)  # (B, L, K)
        out = torch.einsum("blk,bk->bl", basis, coef)
        if seq_mask is not None:
            out = out * seq_mask.to(out.dtype)
        return out


class SequenceBasisTask(SequenceTask):
    """Sequence task whose curve is a Legendre series in ``tanh(x / 2)`` with coefficients
    predicted from ``h_task`` (smooth curves with few degrees of freedom, e.g. Cp(T)).

    Args:
        name: task name.
        x_column: column of per-row input points.
        y_column: column of per-row target values.
        degree: highest Legendre degree (``degree + 1`` coefficients per row).
        hidden_dims: hidden widths of the coefficient MLP.
        dropout: dropout in the coefficient MLP.
        loss: ``mse``, ``l1`` or ``huber``.
        loss_weight: fixed weight ``w_t`` in the total loss.
    """

    def __init__(
        self,
        name: str,
        x_column: str,
        y_column: str,
        degree: int = 4,
        hidden_dims: list[int] | None = None,
        dropout: float = 0.0,
        loss: Literal["mse", "l1", "huber"] = "mse",
        loss_weight: float = 1.0,
    ) -> None:
        super().__init__(name, x_column, y_column, loss, loss_weight)
        if degree < 0:
            raise ValueError(f"Task {name!r}: degree must be >= 0, got {degree}.")
        self.degree = degree
        self.hidden_dims = list(hidden_dims) if hidden_dims is not None else [64]
        self.dropout = dropout

    def build_head(self, d_in: int) -> SequenceBasisHead:
        return SequenceBasisHead(d_in, self.degree, self.hidden_dims, self.dropout, self.loss)
