"""New rows -> model inputs, using only what the checkpoint recorded (its input schema).

Every row is handled on its own: it is parsed, featurized with the recorded featurizer,
aligned by column name and imputed with the *training* statistics, so its prediction does
not depend on the other rows of the file. Rows that fail are reported with their reason.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch

from foundation_model.data.batch import Batch
from foundation_model.data.input_schema import DescriptorSchema, InputSchema

ERROR_COLUMNS = ["row", "id", "formula", "reason"]

# inputs this long show a progress bar while they are featurized (100k formulas take minutes)
PROGRESS_MIN_ROWS = 5000


@dataclass
class PreparedInputs:
    """Model inputs for the rows that could be prepared.

    Attributes:
        rows: positions (in the input table) of the prepared rows.
        x_formula: ``(N, F)`` formula descriptors in schema order.
        x_structure: ``(N, S)`` structure descriptors, or None.
        has_structure: ``(N,)`` rows whose structure is used.
        errors: one row per failed input: ``row``, ``id``, ``formula``, ``reason``.
        sequences: per sequence column, each prepared row's own points (None: none given).
    """

    rows: np.ndarray
    x_formula: np.ndarray
    x_structure: np.ndarray | None
    has_structure: np.ndarray
    errors: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=ERROR_COLUMNS))
    sequences: dict[str, list[list[float] | None]] = field(default_factory=dict)


def _descriptors(
    table: pd.DataFrame,
    schema: DescriptorSchema,
    items: list[Any] | None,
    what: str,
    failed: dict[int, str],
    reserved: set[str],
    n_jobs: int = 1,
) -> np.ndarray:
    """``(N, F)`` for all rows: from the table's own columns, or by featurizing ``items``
    (in ``n_jobs`` worker processes)."""
    present = [c for c in schema.columns if c in table.columns]
    if len(present) == len(schema.columns) or schema.featurizer is None or items is None:
        cols = [
            c
            for c in table.columns
            if c not in reserved
            and (c in schema.columns or pd.api.types.is_numeric_dtype(table[c]))
        ]
        return schema.align(table[cols], what)
    specs = schema.featurizer.get("featurizers")
    structure = schema.featurizer.get("kind") == "structure"
    if not specs:
        from foundation_model.features import presets

        table_of = presets.STRUCTURE_PRESETS if structure else presets.COMPOSITION_PRESETS
        specs = presets.resolve_preset(schema.featurizer["preset"], table_of, "featurizer")
    if structure:
        from foundation_model.features.structure import featurize_structures as run
    else:
        from foundation_model.features.composition import featurize_formulas as run
    raw = run(items, specs, n_jobs, progress=len(items) >= PROGRESS_MIN_ROWS)
    for i, reason in raw.errors.items():
        failed.setdefault(i, reason)
    frame = pd.DataFrame(raw.values, columns=[str(c) for c in raw.columns])
    return schema.align(frame, what)


def prepare_inputs(
    table: pd.DataFrame,
    schema: InputSchema,
    formula_column: str = "formula",
    structure_column: str | None = "structure",
    id_column: str | None = None,
    sequence_columns: tuple[str, ...] = (),
    n_jobs: int = 1,
) -> PreparedInputs:
    """Featurize, align and impute ``table`` as the training rows were.

    Args:
        table: new rows: a formula column, optionally a structure column (CIF / pymatgen
            JSON / extxyz text) or descriptor columns.
        schema: the checkpoint's input schema.
        formula_column: column with formulas.
        structure_column: column with structures (ignored when absent).
        id_column: column with row ids (for the errors table).
        sequence_columns: columns of per-row sequence points (lists, read once here); a row
            whose cell cannot be read goes to the errors with the reason, the others go on.
        n_jobs: worker processes for featurizing formulas and structures.
    """
    n = len(table)
    failed: dict[int, str] = {}
    has_formula = formula_column in table.columns
    given = any(c in table.columns for c in schema.formula.columns)
    if not has_formula and schema.formula.featurizer is not None and not given:
        glued = [str(c) for c in table.columns if ";" in str(c) or "\t" in str(c)]
        fix = (
            "the file looks separated by ';' or tabs: save it with commas"
            if glued
            else "name the column: formula_column= in Python, --formula-column on the command line"
        )
        raise KeyError(
            f"input: no {formula_column!r} column (and not the model's descriptor columns); "
            f"columns are {list(table.columns)[:10]} ({fix})."
        )
    formulas = table[formula_column].tolist() if has_formula else None
    if formulas is not None:
        from foundation_model.features.composition import is_missing_formula, parse_formula

        for i, f in enumerate(formulas):
            try:
                parse_formula(f)
            except Exception as err:  # pymatgen raises many types for bad formulas
                failed[i] = (
                    "no formula (empty cell)"
                    if is_missing_formula(f)
                    else f"cannot parse formula {str(f)!r}: {err}"
                )
    sequences: dict[str, list[list[float] | None]] = {}
    if sequence_columns:
        from foundation_model.data.tables import parse_sequence

        for column in sequence_columns:
            points: list[list[float] | None] = [None] * n
            for i, cell in enumerate(table[column].tolist() if column in table.columns else []):
                try:
                    points[i] = parse_sequence(cell, f"column {column!r}", str(i))
                except ValueError as err:
                    failed.setdefault(i, str(err))
            sequences[column] = points
    reserved = {formula_column, structure_column, id_column, *sequence_columns}
    reserved |= set(schema.structure.columns if schema.structure else [])
    x_formula = _descriptors(
        table, schema.formula, formulas, "input formula descriptors", failed, reserved, n_jobs
    )
    x_structure, has_structure = None, np.zeros(n, dtype=bool)
    if schema.structure is not None:
        x_structure, has_structure = _structure_inputs(
            table, schema.structure, structure_column, reserved, failed, formulas, n_jobs
        )
    ok = np.array([i not in failed for i in range(n)], dtype=bool)
    ids = table[id_column].tolist() if id_column and id_column in table.columns else list(range(n))
    errors = pd.DataFrame(
        [
            (i, ids[i], formulas[i] if formulas is not None else None, failed[i])
            for i in sorted(failed)
        ],
        columns=ERROR_COLUMNS,
    )
    rows = np.flatnonzero(ok)
    return PreparedInputs(
        rows,
        x_formula[rows],
        None if x_structure is None else x_structure[rows],
        has_structure[rows],
        errors,
        {column: [points[r] for r in rows] for column, points in sequences.items()},
    )


def structure_cells_given(cells: pd.Series) -> np.ndarray:
    """Which cells of a structure column hold something (not empty, not blank text)."""
    return cells.notna().to_numpy() & (cells.astype(str).str.strip() != "").to_numpy()


def reads_descriptor_columns(n_present: int, width: int, has_cells: bool) -> bool:
    """Whether the input's structure descriptor columns are read as such: all of them, or
    most when there is no structure column (then the missing ones are an error); a few names
    in common with a table of structures, or with a target, are no such input."""
    return n_present == width or (not has_cells and 2 * n_present > width)


def _structure_inputs(
    table: pd.DataFrame,
    schema: DescriptorSchema,
    structure_column: str | None,
    reserved: set,
    failed: dict[int, str],
    formulas: list | None = None,
    n_jobs: int = 1,
) -> tuple[np.ndarray, np.ndarray]:
    """Structure descriptors where a row gives a structure (or descriptors), zeros elsewhere.
    A structure that is given but cannot be read or featurized, or that is another compound
    than the row's formula, makes its row an error (``failed``): predicting it from the
    formula alone, or from two compounds' descriptors, would hide the problem."""
    n = len(table)
    width = len(schema.columns)
    values = np.zeros((n, width), dtype=np.float32)
    has = np.zeros(n, dtype=bool)
    present = [c for c in schema.columns if c in table.columns]
    has_cells = bool(structure_column) and structure_column in table.columns
    if reads_descriptor_columns(len(present), width, has_cells):
        # as in training, a row with a structure value has a structure; its gaps are filled
        # by align with the training medians
        given = table[present].notna().any(axis=1).to_numpy()
        if given.any():
            values[given] = schema.align(table.loc[given, present], "structure descriptors")
        return values, given
    if has_cells:
        cells = table[structure_column]
        given = structure_cells_given(cells)
        if given.any() and schema.featurizer is None:  # never drop given structures silently
            raise ValueError(
                f"input: column {structure_column!r} holds structures, but this model's "
                "structure descriptors were not made by a featurizer its checkpoint records "
                "(e.g. MLIP embeddings from fm featurize --backbone): give those descriptor "
                f"columns instead ({len(schema.columns)}, e.g. {schema.columns[:3]})."
            )
        if given.any():
            idx = np.flatnonzero(given)
            bad: dict[int, str] = {}
            got = _descriptors(
                table.iloc[idx],
                schema,
                cells.iloc[idx].tolist(),
                "structure",
                bad,
                reserved,
                n_jobs,
            )
            if formulas is not None:
                from foundation_model.features.structure import formula_mismatches

                picked = [formulas[i] for i in idx]
                for j, reason in formula_mismatches(picked, cells.iloc[idx].tolist()).items():
                    bad.setdefault(j, reason)
            keep = np.array([j not in bad for j in range(len(idx))], dtype=bool)
            values[idx[keep]] = got[keep]
            has[idx[keep]] = True
            for j, reason in bad.items():
                failed.setdefault(int(idx[j]), f"structure: {reason}")
    return values, has


