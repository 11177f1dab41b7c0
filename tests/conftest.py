"""Shared fixtures: tiny synthetic tables with a known ground truth."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from synthetic_tables import make_tables


@pytest.fixture
def tables() -> dict[str, pd.DataFrame]:
    return make_tables()


@pytest.fixture
def table_files(tmp_path, tables) -> dict[str, str]:
    paths = {}
    for name, df in tables.items():
        p = tmp_path / f"{name}.csv"
        df.to_csv(p)
        paths[name] = str(p)
    return paths


def pytest_configure(config: pytest.Config) -> None:
    """One torch thread: tiny models on a shared 2-core machine run far faster this way."""
    import torch

    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def opts_base(tmp_path_factory) -> dict:
    """``BenchOptions`` fields for one fold of a Matbench task with few epochs (skips when
    the crabnet wheel that holds the data is neither cached nor downloadable)."""
    from foundation_model.data import matbench_sources as sources

    wheels = Path(__file__).resolve().parents[1] / "data" / "cache" / "wheels"
    if not list(wheels.glob("crabnet-2.0.8-*.whl")) and not sources.host_reachable(
        "https://pypi.org", 5
    ):
        pytest.skip("PyPI is unreachable and the crabnet wheel is not cached in data/cache/wheels")
    tmp = tmp_path_factory.mktemp("bench")
    return {
        "data_dir": tmp / "data",
        "wheel_cache": wheels,
        "feature_cache": tmp / "cache",
        "folds": [0],
        "max_epochs": 3,
        "preset": "magpie",
        "rf_estimators": 30,
        "progress": False,
    }


@pytest.fixture(autouse=True)
def _warnings_not_yet_shown(monkeypatch):
    """Every test starts as a new process would: no once-per-process warning shown yet."""
    from foundation_model.utils import warn_once

    monkeypatch.setattr(warn_once, "_SHOWN", set())
