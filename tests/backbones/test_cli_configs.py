"""``fm fit`` / ``fm test`` on the MLIP sample configs, in-process."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from foundation_model.backbones import MLIPCalculator
from foundation_model.backbones.data import read_structures

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = ROOT / "samples" / "generated_configs"
EXTRAS = {"sevennet": "sevenn", "chgnet": "chgnet", "mace": "mace"}


def _main(argv):
    from foundation_model.cli.main import main

    return main(argv)


def run_fm(
    config: Path, data: Path, out: Path, command: str = "fit", ckpt: Path | None = None
) -> Path:
    """Run ``fm <command>`` with one epoch on ``data``; returns the run's ``last.ckpt``."""
    from foundation_model.cli.main import main

    args = [
        command,
        "--config",
        str(config),
        "--trainer.max_epochs=1",
        "--trainer.enable_progress_bar=false",
        f"--trainer.logger.init_args.save_dir={out}",
        f"--data.init_args.train_path={data}",
    ]
    if ckpt is not None:
        args.append(f"--ckpt_path={ckpt}")
    assert main(args) == 0
    found = sorted(out.glob("**/checkpoints/last.ckpt"))
    return found[-1] if found else Path()


def run_predict(config: Path, data: Path, ckpt: Path, tmp_path: Path) -> pd.DataFrame:
    """``fm predict --config ... --ckpt_path ...`` on the test split of ``data``."""
    from foundation_model.cli.main import main

    out = tmp_path / "pred.csv"
    args = [
        "predict",
        "--config",
        str(config),
        f"--data.init_args.train_path={data}",
        f"--trainer.logger.init_args.save_dir={tmp_path / 'runs_pred'}",
        f"--ckpt_path={ckpt}",
        f"--prediction_writer.output_path={out}",
    ]
    assert main(args) == 0
    return pd.read_csv(out)


def schnet_variant(name: str, tmp_path: Path) -> Path:
    """The sample config with its backbone swapped for the tiny pure-torch one."""
    cfg = yaml.safe_load((CONFIGS / name).read_text())
    cfg["model"]["init_args"]["backbone"] = {
        "class_path": "foundation_model.backbones.SchNetBackbone",
        "init_args": {"cutoff": 4.0, "hidden": 16, "num_interactions": 2, "num_rbf": 12},
    }
    path = tmp_path / name
    path.write_text(yaml.safe_dump(cfg))
    return path


@pytest.mark.parametrize(
    "name", ["mlip_sevennet_finetune.yaml", "mlip_chgnet_finetune.yaml", "mlip_mace_finetune.yaml"]
)
def test_config_shape_with_small_backbone(name, tmp_path, emt_file):
    config = schnet_variant(name, tmp_path)
    ckpt = run_fm(config, emt_file, tmp_path / "runs")
    assert ckpt.is_file()
    run_fm(config, emt_file, tmp_path / "runs_test", "test", ckpt)
    calc = MLIPCalculator.from_checkpoint(ckpt, device="cpu")
    assert calc.module.ema is not None
    if "sevennet" in name:
        table = run_predict(config, emt_file, ckpt, tmp_path)
        assert len(table) == 2  # the test split (10 %) of 24 structures
        for column in ("energy", "energy_per_atom", "max_force", "stress_0", "num_atoms"):
            assert table[column].notna().all()
        check_predict_uses_ema(table, emt_file, ckpt)
        # new structures on a machine without the training file: predict_path alone
        out = tmp_path / "new_pred.csv"
        args = ["predict", "--config", str(config), f"--ckpt_path={ckpt}"]
        args += [f"--data.init_args.train_path={tmp_path / 'gone.extxyz'}"]
        args += [f"--data.init_args.predict_path={emt_file}"]
        args += [f"--trainer.logger.init_args.save_dir={tmp_path / 'runs_new'}"]
        assert _main([*args, f"--prediction_writer.output_path={out}"]) == 0
        assert len(pd.read_csv(out)) == len(read_structures(emt_file))


def check_predict_uses_ema(table: pd.DataFrame, data: Path, ckpt: Path) -> None:
    """``fm predict`` energies are the EMA model's (as MLIPCalculator's), by index in file."""
    structures = read_structures(data)
    ema = MLIPCalculator.from_checkpoint(ckpt, device="cpu")
    raw = MLIPCalculator.from_checkpoint(ckpt, device="cpu", use_ema=False)
    expected = [ema.get_potential_energy(structures[i].copy()) for i in table["id"]]
    plain = [raw.get_potential_energy(structures[i].copy()) for i in table["id"]]
    np.testing.assert_allclose(table["energy"], expected, rtol=1e-5, atol=1e-5)
    assert np.abs(np.array(expected) - np.array(plain)).max() > 1e-4


def test_unknown_element_in_file_is_one_line(tmp_path, capsys):
    data = tmp_path / "typo.extxyz"
    data.write_text(
        '2\nLattice="5 0 0 0 5 0 0 0 5" Properties=species:S:1:pos:R:3 energy=-1.0 '
        'pbc="T T T"\nCu 0 0 0\nXx 1.5 1.5 0\n'
    )
    from foundation_model.cli.main import main

    config = schnet_variant("mlip_sevennet_finetune.yaml", tmp_path)
    args = ["fit", "--config", str(config), f"--data.init_args.train_path={data}"]
    assert main([*args, f"--trainer.logger.init_args.save_dir={tmp_path / 'runs'}"]) == 1
    errors = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
    assert len(errors) == 1
    assert str(data) in errors[0] and "unknown element 'Xx'" in errors[0]
    assert "chemical symbol" in errors[0]


def test_missing_extra_is_one_line(tmp_path, capsys, monkeypatch):
    for name in ("sevenn", "sevenn.util"):
        monkeypatch.setitem(sys.modules, name, None)  # as if sevenn were not installed
    from foundation_model.cli.main import main

    args = [
        "fit",
        "--config",
        str(CONFIGS / "mlip_sevennet_finetune.yaml"),
        f"--trainer.logger.init_args.save_dir={tmp_path / 'runs'}",
    ]
    assert main(args) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("fm fit: error: The 'sevenn' package is needed")
    assert "`uv sync --locked --extra sevenn`" in err[-1]
    assert not any("class_path" in line for line in err)


@pytest.mark.slow
@pytest.mark.parametrize("backbone", ["sevennet", "chgnet", "mace"])
def test_sample_config_with_real_backbone(backbone, tmp_path, emt_file):
    if importlib.util.find_spec(EXTRAS[backbone]) is None:
        pytest.skip(f"{backbone} not installed: uv sync --extra {EXTRAS[backbone]}")
    config = CONFIGS / f"mlip_{backbone}_finetune.yaml"
    if backbone == "mace":
        from foundation_model.backbones.mace import build_small_mace

        cfg = yaml.safe_load(config.read_text())
        model = build_small_mace(tmp_path / "small.model", ["Cu", "Al", "Ni"])
        cfg["model"]["init_args"]["backbone"]["init_args"]["model_path"] = str(model)
        config = tmp_path / config.name
        config.write_text(yaml.safe_dump(cfg))
    ckpt = run_fm(config, emt_file, tmp_path / "runs")
    if backbone == "mace":
        model.unlink()  # test / predict rebuild MACE from the checkpoint's stored model
    run_fm(config, emt_file, tmp_path / "runs_test", "test", ckpt)
    check_predict_uses_ema(run_predict(config, emt_file, ckpt, tmp_path), emt_file, ckpt)
