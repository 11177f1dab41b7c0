"""Inputs and outputs of the predict page, as plain pandas (no Streamlit).

Column conventions of ``Predictor.predict``: ``formula``; per regression task
``<task>_value`` and ``<task>_std``; per classification task ``<task>_label``,
``<task>_entropy`` and ``<task>_probabilities_<class>``; per sequence task
``<task>_sequence`` (a list per row) and optionally ``<task>_sequence_std``.
"""

from __future__ import annotations

import ast
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from foundation_model.features.table_io import not_utf8
from foundation_model.ui.safety import UserInputError

MAX_FORMULAS = 10_000
PRETRAINED = Path("results") / "pretrained" / "fm-base" / "model.ckpt"


@dataclass
class TaskColumns:
    """Prediction columns grouped by task."""

    regression: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    classification: dict[str, dict[str, str]] = field(default_factory=dict)
    sequence: dict[str, tuple[str, str | None]] = field(default_factory=dict)


def parse_formulas(text: str) -> list[str]:
    """Formulas from pasted text: one per line, or separated by commas or semicolons.

    Spaces never separate formulas: they are removed, so ``"CuSO4 · 5H2O"`` stays one
    formula (``CuSO4·5H2O``; the formula parser reads ``·`` and ``*`` as hydrate dots).
    """
    items = [re.sub(r"\s+", "", t) for t in re.split(r"[\n\r,;]+", text)]
    items = [t for t in items if t]
    if not items:
        raise UserInputError("Enter at least one formula, e.g. Fe2O3.")
    if len(items) > MAX_FORMULAS:
        raise UserInputError(f"{len(items)} formulas; at most {MAX_FORMULAS} per request.")
    return items


def plain_message(exc: BaseException) -> str:
    """The message of an error for the page, without the exception's class name (a
    ``KeyError``'s message without its quotes)."""
    if isinstance(exc, KeyError) and exc.args:
        return str(exc.args[0])
    return str(exc)


def count_rows(n: int) -> str:
    """``"1 row"`` / ``"3 rows"``."""
    return f"{n} row" if n == 1 else f"{n} rows"


def require_featurizer(featurizer: dict | None, n_columns: int) -> None:
    """Refuse pasted formulas for a model that cannot featurize them itself.

    Args:
        featurizer: the featurizer record of the checkpoint's formula descriptors (None
            when it was trained on a descriptor table made elsewhere).
        n_columns: how many descriptor columns the model reads.

    Raises:
        UserInputError: one line saying what to give instead.
    """
    if featurizer is None:
        raise UserInputError(
            "This checkpoint records no featurizer, so it cannot turn formulas into its "
            f"{n_columns} descriptor columns: upload a CSV with those columns instead "
            "(or train on a table made by fm featurize)."
        )


def read_input_csv(
    data: bytes, formula_column: str = "formula", descriptor_columns: list[str] | None = None
) -> pd.DataFrame:
    """An uploaded CSV with a formula column, or with the model's descriptor columns.

    Args:
        data: the file's bytes.
        formula_column: the formula column (other columns, e.g. sequence inputs, are kept).
        descriptor_columns: the model's formula-descriptor columns; a table holding all of
            them needs no formula column (the predictor reads the descriptors as given).
    """
    # formula and id cells as written: "NaN" is Na + N, and the id 0001 stays 0001
    text = {formula_column: str, "id": str}
    try:
        table = pd.read_csv(io.BytesIO(data), converters=text)
    except pd.errors.EmptyDataError as exc:
        raise UserInputError("The upload is empty (expected a header row).") from exc
    except UnicodeDecodeError as exc:
        raise UserInputError(not_utf8("The upload", exc)) from exc
    except pd.errors.ParserError as exc:
        raise UserInputError(f"The upload could not be read as CSV: {exc}") from exc
    if formula_column not in table.columns:
        wanted = list(descriptor_columns or [])
        missing = [c for c in wanted if c not in table.columns]
        if not wanted or missing:
            columns = ", ".join(map(str, table.columns[:10]))
            also = f" nor the model's {len(wanted)} descriptor columns" if wanted else ""
            fix = _column_fix(table.columns, formula_column)
            glued = fix.startswith("the file looks separated")  # the one fix that matters
            raise UserInputError(
                f"The CSV has no {formula_column!r} column{also} (columns: {columns}): {fix}"
                + (
                    f" or add the descriptor columns (missing: {_few(missing)})."
                    if wanted and not glued
                    else "."
                )
            )
    elif formula_column != "formula":  # the predictor reads the column named "formula"
        if "formula" in table.columns:
            raise UserInputError(
                f"The CSV has both {formula_column!r} and 'formula' columns; rename one of them."
            )
        table = table.rename(columns={formula_column: "formula"})
    if table.empty:
        raise UserInputError("The CSV has no rows.")
    if len(table) > MAX_FORMULAS:
        raise UserInputError(f"{len(table)} rows; at most {MAX_FORMULAS} per request.")
    return table


