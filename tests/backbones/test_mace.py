"""MACE adapter, tested in the separate env:
``UV_PROJECT_ENVIRONMENT=.venv-mace uv sync --locked --extra mace``.

MACE weights are not bundled; these tests build a small random MACE model.
"""

from __future__ import annotations

import pytest

pytest.importorskip("mace", reason="MACE not installed: use the mace env (uv sync --extra mace)")

from adapter_checks import check_physics, check_short_fine_tune, check_unknown_element  # noqa: E402

from foundation_model.backbones import MACEBackbone, MLIPCalculator, MLIPFineTuneModule  # noqa: E402
from foundation_model.backbones.mace import build_small_mace  # noqa: E402


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    return build_small_mace(tmp_path_factory.mktemp("mace") / "small.model", ["Cu", "Al", "Ni"])


def test_mace_physics_and_unknown_element(model_path):
    calc = MLIPCalculator.from_pretrained(str(model_path), device="cpu")
    check_physics(calc)
    assert calc.module.backbone.node_dim == 16  # 8 scalars per interaction layer
    check_unknown_element(calc.module, "Au")


def test_mace_short_fine_tune(model_path, emt_structures, tmp_path):
    module = MLIPFineTuneModule(MACEBackbone(str(model_path)), ema_decay=0.9)
    check_short_fine_tune(module, emt_structures, tmp_path)


def test_missing_model_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="MACE weights are not bundled"):
        MACEBackbone(str(tmp_path / "nope.model"))
