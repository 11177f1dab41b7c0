"""Fixtures for the MLIP backbone tests: EMT-labelled structures and a tiny backbone."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import ase
import ase.io
import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]


def load_emt_maker():
    """The sample script ``make_emt_dataset.py`` as a module."""
    path = ROOT / "samples" / "helper_tools" / "make_emt_dataset.py"
    spec = importlib.util.spec_from_file_location("make_emt_dataset", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module", autouse=True)
def _one_thread_for_module_fixtures():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="session")
def emt_structures() -> list[ase.Atoms]:
    """24 labelled structures (4 per kind), 4-15 atoms each."""
    return load_emt_maker().make_dataset(n_per_kind=4, seed=1)


@pytest.fixture(scope="session")
def emt_file(tmp_path_factory: pytest.TempPathFactory, emt_structures: list[ase.Atoms]) -> Path:
    path = tmp_path_factory.mktemp("emt") / "emt.extxyz"
    ase.io.write(path, emt_structures, format="extxyz")
    return path


@pytest.fixture()
def tiny_schnet():
    from foundation_model.backbones import SchNetBackbone

    return SchNetBackbone(
        cutoff=4.0, hidden=16, num_interactions=2, num_rbf=12, elements=["Cu", "Al", "Ni"]
    )


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Small graphs run fastest on one thread; two threads on a busy 2-core machine crawl."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
