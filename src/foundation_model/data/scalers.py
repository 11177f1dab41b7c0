"""Feature and target scalers: statistics fit on the train split, stored as model buffers.

Scalers are ``nn.Module`` buffers inside the model, so a checkpoint carries them and
predictions come back in original units without any side file.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn


def masked_mean_std(values: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Column mean and std of ``values (N, ...)`` over ``mask``; a zero std becomes 1."""
    mask = mask.astype(bool)
    count = np.maximum(mask.sum(axis=0), 1)
    mean = np.where(mask, values, 0.0).sum(axis=0) / count
    var = (np.where(mask, values - mean, 0.0) ** 2).sum(axis=0) / count
    std = np.sqrt(var)
    return np.asarray(mean, np.float32), np.asarray(np.where(std < 1e-8, 1.0, std), np.float32)


class StandardScaler(nn.Module):
    """``(x - mean) / std`` with buffers of shape ``(D,)`` (``D = 1`` for a scalar target).

    Args:
        dim: number of features (1 for scalar targets and sequence values).
        log10: apply ``log10`` before standardising (positive targets only).
    """

    def __init__(self, dim: int = 1, log10: bool = False) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("std", torch.ones(dim))
        self.register_buffer("fitted", torch.tensor(False))
        self.log10 = log10

    def set_statistics(self, mean: np.ndarray | Tensor, std: np.ndarray | Tensor) -> None:
        """Load train-split statistics (already in log space when ``log10``)."""
        mean_t = torch.as_tensor(np.asarray(mean, dtype=np.float32)).reshape(self.mean.shape)
        std_t = torch.as_tensor(np.asarray(std, dtype=np.float32)).reshape(self.std.shape)
        self.mean.copy_(mean_t)
        self.std.copy_(std_t.clamp_min(1e-8))
        self.fitted.fill_(True)

    def transform(self, x: Tensor) -> Tensor:
        if self.log10:
            x = torch.log10(x.clamp_min(1e-30))
        return (x - self.mean) / self.std

    def inverse(self, z: Tensor) -> Tensor:
        x = z * self.std + self.mean
        return torch.pow(10.0, x) if self.log10 else x

    def extra_repr(self) -> str:
        return f"dim={self.mean.numel()}, log10={self.log10}, fitted={bool(self.fitted)}"
