"""``samples/helper_tools/make_fake_data.py``: reproducible files, documented properties."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

FAKE_DATA = Path(__file__).resolve().parents[2] / "samples" / "fake_data"
FILES = ("formula_descriptors.csv", "structure_descriptors.csv", "attributes.csv")


@pytest.fixture(scope="module")
def fake(helper_script) -> object:
    return helper_script("make_fake_data")


def test_same_seed_gives_identical_files(fake, tmp_path) -> None:
    assert fake.main(["--out", str(tmp_path / "a"), "--n", "300", "--seed", "3"]) == 0
    assert fake.main(["--out", str(tmp_path / "b"), "--n", "300", "--seed", "3"]) == 0
    fake.main(["--out", str(tmp_path / "c"), "--n", "300", "--seed", "4"])
    for name in FILES:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert (tmp_path / "a" / FILES[0]).read_bytes() != (tmp_path / "c" / FILES[0]).read_bytes()


def test_committed_files_match_the_script_defaults(fake, tmp_path) -> None:
    fake.main(["--out", str(tmp_path), "--n", "2000", "--seed", "0"])
    for name in FILES:
        assert (tmp_path / name).read_bytes() == (FAKE_DATA / name).read_bytes(), (
            f"samples/fake_data/{name} is out of date: rerun make_fake_data.py"
        )
    assert sum((FAKE_DATA / name).stat().st_size for name in FILES) < 3 * 1024**2


def test_shapes_ids_and_structure_coverage() -> None:
    formula = pd.read_csv(FAKE_DATA / FILES[0], index_col=0)
    structure = pd.read_csv(FAKE_DATA / FILES[1], index_col=0)
    attrs = pd.read_csv(FAKE_DATA / FILES[2], index_col=0)
    assert formula.shape == (2000, 32) and structure.shape[1] == 16
    assert formula.index.equals(attrs.index) and formula.index.is_unique
    assert structure.index.isin(formula.index).all()
    assert 0.65 < len(structure) / len(formula) < 0.75
    assert np.isfinite(formula.to_numpy()).all() and np.isfinite(structure.to_numpy()).all()
    assert attrs["split"].value_counts().to_dict() == {"train": 1600, "val": 200, "test": 200}


@pytest.mark.parametrize(
    "column", ["y_easy", "y_nonlinear", "y_structure", "is_metal", "crystal_system", "cp_values"]
)
def test_missing_fraction_between_30_and_50_percent(column: str) -> None:
    attrs = pd.read_csv(FAKE_DATA / "attributes.csv", index_col=0)
    fraction = attrs[column].isna().mean()
    assert 0.3 <= fraction <= 0.5, f"{column}: {fraction:.1%} missing"


def test_labels_follow_the_documented_rules(fake) -> None:
    tables = fake.make_tables(n=500, seed=1)
    attrs = tables["attributes"]
    assert set(attrs["is_metal"].dropna()) == {"metal", "insulator"}
    assert set(attrs["crystal_system"].dropna()) == set(fake.CRYSTAL_SYSTEMS)
    # y_easy is (almost) linear in the descriptors: least squares explains > 99 % of it.
    labelled = attrs["y_easy"].notna()
    x = tables["formula_descriptors"][labelled].to_numpy()
    x = np.c_[x, np.ones(len(x))]
    y = attrs.loc[labelled, "y_easy"].to_numpy()
    residual = y - x @ np.linalg.lstsq(x, y, rcond=None)[0]
    assert 1.0 - residual.var() / y.var() > 0.99


def test_curves_have_8_to_20_sorted_points_and_matching_lengths() -> None:
    attrs = pd.read_csv(FAKE_DATA / "attributes.csv", index_col=0)
    assert attrs["temperatures"].notna().all()
    for temps_text, cp_text in (
        attrs[["temperatures", "cp_values"]].head(300).itertuples(index=False)
    ):
        temps = json.loads(temps_text)
        assert 8 <= len(temps) <= 20 and temps == sorted(temps)
        assert temps[0] >= 50.0 and temps[-1] <= 1000.0
        if isinstance(cp_text, str):
            assert len(json.loads(cp_text)) == len(temps)
