"""Piecewise-linear encoding of numeric descriptors, projected to a layer width.

Each descriptor ``x_j`` is cut into bins at quantiles of the training rows, edges
``b_0 < b_1 < ... < b_T``, and encoded as one number per bin: how much of that bin lies
below ``x_j`` (0 below the bin, 1 above it, linear inside; the first bin extends below
``b_0`` and the last above ``b_T`` so values outside the training range still move).
A linear map of all these numbers is then added to the first encoder layer's output.
The encoding is the "piecewise linear encoding" of Gorishniy, Rubachev & Babenko,
*On Embeddings for Numerical Features in Tabular Deep Learning*, NeurIPS 2022; it lets
an MLP make tree-like cuts on one descriptor (say, the Co fraction of a steel) that a
single linear map of standardised values makes only with many units.

Edges are buffers (a checkpoint carries them), fitted once from the training split's
quantiles. Duplicate quantiles (a descriptor that is 0 in most rows) collapse: such a
descriptor gets fewer bins, and the unused ones are masked to 0. The projection starts at
zero, so a model warm-started from a checkpoint without this branch starts as that
checkpoint's function and the branch learns from there.

Only the valid (descriptor, bin) columns carry a trainable weight. On element-fraction
descriptors most columns are invalid (27-38 % of fm-base's 271 x 16 columns stay valid on
steels, jdft2d, glass, expt_gap and expt_is_metal), and their encoding is always 0, so a
dense ``F*T`` weight would spend most of its matrix product and optimizer step on weights
that can never move the output. The map is the same function with the same gradients on
every valid column as the dense one; a checkpoint still stores the dense
``(out_dim, F*T)`` matrix (zeros where a column is invalid) under ``proj.weight``, so its
layout does not depend on the data.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn


class ValidColumnLinear(nn.Module):
    """A linear map of an ``n_in``-wide input of which only the ``columns`` can be non-zero.

    It takes those columns alone, ``(B, len(columns))`` -> ``(B, out_dim)``. The live
    parameter is ``weight (out_dim, len(columns))``; ``state_dict`` writes, and
    ``load_state_dict`` reads, the dense ``(out_dim, n_in)`` matrix with zeros elsewhere.
    ``columns`` is set by the owner (:meth:`set_columns`), never saved: it follows from
    the owner's saved bin mask.

    Args:
        n_in: width of the dense input.
        out_dim: width of the output.
    """

    def __init__(self, n_in: int, out_dim: int) -> None:
        super().__init__()
        self.n_in = n_in
        self.out_dim = out_dim
        self.register_buffer("columns", torch.zeros(0, dtype=torch.long), persistent=False)
        self.weight = nn.Parameter(torch.zeros(out_dim, 0))

    def dense_weight(self) -> Tensor:
        """The ``(out_dim, n_in)`` matrix this map applies (zeros off ``columns``)."""
        full = self.weight.new_zeros(self.out_dim, self.n_in)
        return full.index_copy(1, self.columns, self.weight)

    def set_columns(self, columns: Tensor) -> None:
        """Use ``columns`` from now on: a column kept keeps its weight and a new one starts
        at 0 (the dense matrix is unchanged on the columns still in use). A new parameter
        replaces the old when the count changes, so call this before an optimizer is built."""
        columns = columns.to(device=self.columns.device, dtype=torch.long)
        if torch.equal(columns, self.columns):
            return
        with torch.no_grad():
            new = self.dense_weight().index_select(1, columns)
        self.weight = nn.Parameter(new, requires_grad=self.weight.requires_grad)
        self.columns = columns

    def forward(self, x: Tensor) -> Tensor:  # (B, len(columns)) -> (B, out_dim)
        return x @ self.weight.t()

    def _save_to_state_dict(self, destination: dict, prefix: str, keep_vars: bool) -> None:
        destination[prefix + "weight"] = self.dense_weight().detach()

    def _load_from_state_dict(
        self,
        state_dict: dict,
        prefix: str,
        local_metadata: dict,
        strict: bool,
        missing_keys: list,
        unexpected_keys: list,
        error_msgs: list,
    ) -> None:
        key = prefix + "weight"
        if strict:
            unexpected_keys.extend(k for k in state_dict if k.startswith(prefix) and k != key)
        if key not in state_dict:
            if strict:
                missing_keys.append(key)
            return
        value = state_dict[key]
        if tuple(value.shape) != (self.out_dim, self.n_in):
            error_msgs.append(
                f"size mismatch for {key}: copying a param with shape {tuple(value.shape)} "
                f"from checkpoint, the shape in current model is ({self.out_dim}, {self.n_in})."
            )
            return
        with torch.no_grad():  # ``set_columns`` keeps ``weight`` at ``len(columns)`` columns
            self.weight.copy_(value.to(self.weight).index_select(1, self.columns))


class PiecewiseLinearEncoding(nn.Module):
    """``(B, F)`` raw descriptors -> ``(B, out_dim)``: binned encoding, then a linear map.

    Args:
        n_features: number of descriptor columns ``F``.
        n_bins: bins per descriptor ``T`` (at most; duplicate quantiles give fewer).
        out_dim: width of the output (the first encoder layer's width).
    """

    def __init__(self, n_features: int, n_bins: int, out_dim: int) -> None:
        super().__init__()
        if n_bins < 1:
            raise ValueError(f"n_bins must be >= 1, got {n_bins}.")
        self.n_features = n_features
        self.n_bins = n_bins
        # bin t of column j spans [lower[j, t], lower[j, t] + width[j, t]]
        self.register_buffer("lower", torch.zeros(n_features, n_bins))
        self.register_buffer("width", torch.ones(n_features, n_bins))
        self.register_buffer("valid", torch.zeros(n_features, n_bins))
        self.register_buffer("fitted", torch.tensor(False))
        # per valid column: its descriptor, and (lower, width, floor, ceil); set with the edges
        self.register_buffer("_column_feature", torch.zeros(0, dtype=torch.long), persistent=False)
        self.register_buffer("_column_bounds", torch.zeros(4, 0), persistent=False)
        self.proj = ValidColumnLinear(n_features * n_bins, out_dim)  # starts at zero

    def set_edges(self, quantiles: np.ndarray) -> None:
        """Fit the bins from ``quantiles (T + 1, F)``: training quantiles at ``linspace(0, 1)``.

        Raises:
            ValueError: the array is not ``(n_bins + 1, n_features)``.
        """
        q = np.asarray(quantiles, dtype=np.float64)
        if q.shape != (self.n_bins + 1, self.n_features):
            raise ValueError(
                f"bin quantiles have shape {q.shape}, expected "
                f"({self.n_bins + 1}, {self.n_features}) for {self.n_bins} bins."
            )
        lower = np.zeros((self.n_features, self.n_bins))
        width = np.ones((self.n_features, self.n_bins))
        valid = np.zeros((self.n_features, self.n_bins))
        for j in range(self.n_features):
            edges = np.unique(q[:, j][np.isfinite(q[:, j])])
            n = edges.size - 1
            if n < 1:
                continue  # a constant column: no bin carries information
            lower[j, :n] = edges[:-1]
            width[j, :n] = np.diff(edges)
            valid[j, :n] = 1.0
        self.lower.copy_(torch.as_tensor(lower, dtype=self.lower.dtype))
        self.width.copy_(torch.as_tensor(width, dtype=self.width.dtype))
        self.valid.copy_(torch.as_tensor(valid, dtype=self.valid.dtype))
        self.fitted.fill_(True)
        self._use_valid_columns()

    def _use_valid_columns(self) -> None:
        """Point ``proj`` and the per-column bounds of :meth:`forward` at the valid columns."""
        columns = torch.nonzero(self.valid.flatten() > 0).flatten()
        self.proj.set_columns(columns)
        floor, ceil = self._clamp_bounds()
        self._column_feature = torch.div(columns, self.n_bins, rounding_mode="floor")
        self._column_bounds = torch.stack(
            [b.flatten().index_select(0, columns) for b in (self.lower, self.width, floor, ceil)]
        )

    def _load_from_state_dict(self, state_dict: dict, prefix: str, *args: object) -> None:
        # the bin mask loads first, so ``proj`` (loaded after its owner) reads the columns
        # the checkpoint's mask selects
        super()._load_from_state_dict(state_dict, prefix, *args)
        self._use_valid_columns()

    def _clamp_bounds(self) -> tuple[Tensor, Tensor]:
        """``(floor, ceil)``, each ``(F, T)``: a bin's encoding lies in [0, 1], except that
        the first bin of a descriptor is open below and its last valid bin open above."""
        t = torch.arange(self.n_bins, device=self.valid.device)
        last = t == (self.valid.sum(dim=1, keepdim=True) - 1).clamp_min(0)  # (F, T)
        floor = torch.zeros_like(self.valid).masked_fill(t == 0, -torch.inf)
        ceil = torch.ones_like(self.valid).masked_fill(last, torch.inf)
        return floor, ceil

    def encode(self, x: Tensor) -> Tensor:
        """The bin encoding ``(B, F, T)`` of raw descriptors ``x (B, F)`` (0 on invalid bins)."""
        floor, ceil = self._clamp_bounds()
        e = (x.unsqueeze(-1) - self.lower) / self.width  # (B, F, T)
        return e.clamp(min=floor, max=ceil) * self.valid

    def forward(self, x: Tensor) -> Tensor:  # (B, F) -> (B, out_dim)
        # :meth:`encode` on the valid columns only (the same numbers, a third of the work)
        lower, width, floor, ceil = self._column_bounds
        e = ((x.index_select(1, self._column_feature) - lower) / width).clamp(min=floor, max=ceil)
        return self.proj(e)
