"""Regression task: one scalar target per row."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from foundation_model.models.components.mlp import MLP
from foundation_model.models.losses import (
    REGRESSION_LOSSES,
    masked_bce_with_logits,
    masked_noise_nll,
)
from foundation_model.models.task_head.base import (
    TaskData,
    TaskHead,
    TaskScalers,
    TaskSpec,
    check_regression_loss,
    member_std,
    scaled_mae,
    to_original_std,
)

if TYPE_CHECKING:
    from foundation_model.data.batch import Batch
    from foundation_model.data.scalers import StandardScaler


class RegressionHead(TaskHead):
    """MLP ``d_in -> hidden_dims -> 1``; outputs ``(B,)`` in standardised target units, or
    ``(B, C)`` columns ``[mean, log noise scale (noise=True), point-mass logit (gate=True)]``.

    The noise scale comes from its own MLP on the detached shared features and the detached
    mean (errors often depend on the predicted value, e.g. near-zero band gaps) and learns
    from :meth:`aux_loss` only, in which the mean is detached too: a noise head leaves the
    training of the mean and of the encoder unchanged.

    The point-mass gate (``gate=True``) is a classifier of "the target sits exactly at the
    point mass" (a band gap of 0 for a metal) on the detached shared features; its binary
    cross-entropy is part of :meth:`aux_loss`, so it leaves the encoder's training unchanged
    (a version that trained the encoder too was worse on expt_gap's inner folds). ``point_mass_z``
    (a buffer, set by the model from its target scaler) is the point mass in model units.
    """

    #: rows within this distance of the point mass (standardised units) count as at it
    POINT_MASS_TOLERANCE = 1e-4

    #: bounds of the predicted log noise scale (standardised units), for stable training
    LOG_SCALE_RANGE = (-7.0, 3.0)

    def __init__(
        self,
        d_in: int,
        hidden_dims: list[int],
        dropout: float,
        activation: str,
        loss: str,
        noise: bool = False,
        gate: bool = False,
    ) -> None:
        super().__init__()
        self.mlp = MLP([d_in, *hidden_dims, 1], "none", activation, dropout, plain_last=True)
        self.loss_fn = REGRESSION_LOSSES[loss]
        self.noise_mlp = (
            MLP([d_in + 1, *hidden_dims, 1], "none", activation, dropout, plain_last=True)
            if noise
            else None
        )
        self.family = "laplace" if loss == "l1" else "gaussian"
        self.gate_mlp = (
            MLP([d_in, *hidden_dims, 1], "none", activation, dropout, plain_last=True)
            if gate
            else None
        )
        if gate:
            self.register_buffer("point_mass_z", torch.tensor(float("nan")))
        self.n_columns = 1 + int(noise) + int(gate)

    def forward(
        self, h_task: Tensor, seq_x: Tensor | None = None, seq_mask: Tensor | None = None
    ) -> Tensor:
        mean = self.mlp(h_task).squeeze(-1)  # (B,)
        if self.n_columns == 1:
            return mean
        columns = [mean]
        if self.noise_mlp is not None:
            features = torch.cat([h_task.detach(), mean.detach().unsqueeze(-1)], dim=-1)
            columns.append(self.noise_mlp(features).squeeze(-1).clamp(*self.LOG_SCALE_RANGE))
        if self.gate_mlp is not None:
            columns.append(self.gate_mlp(h_task.detach()).squeeze(-1))
        return torch.stack(columns, dim=-1)  # (B, C)

    def loss(self, pred: Tensor, target: Tensor, mask: Tensor) -> Tensor:
        mean = pred[..., 0] if self.n_columns > 1 else pred
        return self.loss_fn(mean, target, mask)

    def aux_loss(self, pred: Tensor, target: Tensor, mask: Tensor) -> Tensor | None:
        """The noise head's likelihood of the detached mean's residuals, plus the point-mass
        gate's binary cross-entropy (``None`` with neither)."""
        losses = []
        if self.noise_mlp is not None:
            detached = torch.stack([pred[..., 0].detach(), pred[..., 1]], dim=-1)
            losses.append(masked_noise_nll(detached, target, mask, self.family))
        if self.gate_mlp is not None and bool(torch.isfinite(self.point_mass_z)):
            at_mass = (target - self.point_mass_z).abs() <= self.POINT_MASS_TOLERANCE
            losses.append(masked_bce_with_logits(pred[..., -1], at_mass, mask))
        return sum(losses[1:], losses[0]) if losses else None


def numeric_column(attrs: pd.DataFrame, column: str, task: str) -> np.ndarray:
    """A numeric attributes column as float64 (NaN = no label); one-line errors otherwise."""
    col = pd.to_numeric(attrs[column], errors="coerce")
    bad = attrs[column].notna() & col.isna()
    if bad.any():
        raise ValueError(
            f"attributes_source: column {column!r} (task {task!r}) has non-numeric "
            f"value(s) such as {attrs[column][bad].iloc[0]!r} at row {bad.idxmax()!r}."
        )
    y = col.to_numpy(np.float64)
    if np.isinf(y).any():
        raise ValueError(
            f"attributes_source: column {column!r} holds inf values; fix or blank them."
        )
    return y


#: the two parts of ``<name>_spread`` that a model with an ensemble and a noise head also
#: outputs (original units, before the σ map): ``spread^2 = ensemble^2 + noise^2``
SPREAD_PARTS = ("spread_ensemble", "spread_noise")


class RegressionTask(TaskSpec):
    """A scalar property (band gap, yield strength, ...).

    Outputs ``<name>_value`` and ``<name>_std`` (original units) when the model gives a
    spread: an ensemble of heads, a noise head, or both (their variances add).

    Args:
        name: task name (output column ``<name>_value``).
        column: attributes column holding the target (default: ``name``).
        hidden_dims: hidden widths of the head MLP.
        dropout: dropout in the head.
        activation: ``torch.nn`` activation name.
        loss: ``mse``, ``l1`` or ``huber`` (on standardised targets).
        standardize: standardise the target with train-split mean/std.
        log_transform: fit on ``log10(y)`` (targets must be positive); predictions are
            returned in original units.
        loss_weight: fixed weight ``w_t`` in the total loss.
        noise_head: also predict each row's noise scale (heteroscedastic regression): the head
            outputs a mean, trained by ``loss`` as without a noise head, and a log scale from
            its own MLP on the detached shared features and predicted mean, trained by the
            likelihood that matches
            ``loss`` (Laplace for ``l1``, Gaussian otherwise) of the mean's residuals,
            outside the task weighting. ``<name>_std`` is then the predicted noise combined
            with the ensemble spread, recalibrated on validation rows.
        point_mass: a target value that many rows sit at exactly, such as the band gap 0 of
            metals (None: off). The head then also predicts the probability that a row sits
            at it (``<name>_point_mass_probability``; a classifier on the detached shared
            features, trained by binary cross-entropy beside the regression loss), and
            ``<name>_value`` is the point mass where that probability exceeds 0.5 (the
            median of the two-part prediction), otherwise the regression mean.
            ``<name>_std`` is recalibrated on validation rows against those values.
        min_value: a physical lower bound in original units (e.g. 0 for a band gap, a
            yield strength or a bulk modulus): predictions below it are raised to it. Training
            labels below it are an error. None: unbounded.
        max_value: a physical upper bound, likewise (e.g. 1 for a fraction).
    """

    task_type = "regression"

    def __init__(
        self,
        name: str,
        column: str | None = None,
        hidden_dims: list[int] | None = None,
        dropout: float = 0.0,
        activation: str = "SiLU",
        loss: Literal["mse", "l1", "huber"] = "mse",
        standardize: bool = True,
        log_transform: bool = False,
        loss_weight: float = 1.0,
        noise_head: bool = False,
        point_mass: float | None = None,
        min_value: float | None = None,
        max_value: float | None = None,
    ) -> None:
        super().__init__(name, loss_weight)
        self.column = column or name
        self.hidden_dims = list(hidden_dims) if hidden_dims is not None else [64]
        self.dropout = dropout
        self.activation = activation
        self.loss = check_regression_loss(loss)
        self.standardize = standardize
        self.log_transform = log_transform
        self.noise_head = bool(noise_head)
        if point_mass is not None:
            point_mass = float(point_mass)
            if not np.isfinite(point_mass) or (log_transform and point_mass <= 0):
                raise ValueError(
                    f"Task {name!r}: point_mass must be a finite number (positive with "
                    f"log_transform), got {point_mass!r}."
                )
        self.point_mass = point_mass
        bounds = [float(b) for b in (min_value, max_value) if b is not None]
        if not all(np.isfinite(b) for b in bounds) or (len(bounds) == 2 and bounds[0] >= bounds[1]):
            raise ValueError(
                f"Task {name!r}: min_value and max_value must be finite with min_value < "
                f"max_value, got {min_value!r} and {max_value!r}."
            )
        self.min_value = None if min_value is None else float(min_value)
        self.max_value = None if max_value is None else float(max_value)

    def target_columns(self) -> list[str]:
        return [self.column]

    def target_log10(self) -> bool:
        return self.log_transform

    def build_head(self, d_in: int) -> RegressionHead:
        return RegressionHead(
            d_in,
            self.hidden_dims,
            self.dropout,
            self.activation,
            self.loss,
            self.noise_head,
            self.point_mass is not None,
        )

    def load_head_statistics(self, members: Any, scaler: StandardScaler) -> None:
        """The point mass in model units, for the gates' positives (``point_mass_z``)."""
        if self.point_mass is None:
            return
        z = scaler.transform(torch.tensor([self.point_mass], device=scaler.mean.device))
        for member in members:
            member.point_mass_z.fill_(float(z.reshape(-1)[0]))

    def _multi_column(self) -> bool:
        return self.noise_head or self.point_mass is not None

    def combine(self, stacked: Tensor) -> Tensor:
        """Mean over members of the predicted means, ``(K, B[, C]) -> (B,)``."""
        return (stacked[..., 0] if self._multi_column() else stacked).mean(dim=0)

    def point_mass_probability(self, stacked: Tensor) -> Tensor:
        """Mean over members of the point-mass probability, ``(K, B, C) -> (B,)``."""
        return torch.sigmoid(stacked[..., -1]).mean(dim=0)

    def model_std(self, stacked: Tensor) -> Tensor:
        """Model-space predictive std: member spread, plus the mean predicted noise variance
        with a noise head (Laplace scale ``b`` has variance ``2 b^2``)."""
        if not self.noise_head:
            return member_std(stacked[..., 0] if self._multi_column() else stacked)
        spread, noise = self.std_parts(stacked)
        return torch.sqrt(spread**2 + noise**2)

    def std_parts(self, stacked: Tensor) -> tuple[Tensor, Tensor]:
        """The two model-space parts of :meth:`model_std` with a noise head: the members'
        spread (0 for one member) and the predicted noise std."""
        spread = torch.nan_to_num(member_std(stacked[..., 0]), nan=0.0)
        scale = stacked[..., 1].exp()
        noise_var = (2.0 * scale**2 if self.loss == "l1" else scale**2).mean(dim=0)
        return spread, torch.sqrt(noise_var)

    def prepare(self, attrs: pd.DataFrame | None, n: int, train_rows: np.ndarray) -> TaskData:
        if attrs is None:
            return TaskData(np.zeros(n, np.float32), np.zeros(n, bool))
        y = numeric_column(attrs, self.column, self.name)
        mask = ~np.isnan(y)
        if self.log_transform and (y[mask] <= 0).any():
            raise ValueError(
                f"Task {self.name!r}: log_transform needs positive targets; "
                f"{self.column!r} has values <= 0."
            )
        labelled = np.where(mask, y, np.nan)
        with np.errstate(invalid="ignore"):  # NaN compares False: unlabelled rows pass
            beyond = {
                "below min_value": (self.min_value, labelled < (self.min_value or 0.0)),
                "above max_value": (self.max_value, labelled > (self.max_value or 0.0)),
            }
        for word, (bound, bad) in beyond.items():
            if bound is not None and bad.any():
                i = int(np.flatnonzero(bad)[0])
                raise ValueError(
                    f"Task {self.name!r}: {self.column!r} has {int(bad.sum())} label(s) {word} "
                    f"{bound:g} (e.g. {y[i]:g} in row {attrs.index[i]!r}); fix the labels or "
                    "the bound."
                )
        return TaskData(np.where(mask, y, 0.0).astype(np.float32), mask)

    def target_statistics(self, data: TaskData, train_rows: np.ndarray) -> tuple[float, float]:
        if not self.standardize:
            return 0.0, 1.0
        return super().target_statistics(data, train_rows)

    def outputs(self, stacked: Tensor, batch: Batch, scalers: TaskScalers) -> dict[str, Tensor]:
        assert scalers.target is not None
        value = scalers.target.inverse(self.combine(stacked))  # (B,)
        std, spread = to_original_std(
            self.model_std(stacked), value, scalers, self.log_transform, scalers.distance
        )
        out = {f"{self.name}_value": value, f"{self.name}_std": std, f"{self.name}_spread": spread}
        if self.noise_head and stacked.shape[0] > 1:  # both parts, for studies of σ maps
            for key, part in zip(("ensemble", "noise"), self.std_parts(stacked), strict=True):
                raw = to_original_std(part, value, scalers, self.log_transform)[1]
                out[f"{self.name}_spread_{key}"] = raw
        if self.point_mass is not None:
            prob = self.point_mass_probability(stacked)
            out[f"{self.name}_value"] = torch.where(
                prob > 0.5, torch.full_like(value, self.point_mass), value
            )
            out[f"{self.name}_point_mass_probability"] = prob
        if self.min_value is not None or self.max_value is not None:
            key = f"{self.name}_value"
            out[key] = out[key].clamp(min=self.min_value, max=self.max_value)
        return out

    def eval_items(self, outputs: dict[str, Tensor], batch: Batch) -> dict[str, Tensor]:
        items = {
            "pred": outputs[f"{self.name}_value"],
            "std": outputs[f"{self.name}_std"],
            "spread": outputs[f"{self.name}_spread"],
            "target": batch.targets[self.name],
            "mask": batch.masks[self.name],
        }
        for key in SPREAD_PARTS:
            if f"{self.name}_{key}" in outputs:
                items[key] = outputs[f"{self.name}_{key}"]
        if "latent_distance" in outputs:  # the σ map's second signal
            items["distance"] = outputs["latent_distance"]
        return items

    def metrics(self, arrays: dict[str, np.ndarray]) -> dict[str, float]:
        from foundation_model.models.metrics import point_metrics

        return point_metrics(arrays)

    def task_error(self, arrays: dict[str, np.ndarray], scale: float) -> float:
        pred, target = arrays["pred"], arrays["target"]
        if self.log_transform:  # compare in the space the model standardises
            pred, target = (np.log10(np.clip(a, 1e-30, None)) for a in (pred, target))
        return scaled_mae(pred, target, arrays["mask"], scale)

    def frame_columns(self, outputs: dict[str, np.ndarray]) -> dict[str, object]:
        keys = ["value", "std"]
        if self.point_mass is not None:
            keys.append("point_mass_probability")
        return {f"{self.name}_{k}": outputs[f"{self.name}_{k}"] for k in keys}

    def plot(self, arrays: dict[str, np.ndarray], title: str, out_dir: Path) -> list[Path]:
        from foundation_model.plotting.parity import parity_plot

        m = arrays["mask"]
        return [
            parity_plot(
                arrays["target"][m], arrays["pred"][m], title, out_dir / f"parity_{title}.png"
            )
        ]
