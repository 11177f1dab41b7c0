"""A benchmark task from the user's own table: formulas, one target, k shuffled folds.

``fm bench table --data my.csv --target y --pretrained CKPT`` runs the protocol of
``fm bench matbench`` (the same entries, reports and resumable fold store) on a table that
is not part of Matbench. The task is built here and checked before any work: a missing
file or column, a formula that cannot be featurized, a missing or non-numeric target, a
classification column without exactly two classes and too few rows for the folds are each
a one-line error naming the row and the fix.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import numpy as np
import pandas as pd

from foundation_model.data.matbench import MatbenchTask
from foundation_model.data.tables import load_table

TASK_TYPES = ("auto", "regression", "classification")


def table_task(
    path: str | Path,
    target: str,
    formula_column: str = "formula",
    id_column: str | None = None,
    task_type: str = "auto",
    n_folds: int = 5,
    seed: int = 0,
    name: str | None = None,
    positive_class: str | None = None,
) -> MatbenchTask:
    """Read ``path`` and split its rows into ``n_folds`` shuffled folds.

    Args:
        path: CSV, Parquet or pickled DataFrame with a formula column and the target.
        target: the target column.
        formula_column: the formula column.
        id_column: column of unique row ids (default: ``row-<i>`` by row order).
        task_type: ``regression``, ``classification`` (two classes) or ``auto``
            (classification for booleans, 0/1 values and text labels; regression for other
            numbers).
        n_folds: folds (stratified by class for classification); fold ``k`` is tested on
            its rows and trained on all others.
        seed: seed of the shuffle.
        name: the task's name in file names (default: the file's stem; characters other
            than letters, digits, "_", "." and "-" become "_").
        positive_class: the label that counts as class 1 (default: ``True``, ``1`` or the
            later of the two sorted text labels).
    """
    from sklearn.model_selection import GroupKFold, KFold, StratifiedGroupKFold, StratifiedKFold

    if task_type not in TASK_TYPES:
        raise ValueError(f"--task-type must be one of {list(TASK_TYPES)}, got {task_type!r}.")
    path = Path(path)
    df = load_table(
        path, "--data", id_column=id_column, first_column_ids=False, text_columns=(formula_column,)
    )
    missing = [c for c in (formula_column, target) if c not in df.columns]
    if missing:
        raise KeyError(
            f"--data {path}: column(s) {missing} not found; columns are {list(df.columns)[:20]}."
        )
    ids = df.index.to_numpy() if id_column else np.array([f"row-{i}" for i in range(len(df))])
    # what messages call a row: its id, or its place among the data rows (1 = first)
    names = (
        np.array([f"id {i}" for i in ids])
        if id_column
        else np.array([f"data row {i + 1}" for i in range(len(df))])
    )
    formulas = df[formula_column]
    _check_formulas(formulas.to_numpy(), names, path, formula_column)
    kind, y, classes = _targets(df[target], names, path, target, task_type, positive_class)
    # rows of one compound (Fe2O3 twice, CuSO4·5H2O and CuH10SO9) share a fold: split
    # apart, the test rows would have training rows with the same descriptors
    groups = compound_keys(formulas.to_numpy())
    n_compounds = len(set(groups))
    repeated = n_compounds < len(df)
    if not 2 <= n_folds <= n_compounds:
        what = f"the {n_compounds} distinct compounds" if repeated else "the rows"
        raise ValueError(f"--n-folds must be in 2..{n_compounds} ({what}), got {n_folds}.")
    if kind == "classification":
        # a fold needs each class: count a class's compounds (its rows share folds)
        per_class = [len({g for g, c in zip(groups, y, strict=True) if c == k}) for k in (0, 1)]
        smallest = min(per_class)
        if smallest < n_folds:
            what = "distinct compound(s)" if repeated else "row(s)"
            raise ValueError(
                f"--data {path}: class {classes[int(np.argmin(per_class))]!r} has "
                f"{smallest} {what}, fewer than --n-folds {n_folds}; lower --n-folds or add rows."
            )
        splitter = (StratifiedGroupKFold if repeated else StratifiedKFold)(
            n_folds, shuffle=True, random_state=seed
        )
    else:
        splitter = (GroupKFold if repeated else KFold)(n_folds, shuffle=True, random_state=seed)
    table = pd.DataFrame(
        {"formula": formulas.astype(str).to_numpy(), "target": y},
        index=pd.Index(ids, name="id"),
    )
    order = table.index.to_numpy()
    labels = y if kind == "classification" else None
    folds = [
        (order[tr].tolist(), order[te].tolist())
        for tr, te in splitter.split(np.zeros(len(table)), labels, groups if repeated else None)
    ]
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    grouped = (
        f", the {len(df)} rows' {n_compounds} compounds kept whole (a compound's rows share a fold)"
        if repeated
        else ""
    )
    return MatbenchTask(
        name=_safe_name(name or path.stem),
        table=table,
        folds=folds,
        task_type=kind,
        target_name=target,
        unit=None,
        input_type="composition",
        source=f"{path} (sha256 {digest[:16]}), {n_folds} shuffled folds (seed {seed}){grouped}",
        extra={
            "protocol": f"{n_folds} shuffled folds (seed {seed}) of {path.name}{grouped}",
            **({"classes": classes} if classes else {}),
        },
    )


def compound_keys(formulas: np.ndarray) -> list[str]:
    """One key per compound: its elements' atomic fractions (rounded to 1e-6), so that
    ``Fe2O3`` and ``Fe4O6``, ``Fe0.7Ni0.3`` and ``Fe7Ni3``, ``CuSO4·5H2O`` and ``CuH10SO9``
    share a key. Formulas are parsed already (:func:`_check_formulas`).

    Args:
        formulas: formula texts.
    """
    from foundation_model.features.composition import parse_formula

    keys = []
    for formula in formulas:
        frac = parse_formula(formula).element_composition.fractional_composition
        keys.append(" ".join(f"{el}{frac[el]:.6f}" for el in sorted(frac.elements)))
    return keys


def _safe_name(stem: str) -> str:
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", stem).strip("._")
    return name or "table"


def _check_formulas(formulas: np.ndarray, names: np.ndarray, path: Path, column: str) -> None:
    """One-line error for the first formula that cannot be featurized (and how many)."""
    from foundation_model.features.composition import parse_formula

    bad: list[tuple[str, object, str]] = []
    for row, formula in zip(names, formulas, strict=True):
        try:
            parse_formula(formula)
        except Exception as err:  # pymatgen raises several types for malformed text
            bad.append((str(row), formula, str(err).splitlines()[0] if str(err) else "invalid"))
    if bad:
        row, formula, why = bad[0]
        raise ValueError(
            f"--data {path}: {len(bad)} formula(s) in column {column!r} cannot be read, first "
            f"{formula!r} ({row}): {why}; fix or drop those rows."
        )


def _targets(
    raw: pd.Series,
    names: np.ndarray,
    path: Path,
    column: str,
    task_type: str,
    positive_class: str | None,
) -> tuple[str, np.ndarray, list[str]]:
    """``(task_type, targets, classes)``; classes ``[negative, positive]`` for classification."""
    missing = raw.isna().to_numpy()
    if missing.any():
        raise ValueError(
            f"--data {path}: {int(missing.sum())} row(s) have no {column!r} value, first at "
            f"{names[np.argmax(missing)]}; a benchmark scores every row: drop or fill them."
        )
    labels = sorted({str(v) for v in raw})
    numeric = pd.to_numeric(raw, errors="coerce")
    is_number = numeric.notna().all() and raw.dtype != bool
    if task_type == "auto":  # booleans, text, or numbers that are only 0 and 1
        zero_one = len(labels) == 2 and set(numeric.unique()) <= {0, 1}
        labelled = raw.dtype == bool or not is_number or zero_one
        # mostly numbers with a few text cells ("<0.1", "2,2"): a regression target with typos
        typos = len(labels) > 2 and numeric.notna().mean() >= 0.5
        task_type = "classification" if labelled and not typos else "regression"
    if task_type == "regression":
        if not is_number:
            first = int(np.argmax(numeric.isna().to_numpy()))
            raise ValueError(
                f"--data {path}: {column!r} is not numeric ({names[first]}: "
                f"{raw.iloc[first]!r}); a regression target needs numbers, or pass "
                "--task-type classification for two classes."
            )
        values = numeric.to_numpy(np.float64)
        if not np.isfinite(values).all():
            raise ValueError(f"--data {path}: {column!r} holds infinite values; drop those rows.")
        return "regression", values, []
    text = raw.astype(str)
    with_comma = text.str.contains(",", regex=False)
    commas = pd.to_numeric(text.str.replace(",", ".", regex=False), errors="coerce")
    if len(labels) != 2 and with_comma.any() and commas.notna().mean() >= 0.5:
        first = int(np.argmax(with_comma.to_numpy()))
        raise ValueError(
            f"--data {path}: {column!r} reads as numbers written with decimal commas "
            f"({names[first]}: {str(raw.iloc[first])!r}); write decimal points (e.g. 2.5) for a "
            "regression target."
        )
    if len(labels) != 2:
        numbers = " (numbers: leave out --task-type classification for a regression)"
        raise ValueError(
            f"--data {path}: a classification target needs exactly two classes; {column!r} "
            f"has {len(labels)} ({labels[:5]}){numbers if is_number else ''}; the benchmark "
            "scores binary tasks."
        )
    if positive_class is None:
        positive = "True" if "True" in labels else ("1" if "1" in labels else labels[1])
    elif str(positive_class) in labels:
        positive = str(positive_class)
    else:
        raise ValueError(
            f"--positive-class {positive_class!r} is not one of the labels {labels} of {column!r}."
        )
    negative = labels[0] if labels[1] == positive else labels[1]
    y = (raw.astype(str) == positive).to_numpy().astype(np.int64)
    return "classification", y, [negative, positive]
