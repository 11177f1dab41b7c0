"""Shared fixtures: tiny synthetic tables with a known ground truth."""

from __future__ import annotations

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
