"""Atomic writes: content lands whole, a failed write leaves the old file and no temp file."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest
import torch

from foundation_model.utils import atomic


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_text_bytes_json_round_trip(tmp_path: Path) -> None:
    atomic.write_text("héllo\n", tmp_path / "a" / "t.txt")
    atomic.write_bytes(b"\x00\x01", tmp_path / "b.bin")
    atomic.write_json({"x": [1, 2], "p": Path("q")}, tmp_path / "c.json")
    assert (tmp_path / "a" / "t.txt").read_text(encoding="utf-8") == "héllo\n"
    assert (tmp_path / "b.bin").read_bytes() == b"\x00\x01"
    assert json.loads((tmp_path / "c.json").read_text()) == {"x": [1, 2], "p": "q"}
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize("name", ["t.csv", "t.parquet"])
def test_dataframe_round_trip(tmp_path: Path, name: str) -> None:
    df = pd.DataFrame({"a": [1.5, 2.5]}, index=pd.Index(["x", "y"], name="id"))
    path = atomic.write_dataframe(df, tmp_path / name)
    back = pd.read_csv(path, index_col=0) if name.endswith(".csv") else pd.read_parquet(path)
    pd.testing.assert_frame_equal(back, df)


def test_dataframe_rejects_unknown_suffix(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"\.xlsx"):
        atomic.write_dataframe(pd.DataFrame({"a": [1]}), tmp_path / "t.xlsx")


def test_torch_checkpoint_round_trip(tmp_path: Path) -> None:
    path = atomic.save_torch({"state_dict": {"w": torch.ones(2)}}, tmp_path / "m.ckpt")
    loaded = torch.load(path, weights_only=True)
    assert torch.equal(loaded["state_dict"]["w"], torch.ones(2))


def test_failure_keeps_old_file_and_removes_temp(tmp_path: Path) -> None:
    target = tmp_path / "keep.txt"
    target.write_text("old")

    def broken(p: Path) -> None:
        p.write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        atomic.atomic_write(target, broken)
    assert target.read_text() == "old"
    assert _leftovers(tmp_path) == []


def test_written_file_has_usual_mode(tmp_path: Path) -> None:
    umask = os.umask(0)
    os.umask(umask)
    path = atomic.write_text("x", tmp_path / "m.txt")
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask  # not mkstemp's private 0600


def test_write_json_writes_non_finite_numbers_as_null(tmp_path):
    import json

    import numpy as np

    from foundation_model.utils.atomic import write_json

    data = {"a": float("nan"), "b": [np.float64(np.inf), 1.5], "c": {"d": np.float64(2.0)}}
    path = write_json(data, tmp_path / "r.json")  # strict JSON: no NaN / Infinity tokens
    assert json.loads(path.read_text(), parse_constant=pytest.fail) == {
        "a": None,
        "b": [None, 1.5],
        "c": {"d": 2.0},
    }
