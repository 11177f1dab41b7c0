"""Assemble, check and write the pretraining corpus (``corpus.parquet`` + ``corpus.json``).

Rows are pymatgen reduced formulas (the parquet index, stored as the ``formula`` column),
sorted; columns come in a fixed order: the crabnet-table properties, the transport
properties, two derived labels and the JANAF curves (list columns). The parquet bytes are a
function of the inputs only, so two builds give the same sha256.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd

from foundation_model.data.corpus import crabnet_tables, janaf, transport
from foundation_model.data.corpus.leakage import matbench_formulas
from foundation_model.data.corpus.provenance import sha256_file, wheel_info
from foundation_model.data.matbench_sources import CRABNET, DEFAULT_CACHE_DIR
from foundation_model.features.table_io import write_json, write_table

SOURCES = ("oqmd", "aflow", "materials_project", "matminer_transport", "janaf")
SEQUENCE_COLUMNS = ("cp_T", "cp", "s_T", "s")
SEQUENCES = {"cp": ("cp_T", "cp"), "s": ("s_T", "s")}  # task -> (x column, y column)
DERIVED = {
    "is_metal": "1 where the band gap is 0 eV, 0 where it is > 0: oqmd_band_gap when present, "
    "else aflow_band_gap (after aggregation)",
    "mp_on_hull": "1 where mp_e_above_hull is 0 (lowest polymorph on the convex hull), else 0",
}


@dataclass
class CorpusResult:
    """What :func:`build_corpus` wrote.

    Attributes:
        parquet: path of ``corpus.parquet``.
        info: path of ``corpus.json``.
        table: the corpus (index ``formula``).
        summary: the content of ``corpus.json``.
        seconds: build time.
    """

    parquet: Path
    info: Path
    table: pd.DataFrame
    summary: dict[str, object]
    seconds: float


def _progress(total: int, enabled: bool):  # noqa: ANN202
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="corpus", unit="step", disable=not enabled)


def derived_labels(table: pd.DataFrame) -> pd.DataFrame:
    """``is_metal`` and ``mp_on_hull`` (float 0/1, NaN where unknown), rules in ``DERIVED``.

    Args:
        table: corpus columns with ``oqmd_band_gap``, ``aflow_band_gap``, ``mp_e_above_hull``.
    """

    def column(name: str) -> pd.Series:
        return table[name] if name in table.columns else pd.Series(np.nan, index=table.index)

    gap = column("oqmd_band_gap").where(column("oqmd_band_gap").notna(), column("aflow_band_gap"))
    hull = column("mp_e_above_hull")
    return pd.DataFrame(
        {
            "is_metal": np.where(gap.isna(), np.nan, (gap <= 0).astype(np.float64)),
            "mp_on_hull": np.where(hull.isna(), np.nan, (hull <= 0).astype(np.float64)),
        },
        index=table.index,
    )


def _as_lists(column: pd.Series) -> pd.Series:
    return column.map(lambda v: v if isinstance(v, list) else None)


def assemble(scalars: list[pd.Series | pd.DataFrame], curves: pd.DataFrame) -> pd.DataFrame:
    """Outer-join every column on the reduced formula, sorted, in the fixed column order.

    Property columns left without any label (all rows removed by the leakage rule) are
    dropped; ``corpus.json`` still reports them.

    Args:
        scalars: property columns, each indexed by reduced formula.
        curves: the JANAF list columns.
    """
    table = pd.concat([*scalars, curves], axis=1, join="outer", sort=True)
    table = table.sort_index(kind="stable")
    table.index.name = "formula"
    table = pd.concat([table, derived_labels(table)], axis=1)
    for col in SEQUENCE_COLUMNS:
        table[col] = _as_lists(table[col])
    keep = [c for c in table.columns if table[c].notna().any()]
    scalar_cols = [c for c in keep if c not in SEQUENCE_COLUMNS and c not in DERIVED]
    tail = [c for c in (*DERIVED, *SEQUENCE_COLUMNS) if c in keep]
    return table[[*scalar_cols, *tail]]


def check_corpus(table: pd.DataFrame, leaked: frozenset[str]) -> None:
    """Raise when the corpus breaks the leakage rule or a curve's lists differ in length.

    Args:
        table: the assembled corpus.
        leaked: Matbench reduced formulas.
    """
    hits = table.index[table.index.isin(leaked)]
    if len(hits):
        raise RuntimeError(f"leakage rule broken for {len(hits)} formulas, e.g. {hits[0]!r}.")
    if not table.index.is_unique or not table.index.is_monotonic_increasing:
        raise RuntimeError("corpus formulas are not unique and sorted.")
    for x, y in SEQUENCES.values():
        if x not in table.columns:
            continue
        bad = [
            f
            for f, a, b in zip(table.index, table[x], table[y], strict=True)
            if (a is None) != (b is None) or (a is not None and len(a) != len(b))
        ]
        if bad:
            raise RuntimeError(f"{x}/{y} lengths differ for {bad[0]!r}.")


def _column_kinds(table: pd.DataFrame) -> dict[str, dict[str, object]]:
    kinds: dict[str, dict[str, object]] = {}
    for col in table.columns:
        if col in SEQUENCE_COLUMNS:
            kind = "sequence"
        elif col in DERIVED:
            kind = "classification"
        else:
            kind = "regression"
        kinds[col] = {"kind": kind, "labelled_rows": int(table[col].notna().sum())}
    return kinds


def _group_sources(
    props: dict[str, tuple[str, dict]], crab: dict, extra: dict[str, dict]
) -> dict[str, dict]:
    sources: dict[str, dict] = {}
    for column, (source, record) in props.items():
        entry = sources.setdefault(source, {**crab, "properties": {}})
        entry["properties"][column] = record
    sources.update(extra)
    for entry in sources.values():
        reports = entry["properties"].values()
        for key in ("rows_read", "rows_leakage_removed", "rows_kept"):
            entry[key] = sum(int(r[key]) for r in reports)
    return sources


def _read_sources(
    names: tuple[str, ...], cache_dir: Path, leaked: frozenset[str], bar
) -> tuple[list[pd.Series | pd.DataFrame], pd.DataFrame, dict[str, tuple[str, dict]], dict]:
    """Read the selected sources: property columns, curves, per-column and extra records."""
    columns: list[pd.Series | pd.DataFrame] = []
    props: dict[str, tuple[str, dict]] = {}
    for prop in crabnet_tables.PROPERTIES:
        if prop.source in names:
            bar.set_postfix_str(prop.dataset)
            series, record = crabnet_tables.read_property(prop, cache_dir, leaked)
            columns.append(series)
            props[prop.column] = (prop.source, record)
        bar.update()
    extra: dict[str, dict] = {}
    if "matminer_transport" in names:
        bar.set_postfix_str("transport")
        trans, extra["matminer_transport"] = transport.read_transport(leaked)
        columns.append(trans)
    bar.update()
    curves = pd.DataFrame({c: pd.Series(dtype=object) for c in SEQUENCE_COLUMNS})
    curves.index.name = "formula"
    if "janaf" in names:
        bar.set_postfix_str("JANAF")
        curves, extra["janaf"] = janaf.read_janaf(cache_dir, leaked)
    bar.update()
    return columns, curves, props, extra


def build_corpus(
    out_dir: str | Path,
    cache_dir: str | Path = DEFAULT_CACHE_DIR,
    progress: bool = True,
    sources: list[str] | tuple[str, ...] | None = None,
) -> CorpusResult:
    """Build the corpus from the offline sources and write it to ``out_dir``.

    Args:
        out_dir: output folder (created); gets ``corpus.parquet`` and ``corpus.json``.
        cache_dir: wheel cache folder (crabnet 2.0.8 and janaf 1.4.0 are downloaded once).
        progress: show a progress bar.
        sources: a subset of ``SOURCES`` (default: all; subsets are for quick checks).
    """
    start = time.perf_counter()
    out_dir, cache_dir = Path(out_dir), Path(cache_dir)
    names = tuple(sources or SOURCES)
    unknown = sorted(set(names) - set(SOURCES))
    if unknown:
        raise ValueError(f"unknown corpus source(s) {unknown}; choose from {list(SOURCES)}.")
    if out_dir.exists() and not out_dir.is_dir():
        raise NotADirectoryError(f"--out {out_dir} exists and is not a folder.")
    bar = _progress(len(crabnet_tables.PROPERTIES) + 4, progress)
    bar.set_postfix_str("Matbench formulas")
    leaked, leakage = matbench_formulas(cache_dir)
    bar.update()
    columns, curves, props, extra = _read_sources(names, cache_dir, leaked, bar)
    bar.set_postfix_str("write")
    table = assemble(columns, curves)
    check_corpus(table, leaked)
    parquet = write_table(table, out_dir / "corpus.parquet")
    crab = wheel_info(*CRABNET, cache_dir) if props else {}
    summary = {
        "corpus": {
            "file": parquet.name,
            "sha256": sha256_file(parquet),
            "rows": len(table),
            "index": "formula (pymatgen Composition.reduced_formula), sorted",
            "columns": _column_kinds(table),
            "columns_dropped_empty": [c for c in props if c not in table.columns],
            "sequences": {k: {"x": x, "y": y} for k, (x, y) in SEQUENCES.items()},
        },
        "derived": DERIVED,
        "leakage": leakage,
        "sources": _group_sources(props, crab, extra),
        "software": {p: metadata.version(p) for p in ("pymatgen", "pandas", "pyarrow", "matminer")},
    }
    info = write_json(summary, out_dir / "corpus.json")
    bar.update()
    bar.close()
    return CorpusResult(parquet, info, table, summary, time.perf_counter() - start)
