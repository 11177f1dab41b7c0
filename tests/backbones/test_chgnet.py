"""CHGNet adapter (needs ``uv sync --extra chgnet``); CHGNet 0.3.0 weights load offline."""

from __future__ import annotations

import pytest

pytest.importorskip("chgnet", reason="CHGNet not installed: uv sync --extra chgnet")

from adapter_checks import check_physics, check_short_fine_tune, check_unknown_element  # noqa: E402

from foundation_model.backbones import CHGNetBackbone, MLIPCalculator, MLIPFineTuneModule  # noqa: E402


@pytest.fixture(scope="module")
def backbone() -> CHGNetBackbone:
    return CHGNetBackbone("0.3.0")


def test_chgnet_physics_and_unknown_element(backbone):
    module = MLIPFineTuneModule(backbone, fit_reference_energies=False)
    check_physics(MLIPCalculator(module, device="cpu"))
    assert backbone.node_dim == 64
    check_unknown_element(module, "Am")


def test_chgnet_short_fine_tune(backbone, emt_structures, tmp_path):
    module = MLIPFineTuneModule(
        backbone, freeze_backbone=False, component_lr={"backbone.net.mlp": 1e-3}
    )
    check_short_fine_tune(module, emt_structures, tmp_path)
