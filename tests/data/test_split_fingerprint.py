from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from foundation_model.data.split_fingerprint import check_same_split, split_fingerprint
from foundation_model.data.splitters import RandomSplitter

IDS = pd.Index([f"r{i}" for i in range(50)])


def _print(seed: int) -> dict:
    return split_fingerprint(IDS, RandomSplitter(seed=seed).split(IDS, None))


def test_same_settings_same_digests_and_order_does_not_matter():
    a = _print(3)
    assert a == _print(3)
    splits = RandomSplitter(seed=3).split(IDS, None)
    order = np.arange(len(IDS))[::-1]  # the same rows listed backwards
    flipped = type(splits)(*(len(IDS) - 1 - getattr(splits, p) for p in ("train", "val", "test")))
    assert split_fingerprint(IDS[order], flipped) == a
    assert a["n_train"] + a["n_val"] + a["n_test"] == a["n_rows"] == 50


def test_another_seed_on_the_same_table_is_refused_per_part():
    stored, now = _print(3), _print(4)
    for part in ("train", "val", "test"):
        with pytest.raises(ValueError, match=f"^the {part} split"):
            check_same_split(stored, now, part)
    check_same_split(stored, _print(3), "test")  # the run's own split


def test_other_tables_and_older_checkpoints_are_not_checked():
    other = pd.Index([f"s{i}" for i in range(50)])
    new = split_fingerprint(other, RandomSplitter(seed=4).split(other, None))
    check_same_split(_print(3), new, "test")  # new data: every row unseen
    check_same_split(None, _print(4), "test")  # a checkpoint from before fm_split
