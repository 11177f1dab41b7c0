"""SevenNet adapter (needs ``uv sync --extra sevenn``); SevenNet-0 weights load offline."""

from __future__ import annotations

import pytest

pytest.importorskip("sevenn", reason="SevenNet not installed: uv sync --extra sevenn")

from adapter_checks import check_physics, check_short_fine_tune, check_unknown_element  # noqa: E402

from foundation_model.backbones import MLIPCalculator, MLIPFineTuneModule, SevenNetBackbone  # noqa: E402


@pytest.fixture(scope="module")
def backbone() -> SevenNetBackbone:
    return SevenNetBackbone("7net-0")


def test_sevennet_physics_and_unknown_element(backbone):
    module = MLIPFineTuneModule(backbone, fit_reference_energies=False)
    check_physics(MLIPCalculator(module, device="cpu"))
    assert backbone.cutoff == 5.0 and backbone.node_dim == 128
    missing = next(z for z in range(1, 95) if z not in backbone.elements)
    from ase.data import chemical_symbols

    check_unknown_element(module, chemical_symbols[missing])


def test_sevennet_short_fine_tune(backbone, emt_structures, tmp_path):
    module = MLIPFineTuneModule(backbone, ema_decay=0.9)
    check_short_fine_tune(module, emt_structures, tmp_path)
