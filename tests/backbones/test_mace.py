"""MACE adapter, tested in the separate env:
``UV_PROJECT_ENVIRONMENT=.venv-mace uv sync --locked --extra mace``.

MACE weights are not bundled; these tests build a small random MACE model.
"""

from __future__ import annotations

import copy

import lightning.pytorch as pl
import pytest
import torch

pytest.importorskip("mace", reason="MACE not installed: use the mace env (uv sync --extra mace)")

from adapter_checks import check_physics, check_short_fine_tune, check_unknown_element  # noqa: E402

from foundation_model.backbones import (  # noqa: E402
    MACEBackbone,
    MLIPCalculator,
    MLIPDataModule,
    MLIPFineTuneModule,
)
from foundation_model.backbones.base import STORED_KEY  # noqa: E402
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
    with pytest.raises(ValueError, match="is a folder: give the model file in it"):
        MACEBackbone(str(tmp_path))
    garbage = tmp_path / "bad.model"
    garbage.write_text("garbage\n")
    with pytest.raises(ValueError, match=r"bad\.model could not be read as a MACE model"):
        MACEBackbone(str(garbage))


def test_checkpoint_loads_without_the_model_file(emt_structures, tmp_path):
    path = build_small_mace(tmp_path / "gone.model", ["Cu", "Al", "Ni"])
    module = MLIPFineTuneModule(MACEBackbone(str(path)), ema_decay=0.9)
    initial = {n: p.detach().clone() for n, p in module.backbone.named_parameters()}
    dm = MLIPDataModule(
        emt_structures[:6], val_path=emt_structures[6:8], test_path=emt_structures[6:8]
    )
    trainer = pl.Trainer(
        max_steps=3,
        limit_val_batches=1,
        num_sanity_val_steps=0,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
    )
    trainer.fit(module, dm)
    ckpt = tmp_path / "mace.ckpt"
    trainer.save_checkpoint(ckpt)
    path.unlink()  # the original model file is gone

    loaded = MLIPFineTuneModule.load_from_checkpoint(ckpt, map_location="cpu")
    assert isinstance(loaded.backbone, MACEBackbone)
    assert STORED_KEY not in loaded.hparams["backbone"]  # hparams stay small
    assert any(not torch.equal(p, initial[n]) for n, p in loaded.backbone.named_parameters()), (
        "the fine-tuned weights, not the file's"
    )
    structures = emt_structures[6:8]
    module.eval()
    loaded.eval()
    a = module(module.batch_from_atoms(structures))
    b = loaded(loaded.batch_from_atoms(structures))
    for key in ("energy", "forces", "stress"):
        torch.testing.assert_close(a[key], b[key])

    calc = MLIPCalculator.from_checkpoint(ckpt, device="cpu")  # EMA weights
    ema = copy.deepcopy(module)
    ema.use_ema_weights()
    atoms = structures[0].copy()
    expected = ema(ema.batch_from_atoms([atoms]))["energy"].item()
    atoms.calc = calc
    assert atoms.get_potential_energy() == pytest.approx(expected, abs=1e-6)
