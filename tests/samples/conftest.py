"""Fixtures for the tests of ``samples/``: the helper scripts, one torch thread."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


def _load_helper(name: str) -> ModuleType:
    """Import ``samples/helper_tools/<name>.py`` (a script folder, not a package)."""
    key = f"fm_samples_{name}"
    if key not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            key, REPO_ROOT / "samples" / "helper_tools" / f"{name}.py"
        )
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[key] = module
        spec.loader.exec_module(module)
    return sys.modules[key]


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The repository root (where ``samples/`` lives)."""
    return REPO_ROOT


@pytest.fixture(scope="session")
def helper_script() -> Callable[[str], ModuleType]:
    """``helper_script("make_fake_data")`` -> the imported script module."""
    return _load_helper


@pytest.fixture(autouse=True)
def one_torch_thread() -> Iterator[None]:
    """Tiny models run faster on one intra-op thread: on a shared 2-core machine two threads
    were measured ~10x slower per step. The previous setting is restored afterwards."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