def _column_fix(columns: pd.Index, formula_column: str) -> str:
    """How to point the page at the formula column: a column that differs only in case, a
    file separated by ';' or tabs, or the field that names the column."""
    names = [str(c) for c in columns]
    if any(";" in c or "\t" in c for c in names):
        return "the file looks separated by ';' or tabs: save it with commas"
    same = [c for c in names if c.lower() == formula_column.lower()]
    if same:
        return f"names are case-sensitive: type {same[0]!r} in 'Formula column'"
    return "type the name of its formula column in 'Formula column'"


def _few(names: list[str], n: int = 5) -> str:
    shown = ", ".join(map(str, names[:n]))
    return shown + (f" and {len(names) - n} more" if len(names) > n else "")


def row_labels(predictions: pd.DataFrame) -> tuple[str, pd.Series]:
    """What names each prediction row: ``formula``, else ``id``, else the row number."""
    for column in ("formula", "id"):
        if column in predictions.columns:
            return column, predictions[column].astype(str).reset_index(drop=True)
    return "row", pd.Series([str(i) for i in range(len(predictions))], dtype=str)


def _checkpoints_under(root: Path) -> list[tuple[Path, float]]:
    """``(checkpoint, mtime)`` under ``root``'s ``checkpoints/`` folders; links that lead out
    of ``root`` (or nowhere) are left out rather than offered and then refused."""
    inside = root.resolve()
    found = []
    for path in root.glob("**/checkpoints/*.ckpt"):
        try:
            real = path.resolve(strict=True)
            mtime = real.stat().st_mtime
        except OSError:  # a broken link, or a file removed meanwhile
            continue
        if real.is_file() and real.is_relative_to(inside):
            found.append((path, mtime))
    return found


def find_checkpoints(
    project_dir: Path, extra_dirs: list[Path] = (), limit: int = 200
) -> list[Path]:
    """Checkpoints to offer: the shipped pretrained model, then run checkpoints, newest first."""
    project_dir = Path(project_dir)
    found: list[Path] = []
    pretrained = project_dir / PRETRAINED
    runs = _checkpoints_under(project_dir / "results" / "runs")
    for folder in extra_dirs:
        if folder is not None and Path(folder).is_dir():
            runs += _checkpoints_under(Path(folder))
    runs = sorted(set(runs), key=lambda p: p[1], reverse=True)
    runs = [p for p, _ in runs]
    if pretrained.is_file():
        found.append(pretrained)
    found += [p for p in runs if p != pretrained]
    return found[:limit]


def task_columns(predictions: pd.DataFrame) -> TaskColumns:
    """Group prediction columns by task and kind."""
    groups = TaskColumns()
    columns = list(predictions.columns)
    for column in columns:
        if column.endswith("_value"):
            task = column[: -len("_value")]
            std = f"{task}_std"
            groups.regression[task] = (column, std if std in columns else None)
        elif column.endswith("_sequence"):
            task = column[: -len("_sequence")]
            std = f"{task}_sequence_std"
            groups.sequence[task] = (column, std if std in columns else None)
        elif "_probabilities_" in column:
            task, cls = column.split("_probabilities_", 1)
            groups.classification.setdefault(task, {})[cls] = column
    return groups


def _as_list(value) -> list[float]:
    if isinstance(value, str):
        value = ast.literal_eval(value)
    if value is None or (np.isscalar(value) and pd.isna(value)):
        return []
    return [float(v) for v in np.asarray(value, dtype=float).ravel()]


