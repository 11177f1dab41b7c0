"""An interrupted featurization started again computes only the chunks it lacks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from foundation_model.features import composition
from foundation_model.features.cache import FeatureCache
from foundation_model.features.composition import parse_formula
from foundation_model.features.pipeline import featurize_table
from foundation_model.features.presets import COMPOSITION_PRESETS, resolve_preset
from foundation_model.features.runner import run_featurizers

FORMULAS = [f"Fe{i}O{i + 1}" for i in range(1, 13)] + ["Xx2O", "NaCl", "SiO2", "Bi2Te3", "Q"]


class Interrupt:
    """``parse_formula`` that raises KeyboardInterrupt at its ``at``-th call (a Ctrl-C)."""

    def __init__(self, at: int | None) -> None:
        self.at, self.calls = at, []

    def __call__(self, text: str):  # noqa: ANN204
        self.calls.append(text)
        if self.at is not None and len(self.calls) == self.at:
            raise KeyboardInterrupt
        return parse_formula(text)


def test_a_rerun_reads_back_finished_chunks_and_gives_the_uninterrupted_result(tmp_path):
    specs = resolve_preset("magpie", COMPOSITION_PRESETS, "composition")
    whole = run_featurizers(FORMULAS, parse_formula, specs, chunk_size=4, progress=False)
    store = FeatureCache(tmp_path).chunks("k")
    first = Interrupt(at=11)  # in the third chunk: two chunks are finished
    with pytest.raises(KeyboardInterrupt):
        run_featurizers(FORMULAS, first, specs, chunk_size=4, progress=False, chunks=store)
    assert sorted(p.name for p in store.folder.glob("*.npz")) == ["4-0.npz", "4-4.npz"]
    again = Interrupt(at=None)
    raw = run_featurizers(FORMULAS, again, specs, chunk_size=4, progress=False, chunks=store)
    assert again.calls == FORMULAS[8:]  # only the chunks the first run had not finished
    np.testing.assert_array_equal(raw.values, whole.values)
    assert raw.errors == whole.errors and set(raw.errors) == {12, 16}  # Xx2O, Q
    assert raw.columns == whole.columns
    # another chunk size does not read these chunks (their positions would not line up)
    other = Interrupt(at=None)
    run_featurizers(FORMULAS, other, specs, chunk_size=5, progress=False, chunks=store)
    assert other.calls == FORMULAS


def test_a_damaged_or_misshapen_chunk_is_computed_again(tmp_path):
    specs = resolve_preset("magpie", COMPOSITION_PRESETS, "composition")
    store = FeatureCache(tmp_path).chunks("k")
    run_featurizers(FORMULAS[:8], parse_formula, specs, chunk_size=4, progress=False, chunks=store)
    (store.folder / "4-0.npz").write_bytes(b"not a chunk")
    store.save(4, 4, np.zeros((4, 3)), {})  # 3 columns, not 132
    again = Interrupt(at=None)
    raw = run_featurizers(FORMULAS[:8], again, specs, chunk_size=4, progress=False, chunks=store)
    assert again.calls == FORMULAS[:8]
    whole = run_featurizers(FORMULAS[:8], parse_formula, specs, chunk_size=4, progress=False)
    np.testing.assert_array_equal(raw.values, whole.values)


def test_featurize_table_resumes_through_the_cache_and_then_clears_the_chunks(
    tmp_path, monkeypatch
):
    # 600 distinct formulas: chunks of 256, 256 and 88 (fm featurize's chunk size)
    formulas = pd.DataFrame(
        {"formula": [f"Fe{i + 1}Ni{i % 7 + 1}O{i % 5 + 1}" for i in range(600)]}
    )
    monkeypatch.setattr(composition, "parse_formula", Interrupt(at=300))  # chunk 2 of 3
    with pytest.raises(KeyboardInterrupt):
        featurize_table(formulas, "formula", cache_dir=tmp_path, progress=False)
    (partial,) = tmp_path.glob("*.partial")
    assert [p.name for p in partial.glob("*.npz")] == ["256-0.npz"]
    rerun = Interrupt(at=None)
    monkeypatch.setattr(composition, "parse_formula", rerun)
    res = featurize_table(formulas, "formula", cache_dir=tmp_path, progress=False)
    assert len(rerun.calls) == 600 - 256 and not res.info["cache_hit"]
    assert not partial.exists()  # the whole entry is stored: its chunks are gone
    monkeypatch.setattr(composition, "parse_formula", parse_formula)
    fresh = featurize_table(formulas, "formula", cache_dir=None, progress=False)
    pd.testing.assert_frame_equal(res.features, fresh.features)
    assert featurize_table(formulas, "formula", cache_dir=tmp_path, progress=False).info[
        "cache_hit"
    ]


def test_structure_featurization_resumes_in_chunks_of_64(tmp_path, monkeypatch):
    import io

    from ase.build import bulk
    from ase.io import write as ase_write

    from foundation_model.features import structure

    cells = []
    for i in range(70):  # chunks of 64 and 6
        buf = io.StringIO()
        ase_write(buf, bulk("Cu", "fcc", a=3.5 + 0.005 * i), format="extxyz")
        cells.append(buf.getvalue())
    table = pd.DataFrame({"formula": ["Cu"] * 70, "structure": cells})
    kwargs = {"structure_column": "structure", "progress": False}
    real = structure.parse_structure
    calls: list[str] = []

    def interrupted(text):  # noqa: ANN001, ANN202
        calls.append(text)
        if len(calls) == 66:
            raise KeyboardInterrupt
        return real(text)

    monkeypatch.setattr(structure, "parse_structure", interrupted)
    with pytest.raises(KeyboardInterrupt):
        featurize_table(table, "formula", cache_dir=tmp_path, **kwargs)
    (partial,) = tmp_path.glob("*.partial")
    assert [p.name for p in partial.glob("*.npz")] == ["64-0.npz"]
    calls.clear()
    monkeypatch.setattr(structure, "parse_structure", lambda text: calls.append(text) or real(text))
    res = featurize_table(table, "formula", cache_dir=tmp_path, **kwargs)
    # 6 featurized (the unfinished chunk), then all 70 read once more by the check that each
    # structure is its row's formula (not cached: it is cheap)
    assert len(calls) == 6 + 70 and not partial.exists()
    monkeypatch.setattr(structure, "parse_structure", real)
    fresh = featurize_table(table, "formula", cache_dir=None, **kwargs)
    pd.testing.assert_frame_equal(res.structure_features, fresh.structure_features)


def test_chunk_folders_abandoned_for_two_weeks_are_removed_when_an_entry_is_stored(tmp_path):
    import os
    import time

    cache = FeatureCache(tmp_path)
    old, recent = cache.chunks("old"), cache.chunks("recent")
    for store in (old, recent):
        store.save(4, 0, np.zeros((4, 3)), {})
    weeks_ago = time.time() - 15 * 86400
    for path in (old.folder / "4-0.npz", old.folder):
        os.utime(path, (weeks_ago, weeks_ago))
    formulas = pd.DataFrame({"formula": ["NaCl", "Fe2O3"]})
    featurize_table(formulas, "formula", cache_dir=tmp_path, progress=False)
    assert not old.folder.exists()  # an interrupted run whose inputs then changed
    assert (recent.folder / "4-0.npz").is_file()  # maybe a run going on beside this one
