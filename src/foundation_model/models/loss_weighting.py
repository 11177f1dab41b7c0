"""Learnable homoscedastic-uncertainty (log-sigma) weighting of supervised task losses."""

from __future__ import annotations

import torch
from torch import Tensor, nn


class UncertaintyWeighting(nn.Module):
    """Combine per-task losses with learnable ``log sigma_t`` (Kendall, Gal & Cipolla, 2018).

    With the switch on, each task contributes
    ``0.5 * w_t * exp(-2 * log_sigma_t) * L_t + log_sigma_t``; with it off, ``w_t * L_t``.
    A task absent from a batch (no labelled sample) contributes exactly zero, so its
    ``log_sigma_t`` is not pushed towards minus infinity by empty batches.

    Args:
        task_names: supervised task names, in a fixed order.
        loss_weights: optional fixed per-task weights ``w_t`` (default 1.0 each).
        enabled: learn ``log_sigma_t``; if False the plain weighted sum is used.
        init_log_sigma: initial value of every ``log_sigma_t``.
    """

    def __init__(
        self,
        task_names: list[str],
        loss_weights: dict[str, float] | None = None,
        enabled: bool = True,
        init_log_sigma: float = 0.0,
    ) -> None:
        super().__init__()
        self.task_names = list(task_names)
        self.enabled = enabled
        weights = loss_weights or {}
        self.register_buffer(
            "weights",
            torch.tensor([float(weights.get(n, 1.0)) for n in self.task_names]),
            persistent=False,
        )
        self.log_sigma = nn.Parameter(
            torch.full((len(self.task_names),), float(init_log_sigma)), requires_grad=enabled
        )  # (T,)

    def forward(
        self, losses: dict[str, Tensor], present: dict[str, Tensor] | None = None
    ) -> tuple[Tensor, dict[str, Tensor]]:
        """Return ``(total, per_task_weighted)`` for the tasks in ``losses``.

        Args:
            losses: raw scalar loss per task name.
            present: per task, a bool tensor telling whether the batch had any label for it
                (default: all present). Absent tasks contribute exactly zero.
        """
        weighted: dict[str, Tensor] = {}
        total = self.log_sigma.sum() * 0.0
        for i, name in enumerate(self.task_names):
            if name not in losses:
                continue
            w = self.weights[i]
            if self.enabled:
                s = self.log_sigma[i]
                term = 0.5 * w * torch.exp(-2.0 * s) * losses[name] + s
            else:
                term = w * losses[name]
            if present is not None and name in present:
                term = torch.where(present[name], term, term * 0.0)
            weighted[name] = term
            total = total + term
        return total, weighted

    def sigmas(self) -> dict[str, float]:
        """Current ``sigma_t = exp(log_sigma_t)`` per task."""
        return {
            n: float(torch.exp(self.log_sigma[i].detach())) for i, n in enumerate(self.task_names)
        }

    def extra_repr(self) -> str:
        return f"tasks={self.task_names}, enabled={self.enabled}"
