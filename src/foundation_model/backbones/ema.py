"""Exponential moving average of trainable weights, swapped in for evaluation."""

from __future__ import annotations

import torch
from torch import Tensor, nn


class WeightEMA:
    """Keeps ``shadow = decay * shadow + (1 - decay) * weight`` for trainable parameters.

    Args:
        module: the module whose trainable parameters are averaged.
        decay: averaging decay in ``[0, 1)``; larger is smoother.
    """

    def __init__(self, module: nn.Module, decay: float) -> None:
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"ema_decay must be in [0, 1), got {decay}.")
        self.decay = decay
        self.shadow: dict[str, Tensor] = {
            n: p.detach().clone() for n, p in module.named_parameters() if p.requires_grad
        }
        self.num_updates = 0

    @torch.no_grad()
    def update(self, module: nn.Module) -> None:
        self.num_updates += 1
        # warm-up: average uniformly over the first steps, then with the fixed decay
        decay = min(self.decay, (1 + self.num_updates) / (10 + self.num_updates))
        for name, p in module.named_parameters():
            if name in self.shadow:
                if self.shadow[name].device != p.device:
                    self.shadow[name] = self.shadow[name].to(p.device)
                self.shadow[name].lerp_(p.detach(), 1.0 - decay)

    @torch.no_grad()
    def swap_in(self, module: nn.Module) -> dict[str, Tensor]:
        """Load the averaged weights; returns the raw weights for :meth:`restore`."""
        params = dict(module.named_parameters())
        backup = {n: params[n].detach().clone() for n in self.shadow}
        for n, v in self.shadow.items():
            params[n].copy_(v)
        return backup

    @torch.no_grad()
    def restore(self, module: nn.Module, backup: dict[str, Tensor]) -> None:
        """Put back the raw weights returned by :meth:`swap_in`."""
        params = dict(module.named_parameters())
        for n, v in backup.items():
            params[n].copy_(v)

    @torch.no_grad()
    def copy_to(self, module: nn.Module) -> None:
        """Overwrite the module's weights with the averages (for inference)."""
        params = dict(module.named_parameters())
        for n, v in self.shadow.items():
            params[n].copy_(v)

    def state_dict(self) -> dict:
        return {"decay": self.decay, "num_updates": self.num_updates, "shadow": self.shadow}

    def load_state_dict(self, state: dict) -> None:
        self.decay = state["decay"]
        self.num_updates = state["num_updates"]
        self.shadow = {k: v.clone() for k, v in state["shadow"].items()}
