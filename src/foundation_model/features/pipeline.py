"""``featurize_table``: input table -> cached, imputed descriptor tables + an errors table."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from foundation_model.features.cache import DEFAULT_CACHE_DIR, ChunkStore, FeatureCache
from foundation_model.features.composition import featurize_formulas
from foundation_model.features.imputation import MedianImputer
from foundation_model.features.presets import (
    COMPOSITION_PRESETS,
    STRUCTURE_PRESETS,
    FeaturizerSpec,
    resolve_preset,
    specs_fingerprint,
)
from foundation_model.features.runner import RawFeatures
from foundation_model.features.structure import (
    MISSING_STRUCTURE,
    PARSER_VERSION,
    featurize_structures,
    formula_mismatches,
)

ERROR_COLUMNS = ["id", "kind", "input", "reason"]


@dataclass
class FeaturizeResult:
    """Outputs of :func:`featurize_table`.

    Attributes:
        features: composition descriptors, index = ids of the rows that succeeded.
        structure_features: structure descriptors (None without a structure column).
        errors: one row per failed input: ``id``, ``kind``, ``input``, ``reason``.
        info: timings, cache hits, dropped columns.
    """

    features: pd.DataFrame
    structure_features: pd.DataFrame | None
    errors: pd.DataFrame
    info: dict[str, object] = field(default_factory=dict)


def _cached_run(
    items: list[object],
    specs: list[FeaturizerSpec],
    cache: FeatureCache | None,
    run: Callable[[ChunkStore | None], RawFeatures],
    reader: str = "",
) -> tuple[RawFeatures, bool]:
    """The cache's entry for ``items``, or ``run(chunks)`` stored as one. ``chunks`` keeps
    finished chunks while it runs, so an interrupted run started again goes on from them."""
    if cache is None:
        return run(None), False
    key = cache.key(items, specs_fingerprint(specs) + reader)  # reader: how items are parsed
    hit = cache.load(key)
    if hit is not None:
        return hit, True
    chunks = cache.chunks(key)
    raw = run(chunks)
    cache.save(key, raw)
    chunks.clear()
    cache.prune_stale_chunks()
    return raw, False


def _assemble(
    raw: RawFeatures, ids: pd.Index, items: list[object], kind: str, impute: bool
) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    table = pd.DataFrame(raw.values, index=ids, columns=raw.columns)
    failed = sorted(raw.errors)
    errors = pd.DataFrame(
        [(ids[i], kind, _shown_input(items[i]), raw.errors[i]) for i in failed],
        columns=ERROR_COLUMNS,
    )
    table = table.drop(index=ids[failed]) if failed else table
    table, dropped = _impute(table) if impute else (table, [])
    return table, errors, dropped


def _shown_input(item: object) -> str:
    """An input as the errors table shows it: a formula as written; a structure file's text
    (CIF, POSCAR, extxyz, JSON) by its first line and its length, since the row id already
    points at the full cell."""
    text = str(item)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if len(lines) <= 1 and len(text) <= 200:
        return text
    first = (lines[0] if lines else "")[:80]
    n = len(lines)
    return f"{first} ... ({n} line{'s' * (n != 1)}, {len(text)} characters)"


def _impute(table: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    if not len(table):
        return table, []
    imputer = MedianImputer().fit(table)
    return imputer.transform(table), imputer.dropped_


def featurizer_record(
    kind: str, preset: str, specs: list[FeaturizerSpec], dropped: list[str]
) -> dict[str, object]:
    """What made a descriptor table, attached to it (``DataFrame.attrs``, kept in Parquet) so
    a model trained on it can featurize new inputs the same way."""
    from importlib.metadata import version

    return {
        "kind": kind,
        "preset": preset,
        "featurizers": specs,
        "dropped": list(dropped),
        "versions": {"matminer": version("matminer"), "pymatgen": version("pymatgen")},
    }


def _ids(df: pd.DataFrame, id_column: str | None) -> pd.Index:
    if id_column is None:
        return pd.RangeIndex(len(df), name="id")
    if id_column not in df.columns:
        raise KeyError(
            f"id column {id_column!r} not in the input; columns are {list(df.columns)[:10]}."
        )
    ids = pd.Index(df[id_column].astype(str), name=id_column)
    if ids.has_duplicates:
        raise ValueError(
            f"id column {id_column!r} has duplicates such as {ids[ids.duplicated()][0]!r}."
        )
    return ids


def featurize_table(
    df: pd.DataFrame,
    formula_column: str,
    preset: str = "magpie",
    id_column: str | None = None,
    structure_column: str | None = None,
    structure_preset: str = "structure_basic",
    cache_dir: str | Path | None = DEFAULT_CACHE_DIR,
    n_jobs: int = 1,
    impute: bool = True,
    progress: bool = True,
) -> FeaturizeResult:
    """Featurize the formulas (and optionally structures) of a table.

    Args:
        df: input table.
        formula_column: column with formula strings.
        preset: composition preset (see :mod:`foundation_model.features.presets`).
        id_column: column of row ids (default: row numbers 0..N-1).
        structure_column: optional column with CIF / pymatgen-JSON / extxyz text.
        structure_preset: structure preset used with ``structure_column``.
        cache_dir: cache folder; None disables caching.
        n_jobs: worker processes.
        impute: apply :class:`MedianImputer` (fitted on this table).
        progress: show tqdm bars.
    """
    if formula_column not in df.columns:
        raise KeyError(
            f"formula column {formula_column!r} not in the input; "
            f"columns are {list(df.columns)[:10]} "
            "(pass the right one with --formula-column)."
        )
    ids = _ids(df, id_column)
    cache = FeatureCache(cache_dir) if cache_dir is not None else None
    specs = resolve_preset(preset, COMPOSITION_PRESETS, "composition")
    formulas = df[formula_column].tolist()
    start = time.perf_counter()
    raw, hit = _cached_run(
        formulas,
        specs,
        cache,
        lambda chunks: featurize_formulas(
            formulas, specs, n_jobs, progress=progress, chunks=chunks
        ),
    )
    # imputed once the rows whose structure fails are gone (they are error rows)
    features, errors, _ = _assemble(raw, ids, formulas, "formula", impute=False)
    info: dict[str, object] = {"n_inputs": len(df), "preset": preset, "cache_hit": hit}
    structure_features = None
    if structure_column is not None:
        if structure_column not in df.columns:
            raise KeyError(
                f"structure column {structure_column!r} not in the input; "
                f"columns are {list(df.columns)[:10]}."
            )
        s_specs = resolve_preset(structure_preset, STRUCTURE_PRESETS, "structure")
        cells = df[structure_column].tolist()
        s_raw, s_hit = _cached_run(
            cells,
            s_specs,
            cache,
            lambda chunks: featurize_structures(
                cells, s_specs, n_jobs, progress=progress, chunks=chunks
            ),
            reader=f"parse_structure v{PARSER_VERSION}",
        )
        for i, reason in formula_mismatches(formulas, cells).items():
            s_raw.errors.setdefault(i, reason)
        structure_features, s_errors, _ = _assemble(s_raw, ids, cells, "structure", False)
        # a row whose formula failed is an error row: out of the structure table too, and
        # out of its imputation medians
        failed_formula = structure_features.index.intersection(pd.Index(errors["id"]))
        structure_features = structure_features.drop(index=failed_formula)
        structure_features, s_dropped = (
            _impute(structure_features) if impute else (structure_features, [])
        )
        structure_features.attrs["fm_featurizer"] = featurizer_record(
            "structure", structure_preset, s_specs, s_dropped
        )
        # a row without a structure is allowed (it trains and predicts from its formula):
        # left out of the structure table, but not a failure. A structure that is given but
        # unreadable, failing or another compound than the formula is an error row: it
        # leaves both tables rather than train from its formula alone
        absent = s_errors["reason"].str.contains(MISSING_STRUCTURE, regex=False)
        bad = s_errors.loc[~absent, "id"]
        features = features.drop(index=features.index.intersection(pd.Index(bad)))
        errors = pd.concat([errors, s_errors[~absent]], ignore_index=True)
        info |= {
            "structure_cache_hit": s_hit,
            "structure_dropped_all_nan_columns": s_dropped,
            "rows_without_structure": int(absent.sum()),
        }
    features, dropped = _impute(features) if impute else (features, [])
    features.attrs["fm_featurizer"] = featurizer_record("composition", preset, specs, dropped)
    info |= {
        "n_failed": len(errors),
        "seconds": time.perf_counter() - start,
        "dropped_all_nan_columns": dropped,
    }
    return FeaturizeResult(features, structure_features, errors, info)
