"""Matbench v0.1 composition tasks with their official ids and 5-fold splits.

``fm data matbench --out data/matbench`` writes, for each task, ``<task>.csv``
(``id,formula,target``; ids ``mb-<name>-<NNN>`` as in the official validation file),
``<task>_folds.json`` (``{"fold_k": [official test ids]}``; a fold's train ids are all
other ids, as in Matbench) and ``tasks.json`` (target, unit, type, where the rows came
from, the splitting metadata). Rows and ids are checked against the validation file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from foundation_model.data import matbench_sources as sources
from foundation_model.features.table_io import write_json, write_table

# task -> file stem in crabnet/data/matbench (the formula view of structure tasks)
CRABNET_STEMS: dict[str, str] = {
    "matbench_expt_gap": "expt_gap",
    "matbench_expt_is_metal": "expt_is_metal",
    "matbench_glass": "glass",
    "matbench_steels": "steels_yield",
    "matbench_dielectric": "dielectric",
    "matbench_jdft2d": "jdft2d",
    "matbench_log_gvrh": "elasticity_log10(G_VRH)",
    "matbench_log_kvrh": "elasticity_log10(K_VRH)",
    "matbench_mp_e_form": "mp_e_form",
    "matbench_mp_gap": "mp_gap",
    "matbench_mp_is_metal": "mp_is_metal",
    "matbench_perovskites": "castelli",
    "matbench_phonons": "phonons",
}
COMPOSITION_TASKS = (
    "matbench_expt_gap",
    "matbench_expt_is_metal",
    "matbench_glass",
    "matbench_steels",
)


@dataclass
class MatbenchTask:
    """One task: rows, official folds and metadata.

    Attributes:
        name: ``matbench_<x>``.
        table: index ``id``; columns ``formula``, ``target``.
        folds: per fold, ``(train_ids, test_ids)`` in the official order.
        task_type: ``regression`` or ``classification``.
        target_name: Matbench's name of the target.
        unit: target unit (None for classification).
        input_type: ``composition`` or ``structure`` (structure tasks are formula views).
        source: where the rows came from.
    """

    name: str
    table: pd.DataFrame
    folds: list[tuple[list[str], list[str]]]
    task_type: str
    target_name: str
    unit: str | None
    input_type: str
    source: str
    extra: dict[str, object] = field(default_factory=dict)


def canonical_name(task: str) -> str:
    """``steels`` / ``matbench_steels`` -> ``matbench_steels``; raises on unknown names.

    Args:
        task: task name with or without the ``matbench_`` prefix.
    """
    name = task if task.startswith("matbench_") else f"matbench_{task}"
    if name not in CRABNET_STEMS:
        short = sorted(n.removeprefix("matbench_") for n in CRABNET_STEMS)
        raise ValueError(f"Unknown Matbench task {task!r}; choose one of {short}.")
    return name


def official_ids(name: str, n_rows: int, splits: dict) -> list[str]:
    """Ids of rows ``0..n_rows-1``: ``mb-<task>-<i+1>`` zero-padded like the official file.

    Args:
        name: canonical task name.
        n_rows: number of rows.
        splits: the task's entry of the validation file (``fold_i -> {train, test}``).
    """
    sample = splits["fold_0"]["test"][0]
    width = len(sample.rsplit("-", 1)[1])
    stem = name.removeprefix("matbench_").replace("_", "-")
    return [f"mb-{stem}-{i + 1:0{width}d}" for i in range(n_rows)]


def _check_against_splits(name: str, ids: list[str], splits: dict) -> None:
    splits = {k: _as_fold(v, ids) for k, v in splits.items()}
    test_ids = [i for fold in splits.values() for i in fold["test"]]
    expected = set(test_ids)
    if len(test_ids) != len(expected) or expected != set(ids):
        raise ValueError(
            f"{name}: rows do not match the official validation file ({len(ids)} rows vs "
            f"{len(expected)} official ids); the data source is not Matbench v0.1."
        )
    for key, fold in splits.items():
        if set(fold["train"]) & set(fold["test"]) or len(fold["train"]) + len(fold["test"]) != len(
            ids
        ):
            raise ValueError(
                f"{name}: {key} of the validation file is not a partition of the rows."
            )


def _as_fold(entry: dict | list, ids: list[str]) -> dict[str, list[str]]:
    if isinstance(entry, dict):
        return entry
    test = set(entry)
    return {"train": [i for i in ids if i not in test], "test": list(entry)}


def _rows(name: str, target: str, cache_dir: Path, try_matminer: bool) -> tuple[pd.DataFrame, str]:
    if try_matminer:
        table = sources.matminer_table(name, target, cache_dir / "matminer")
        if table is not None:
            return table, f"matminer.datasets.load_dataset({name!r})"
    stem = CRABNET_STEMS[name]
    return sources.crabnet_table(
        stem, cache_dir
    ), f"crabnet==2.0.8 wheel: crabnet/data/matbench/{stem}.csv"


def load_matbench_task(
    task: str, cache_dir: str | Path = sources.DEFAULT_CACHE_DIR, try_matminer: bool = True
) -> MatbenchTask:
    """Build one task with official ids and folds (downloads the wheels once).

    Args:
        task: task name (``steels`` or ``matbench_steels``).
        cache_dir: download cache folder.
        try_matminer: first try matminer's loader (skipped when its host is unreachable).
    """
    name = canonical_name(task)
    cache_dir = Path(cache_dir)
    meta = sources.load_metadata(cache_dir)[name]
    splits = sources.load_validation(cache_dir)["splits"][name]
    table, source = _rows(name, meta["target"], cache_dir, try_matminer)
    if len(table) != meta["n_samples"]:
        raise ValueError(f"{name}: {len(table)} rows, the metadata says {meta['n_samples']}.")
    ids = official_ids(name, len(table), splits)
    _check_against_splits(name, ids, splits)
    table = table.set_axis(pd.Index(ids, name="id"))
    if meta["task_type"] == "classification":
        table["target"] = pd.to_numeric(
            table["target"].astype(str).replace({"True": 1, "False": 0})
        )
        table["target"] = table["target"].astype(np.int64)
    folds = [
        (list(splits[f"fold_{k}"]["train"]), list(splits[f"fold_{k}"]["test"]))
        for k in range(len(splits))
    ]
    return MatbenchTask(
        name,
        table,
        folds,
        meta["task_type"],
        meta["target"],
        meta.get("unit"),
        meta["input_type"],
        source,
    )


def write_matbench(
    out_dir: str | Path,
    tasks: list[str] | None = None,
    cache_dir: str | Path = sources.DEFAULT_CACHE_DIR,
    try_matminer: bool = True,
) -> list[Path]:
    """Write ``<task>.csv`` for each task plus ``folds.json`` and ``tasks.json``.

    Args:
        out_dir: output folder.
        tasks: task names (default: all 13; structure tasks as formula views).
        cache_dir: download cache folder.
        try_matminer: first try matminer's loader.
    """
    from tqdm.auto import tqdm

    out_dir = Path(out_dir)
    names = [canonical_name(t) for t in (tasks or list(CRABNET_STEMS))]
    validation = sources.load_validation(cache_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    info: dict[str, dict] = {}
    for name in tqdm(names, desc="matbench tasks", leave=False):
        task = load_matbench_task(name, cache_dir, try_matminer)
        written.append(write_table(task.table, out_dir / f"{name}.csv"))
        folds = {f"fold_{k}": test for k, (_, test) in enumerate(task.folds)}
        written.append(write_json(folds, out_dir / f"{name}_folds.json", compact=True))
        view = (
            "composition"
            if task.input_type == "composition"
            else "formula view of a structure task"
        )
        info[name] = {
            "n_rows": len(task.table),
            "task_type": task.task_type,
            "target": task.target_name,
            "unit": task.unit,
            "input": view,
            "source": task.source,
            "folds": f"{name}_folds.json",
            "split_metadata": validation["metadata"],
        }
    info_path = out_dir / "tasks.json"
    if info_path.exists():  # keep entries of tasks written by earlier calls
        info = json.loads(info_path.read_text()) | info
    written.append(write_json(info, info_path))
    return written


def read_matbench_task(out_dir: str | Path, task: str) -> MatbenchTask | None:
    """Load a task written by :func:`write_matbench`, or None when its files are absent.

    Args:
        out_dir: folder given to :func:`write_matbench`.
        task: task name.
    """
    name = canonical_name(task)
    out_dir = Path(out_dir)
    csv, folds_path = out_dir / f"{name}.csv", out_dir / f"{name}_folds.json"
    info_path = out_dir / "tasks.json"
    if not (csv.exists() and folds_path.exists() and info_path.exists()):
        return None
    info = json.loads(info_path.read_text()).get(name)
    if info is None:
        return None
    table = pd.read_csv(csv, index_col=0, keep_default_na=False, na_values=[""])
    table.index = table.index.astype(str)
    ids = list(table.index)
    splits = {k: _as_fold(v, ids) for k, v in json.loads(folds_path.read_text()).items()}
    _check_against_splits(name, ids, splits)
    folds = [
        (splits[f"fold_{k}"]["train"], splits[f"fold_{k}"]["test"]) for k in range(len(splits))
    ]
    input_type = "composition" if info["input"] == "composition" else "structure"
    return MatbenchTask(
        name,
        table,
        folds,
        info["task_type"],
        info["target"],
        info["unit"],
        input_type,
        info["source"],
    )
