"""``CompoundDataModule``: descriptor tables + attributes table -> batches for every task."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Literal

import lightning.pytorch as pl
import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader

from foundation_model.data.dataset import CompoundDataset, CompoundTensors, identity_collate
from foundation_model.data.scalers import masked_mean_std
from foundation_model.data.splitters import RandomSplitter, SplitIndices, Splitter
from foundation_model.data.statistics import DataStatistics
from foundation_model.data.tables import (
    load_table,
    numeric_matrix,
    parse_sequence,
    require_columns,
)
from foundation_model.models.task_head.base import TaskSpec
from foundation_model.models.task_head.classification import ClassificationTask
from foundation_model.models.task_head.regression import RegressionTask
from foundation_model.models.task_head.sequence_base import SequenceTask

Source = str | Path | pd.DataFrame | None


class CompoundDataModule(pl.LightningDataModule):
    """Rows are compounds; columns come from up to three tables joined on their ids.

    The formula-descriptor table defines the rows. The structure-descriptor table (optional)
    and the attributes table (targets, optional at prediction time) are aligned to it by id;
    a row missing from them simply has no structure / no labels. Tables load lazily, on first
    use of :attr:`formula_dim`, :attr:`tasks` or :meth:`setup`.

    Args:
        formula_desc_source: formula descriptors (CSV/Parquet/pickle path or DataFrame);
            ids in the first CSV column or the index.
        attributes_source: targets table (same ids); may be None for prediction only.
        tasks: task specs naming their columns (``class_path``/``init_args``).
        structure_desc_source: optional structure descriptors (same ids).
        splitter: how rows are split (default: random 80/10/10, seed 42).
        batch_size: rows per batch.
        num_workers: DataLoader worker processes.
        predict_split: rows used by ``predict``: ``all``, ``train``, ``val`` or ``test``.
        id_column: column holding ids (default: the first CSV column / the index).
        drop_last: drop the last incomplete training batch (a 1-row last batch is always
            dropped in training: BatchNorm cannot use it).
    """

    def __init__(
        self,
        formula_desc_source: str | Path | Any,
        tasks: list[TaskSpec],
        attributes_source: str | Path | Any | None = None,
        structure_desc_source: str | Path | Any | None = None,
        splitter: Splitter | None = None,
        batch_size: int = 256,
        num_workers: int = 0,
        predict_split: Literal["all", "train", "val", "test"] = "all",
        id_column: str | None = None,
        drop_last: bool = False,
    ) -> None:
        super().__init__()
        if not tasks:
            raise ValueError("data.tasks is empty: name at least one task.")
        self.formula_desc_source = formula_desc_source
        self.attributes_source = attributes_source
        self.structure_desc_source = structure_desc_source
        self.task_specs_in = [TaskSpec.from_dict(t) for t in tasks]
        names = [t.name for t in self.task_specs_in]
        if len(set(names)) != len(names):
            raise ValueError(f"Task names must be unique, got {names}.")
        self.splitter = splitter or RandomSplitter()
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.predict_split = predict_split
        self.id_column = id_column
        self.drop_last = drop_last
        self._loaded = False

    # ----------------------------------------------------------------- lazy loading
    def _ensure_loaded(self) -> None:
        if self._loaded:
            return
        formula = load_table(self.formula_desc_source, "formula_desc_source", self.id_column)
        if len(formula) == 0:
            raise ValueError("formula_desc_source: the table has no rows.")
        self.ids = formula.index
        self.formula_columns = list(formula.columns)
        x_formula = numeric_matrix(formula, "formula_desc_source")
        x_structure, has_structure = self._load_structure()
        attrs = None
        if self.attributes_source is not None:
            attrs = load_table(self.attributes_source, "attributes_source", self.id_column)
            attrs = attrs.reindex(self.ids)
        self.attributes = attrs
        self._tasks = [copy.deepcopy(t) for t in self.task_specs_in]
        tensors = CompoundTensors(
            x_formula=torch.from_numpy(x_formula),
            x_structure=None if x_structure is None else torch.from_numpy(x_structure),
            has_structure=torch.from_numpy(has_structure),
        )
        for task in self._tasks:
            self._add_task(task, attrs, tensors)
        self.tensors = tensors
        self.splits: SplitIndices = self.splitter.split(self.ids, attrs)
        self._loaded = True

    def _load_structure(self) -> tuple[np.ndarray | None, np.ndarray]:
        n = len(self.ids)
        if self.structure_desc_source is None:
            self.structure_columns: list[str] = []
            return None, np.zeros(n, dtype=bool)
        table = load_table(self.structure_desc_source, "structure_desc_source", self.id_column)
        self.structure_columns = list(table.columns)
        present = self.ids.isin(table.index)
        values = np.zeros((n, table.shape[1]), dtype=np.float32)
        if present.any():
            values[present] = numeric_matrix(
                table.reindex(self.ids[present]), "structure_desc_source"
            )
        return values, np.asarray(present, dtype=bool)

    def _add_task(self, task: TaskSpec, attrs: pd.DataFrame | None, t: CompoundTensors) -> None:
        n = len(self.ids)
        if attrs is not None:
            require_columns(attrs, task.target_columns(), "attributes_source", task.name)
        if isinstance(task, RegressionTask):
            y, m = self._regression_values(task, attrs, n)
            t.targets[task.name], t.masks[task.name] = torch.from_numpy(y), torch.from_numpy(m)
        elif isinstance(task, ClassificationTask):
            y, m = self._classification_values(task, attrs, n)
            t.targets[task.name], t.masks[task.name] = torch.from_numpy(y), torch.from_numpy(m)
        elif isinstance(task, SequenceTask):
            self._sequence_values(task, attrs, t)
        else:
            raise TypeError(
                f"Unknown task type {type(task).__name__} for task {task.name!r}: use "
                "RegressionTask, ClassificationTask or a SequenceTask subclass."
            )

    def _regression_values(
        self, task: RegressionTask, attrs: pd.DataFrame | None, n: int
    ) -> tuple[np.ndarray, np.ndarray]:
        if attrs is None:
            return np.zeros(n, np.float32), np.zeros(n, bool)
        col = pd.to_numeric(attrs[task.column], errors="coerce")
        bad = attrs[task.column].notna() & col.isna()
        if bad.any():
            raise ValueError(
                f"attributes_source: column {task.column!r} (task {task.name!r}) has non-numeric "
                f"value(s) such as {attrs[task.column][bad].iloc[0]!r} at row {bad.idxmax()!r}."
            )
        y = col.to_numpy(np.float64)
        if np.isinf(y).any():
            raise ValueError(
                f"attributes_source: column {task.column!r} holds inf values; fix or blank them."
            )
        mask = ~np.isnan(y)
        if task.log_transform and (y[mask] <= 0).any():
            raise ValueError(
                f"Task {task.name!r}: log_transform needs positive targets; "
                f"{task.column!r} has values <= 0."
            )
        return np.where(mask, y, 0.0).astype(np.float32), mask

    def _classification_values(
        self, task: ClassificationTask, attrs: pd.DataFrame | None, n: int
    ) -> tuple[np.ndarray, np.ndarray]:
        if attrs is None:
            return np.zeros(n, np.int64), np.zeros(n, bool)
        raw = attrs[task.column]
        mask = raw.notna().to_numpy()
        labels = raw[mask]
        numeric = pd.to_numeric(labels, errors="coerce")
        integer_like = numeric.notna().all() and bool((numeric == numeric.round()).all())
        if task.class_names is None and integer_like:
            codes = numeric.astype(np.int64).to_numpy()
            if len(codes) and codes.min() < 0:
                raise ValueError(f"Task {task.name!r}: integer labels must be >= 0.")
            if task.num_classes is None:
                task.num_classes = max(int(codes.max()) + 1 if len(codes) else 0, 2)
            if len(codes) and codes.max() >= task.num_classes:
                raise ValueError(
                    f"Task {task.name!r}: label {codes.max()} >= num_classes={task.num_classes}."
                )
        else:
            keys = numeric.astype("Int64").astype(str) if integer_like else labels.astype(str)
            if task.class_names is None:
                task.class_names = sorted(keys.unique().tolist())
                task.num_classes = max(len(task.class_names), 2)
            lookup = {c: i for i, c in enumerate(task.class_names)}
            unknown = sorted(set(keys) - set(lookup))
            if unknown:
                raise ValueError(
                    f"Task {task.name!r}: label(s) {unknown[:5]} not in class_names "
                    f"{task.class_names}."
                )
            codes = keys.map(lookup).to_numpy(np.int64)
        y = np.zeros(n, np.int64)
        y[mask] = codes
        return y, mask

    def _sequence_values(
        self, task: SequenceTask, attrs: pd.DataFrame | None, t: CompoundTensors
    ) -> None:
        n = len(self.ids)
        xs: list[list[float] | None] = [None] * n
        ys: list[list[float] | None] = [None] * n
        if attrs is not None:
            for i, (rid, xc, yc) in enumerate(
                zip(self.ids, attrs[task.x_column], attrs[task.y_column], strict=True)
            ):
                xs[i] = parse_sequence(xc, f"column {task.x_column!r}", rid)
                ys[i] = parse_sequence(yc, f"column {task.y_column!r}", rid)
                if ys[i] is not None and (xs[i] is None or len(xs[i]) != len(ys[i])):
                    nx = 0 if xs[i] is None else len(xs[i])
                    raise ValueError(
                        f"Task {task.name!r}: sequence length mismatch at row {rid!r}: "
                        f"{task.x_column!r} has {nx} points, {task.y_column!r} has {len(ys[i])}."
                    )
        length = max([len(x) for x in xs if x is not None] + [1])
        seq_x = np.zeros((n, length, 1), np.float32)
        seq_mask = np.zeros((n, length), bool)
        y = np.zeros((n, length), np.float32)
        y_mask = np.zeros((n, length), bool)
        for i, (xv, yv) in enumerate(zip(xs, ys, strict=True)):
            if xv is not None:
                seq_x[i, : len(xv), 0] = xv
                seq_mask[i, : len(xv)] = True
            if yv is not None:
                y[i, : len(yv)] = yv
                y_mask[i, : len(yv)] = True
        t.seq_x[task.name] = torch.from_numpy(seq_x)
        t.seq_mask[task.name] = torch.from_numpy(seq_mask)
        t.targets[task.name] = torch.from_numpy(y)
        t.masks[task.name] = torch.from_numpy(y_mask)

    # ----------------------------------------------------------------- public facts
    @property
    def formula_dim(self) -> int:
        """Number of formula descriptor columns (linked to the model's input width)."""
        self._ensure_loaded()
        return len(self.formula_columns)

    @property
    def structure_dim(self) -> int:
        """Number of structure descriptor columns (0 without a structure table)."""
        self._ensure_loaded()
        return len(self.structure_columns)

    @property
    def tasks(self) -> list[TaskSpec]:
        """Task specs completed from the data (class counts/names inferred)."""
        self._ensure_loaded()
        return self._tasks

    def split_labels(self) -> np.ndarray:
        """``train``/``val``/``test`` (or ``""``) for every row."""
        self._ensure_loaded()
        return self.splits.labels(len(self.ids))

    def statistics(self) -> DataStatistics:
        """Feature and target statistics of the train split (what the model's scalers load)."""
        self._ensure_loaded()
        tr = self.splits.train
        t = self.tensors
        xf = t.x_formula[tr].numpy()
        f_mean, f_std = masked_mean_std(xf, np.ones_like(xf, dtype=bool))
        stats = DataStatistics(formula_mean=f_mean, formula_std=f_std)
        if t.x_structure is not None:
            xs = t.x_structure[tr].numpy()
            has = t.has_structure[tr].numpy()[:, None] & np.ones_like(xs, dtype=bool)
            stats.structure_mean, stats.structure_std = masked_mean_std(xs, has)
        for task in self._tasks:
            if isinstance(task, ClassificationTask):
                continue
            y = t.targets[task.name][tr].numpy().astype(np.float64)
            m = t.masks[task.name][tr].numpy()
            if isinstance(task, RegressionTask) and task.log_transform:
                y = np.log10(np.where(m, y, 1.0))
            if isinstance(task, RegressionTask) and not task.standardize:
                stats.targets[task.name] = (0.0, 1.0)
            else:
                mean, std = masked_mean_std(y.ravel(), m.ravel())
                stats.targets[task.name] = (float(mean), float(std))
            if isinstance(task, SequenceTask):
                x = t.seq_x[task.name][tr, :, 0].numpy()
                sm = t.seq_mask[task.name][tr].numpy()
                mean, std = masked_mean_std(x.ravel(), sm.ravel())
                stats.seq_x[task.name] = (float(mean), float(std))
        return stats

    # ----------------------------------------------------------------- Lightning hooks
    def setup(self, stage: str | None = None) -> None:
        self._ensure_loaded()
        if stage in ("fit", None) and len(self.splits.train) == 0:
            raise ValueError("The train split is empty: check the splitter settings.")

    def _loader(self, rows: np.ndarray, shuffle: bool, drop_last: bool = False) -> DataLoader:
        return DataLoader(
            CompoundDataset(self.tensors, rows),
            batch_size=self.batch_size,
            shuffle=shuffle,
            drop_last=drop_last and len(rows) > self.batch_size,
            num_workers=self.num_workers,
            collate_fn=identity_collate,
            persistent_workers=self.num_workers > 0,
        )

    def train_dataloader(self) -> DataLoader:
        self._ensure_loaded()
        rows = self.splits.train
        # a 1-row last batch breaks BatchNorm and gives a noisy step: drop it in training
        lone = len(rows) > self.batch_size and len(rows) % self.batch_size == 1
        return self._loader(rows, shuffle=True, drop_last=self.drop_last or lone)

    def val_dataloader(self) -> DataLoader:
        self._ensure_loaded()
        return self._loader(self.splits.val, shuffle=False)

    def test_dataloader(self) -> DataLoader:
        self._ensure_loaded()
        return self._loader(self.splits.test, shuffle=False)

    def predict_rows(self) -> np.ndarray:
        """Row positions used by ``predict`` (see ``predict_split``)."""
        self._ensure_loaded()
        if self.predict_split == "all":
            return np.arange(len(self.ids))
        return getattr(self.splits, self.predict_split)

    def predict_dataloader(self) -> DataLoader:
        return self._loader(self.predict_rows(), shuffle=False)
