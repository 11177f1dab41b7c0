"""Masked per-task losses.

Every loss has the signature ``(pred, target, mask) -> Tensor`` and returns a scalar.
Entries where ``mask`` is False contribute nothing; when no entry is valid the loss is
an exact zero that still belongs to the autograd graph (never NaN).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

MaskedLoss = Callable[[Tensor, Tensor, Tensor], Tensor]


def _masked_mean(values: Tensor, mask: Tensor) -> Tensor:
    """Mean of ``values`` over ``mask``; zero (attached to the graph) when the mask is empty."""
    mask = mask.to(values.dtype)
    count = mask.sum()
    total = (values * mask).sum()
    return total / count.clamp_min(1.0)


def _safe_target(target: Tensor, mask: Tensor) -> Tensor:
    """Replace masked-out targets (often NaN placeholders) by zeros so no NaN enters the graph."""
    return torch.where(mask, target, torch.zeros_like(target))


def masked_mse(pred: Tensor, target: Tensor, mask: Tensor) -> Tensor:
    """Mean squared error over valid entries. Shapes: ``(B,)`` or ``(B, L)``."""
    return _masked_mean((pred - _safe_target(target, mask)) ** 2, mask)


def masked_l1(pred: Tensor, target: Tensor, mask: Tensor) -> Tensor:
    """Mean absolute error over valid entries."""
    return _masked_mean((pred - _safe_target(target, mask)).abs(), mask)


def masked_huber(pred: Tensor, target: Tensor, mask: Tensor, delta: float = 1.0) -> Tensor:
    """Huber loss over valid entries."""
    values = F.huber_loss(pred, _safe_target(target, mask), reduction="none", delta=delta)
    return _masked_mean(values, mask)


def masked_cross_entropy(
    logits: Tensor,
    target: Tensor,
    mask: Tensor,
    class_weights: Tensor | None = None,
    label_smoothing: float = 0.0,
) -> Tensor:
    """Cross-entropy over valid rows.

    Args:
        logits: ``(B, C)`` unnormalised class scores.
        target: ``(B,)`` integer labels; entries under a False mask are ignored.
        mask: ``(B,)`` bool.
        class_weights: optional ``(C,)`` weights.
        label_smoothing: passed to ``F.cross_entropy``.
    """
    safe = torch.where(mask, target, torch.zeros_like(target)).long()
    values = F.cross_entropy(
        logits, safe, weight=class_weights, reduction="none", label_smoothing=label_smoothing
    )  # (B,)
    if class_weights is None:
        return _masked_mean(values, mask)
    w = class_weights[safe] * mask.to(values.dtype)
    return (values * mask.to(values.dtype)).sum() / w.sum().clamp_min(1e-12)


def masked_bce_with_logits(logits: Tensor, labels: Tensor, mask: Tensor) -> Tensor:
    """Binary cross-entropy of ``logits`` against bool ``labels`` over ``mask`` (zero when the
    mask is empty).

    Args:
        logits: ``(B,)``.
        labels: ``(B,)`` bool.
        mask: ``(B,)`` bool, rows that count.
    """
    per_row = F.binary_cross_entropy_with_logits(logits, labels.to(logits.dtype), reduction="none")
    return _masked_mean(per_row, mask)


def masked_noise_nll(pred: Tensor, target: Tensor, mask: Tensor, family: str) -> Tensor:
    """Negative log-likelihood of a mean and a per-row noise scale, over valid rows.

    Args:
        pred: ``(B, 2)``: the mean and the log of the noise scale (model units).
        target: ``(B,)``.
        mask: ``(B,)`` bool.
        family: ``laplace`` (scale ``b``, the likelihood of an L1 fit) or ``gaussian``
            (standard deviation).
    """
    mu, log_scale = pred[..., 0], pred[..., 1]
    err = (mu - _safe_target(target, mask)).abs()
    if family == "laplace":
        values = err * torch.exp(-log_scale) + log_scale
    else:
        values = 0.5 * (err * torch.exp(-log_scale)) ** 2 + log_scale
    return _masked_mean(values, mask)


REGRESSION_LOSSES: dict[str, MaskedLoss] = {
    "mse": masked_mse,
    "l1": masked_l1,
    "huber": masked_huber,
}
