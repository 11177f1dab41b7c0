"""Every ``samples/datagen`` config parses into a pipeline; the EMT adsorbate one runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from foundation_model.cli.datagen import build_parser
from foundation_model.cli.main import main
from foundation_model.workflows.datagen.calculators import MLIPSpec

# the sample configs sample with SOAP descriptors
pytest.importorskip("dscribe", reason="dscribe not installed: uv sync --extra datagen")
from foundation_model.workflows.datagen.pipeline import DatagenPipeline

SAMPLES = sorted((Path(__file__).resolve().parents[3] / "samples" / "datagen").glob("*.yaml"))


@pytest.mark.parametrize("path", SAMPLES, ids=[p.stem for p in SAMPLES])
def test_sample_config_instantiates(path: Path, tmp_path: Path) -> None:
    parser = build_parser()
    cfg = parser.parse_args(["--config", str(path), f"--output_dir={tmp_path}"])
    init = parser.instantiate_classes(cfg)
    kwargs = {k: v for k, v in vars(init).items() if k not in ("config", "resume", "__path__")}
    pipeline = DatagenPipeline(**kwargs)
    assert len(pipeline.config_hash()) == 16
    seeds, rejected = pipeline.generate.run(pipeline.seed, pipeline.explore.calculator.cutoff)
    assert seeds and not rejected
    if path.stem == "mgo_cao_oxide":
        assert isinstance(pipeline.explore.calculator, MLIPSpec)
        assert pipeline.store.relabel is None
        assert all(abs(a.get_initial_charges().sum()) < 1e-9 for a in seeds)


@pytest.mark.slow
def test_adsorbate_sample_runs_nvt(tmp_path: Path) -> None:
    path = [p for p in SAMPLES if p.stem == "pt_co_adsorbate"][0]
    argv = ["datagen", "run", "--config", str(path), f"--output_dir={tmp_path}"]
    small = ["--explore.steps=10", "--explore.sample_interval=5", "--sample.n_samples=4"]
    assert main([*argv, *small, "--executor.progress=false", "--plots=false"]) == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["ensembles"] == {"nvt:Langevin": 6} and summary["n_rows"] == 4
