"""``CompoundDataModule``: descriptor tables + attributes table -> batches for every task."""

from __future__ import annotations

import copy
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import lightning.pytorch as pl
import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader

from foundation_model.data.dataset import CompoundDataset, CompoundTensors, identity_collate
from foundation_model.data.far_inputs import warn_far_inputs
from foundation_model.data.input_schema import (
    DescriptorSchema,
    InputSchema,
    descriptor_values,
    featurizer_of,
    training_fill,
)
from foundation_model.data.scalers import masked_mean_std
from foundation_model.data.shared_rows import warn_shared_rows
from foundation_model.data.split_fingerprint import split_fingerprint
from foundation_model.data.splitters import RandomSplitter, SplitIndices, Splitter
from foundation_model.data.statistics import BinEdgeRule, DataStatistics
from foundation_model.data.statistics import bin_edges as edges_of
from foundation_model.data.tables import load_table, require_columns
from foundation_model.utils.class_path import ClassPathSerializable

if TYPE_CHECKING:  # the data package never imports models at run time (no import cycle)
    from foundation_model.models.task_head.base import TaskSpec

FEW_LABELS = 10

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
        formula_featurizer: the featurizer record of ``formula_desc_source`` (stored in the
            checkpoint so ``fm predict --input`` can featurize new formulas). Default: the
            record ``fm featurize`` attached to the file (Parquet metadata or a
            ``<file>.featurizer.json``); a preset name such as ``magpie`` also works.

    Descriptor NaNs are filled with the median of the *training* rows (recorded in the
    checkpoint and reused on new data).
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
        formula_featurizer: str | None = None,
    ) -> None:
        super().__init__()
        if not tasks:
            raise ValueError("data.tasks is empty: name at least one task.")
        self.formula_desc_source = formula_desc_source
        self.attributes_source = attributes_source
        self.structure_desc_source = structure_desc_source
        self.task_specs_in = [_task_spec(t) for t in tasks]
        names = [t.name for t in self.task_specs_in]
        if len(set(names)) != len(names):
            raise ValueError(f"Task names must be unique, got {names}.")
        self.splitter = splitter or RandomSplitter()
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.predict_split = predict_split
        self.id_column = id_column
        self.drop_last = drop_last
        self.formula_featurizer = formula_featurizer
        self._loaded = False

    # ----------------------------------------------------------------- lazy loading
    def _ensure_loaded(self) -> None:
        if self._loaded:
            return
        formula = load_table(self.formula_desc_source, "formula_desc_source", self.id_column)
        if len(formula) == 0:
            raise ValueError("formula_desc_source: the table has no rows.")
        self.ids = formula.index
        self.formula_columns = [str(c) for c in formula.columns]
        raw_formula = descriptor_values(formula, "formula_desc_source")
        raw_structure, has_structure = self._load_structure()
        attrs = self._load_attributes()
        self.attributes = attrs
        self.splits: SplitIndices = self.splitter.split(self.ids, attrs)
        train = self.splits.train
        self._formula_fill = training_fill(raw_formula, train)
        x_formula = _filled(raw_formula, self._formula_fill)
        x_structure = None
        if raw_structure is not None:
            self._structure_fill = training_fill(raw_structure, train[has_structure[train]])
            x_structure = _filled(raw_structure, self._structure_fill)
            x_structure[~has_structure] = 0.0
        warn_shared_rows(raw_formula, x_structure, self.splits)  # as read: fills are alike
        warn_far_inputs(x_formula, self.formula_columns, self.splits, "formula_desc_source")
        if x_structure is not None:
            with_structure = SplitIndices(
                *(part[has_structure[part]] for part in (train, self.splits.val, self.splits.test))
            )
            warn_far_inputs(
                x_structure, self.structure_columns, with_structure, "structure_desc_source"
            )
        tensors = CompoundTensors(
            x_formula=torch.from_numpy(x_formula),
            x_structure=None if x_structure is None else torch.from_numpy(x_structure),
            has_structure=torch.from_numpy(has_structure),
        )
        self._tasks = [copy.deepcopy(t) for t in self.task_specs_in]
        self._task_data = {}
        for task in self._tasks:
            if attrs is not None:
                require_columns(attrs, task.target_columns(), "attributes_source", task.name)
            data = task.prepare(attrs, len(self.ids), train)
            self._task_data[task.name] = data
            tensors.targets[task.name] = torch.from_numpy(data.targets)
            tensors.masks[task.name] = torch.from_numpy(data.masks)
            if data.seq_x is not None and data.seq_mask is not None:
                tensors.seq_x[task.name] = torch.from_numpy(data.seq_x)
                tensors.seq_mask[task.name] = torch.from_numpy(data.seq_mask)
        self.tensors = tensors
        self._loaded = True

    def _load_attributes(self) -> pd.DataFrame | None:
        if self.attributes_source is None:
            return None
        attrs = load_table(self.attributes_source, "attributes_source", self.id_column)
        matched = int(self.ids.isin(attrs.index).sum())
        if matched == 0:
            if len(attrs) == 0:
                raise ValueError(
                    "attributes_source: the table has no rows (only a header?): add targets."
                )
            raise ValueError(
                f"attributes_source: none of its {len(attrs)} ids (e.g. {list(attrs.index[:3])}) "
                f"matches the {len(self.ids)} ids of formula_desc_source "
                f"(e.g. {list(self.ids[:3])}): both tables need the same id column "
                "(first CSV column, or data.init_args.id_column)."
            )
        orphans = attrs.index[~attrs.index.isin(self.ids)]
        if len(orphans):
            warnings.warn(
                f"attributes_source: {len(orphans)} of its {len(attrs)} rows have ids not in "
                f"formula_desc_source (e.g. {list(orphans[:3])}) and are not used; featurize "
                "those formulas to train on them.",
                stacklevel=2,
            )
        return attrs.reindex(self.ids)

    def _load_structure(self) -> tuple[np.ndarray | None, np.ndarray]:
        n = len(self.ids)
        if self.structure_desc_source is None:
            self.structure_columns: list[str] = []
            return None, np.zeros(n, dtype=bool)
        table = load_table(self.structure_desc_source, "structure_desc_source", self.id_column)
        self.structure_columns = [str(c) for c in table.columns]
        present = np.asarray(self.ids.isin(table.index), dtype=bool)
        values = np.full((n, table.shape[1]), np.nan)
        if present.any():
            values[present] = descriptor_values(
                table.reindex(self.ids[present]), "structure_desc_source"
            )
        return values, present

    def check_labels(self) -> dict[str, int]:
        """Labelled training rows per task; none is an error, few is a warning."""
        self._ensure_loaded()
        if self.attributes is None:
            raise ValueError(
                "attributes_source is not set: training needs a targets table "
                "(data.init_args.attributes_source)."
            )
        train = self.splits.train
        counts: dict[str, int] = {}
        for task in self._tasks:
            m = self._task_data[task.name].masks[train]
            counts[task.name] = int(m.reshape(len(train), -1).any(axis=1).sum())
        empty = [k for k, v in counts.items() if v == 0]
        if empty:
            raise ValueError(
                f"No labelled training row for task(s) {empty} (labelled rows per task: {counts}); "
                "check the attributes columns and that its ids match formula_desc_source."
            )
        few = {k: v for k, v in counts.items() if v < FEW_LABELS}
        if few:
            warnings.warn(
                f"Few labelled training rows: {few} (labelled rows per task: {counts}).",
                stacklevel=2,
            )
        return counts

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

    def split_fingerprint(self) -> dict[str, Any]:
        """Digests of the row ids and of each split's ids (kept in checkpoints; see
        :mod:`foundation_model.data.split_fingerprint`)."""
        self._ensure_loaded()
        return split_fingerprint(self.ids, self.splits)

    def statistics(
        self, formula_bins: int = 0, bin_edges: BinEdgeRule = "quantile"
    ) -> DataStatistics:
        """Feature and target statistics of the train split (what the model's scalers load).

        Args:
            formula_bins: if > 0, also that many bins' edges per formula descriptor (a
                model's bins), placed by the rule ``bin_edges`` (:func:`statistics.bin_edges`).
            bin_edges: ``quantile`` or ``dominant``.
        """
        self._ensure_loaded()
        tr = self.splits.train
        t = self.tensors
        xf = t.x_formula[tr].numpy()
        f_mean, f_std = masked_mean_std(xf, np.ones_like(xf, dtype=bool))
        stats = DataStatistics(formula_mean=f_mean, formula_std=f_std)
        if formula_bins > 0:
            stats.formula_quantiles = edges_of(xf, formula_bins, bin_edges)
        if t.x_structure is not None:
            xs = t.x_structure[tr].numpy()
            has = t.has_structure[tr].numpy()[:, None] & np.ones_like(xs, dtype=bool)
            stats.structure_mean, stats.structure_std = masked_mean_std(xs, has)
        for task in self._tasks:
            data = self._task_data[task.name]
            if task.has_target_scaler:
                stats.targets[task.name] = task.target_statistics(data, tr)
            if task.is_sequence:
                stats.seq_x[task.name] = task.point_statistics(data, tr)
        return stats

    def input_schema(self) -> dict[str, Any]:
        """The :class:`InputSchema` of this data (as plain data for the checkpoint)."""
        self._ensure_loaded()
        featurizer = featurizer_of(self.formula_desc_source)
        if featurizer is None and self.formula_featurizer:
            featurizer = {"kind": "composition", "preset": self.formula_featurizer}
        formula = DescriptorSchema(
            list(self.formula_columns),
            [float(v) for v in self._formula_fill],
            featurizer,
            list((featurizer or {}).get("dropped", [])),
        )
        structure = None
        if self.structure_columns:
            s_feat = featurizer_of(self.structure_desc_source)
            structure = DescriptorSchema(
                list(self.structure_columns),
                [float(v) for v in self._structure_fill],
                s_feat,
                list((s_feat or {}).get("dropped", [])),
            )
        points: dict[str, list[float]] = {}
        ranges: dict[str, list[float]] = {}
        for task in self._tasks:
            data = self._task_data[task.name]
            if task.is_sequence and data.seq_mask is not None and data.seq_x is not None:
                tr = self.splits.train
                lengths = data.seq_mask[tr].sum(axis=1)
                if lengths.size and lengths.max() > 0:
                    row = tr[int(np.argmax(lengths))]
                    points[task.name] = [float(v) for v in data.seq_x[row, : lengths.max(), 0]]
                    seen = data.seq_x[tr][data.seq_mask[tr]][..., 0]
                    ranges[task.name] = [float(seen.min()), float(seen.max())]
        return InputSchema(formula, structure, points, ranges).to_dict()

    def align_descriptors(self, schema: dict[str, Any] | None, source: str) -> None:
        """Put the descriptor columns in the order a model was trained on (by name).

        A model reads descriptors by position; the columns of this data are reordered to
        ``schema``'s (a checkpoint's input schema). Different column names are a one-line
        error naming the missing and unexpected ones.

        Args:
            schema: the input schema recorded in a checkpoint (``fm_input_schema``); None or
                a schema without columns changes nothing.
            source: what the schema comes from, for messages (e.g. the checkpoint path).
        """
        if not schema:
            return
        self._ensure_loaded()
        for part, what in (
            ("formula", "formula_desc_source"),
            ("structure", "structure_desc_source"),
        ):
            want = list(((schema.get(part) or {}).get("columns")) or [])
            have = list(self.formula_columns if part == "formula" else self.structure_columns)
            if not want or want == have:
                continue
            missing = [c for c in want if c not in have]
            extra = [c for c in have if c not in want]
            if missing or extra or len(want) != len(have):
                raise ValueError(
                    f"{what}: its {len(have)} descriptor columns are not the {len(want)} of "
                    f"{source} ({len(missing)} missing, e.g. {missing[:3]}; {len(extra)} "
                    f"unexpected, e.g. {extra[:3]}): featurize the data as for training "
                    "(fm featurize --like CKPT)."
                )
            order = torch.as_tensor([have.index(c) for c in want])
            if part == "formula":
                self.tensors.x_formula = self.tensors.x_formula[:, order].contiguous()
                self._formula_fill = self._formula_fill[order.numpy()]
                self.formula_columns = want
            elif self.tensors.x_structure is not None:
                self.tensors.x_structure = self.tensors.x_structure[:, order].contiguous()
                self._structure_fill = self._structure_fill[order.numpy()]
                self.structure_columns = want

    # ----------------------------------------------------------------- Lightning hooks
    def setup(self, stage: str | None = None) -> None:
        self._ensure_loaded()
        if stage in ("fit", None) and len(self.splits.train) == 0:
            raise ValueError("The train split is empty: check the splitter settings.")
        if stage == "fit":
            self.check_labels()

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


def _filled(values: np.ndarray, fill: np.ndarray) -> np.ndarray:
    """NaNs of ``values (N, F)`` replaced by ``fill (F,)``, as float32."""
    return np.where(np.isnan(values), fill[None, :], values).astype(np.float32)


def _task_spec(data: Any) -> TaskSpec:
    """A task spec from ``{class_path, init_args}`` (or an instance), imported lazily."""
    try:
        spec = ClassPathSerializable.from_dict(data)
    except ValueError as err:
        raise ValueError(str(err).replace("ClassPathSerializable", "TaskSpec")) from None
    if not all(hasattr(spec, a) for a in ("prepare", "build_head", "outputs")):
        raise ValueError(f"{type(spec).__name__} is not a TaskSpec subclass.")
    return spec  # type: ignore[return-value]
