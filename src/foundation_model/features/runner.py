"""Parallel, error-tolerant application of matminer featurizers to parsed inputs.

Each input is parsed and featurized on its own: a failure is recorded with its reason
(which step failed and why) and the run goes on. Work is split in chunks over a process
pool when ``n_jobs > 1``; a tqdm bar counts inputs as chunks complete.
"""

from __future__ import annotations

import json
import sys
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from foundation_model.features.presets import FeaturizerSpec, build_featurizer, feature_labels

if TYPE_CHECKING:
    from foundation_model.features.cache import ChunkStore

_FEATURIZERS: dict[str, list[Any]] = {}  # per-process: specs JSON -> built featurizers


@dataclass
class RawFeatures:
    """Featurized block before imputation.

    Attributes:
        values: ``(N, D)`` float64, NaN where a featurizer returned no value; rows of
            failed inputs are all NaN.
        columns: descriptor names (``D``).
        errors: input position -> reason, for inputs that could not be parsed/featurized.
    """

    values: np.ndarray
    columns: list[str]
    errors: dict[int, str] = field(default_factory=dict)


def _featurizers(specs_json: str) -> list[Any]:
    if specs_json not in _FEATURIZERS:
        _FEATURIZERS[specs_json] = [build_featurizer(s) for s in json.loads(specs_json)]
    return _FEATURIZERS[specs_json]


def _to_float(value: Any) -> float:
    if value is None:
        return float("nan")
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


# matminer's IonProperty tries every combination of the elements' oxidation states: 20
# elements take ~1.5 s, 26 more than 5 minutes (a whole file waits on that one row)
MAX_ION_PROPERTY_ELEMENTS = 20


def featurize_one(obj: Any, featurizers: list[Any]) -> list[float]:
    """Concatenate every featurizer's output for one parsed object (raises on failure).

    A composition of more than :data:`MAX_ION_PROPERTY_ELEMENTS` elements is refused by
    ``IonProperty`` (its oxidation-state search grows combinatorially) instead of stalling.

    Args:
        obj: a pymatgen ``Composition`` or ``Structure``.
        featurizers: instantiated matminer featurizers.
    """
    row: list[float] = []
    n_el = len(getattr(obj, "elements", ()))
    for f in featurizers:
        if type(f).__name__ == "IonProperty" and n_el > MAX_ION_PROPERTY_ELEMENTS:
            raise RuntimeError(
                f"IonProperty refuses {n_el} elements (at most {MAX_ION_PROPERTY_ELEMENTS}: its "
                "oxidation-state search grows combinatorially); featurize with --preset magpie"
            )
        try:
            row.extend(_to_float(v) for v in f.featurize(obj))
        except Exception as err:
            raise RuntimeError(f"{type(f).__name__} failed: {type(err).__name__}: {err}") from err
    return row


def _chunk_worker(
    items: Sequence[Any], parse: Callable[[Any], Any], specs_json: str
) -> tuple[np.ndarray, dict[int, str]]:
    featurizers = _featurizers(specs_json)
    width = sum(len(f.feature_labels()) for f in featurizers)
    out = np.full((len(items), width), np.nan)
    errors: dict[int, str] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for i, item in enumerate(items):
            try:
                obj = parse(item)
            except Exception as err:
                errors[i] = f"cannot parse: {type(err).__name__}: {str(err)[:200]}"
                continue
            try:
                out[i] = featurize_one(obj, featurizers)
            except Exception as err:
                errors[i] = str(err)[:300].replace("\n", " ")
    return out, errors


def run_featurizers(
    items: Sequence[Any],
    parse: Callable[[Any], Any],
    specs: list[FeaturizerSpec],
    n_jobs: int = 1,
    chunk_size: int = 256,
    progress: bool = True,
    desc: str = "featurize",
    chunks: ChunkStore | None = None,
) -> RawFeatures:
    """Parse and featurize every item; failures are recorded, never raised.

    Args:
        items: raw inputs (formula strings, structure texts, ...).
        parse: module-level function turning one item into a pymatgen object.
        specs: featurizer specs (see :mod:`foundation_model.features.presets`).
        n_jobs: worker processes; 1 runs in this process.
        chunk_size: items per work unit.
        progress: show a tqdm bar.
        desc: bar label.
        chunks: where finished chunks are kept as they finish and read back from (an
            interrupted run started again computes only the chunks it lacks); None keeps none.
    """
    from tqdm.auto import tqdm

    if n_jobs < 1:
        raise ValueError(f"n_jobs must be >= 1, got {n_jobs}.")
    specs_json = json.dumps(specs, sort_keys=True)
    columns = feature_labels(_featurizers(specs_json))
    values = np.full((len(items), len(columns)), np.nan)
    errors: dict[int, str] = {}
    chunk_size = max(1, chunk_size)
    done = chunks.load(chunk_size, len(items), len(columns)) if chunks is not None else {}
    starts = [s for s in range(0, len(items), chunk_size) if s not in done]
    resumed = sum(len(block) for block, _ in done.values())
    bar = tqdm(
        total=len(items), initial=resumed, desc=desc, unit="item", disable=not progress,
        leave=False,
    )  # fmt: skip
    if resumed and progress:
        bar.write(
            f"{desc}: {resumed} of {len(items)} read back from an interrupted run", sys.stderr
        )

    def store(start: int, result: tuple[np.ndarray, dict[int, str]], keep: bool = True) -> None:
        block, errs = result
        values[start : start + len(block)] = block
        errors.update({start + i: msg for i, msg in errs.items()})
        if keep and chunks is not None:
            chunks.save(chunk_size, start, block, errs)
        bar.update(len(block) if keep else 0)

    for start, result in done.items():
        store(start, result, keep=False)

    if n_jobs == 1 or len(starts) <= 1:
        for s in starts:
            store(s, _chunk_worker(items[s : s + chunk_size], parse, specs_json))
    else:
        with ProcessPoolExecutor(max_workers=n_jobs) as pool:
            futures = {
                pool.submit(_chunk_worker, list(items[s : s + chunk_size]), parse, specs_json): s
                for s in starts
            }
            for fut in as_completed(futures):
                store(futures[fut], fut.result())
    bar.close()
    return RawFeatures(values, columns, dict(sorted(errors.items())))