def sequence_points(
    own_points: list[list[float] | None],
    column: str,
    default: list[float] | None,
    task: str,
    training_range: list[float] | None = None,
    row_numbers: np.ndarray | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(N, L, 1)`` points and ``(N, L)`` mask for one sequence task: each row's own points
    (read from ``column`` by :func:`prepare_inputs`) or the training default; a warning
    counts the rows with points outside ``training_range`` (``[min, max]`` of training),
    naming the first by its input row (``row_numbers``: the input row of each entry, as in
    the errors file; default: the position)."""
    if training_range:
        low, high = training_range
        outside = [
            i for i, own in enumerate(own_points) if own and (min(own) < low or max(own) > high)
        ]
        if outside:
            first = own_points[outside[0]] or []
            row = outside[0] if row_numbers is None else int(row_numbers[outside[0]])
            warnings.warn(
                f"task {task!r}: {len(outside)} row(s) have {column!r} points outside the "
                f"training range [{low:g}, {high:g}] (e.g. row {row}: "
                f"{min(first):g} to {max(first):g}); predictions there are extrapolations.",
                stacklevel=3,
            )
    lists: list[list[float]] = []
    for own in own_points:
        pts = own if own else default
        if not pts:
            raise ValueError(
                f"input: task {task!r} needs sequence points: add a {column!r} column "
                '(a list per row, e.g. "[300, 400, 500]").'
            )
        lists.append(pts)
    length = max((len(p) for p in lists), default=1)
    x = torch.zeros(len(lists), length, 1)
    mask = torch.zeros(len(lists), length, dtype=torch.bool)
    for i, pts in enumerate(lists):
        x[i, : len(pts), 0] = torch.tensor(pts, dtype=torch.float32)
        mask[i, : len(pts)] = True
    return x, mask


def make_batch(
    prepared: PreparedInputs, start: int, stop: int, seq: dict[str, tuple[torch.Tensor, ...]]
) -> Batch:
    """Rows ``start:stop`` of ``prepared`` as a :class:`Batch` without targets."""
    xs = prepared.x_structure
    batch = Batch(
        x_formula=torch.from_numpy(prepared.x_formula[start:stop]),
        x_structure=None if xs is None else torch.from_numpy(xs[start:stop]),
        has_structure=torch.from_numpy(prepared.has_structure[start:stop]),
        index=torch.arange(start, stop),
    )
    for name, (x, mask) in seq.items():
        batch.seq_x[name] = x[start:stop]
        batch.seq_mask[name] = mask[start:stop]
    return batch
