"""Classification task: binary or multi-class labels."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from foundation_model.models.components.mlp import MLP
from foundation_model.models.losses import masked_cross_entropy
from foundation_model.models.task_head.base import TaskData, TaskHead, TaskScalers, TaskSpec

if TYPE_CHECKING:
    from foundation_model.data.batch import Batch


#: how ``<name>_label`` is chosen from the class probabilities
DECISIONS = ("argmax", "balanced")

TIE_BREAK = 1000.0  # task_error: the log loss only orders epochs of equal error rate

#: more distinct non-integer numbers than this in a label column: a measured quantity
MAX_FRACTIONAL_CLASSES = 10


class ClassificationHead(TaskHead):
    """MLP ``d_in -> hidden_dims -> num_classes``; outputs logits ``(B, C)``."""

    def __init__(
        self,
        d_in: int,
        num_classes: int,
        hidden_dims: list[int],
        dropout: float,
        activation: str,
        class_weights: list[float] | None,
        label_smoothing: float,
    ) -> None:
        super().__init__()
        self.mlp = MLP(
            [d_in, *hidden_dims, num_classes], "none", activation, dropout, plain_last=True
        )
        weights = torch.tensor(class_weights, dtype=torch.float32) if class_weights else None
        self.register_buffer("class_weights", weights, persistent=False)
        self.label_smoothing = label_smoothing

    def forward(
        self, h_task: Tensor, seq_x: Tensor | None = None, seq_mask: Tensor | None = None
    ) -> Tensor:
        return self.mlp(h_task)  # (B, C)

    def loss(self, pred: Tensor, target: Tensor, mask: Tensor) -> Tensor:
        return masked_cross_entropy(pred, target, mask, self.class_weights, self.label_smoothing)


class ClassificationTask(TaskSpec):
    """A categorical property (metal / non-metal, crystal system, ...).

    Labels may be integers ``0..C-1`` or strings; string labels are mapped to indices in
    ``class_names`` order (sorted unique labels of the *training rows* when not given;
    validation/test labels outside that vocabulary are masked with a warning). Outputs are
    ``<name>_probabilities`` (one column per class), ``<name>_label`` and
    ``<name>_entropy`` (predictive entropy of the ensemble-mean probabilities, in nats).

    ``<name>_label`` is the most probable class (``decision: argmax``, the rule for plain
    accuracy) or, with ``decision: balanced``, the class with the largest ``p_c / prior_c``
    (``prior_c``: the class's share of the labelled training rows, add-one smoothed), the rule
    for balanced accuracy (the mean recall over classes; with two classes, label 1 where
    ``p_1`` reaches class 1's training share). Balanced suits imbalanced classes whose recall
    matters as much as the common class's. Probabilities, metrics and checkpoint selection do
    not depend on the rule.

    Args:
        name: task name.
        column: attributes column holding the label (default: ``name``).
        num_classes: number of classes (inferred from the data when omitted).
        class_names: label of each class index (inferred from string labels when omitted).
        hidden_dims: hidden widths of the head MLP.
        dropout: dropout in the head.
        activation: ``torch.nn`` activation name.
        class_weights: optional per-class loss weights.
        label_smoothing: cross-entropy label smoothing.
        loss_weight: fixed weight ``w_t`` in the total loss.
        decision: ``argmax`` or ``balanced`` (how ``<name>_label`` is chosen, see above).
        class_prior: share of each class for ``decision: balanced`` (inferred from the
            labelled training rows when omitted; saved with the checkpoint).
    """

    task_type = "classification"
    has_target_scaler = False

    def __init__(
        self,
        name: str,
        column: str | None = None,
        num_classes: int | None = None,
        class_names: list[str] | None = None,
        hidden_dims: list[int] | None = None,
        dropout: float = 0.0,
        activation: str = "SiLU",
        class_weights: list[float] | None = None,
        label_smoothing: float = 0.0,
        loss_weight: float = 1.0,
        decision: str = "argmax",
        class_prior: list[float] | None = None,
    ) -> None:
        super().__init__(name, loss_weight)
        if decision not in DECISIONS:
            raise ValueError(
                f"Task {name!r}: decision must be one of {list(DECISIONS)}, got {decision!r}."
            )
        self.column = column or name
        self.class_names = [str(c) for c in class_names] if class_names else None
        if num_classes is None and self.class_names:
            num_classes = len(self.class_names)
        if num_classes is not None and num_classes < 2:
            raise ValueError(f"Task {name!r}: num_classes must be at least 2, got {num_classes}.")
        if self.class_names and num_classes != len(self.class_names):
            raise ValueError(
                f"Task {name!r}: num_classes={num_classes} but {len(self.class_names)} class_names."
            )
        self.num_classes = num_classes
        self.hidden_dims = list(hidden_dims) if hidden_dims is not None else [64]
        self.dropout = dropout
        self.activation = activation
        self.class_weights = list(class_weights) if class_weights else None
        self.label_smoothing = label_smoothing
        self.decision = decision
        self.class_prior = self._checked_prior(class_prior) if class_prior is not None else None
        self._infer_prior = class_prior is None

    def _checked_prior(self, prior: list[float]) -> list[float]:
        values = np.asarray(prior, dtype=np.float64)
        if values.ndim != 1 or not (np.isfinite(values) & (values >= 0)).all() or not values.any():
            raise ValueError(
                f"Task {self.name!r}: class_prior must be a list of shares >= 0, not all 0 (0: "
                f"a class that decision 'balanced' never labels), got {prior!r}."
            )
        if self.num_classes is not None and values.size != self.num_classes:
            raise ValueError(
                f"Task {self.name!r}: class_prior has {values.size} entries for "
                f"{self.num_classes} classes."
            )
        return (values / values.sum()).tolist()

    def target_columns(self) -> list[str]:
        return [self.column]

    def build_head(self, d_in: int) -> ClassificationHead:
        if self.num_classes is None:
            raise ValueError(
                f"Task {self.name!r}: num_classes is unknown (no labels to infer it from); "
                "set num_classes (and class_names) in the task config."
            )
        return ClassificationHead(
            d_in,
            self.num_classes,
            self.hidden_dims,
            self.dropout,
            self.activation,
            self.class_weights,
            self.label_smoothing,
        )

    # ---------------------------------------------------------------- data
    def _vocabulary(self, keys: pd.Series, train: np.ndarray, numbers: bool = False) -> None:
        if self.class_names is None:
            found = keys[train].unique().tolist()
            names = sorted(found, key=int) if numbers else sorted(found)
            if not names:
                raise ValueError(
                    f"Task {self.name!r}: no labelled training row to learn the classes from; "
                    "set class_names in the task config or add labels."
                )
            if self.num_classes is not None and self.num_classes != max(len(names), 2):
                raise ValueError(
                    f"Task {self.name!r}: num_classes is {self.num_classes} but the training "
                    f"labels hold {len(names)} classes {names[:8]}; leave num_classes out "
                    "(it is read from the labels) or give class_names."
                )
            self.class_names = names
            self.num_classes = max(len(names), 2)

    def _refuse_measured_numbers(self, train_labels: pd.Series) -> None:
        """A label column that is (almost all) numbers with many distinct fractional values
        is a measured quantity (a regression target), not classes.

        Args:
            train_labels: the training rows' labels as numbers (NaN: not a number).
        """
        numbers = train_labels.dropna()
        fractional = numbers[numbers != numbers.round()]
        distinct = fractional.nunique()
        if len(numbers) < 0.9 * len(train_labels) or distinct <= MAX_FRACTIONAL_CLASSES:
            return
        raise ValueError(
            f"Task {self.name!r}: column {self.column!r} holds {distinct} distinct "
            f"non-integer numbers in the training rows (e.g. {fractional.iloc[0]:g}), not class "
            "labels: use a RegressionTask for a number (or give class_names, quoted as text, "
            "e.g. class_names: ['0.5', '1.5'], to treat them as classes)."
        )

    def prepare(self, attrs: pd.DataFrame | None, n: int, train_rows: np.ndarray) -> TaskData:
        if attrs is None:
            return TaskData(np.zeros(n, np.int64), np.zeros(n, bool))
        raw = attrs[self.column]
        mask = raw.notna().to_numpy()
        in_train = np.zeros(n, bool)
        in_train[train_rows] = True
        numeric = pd.to_numeric(raw, errors="coerce")
        labelled_numeric = numeric[mask]
        integer_like = bool(
            labelled_numeric.notna().all() and (labelled_numeric == labelled_numeric.round()).all()
        )
        if self.class_names is None and not integer_like:
            self._refuse_measured_numbers(labelled_numeric[in_train[mask]])
        # integer labels are class indices when they are 0..C-1 (or num_classes says how
        # many); other integers (e.g. 1..4) are names, as text labels are: never a class 0
        # that no row has
        as_names = False
        if self.class_names is None and integer_like and self.num_classes is None:
            seen = set(labelled_numeric[in_train[mask]].astype(np.int64).tolist())
            as_names = bool(seen) and seen != set(range(max(seen) + 1))
        if self.class_names is None and integer_like and not as_names:
            codes = np.zeros(n, np.int64)
            codes[mask] = labelled_numeric.astype(np.int64).to_numpy()
            if mask.any() and codes[mask].min() < 0:
                raise ValueError(f"Task {self.name!r}: integer labels must be >= 0.")
            if self.num_classes is None:
                train_codes = codes[mask & in_train]
                top = int(train_codes.max()) + 1 if train_codes.size else 0
                self.num_classes = max(top, 2)
            unseen = mask & (codes >= self.num_classes)
        else:
            keys = pd.Series([""] * n, index=raw.index, dtype=object)
            text = numeric.astype("Int64").astype(str) if integer_like else raw.astype(str)
            keys[mask] = text[mask]
            self._vocabulary(keys, mask & in_train, numbers=integer_like)
            lookup = {c: i for i, c in enumerate(self.class_names or [])}
            codes = keys.map(lookup).fillna(-1).to_numpy(np.int64)
            unseen = mask & (codes < 0)
        if (unseen & in_train).any():
            bad = raw[unseen & in_train].iloc[0]
            bad = bad.item() if isinstance(bad, np.generic) else bad  # 37.5, not np.float64(...)
            row = raw.index[unseen & in_train][0]
            raise ValueError(
                f"Task {self.name!r}: training label {bad!r} (row id {row!r}) is not one of "
                f"the classes {self.class_names or list(range(self.num_classes or 0))}"
                + (
                    "; integer labels are class indices 0..num_classes-1 when num_classes is "
                    "set: leave num_classes out (labels such as 1..K are then class names) "
                    "or give class_names."
                    if self.class_names is None
                    else "."
                )
            )
        if unseen.any():
            example = raw[unseen].iloc[0]
            example = example.item() if isinstance(example, np.generic) else example
            warnings.warn(
                f"Task {self.name!r}: {int(unseen.sum())} validation/test label(s) such as "
                f"{example!r} never occur in the training rows; they are not scored.",
                stacklevel=2,
            )
        mask = mask & ~unseen
        self._require_two_classes(raw, codes, mask & in_train)
        if self._infer_prior and (mask & in_train).any():
            counts = np.bincount(codes[mask & in_train], minlength=self.num_classes or 2)
            empty = [self.names()[i] for i in np.flatnonzero(counts == 0)]
            if empty:
                warnings.warn(
                    f"Task {self.name!r}: class(es) {empty} have no training row: the model "
                    "learns nothing about them and decision 'balanced' never labels them.",
                    stacklevel=2,
                )
            # add-one shares; 0 marks a class without training rows (never labelled)
            prior = np.where(counts > 0, counts + 1.0, 0.0)
            self.class_prior = (prior / prior.sum()).tolist()
        elif self.class_prior is not None:
            self._checked_prior(self.class_prior)  # a given prior must fit the classes
        return TaskData(np.where(mask, codes, 0).astype(np.int64), mask)

    def adopt_fitted(self, saved: TaskSpec) -> None:
        """Use the checkpoint's ``class_prior`` (unless this config gave its own)."""
        prior = getattr(saved, "class_prior", None)
        if self._infer_prior and prior is not None:
            self.class_prior = list(prior)
            self._infer_prior = False

    def _require_two_classes(self, raw: pd.Series, codes: np.ndarray, train: np.ndarray) -> None:
        """Refuse training rows that all carry one class: a classifier cannot learn from them."""
        present = np.unique(codes[train])
        if train.any() and present.size < 2:
            label = raw[train].iloc[0]
            raise ValueError(
                f"Task {self.name!r}: all {int(train.sum())} labelled training rows have the "
                f"single class {label!r}; a classification task needs at least two classes in "
                "its training rows: add rows of another class or drop the task."
            )

    # ---------------------------------------------------------------- outputs
    def names(self) -> list[str]:
        """Class label of each index."""
        return list(self.class_names or [str(i) for i in range(self.num_classes or 0)])

    def combine(self, stacked: Tensor) -> Tensor:
        """Log of the ensemble-mean probabilities (softmax of it gives the mean)."""
        return torch.log_softmax(stacked.float(), dim=-1).exp().mean(dim=0).clamp_min(1e-12).log()

    def outputs(self, stacked: Tensor, batch: Batch, scalers: TaskScalers) -> dict[str, Tensor]:
        proba = self.combine(stacked).exp()  # (B, C)
        entropy = -(proba * proba.clamp_min(1e-12).log()).sum(dim=-1)  # (B,)
        return {
            f"{self.name}_probabilities": proba,
            f"{self.name}_label": self.labels(proba),
            f"{self.name}_entropy": entropy,
        }

    def labels(self, proba: Tensor) -> Tensor:
        """Class index per row by the task's ``decision`` rule.

        Args:
            proba: ``(B, C)`` class probabilities.
        """
        if self.decision == "argmax":
            return proba.argmax(dim=-1)
        if self.class_prior is None:
            raise ValueError(
                f"Task {self.name!r}: decision 'balanced' needs class_prior; train on labelled "
                "rows (it is inferred there) or set class_prior in the task config."
            )
        prior = torch.as_tensor(self.class_prior, dtype=proba.dtype, device=proba.device)
        ratio = torch.where(prior > 0, proba / prior.clamp_min(1e-12), torch.zeros_like(proba))
        return ratio.argmax(dim=-1)  # a class of share 0 (no training row) is never chosen

    def eval_items(self, outputs: dict[str, Tensor], batch: Batch) -> dict[str, Tensor]:
        return {
            "pred": outputs[f"{self.name}_probabilities"],
            "target": batch.targets[self.name],
            "mask": batch.masks[self.name],
        }

    def metrics(self, arrays: dict[str, np.ndarray]) -> dict[str, float]:
        from foundation_model.models.metrics import classification_metrics

        m = arrays["mask"]
        return classification_metrics(arrays["target"][m].astype(int), arrays["pred"][m])

    def task_error(self, arrays: dict[str, np.ndarray], scale: float) -> float:
        """The error rate of the most probable class, ties broken by the log loss.

        An error rate on a few validation rows takes few values, so epochs tie often, and
        a checkpoint or early stopping that keeps the first of tied epochs can keep an
        untrained network (on a tiny validation set every epoch may score 0). The log loss
        divided by ``TIE_BREAK * n`` (``n`` scored rows) is added: it is below the error
        rate's step ``1 / n`` for any log loss under ``TIE_BREAK`` (probabilities are
        clipped at 1e-12, so it is at most 27.7), so it only orders epochs whose error rates
        are equal, preferring the better calibrated one.
        """
        m = arrays["mask"]
        if not m.any():
            return float("nan")
        proba, target = arrays["pred"][m], arrays["target"][m].astype(int)
        error = float((proba.argmax(axis=1) != target).mean())
        p_true = np.clip(proba[np.arange(len(target)), target], 1e-12, 1.0)
        log_loss = float(-np.log(p_true).mean())
        return error + log_loss / (TIE_BREAK * len(target))

    def plot(self, arrays: dict[str, np.ndarray], title: str, out_dir: Path) -> list[Path]:
        from foundation_model.plotting.classification import classification_plot

        m = arrays["mask"]
        y = arrays["target"][m].astype(int)
        path = out_dir / f"classification_{title}.png"
        return [classification_plot(y, arrays["pred"][m], self.names(), title, path)]

    def frame_columns(self, outputs: dict[str, np.ndarray]) -> dict[str, object]:
        names = self.names()
        cols: dict[str, object] = {}
        proba = outputs[f"{self.name}_probabilities"]
        for j, cls in enumerate(names):
            cols[f"{self.name}_probabilities_{cls}"] = proba[:, j]
        labels = outputs[f"{self.name}_label"].astype(int)
        cols[f"{self.name}_label"] = np.asarray(names, dtype=object)[labels]
        cols[f"{self.name}_entropy"] = outputs[f"{self.name}_entropy"]
        return cols
