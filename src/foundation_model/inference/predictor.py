"""``Predictor``: a trained model applied to new materials from its checkpoint alone.

    >>> import foundation_model
    >>> p = foundation_model.load("<run folder>/checkpoints/best.ckpt")
    >>> p.predict(["Fe2O3", "GaN"])          # a DataFrame, one row per formula

The checkpoint's input schema says how to featurize, align and impute new rows; outputs are
in original units with per-sample uncertainty when the model has an ensemble of heads or
noise heads.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from foundation_model.data.input_schema import InputSchema
from foundation_model.inference.inputs import (
    ERROR_COLUMNS,
    PreparedInputs,
    make_batch,
    prepare_inputs,
    reads_descriptor_columns,
    sequence_points,
    structure_cells_given,
)


def load_checkpoint_dict(path: str | Path) -> dict[str, Any]:
    """Read a checkpoint safely (``weights_only``), or raise one line naming the file."""
    from foundation_model.utils.checkpoint import load_checkpoint

    return load_checkpoint(path)


def model_from_checkpoint(
    ckpt: dict[str, Any],
    source: str,
    hp_overrides: dict[str, Any] | None = None,
    fresh: tuple[str, ...] = (),
) -> Any:
    """The ``FlexibleMultiTaskModel`` a checkpoint dict describes, its weights loaded.

    Args:
        ckpt: the loaded checkpoint.
        source: its name in error messages (the file).
        hp_overrides: hyperparameters that replace the stored ones.
        fresh: state-dict key prefixes the rebuilt model starts anew (not read from the
            checkpoint, not required in it), e.g. a bank whose size ``hp_overrides`` changes.
    """
    import inspect

    from foundation_model.models import FlexibleMultiTaskModel

    hp = ckpt.get("hyper_parameters", {})
    if "tasks" not in hp:
        raise ValueError(
            f"{source} is not a FlexibleMultiTaskModel checkpoint (an MLIP checkpoint? use "
            "MLIPCalculator.from_checkpoint, or `fm predict --config ... --ckpt_path`)."
        )
    hp = {**hp, **(hp_overrides or {})}
    params = inspect.signature(FlexibleMultiTaskModel.__init__).parameters
    model = FlexibleMultiTaskModel(**{k: v for k, v in hp.items() if k in params})
    model.on_load_checkpoint(ckpt)
    state = {k: v for k, v in ckpt["state_dict"].items() if not k.startswith(fresh)}
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.startswith(fresh)]
    if missing or unexpected:
        raise ValueError(
            f"{source}: weights do not fit the model its hyperparameters describe "
            f"(missing {missing[:3]}, unexpected {unexpected[:3]})."
        )
    return model


class Predictor:
    """A :class:`FlexibleMultiTaskModel` ready for new rows.

    Args:
        model: the trained model (eval mode is set here).
        batch_size: rows per forward pass.
        n_jobs: worker processes that featurize formulas and structures (1: this process).
    """

    def __init__(self, model: Any, batch_size: int = 1024, n_jobs: int = 1) -> None:
        if model.input_schema is None:
            raise ValueError(
                "this checkpoint records no input schema (trained before schemas existed): "
                "retrain it, or predict with `fm predict --config ... --ckpt_path ...`."
            )
        self.model = model.eval()
        self.schema = InputSchema.from_dict(model.input_schema)
        self.batch_size = batch_size
        if n_jobs < 1:
            raise ValueError(f"n_jobs must be at least 1, got {n_jobs}.")
        self.n_jobs = n_jobs

    @classmethod
    def from_checkpoint(
        cls, path: str | Path, batch_size: int = 1024, n_jobs: int = 1
    ) -> Predictor:
        """Load a ``fm fit`` checkpoint (CPU) with nothing else: no config, no data."""
        model = model_from_checkpoint(load_checkpoint_dict(path), str(path))
        return cls(model, batch_size, n_jobs)

    @property
    def tasks(self) -> list[Any]:
        """The model's task specs."""
        return list(self.model.task_specs)

    def _table(
        self, inputs: Sequence[str] | pd.Series | pd.DataFrame, formula_column: str
    ) -> pd.DataFrame:
        if isinstance(inputs, pd.DataFrame):
            table = inputs.reset_index(drop=True)
        else:
            if isinstance(inputs, pd.Series):
                inputs = inputs.to_list()
            elif isinstance(inputs, str):
                inputs = [inputs]
            table = pd.DataFrame({formula_column: list(inputs)})
        if formula_column in table.columns:  # pymatgen Compositions as their formula text
            from pymatgen.core import Composition

            table[formula_column] = [
                f.formula.replace(" ", "") if isinstance(f, Composition) else f
                for f in table[formula_column]
            ]
        return table

    def predict_with_errors(
        self,
        inputs: Sequence[str] | pd.Series | pd.DataFrame,
        formula_column: str = "formula",
        structure_column: str = "structure",
        id_column: str | None = None,
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Predict every row that can be prepared; ``(predictions, errors)``.

        Args:
            inputs: formulas (text or pymatgen ``Composition``; a list, or a Series whose
                index labels the outputs), or a table with a formula column (optionally structures,
                structure descriptors, or per-row sequence points in each sequence task's
                ``x_column``).
            formula_column: the formula column of a table.
            structure_column: the structure column (CIF / pymatgen JSON / extxyz text).
            id_column: a column copied to the outputs as ``id``. Without one, the errors'
                ``id`` is the input row's index label (its position for a list).
        """
        index = inputs.index if isinstance(inputs, pd.DataFrame | pd.Series) else None
        table = self._table(inputs, formula_column)
        if structure_column not in (None, "structure") and structure_column not in table.columns:
            raise KeyError(
                f"structure column {structure_column!r} is not in the input (columns: "
                f"{list(table.columns)[:10]}); name an existing column, or leave it out to "
                "predict from formulas alone."
            )
        if id_column is not None and id_column not in table.columns:
            raise KeyError(
                f"id column {id_column!r} is not in the input (columns: "
                f"{list(table.columns)[:10]}); name an existing column or leave it out."
            )
        seq_tasks = [t for t in self.model.task_specs if t.is_sequence]
        if isinstance(inputs, pd.DataFrame):
            self._warn_unread_columns(table, seq_tasks, formula_column, structure_column, id_column)
            self._warn_structures_unused(table, structure_column)
        prepared = prepare_inputs(
            table,
            self.schema,
            formula_column,
            structure_column,
            id_column,
            sequence_columns=tuple(t.x_column for t in seq_tasks),
            n_jobs=self.n_jobs,
        )
        seq = {
            t.name: sequence_points(
                prepared.sequences[t.x_column],
                t.x_column,
                self.schema.sequence_points.get(t.name),
                t.name,
                self.schema.sequence_ranges.get(t.name),
                prepared.rows,
            )
            for t in seq_tasks
        }
        parts: list[dict[str, torch.Tensor]] = []
        with torch.no_grad():
            for start in range(0, len(prepared.rows), self.batch_size):
                stop = min(start + self.batch_size, len(prepared.rows))
                batch = make_batch(prepared, start, stop, seq)
                parts.append(self.model.predict_step(batch, 0))
        if not parts:  # no row predicted (or none given): still every output column
            parts = [self._probe_outputs(seq_tasks)]
            one = table if len(table) else pd.DataFrame({c: [None] for c in table.columns})
            frame = self._frame(one, np.array([0]), parts, formula_column, id_column).iloc[:0]
        else:
            frame = self._frame(table, prepared.rows, parts, formula_column, id_column)
        # each prediction keeps its input row's label (the table's index, or the position
        # in a list), so that rows left out cannot shift the others
        labels = index if index is not None else table.index
        frame.index = labels[prepared.rows]
        errors = prepared.errors
        if id_column is None and len(errors):
            errors = errors.assign(id=labels[errors["row"].to_numpy(dtype=int)])
        return frame, errors

    def _warn_unread_columns(
        self,
        table: pd.DataFrame,
        seq_tasks: list[Any],
        formula_column: str,
        structure_column: str,
        id_column: str | None,
    ) -> None:
        """A sequence task whose points column is absent while the table has unread
        columns of lists (``[300, 400]``): most likely the points under another name, so say
        so (the curves are then predicted at the training points). Columns of single values
        (a target, an id) are no candidates."""
        read = {formula_column, structure_column, id_column, *(t.x_column for t in seq_tasks)}
        read |= set(self.schema.formula.columns)
        read |= set(self.schema.structure.columns if self.schema.structure else [])
        unread = [str(c) for c in table.columns if c not in read and _holds_lists(table[c])]
        missing = [t for t in seq_tasks if t.x_column not in table.columns]
        if unread and missing:
            t = missing[0]
            warnings.warn(
                f"task {t.name!r} reads its curve points from a column {t.x_column!r}, which "
                f"the input lacks, so its curves are predicted at the training points; the "
                f"input's column(s) {unread[:5]} are not read (rename the points column to "
                f"{t.x_column!r} to choose the points).",
                stacklevel=3,
            )

    def _warn_structures_unused(self, table: pd.DataFrame, structure_column: str) -> None:
        """Say when structures play no part although the model or the table has them: a
        structure model given neither a structure column nor its descriptor columns, or a
        composition-only model given structures."""
        has_cells = structure_column in table.columns
        given = has_cells and bool(structure_cells_given(table[structure_column]).any())
        if self.schema.structure is None:
            if given:
                warnings.warn(
                    f"this model reads no structures (trained on formulas only): column "
                    f"{structure_column!r} is not used, every row is predicted from its formula.",
                    stacklevel=3,
                )
            return
        wanted = self.schema.structure.columns
        present = [str(c) for c in wanted if c in table.columns]
        if not has_cells and not reads_descriptor_columns(len(present), len(wanted), False):
            some = (
                f" and only {len(present)} of its {len(wanted)} structure descriptor columns "
                f"({present[:5]}), too few to be read as such"
                if present
                else ""
            )
            warnings.warn(
                f"this model also reads structures, but the input has no {structure_column!r} "
                f"column{some} (columns: {[str(c) for c in table.columns][:8]}): every row is "
                "predicted from its formula alone; name the column of CIF / pymatgen JSON / "
                "extxyz / POSCAR text with --structure-column (structure_column= in Python), "
                "or give all the structure descriptor columns.",
                stacklevel=3,
            )

    def predict(
        self, inputs: Sequence[str] | pd.Series | pd.DataFrame, **kwargs: Any
    ) -> pd.DataFrame:
        """Like :meth:`predict_with_errors`, returning only the predictions: indexed like
        the input rows, with a warning naming the rows left out and why."""
        preds, errors = self.predict_with_errors(inputs, **kwargs)
        if len(errors):
            first = errors.iloc[0]
            warnings.warn(
                f"{len(errors)} of {len(errors) + len(preds)} rows could not be predicted and "
                f"are left out (row {first['row']} {str(first['formula'])!r}: "
                f"{first['reason']}); "
                "predict_with_errors returns them with their reasons.",
                stacklevel=2,
            )
        return preds

    def _probe_outputs(self, seq_tasks: list[Any]) -> dict[str, torch.Tensor]:
        """The model's outputs for one row of training-median descriptors: the columns a
        prediction has, for a frame of no rows."""
        structure = self.schema.structure
        probe = PreparedInputs(
            np.array([0]),
            np.asarray([self.schema.formula.fill], dtype=np.float32),
            None if structure is None else np.zeros((1, len(structure.columns)), np.float32),
            np.zeros(1, dtype=bool),
        )
        seq = {
            t.name: sequence_points(
                [[0.0]], t.x_column, self.schema.sequence_points.get(t.name), t.name
            )
            for t in seq_tasks
        }
        with torch.no_grad():
            return self.model.predict_step(make_batch(probe, 0, 1, seq), 0)

    def _frame(
        self,
        table: pd.DataFrame,
        rows: np.ndarray,
        parts: list[dict[str, torch.Tensor]],
        formula_column: str,
        id_column: str | None,
    ) -> pd.DataFrame:
        from foundation_model.cli.prediction_writer import predictions_to_frame

        head = pd.DataFrame(index=range(len(rows)))
        if id_column and id_column in table.columns:
            head["id"] = table[id_column].to_numpy()[rows]
        if formula_column in table.columns:
            head["formula"] = table[formula_column].to_numpy()[rows]
        if not parts:
            return head
        body = predictions_to_frame(parts, self.model.task_specs)
        body = body.drop(columns=["id"], errors="ignore")
        if self.schema.structure is not None:
            body["structure_used"] = body["structure_used"].astype(bool)
        return pd.concat([head, body.reset_index(drop=True)], axis=1)


def load(path: str | Path, batch_size: int = 1024, n_jobs: int = 1) -> Predictor:
    """Load a trained model from its checkpoint alone (see :class:`Predictor`)."""
    return Predictor.from_checkpoint(path, batch_size, n_jobs)


__all__ = ["ERROR_COLUMNS", "Predictor", "load", "load_checkpoint_dict", "model_from_checkpoint"]


def _holds_lists(column: pd.Series) -> bool:
    """Whether a column's first filled cell is a list of points: a list, tuple or array, or
    text written as one of the two forms a points column is read in (``"[300, 400]"`` or
    ``"300;400"``)."""
    filled = column.dropna() if column.dtype == object else column.iloc[:0]
    if len(filled) == 0:
        return False
    first = filled.iloc[0]
    if isinstance(first, str):
        text = first.strip()
        if text.startswith("["):
            return True
        if ";" not in text:  # a single value ("0001", "1.5") is no list of points
            return False
        from foundation_model.data.tables import parse_sequence

        try:
            return parse_sequence(text, "", "") is not None
        except ValueError:
            return False
    return isinstance(first, list | tuple | np.ndarray)