def summary_table(predictions: pd.DataFrame, digits: int = 4) -> pd.DataFrame:
    """One row per formula: ``value ± std`` per regression task, label (p) per classification,
    and the latent distance to the training rows when the model gives it."""
    groups = task_columns(predictions)
    name, labels = row_labels(predictions)
    out = pd.DataFrame({name: labels})
    predictions = predictions.reset_index(drop=True)
    for task, (value, std) in groups.regression.items():
        if std is None:
            out[task] = predictions[value].round(digits).astype(str)
        else:
            out[task] = [
                _with_std(v, s, digits)
                for v, s in zip(predictions[value], predictions[std], strict=True)
            ]
    for task, classes in groups.classification.items():
        probs = predictions[list(classes.values())].to_numpy(dtype=float)
        names = list(classes)
        label_col = f"{task}_label"
        labels = predictions.get(label_col)
        out[task] = [
            f"{labels.iloc[i] if labels is not None else names[int(np.argmax(p))]} "
            f"(p={np.max(p):.2f})"
            for i, p in enumerate(probs)
        ]
    for task, (column, _) in groups.sequence.items():
        out[task] = [f"{len(_as_list(v))} points" for v in predictions[column]]
    if "latent_distance" in predictions:  # models trained with sigma_distance_rows
        out["distance to training rows"] = predictions["latent_distance"].round(3)
    return out


def _with_std(value: float, std: float, digits: int) -> str:
    """``"1.234 ± 0.05"``; the value alone when the model gives no spread (std NaN)."""
    if pd.isna(value):
        return ""
    return f"{value:.{digits}g}" if pd.isna(std) else f"{value:.{digits}g} ± {std:.2g}"


def sequence_frame(
    predictions: pd.DataFrame, task: str, x_values: pd.Series | None = None
) -> pd.DataFrame:
    """Wide table for plotting a sequence task: index = x (or point number), a column per formula.

    Args:
        predictions: the prediction table.
        task: sequence task name.
        x_values: per-row x lists (e.g. the input's temperature column), same row order.
    """
    column = f"{task}_sequence"
    curves: dict[str, pd.Series] = {}
    _, names = row_labels(predictions)
    for i, (formula, value) in enumerate(zip(names, predictions[column], strict=True)):
        y = _as_list(value)
        x = _as_list(x_values.iloc[i]) if x_values is not None else []
        index = x if len(x) == len(y) else list(range(len(y)))
        name = str(formula) if str(formula) not in curves else f"{formula} (row {i})"
        curves[name] = pd.Series(y, index=index, dtype=float)
    frame = pd.DataFrame(curves).sort_index()
    # rows with points of their own leave gaps at the others' points, which a line chart
    # would break on: join each curve's own points (nothing drawn beyond its first and last)
    return frame.interpolate(method="index", limit_area="inside")


def probability_frame(predictions: pd.DataFrame, task: str) -> pd.DataFrame:
    """Class probabilities of a classification task: rows = formulas, columns = classes."""
    classes = task_columns(predictions).classification[task]
    table = predictions[list(classes.values())].astype(float)
    table.columns = list(classes)
    table.index = row_labels(predictions)[1].to_numpy()
    return table


def kept_rows(n_inputs: int, errors: pd.DataFrame | None) -> list[int]:
    """Input row numbers that have a prediction (every row not listed in ``errors``)."""
    failed = set() if errors is None or errors.empty else set(errors["row"].astype(int))
    return [i for i in range(n_inputs) if i not in failed]


def sequence_x_values(
    inputs: pd.DataFrame | list[str],
    errors: pd.DataFrame | None,
    x_column: str | None,
    default: list[float] | None,
) -> pd.Series | None:
    """Per predicted row, the x points of a sequence task: the input's own list, else the
    model's default points (the training curve's), else None (plot against point number)."""
    n_inputs = len(inputs)
    rows = kept_rows(n_inputs, errors)
    own = None
    if isinstance(inputs, pd.DataFrame) and x_column and x_column in inputs.columns:
        own = inputs[x_column].reset_index(drop=True)
    values = []
    for r in rows:
        point = own.iloc[r] if own is not None else None
        listed = _as_list(point) if point is not None and not _is_missing(point) else []
        values.append(listed or (list(default) if default else None))
    if all(v is None for v in values):
        return None
    return pd.Series(values, dtype=object)


def _is_missing(value) -> bool:
    return value is None or (np.isscalar(value) and pd.isna(value))
