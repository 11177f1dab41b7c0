"""The store of finished benchmark folds: round trip, keys, corrupt files, off switch."""

from __future__ import annotations

import numpy as np

from foundation_model.workflows.fold_store import FoldRecord, FoldStore, source_sha256


def _record() -> FoldRecord:
    return FoldRecord(
        {"model": {"mae": 1.5, "r2": 0.2}, "dummy": {"mae": 3.0}, "rf": None},
        {
            "model": {"y": np.arange(4.0), "values": np.ones(4), "std": np.full(4, 0.5)},
            "rf": {"y": np.array([0, 1]), "values": np.array([1, 1]), "proba": np.eye(2)},
        },
        {"mode": "full", "seconds": 3.2},
    )


def test_round_trip_keeps_scores_arrays_and_info(tmp_path):
    store = FoldStore(tmp_path, "matbench_x", {"config": "a", "seeds": 1})
    assert store.load(0) is None
    store.save(0, _record())
    back = FoldStore(tmp_path, "matbench_x", {"seeds": 1, "config": "a"}).load(0)  # key order
    assert back is not None and back.scores == _record().scores and back.info["mode"] == "full"
    np.testing.assert_array_equal(back.pooled["model"]["std"], np.full(4, 0.5))
    np.testing.assert_array_equal(back.pooled["rf"]["proba"], np.eye(2))
    assert (store.folder / "key.json").is_file() and store.load(1) is None


def test_a_nan_score_is_strict_json_on_disk_and_nan_when_read(tmp_path):
    import json
    import math

    import pytest

    store = FoldStore(tmp_path, "matbench_x", {})
    record = _record()
    record.scores["model"]["r2"] = float("nan")
    store.save(0, record)
    on_disk = json.loads((store.folder / "fold_0.json").read_text(), parse_constant=pytest.fail)
    assert on_disk["scores"]["model"]["r2"] is None
    back = store.load(0)
    assert back.scores["model"]["mae"] == 1.5 and math.isnan(back.scores["model"]["r2"])
    assert back.scores["rf"] is None


def test_other_settings_use_another_folder(tmp_path):
    FoldStore(tmp_path, "matbench_x", {"config": "a"}).save(0, _record())
    other = FoldStore(tmp_path, "matbench_x", {"config": "b"})
    assert other.load(0) is None
    other.save(0, _record())
    assert len(list((tmp_path / "matbench_x.folds").iterdir())) == 2


def test_unreadable_or_half_written_fold_is_run_again(tmp_path):
    store = FoldStore(tmp_path, "matbench_x", {})
    store.save(0, _record())
    store.save(1, _record())
    (store.folder / "fold_0.json").write_text("{ truncated")
    (store.folder / "fold_1.npz").unlink()  # the JSON alone does not count as finished
    assert store.load(0) is None and store.load(1) is None


def test_disabled_store_reads_and_writes_nothing(tmp_path):
    FoldStore(tmp_path, "matbench_x", {}).save(0, _record())
    off = FoldStore(tmp_path, "matbench_x", {}, enabled=False)
    assert off.load(0) is None
    off.save(1, _record())
    assert not (off.folder / "fold_1.json").exists()


def test_source_hash_is_stable():
    assert source_sha256() == source_sha256() and len(source_sha256()) == 64
