"""``fm data corpus`` on real sources: the leakage rule, provenance, counts, determinism.

The default run builds a subset (all sources but OQMD; ~2k formulas) once per module; the
full corpus (~300k formulas, ~1-2 min) is checked under ``-m slow``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml

from foundation_model.cli.data import main as data_main
from foundation_model.data import matbench_sources as sources
from foundation_model.data.corpus.build import SEQUENCES, build_corpus
from foundation_model.data.corpus.formulas import reduced_formula
from foundation_model.data.corpus.janaf import JANAF
from foundation_model.data.corpus.provenance import sha256_file
from foundation_model.data.matbench import CRABNET_STEMS, load_matbench_task

REPO_ROOT = Path(__file__).resolve().parents[2]
WHEELS = REPO_ROOT / "data" / "cache" / "wheels"
SUBSET = ["aflow", "materials_project", "matminer_transport", "janaf"]
COUNT_KEYS = ("rows_non_finite", "rows_unparsable", "rows_leakage_removed", "rows_merged")


@pytest.fixture(scope="module")
def wheel_cache() -> Path:
    wanted = [sources.CRABNET, sources.MATBENCH, JANAF]
    have = all(list(WHEELS.glob(f"{n}-{v}-*.whl")) for n, v in wanted)
    if not have and not sources.host_reachable("https://pypi.org", timeout=5):
        pytest.skip("PyPI is unreachable and the crabnet/matbench/janaf wheels are not cached")
    for name, version in wanted:
        sources.wheel_path(name, version, WHEELS)
    return WHEELS


@pytest.fixture(scope="module")
def matbench_reduced(wheel_cache: Path) -> set[str]:
    """Reduced formulas of all 13 tasks through the ``fm data matbench`` loader."""
    out: set[str] = set()
    for task in CRABNET_STEMS:
        table = load_matbench_task(task, wheel_cache, try_matminer=False).table
        out.update(f for f in table["formula"].map(reduced_formula) if f)
    return out


@pytest.fixture(scope="module")
def subset(wheel_cache: Path, tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("corpus")
    return build_corpus(out, wheel_cache, progress=False, sources=SUBSET)


def _check_leakage(parquet: Path, info: dict, matbench: set[str]) -> None:
    table = pd.read_parquet(parquet)
    assert table.index.name == "formula" and table.index.is_unique
    assert not set(table.index) & matbench
    assert info["leakage"]["matbench_reduced_formulas"] == len(matbench)
    for name, entry in info["sources"].items():
        assert entry["rows_leakage_removed"] > 0, name  # every source overlaps Matbench


def test_no_matbench_formula_enters_the_corpus(subset, matbench_reduced) -> None:
    _check_leakage(subset.parquet, json.loads(subset.info.read_text()), matbench_reduced)


def test_provenance_and_row_accounting(subset, wheel_cache: Path) -> None:
    info = json.loads(subset.info.read_text())
    assert info["corpus"]["sha256"] == sha256_file(subset.parquet)
    assert set(info["sources"]) == {"aflow", "materials_project", "matminer_transport", "janaf"}
    crab = info["sources"]["aflow"]
    assert (crab["package"], crab["version"]) == sources.CRABNET
    assert crab["sha256"] == sha256_file(sources.wheel_path(*sources.CRABNET, wheel_cache))
    jan = info["sources"]["janaf"]
    assert (jan["package"], jan["version"]) == JANAF
    assert jan["sha256"] == sha256_file(sources.wheel_path(*JANAF, wheel_cache))
    assert info["sources"]["matminer_transport"]["rows"] == 47737
    table = pd.read_parquet(subset.parquet)
    for entry in info["sources"].values():
        for column, rep in entry["properties"].items():
            dropped = sum(int(rep.get(k, 0)) for k in (*COUNT_KEYS, "rows_too_short"))
            assert rep["rows_read"] - dropped == rep["rows_kept"], column
            if column in table.columns:  # the parquet holds exactly the kept rows
                assert table[column].notna().sum() == rep["rows_kept"], column
    files = info["sources"]["aflow"]["properties"]["aflow_band_gap"]["files"]
    assert [f["rows"] for f in files] and all(len(f["sha256"]) == 64 for f in files)
    assert sum(f["rows"] for f in files) == 27577
    for column, meta in info["corpus"]["columns"].items():
        assert meta["labelled_rows"] == int(table[column].notna().sum())


def test_curves_are_lists_of_equal_length(subset) -> None:
    schema = pq.read_schema(subset.parquet)
    table = pd.read_parquet(subset.parquet)
    assert "formula" in schema.names  # the index is stored as a column
    n_curves = 0
    for x, y in SEQUENCES.values():
        assert str(schema.field(x).type) == "list<element: double>"
        for xs, ys in zip(table[x], table[y], strict=True):
            assert (xs is None) == (ys is None)
            if xs is None:
                continue
            n_curves += 1
            assert len(xs) == len(ys) >= 2
            assert all(b > a for a, b in zip(xs, xs[1:], strict=False))
            assert min(ys) > 0
    janaf = json.loads(subset.info.read_text())["sources"]["janaf"]["properties"]["cp"]
    assert n_curves == 2 * janaf["rows_kept"] > 0


def test_two_builds_are_byte_identical(subset, wheel_cache: Path, tmp_path: Path) -> None:
    again = build_corpus(tmp_path, wheel_cache, progress=False, sources=SUBSET)
    assert sha256_file(again.parquet) == sha256_file(subset.parquet)
    assert again.info.read_bytes() == subset.info.read_bytes()


def test_cli_errors_are_one_line(tmp_path: Path, capsys) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert data_main(["corpus", "--out", str(blocker), "--quiet", "--cache-dir", str(WHEELS)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("fm data corpus: error:") and "\n" not in err
    rc = data_main(["corpus", "--out", str(tmp_path / "o"), "--sources", "nope", "--quiet"])
    assert rc == 2 and "unknown corpus source" in capsys.readouterr().err


@pytest.mark.slow
def test_full_corpus(wheel_cache: Path, matbench_reduced, tmp_path: Path) -> None:
    result = build_corpus(tmp_path, wheel_cache, progress=False)
    info = json.loads(result.info.read_text())
    _check_leakage(result.parquet, info, matbench_reduced)
    assert set(info["sources"]) == {
        "oqmd",
        "aflow",
        "materials_project",
        "matminer_transport",
        "janaf",
    }
    assert info["corpus"]["rows"] > 250_000
    assert info["sources"]["oqmd"]["properties"]["oqmd_band_gap"]["rows_kept"] > 250_000


def _localised(config: Path, tmp_path: Path, tasks: list | None = None) -> Path:
    cfg = yaml.safe_load(config.read_text())
    cfg["model_checkpoint"]["init_args"]["dirpath"] = str(tmp_path / "checkpoints")
    if tasks is not None:
        cfg["data"]["init_args"]["tasks"] = tasks
    out = tmp_path / config.name
    out.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return out


@pytest.mark.parametrize("preset", ["pretrain_base", "pretrain_large"])
def test_pretrain_config_runs_on_a_corpus_subset(subset, tmp_path: Path, preset: str) -> None:
    """corpus -> fm featurize -> fm fit (3 steps) with the shipped YAML; unlabelled rows kept."""
    from foundation_model.cli.featurize import main as featurize_main
    from foundation_model.cli.main import main as fm_main
    from foundation_model.data import CompoundDataModule
    from foundation_model.models.task_head.base import TaskSpec

    features = tmp_path / "corpus_rich.parquet"
    argv = ["--input", str(subset.parquet), "--id-column", "formula", "--output", str(features)]
    assert featurize_main([*argv, "--no-cache", "--quiet"]) == 0
    attrs = pd.read_parquet(subset.parquet)
    config = REPO_ROOT / "samples" / "generated_configs" / f"{preset}.yaml"
    tasks = yaml.safe_load(config.read_text())["data"]["init_args"]["tasks"]
    # the subset has no OQMD source: `fm fit` refuses a task without any labelled training
    # row, so this run keeps the tasks whose source the subset holds
    for task in tasks:
        column = task["init_args"].get("column")
        if column and column not in attrs.columns:
            assert column.startswith("oqmd_"), column
    tasks = [
        t
        for t in tasks
        if t["init_args"].get("column", "") in attrs.columns or "x_column" in t["init_args"]
    ]
    unlabelled = attrs.index[::40]  # descriptors kept, labels dropped: MFM-only rows
    attributes = tmp_path / "attributes.parquet"
    attrs.drop(index=unlabelled).to_parquet(attributes)
    dm = CompoundDataModule(features, [TaskSpec.from_dict(t) for t in tasks], attributes)
    dm.setup("fit")
    rows = dm.ids.get_indexer(unlabelled)
    assert len(dm.ids) == len(attrs) and (rows >= 0).all()
    assert not any(bool(m[rows].any()) for m in dm.tensors.masks.values())
    rc = fm_main(
        [
            "fit",
            "--config",
            str(_localised(config, tmp_path, tasks)),
            f"--data.init_args.formula_desc_source={features}",
            f"--data.init_args.attributes_source={attributes}",
            "--trainer.max_steps=3",
            "--trainer.limit_val_batches=1",
            "--trainer.enable_progress_bar=false",
            "--trainer.enable_model_summary=false",
            f"--trainer.logger.init_args.save_dir={tmp_path / 'runs'}",
        ]
    )
    assert rc == 0
    (run,) = sorted((tmp_path / "runs" / preset).glob("version_*"))
    metrics = pd.read_csv(run / "metrics.csv")
    for key in ("val_final_loss", "train_mfm_loss", "val_cp_curve_loss", "val_is_metal_loss"):
        assert key in metrics and metrics[key].notna().any(), key
    assert np.isfinite(metrics["val_final_loss"].dropna()).all()
    assert (tmp_path / "checkpoints" / "last.ckpt").is_file()


def test_generator_writes_one_task_per_labelled_column(subset, tmp_path: Path) -> None:
    import importlib.util
    import sys

    spec = importlib.util.spec_from_file_location(
        "fm_corpus_generate_configs", REPO_ROOT / "samples/helper_tools/generate_configs.py"
    )
    gen = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = gen  # dataclasses look their module up there
    spec.loader.exec_module(gen)
    assert gen.main(["--corpus", str(subset.info.parent), "--out", str(tmp_path)]) == 0
    cfg = yaml.safe_load((tmp_path / "pretrain_base.yaml").read_text())
    tasks = {t["init_args"]["name"]: t for t in cfg["data"]["init_args"]["tasks"]}
    columns = json.loads(subset.info.read_text())["corpus"]["columns"]
    scalar = {c for c, m in columns.items() if m["kind"] != "sequence"}
    assert set(tasks) == scalar | {"cp_curve", "s_curve"}
    assert tasks["is_metal"]["class_path"].endswith("ClassificationTask")
    head = gen.SEQUENCE_HEADS[gen.PRETRAIN_HEAD]
    assert tasks["cp_curve"]["class_path"].endswith(head)
    assert tasks["cp_curve"]["init_args"]["x_column"] == "cp_T"
    model = cfg["model"]["init_args"]
    assert model["uncertainty_weighting"] and model["mfm_weight"] > 0
    assert cfg["data"]["init_args"]["attributes_source"].endswith("corpus.parquet")
    # the shipped model's run used the default AdamW; the other corpus configs the fused one
    assert "fused" not in model["optimizer"]["init_args"]
    # the GPU preset: same tasks, a wider encoder, floors declared from physics,
    # and a wall-clock budget that sets the epoch count
    large = yaml.safe_load((tmp_path / "pretrain_large.yaml").read_text())
    large_tasks = {t["init_args"]["name"]: t for t in large["data"]["init_args"]["tasks"]}
    assert set(large_tasks) == set(tasks)
    floors = {}
    for name, task in large_tasks.items():
        if task["class_path"].endswith("RegressionTask"):
            assert "loss" not in task["init_args"], name  # squared error (pretrain_loss.md)
            floors[name] = task["init_args"].get("min_value")
    assert floors == {n: (0.0 if n in gen.NON_NEGATIVE else None) for n in floors}
    assert 0.0 in floors.values() and None in floors.values()
    assert large["model"]["init_args"]["encoder_dims"] == gen.LARGE_ARCHITECTURE["encoder_dims"]
    assert large["model"]["init_args"]["optimizer"]["init_args"]["fused"] is True
    tune = yaml.safe_load((tmp_path / "finetune_from_base.yaml").read_text())
    assert tune["model"]["init_args"]["optimizer"]["init_args"]["fused"] is True
    (budget,) = large["trainer"]["callbacks"]
    assert budget["class_path"].endswith("TimeBudget") and budget["init_args"]["minutes"] > 0
    assert gen.main(["--corpus", str(tmp_path / "missing"), "--out", str(tmp_path)]) == 1
