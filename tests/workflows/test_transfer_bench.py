"""fm bench matbench --pretrained: one fold of steels, 2 epochs, from a tiny pretrained model."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from foundation_model.cli.featurize import main as featurize_main
from foundation_model.cli.main import main as fm_main
from foundation_model.workflows.finetune_recipe import (
    MODES,
    RECIPE_MODES,
    FinetuneRecipe,
    PretrainedBase,
)

ROOT = Path(__file__).resolve().parents[2]
WHEELS = ROOT / "data" / "cache" / "wheels"
RECIPE = ROOT / "samples" / "generated_configs" / "finetune_from_base.yaml"
ELEMENTS = ["Li", "Na", "Mg", "Al", "Ga", "Zn", "Cu", "Ti", "Zr", "Nb", "Mo", "W"]


def _pretrain_table() -> pd.DataFrame:
    """Binary alloys (none is a steel) with a target from real elemental data (pymatgen)."""
    from pymatgen.core import Composition

    rows = []
    for i, a in enumerate(ELEMENTS):
        for b in ELEMENTS[i + 1 :]:
            for n in (1, 3):
                comp = Composition(f"{a}{n}{b}")
                rows.append(
                    {
                        "formula": comp.reduced_formula,
                        "mass": comp.weight / comp.num_atoms,
                        "chi": sum(el.X * comp.get_atomic_fraction(el) for el in comp.elements),
                    }
                )
    return pd.DataFrame(rows).drop_duplicates("formula")


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("pretrain")
    _pretrain_table().to_csv(tmp / "corpus.csv", index=False)
    feats = tmp / "corpus_magpie.parquet"
    argv = ["--input", str(tmp / "corpus.csv"), "--formula-column", "formula"]
    argv += ["--preset", "magpie", "--output", str(feats), "--cache-dir", str(tmp / "c")]
    assert featurize_main([*argv, "--quiet"]) == 0
    tasks = [
        {"class_path": "foundation_model.models.task_head.RegressionTask", "init_args": {"name": n}}
        for n in ("mass", "chi")
    ]
    cfg = {
        "seed_everything": 0,
        "trainer": {
            "max_epochs": 2,
            "enable_progress_bar": False,
            "logger": False,
            "default_root_dir": str(tmp / "runs"),  # its config.yaml, not in the repo
        },
        "model_checkpoint": {
            "class_path": "lightning.pytorch.callbacks.ModelCheckpoint",
            "init_args": {"monitor": "val_task_error", "dirpath": str(tmp / "ck"), "filename": "b"},
        },
        "model": {
            "class_path": "foundation_model.models.FlexibleMultiTaskModel",
            "init_args": {"encoder_dims": [32], "deposit_dim": 16, "mfm_weight": 0.1},
        },
        "data": {
            "class_path": "foundation_model.data.CompoundDataModule",
            "init_args": {
                "formula_desc_source": str(feats),
                "attributes_source": str(tmp / "corpus.csv"),
                "batch_size": 16,
                "tasks": tasks,
            },
        },
        "plots": {"enabled": False},
    }
    (tmp / "cfg.yaml").write_text(yaml.safe_dump(cfg))
    assert fm_main(["fit", "--config", str(tmp / "cfg.yaml")]) == 0
    return tmp / "ck" / "b.ckpt"


def test_pretrained_base_reads_architecture_and_columns(pretrained):
    base = PretrainedBase.read(pretrained)
    assert base.architecture["encoder_dims"] == [32] and base.architecture["deposit_dim"] == 16
    assert base.preset == "magpie" and len(base.columns) == len(base.fill) > 100


def test_recipe_sizes_follow_training_rows_only():
    recipe = FinetuneRecipe()
    small, mid, large = recipe.sizes(250), recipe.sizes(4000), recipe.sizes(90_000)
    assert small["batch_size"] < mid["batch_size"] < large["batch_size"]
    assert small["max_epochs"] >= mid["max_epochs"] >= large["max_epochs"]
    # large tasks follow the step rule too: 90,000 rows at 512 a batch, 4,000 steps
    assert large["max_epochs"] == 23 and not any(s["reduced"] for s in (small, mid, large))
    reduced = FinetuneRecipe(large_max_epochs=8)
    assert reduced.sizes(90_000)["max_epochs"] == 8 and reduced.sizes(90_000)["reduced"]
    assert reduced.sizes(4000) == mid


def test_recipe_configs_differ_only_in_start_and_freezing(pretrained):
    from foundation_model.cli.lightning_cli import load_fit_config

    recipe_cfg = load_fit_config(RECIPE)
    base = PretrainedBase.read(pretrained)
    cfgs = FinetuneRecipe(modes=MODES).configs(recipe_cfg, base, "y", "classification", 500)
    assert set(cfgs) == {"scratch", *MODES}
    for mode, cfg in cfgs.items():  # the *_task modes differ from theirs in scaling alone
        if mode.endswith("_task"):
            twin = cfgs[mode.removesuffix("_task")]["model"]["init_args"]
            assert cfg["model"]["init_args"] == {**twin, "init_input_scaling": "task"}
    assert cfgs["full"]["model"]["init_args"]["init_input_scaling"] == "checkpoint"
    scratch = cfgs["scratch"]["model"]["init_args"]
    assert "init_from_checkpoint" not in scratch and scratch["encoder_dims"] == [32]
    assert cfgs["probe"]["model"]["init_args"]["freeze_components"] == ["encoder"]
    assert cfgs["full"]["model"]["init_args"]["freeze_components"] == []
    assert cfgs["full"]["model"]["init_args"]["component_lr"]["encoder"] == 1e-4
    assert cfgs["full_uniform"]["model"]["init_args"]["component_lr"] == {}  # one lr for all
    assert cfgs["full"]["model"]["init_args"]["init_from_checkpoint"] == str(pretrained)
    task = cfgs["full"]["data"]["init_args"]["tasks"][0]
    assert task["class_path"].endswith("ClassificationTask")
    assert task["init_args"]["column"] == "target"
    for cfg in cfgs.values():  # same data rules for every candidate
        assert cfg["data"]["init_args"]["batch_size"] == 32
        assert cfg["trainer"]["max_epochs"] == cfgs["scratch"]["trainer"]["max_epochs"]


def test_transfer_on_one_fold_of_steels(pretrained, tmp_path, monkeypatch):
    from foundation_model.data import matbench_sources as sources

    if not list(WHEELS.glob("crabnet-2.0.8-*.whl")) and not sources.host_reachable(
        "https://pypi.org", 5
    ):
        pytest.skip("PyPI is unreachable and the crabnet wheel is not cached in data/cache/wheels")
    out = tmp_path / "out"
    argv = ["matbench", "--task", "steels", "--pretrained", str(pretrained), "--folds", "0"]
    argv += ["--max-epochs", "2", "--rf-estimators", "20", "--out", str(out), "--quiet"]
    argv += ["--data-dir", str(tmp_path / "mb"), "--feature-cache", str(tmp_path / "fc")]
    argv += ["--seeds", "2"]  # every mode once (ceil(2 / 4) seeds), scratch 4 networks
    argv += ["--workers", "2"]  # the networks of a round trained in two processes
    assert fm_main(["bench", *argv, "--config", str(RECIPE)]) == 0
    saved = json.loads((out / "matbench_steels.json").read_text())
    for key in ("model_scratch", "model_pretrained", "rf_scm_magpie", "rf_same_features", "dummy"):
        assert len(saved[key]["folds"]) == 1 and math.isfinite(saved[key]["mean"]), key
        assert saved[key]["std"] == 0.0
    fold = saved["folds"][0]
    assert saved["recipe"]["modes"] == list(RECIPE_MODES)  # the recipe's candidates
    assert saved["recipe"]["combine"] == "all" and fold["mode"] == "all"  # no mode chosen
    assert fold["members"] == 4 and set(fold["val_task_error"]) == set(RECIPE_MODES)
    assert saved["recipe"]["max_epochs_override"] == 2 and saved["failed_folds"] == []
    assert saved["recipe"]["seeds"] == 2 and fold["seeds"] == 2 and fold["seconds_extra_seeds"] > 0
    assert fold["workers"] == 2 and fold["seconds_scratch"] > 0
    assert 0 < fold["seconds_finetune_all_modes"] < saved["seconds"]
    # each entry's cost: every network it trained (one per mode; scratch as many as members)
    assert fold["networks_trained"] == {"model_pretrained": 4, "model_scratch": 4}
    assert all(0 < s < saved["seconds"] * 2 for s in fold["network_seconds"].values())
    # every first network ran the 2 epochs it was allowed (patience is longer)
    assert fold["epochs_first_network"] == {**dict.fromkeys(RECIPE_MODES, 2), "scratch": 2}
    assert "fm-base fine-tuned" in (out / "matbench_steels.md").read_text()
    assert (out / "matbench_steels.png").stat().st_size > 1000

    # the finished fold is kept: a rerun with the same settings reads it and trains nothing
    import foundation_model.workflows.transfer_bench as transfer_bench

    def refuse(*args, **kwargs):
        raise AssertionError("a finished fold was trained again")

    monkeypatch.setattr(transfer_bench, "transfer_fold", refuse)
    monkeypatch.setattr("foundation_model.workflows.matbench_bench._baselines", refuse)
    assert fm_main(["bench", *argv, "--config", str(RECIPE)]) == 0
    again = json.loads((out / "matbench_steels.json").read_text())
    for key in ("model_scratch", "model_pretrained", "rf_scm_magpie", "rf_same_features"):
        assert again[key]["folds"] == saved[key]["folds"], key
    assert again["folds"] == saved["folds"] and again["failed_folds"] == []


def _own_table(path: Path, flip: int | None = None) -> Path:
    """Binary alloys A2B the fixture never saw, labelled by their electronegativity."""
    from pymatgen.core import Composition

    rows = []
    for i, a in enumerate(ELEMENTS):
        for b in ELEMENTS[i + 1 :]:
            comp = Composition(f"{a}2{b}")
            chi = sum(el.X * comp.get_atomic_fraction(el) for el in comp.elements)
            rows.append({"composition": comp.reduced_formula, "chi": chi})
    df = pd.DataFrame(rows).drop_duplicates("composition")
    df["kind"] = np.where(df["chi"] > df["chi"].median(), "ionic", "metallic")
    if flip is not None:
        df.loc[df.index[flip], "kind"] = (
            "ionic" if df["kind"].iloc[flip] == "metallic" else "metallic"
        )
    df[["composition", "kind"]].to_csv(path, index=False)
    return path


def test_bench_table_runs_the_transfer_protocol_on_your_own_table(pretrained, tmp_path):
    table = _own_table(tmp_path / "alloys.csv")
    out = tmp_path / "out"
    argv = ["bench", "table", "--data", str(table), "--target", "kind"]
    argv += ["--formula-column", "composition", "--n-folds", "3", "--folds", "0"]
    argv += ["--pretrained", str(pretrained), "--config", str(RECIPE), "--max-epochs", "2"]
    argv += ["--rf-estimators", "20", "--out", str(out), "--quiet"]
    argv += ["--feature-cache", str(tmp_path / "fc")]
    assert fm_main(argv) == 0
    saved = json.loads((out / "alloys.json").read_text())
    assert saved["task_type"] == "classification" and saved["classes"] == ["ionic", "metallic"]
    assert saved["n_rows"] == 66 and saved["folds_run"] == [0]
    for key in ("model_scratch", "model_pretrained", "rf_scm_magpie", "rf_same_features", "dummy"):
        assert math.isfinite(saved[key]["mean"]), key
    report = (out / "alloys.md").read_text()
    assert "3 shuffled folds (seed 0) of alloys.csv" in report.splitlines()[0]
    assert "Matbench" not in report.splitlines()[0]
    assert (out / "features").is_dir() and (out / "alloys.png").stat().st_size > 1000
    # a label edited in place changes the fold-store key: the fold is trained again
    _own_table(table, flip=0)
    assert fm_main(argv) == 0
    assert len(list((out / "alloys.folds").iterdir())) == 2


def test_bench_table_with_a_model_config_compares_it_with_the_rf(tmp_path):
    from synthetic_tables import bench_config

    table = pd.read_csv(_own_table(tmp_path / "alloys.csv"))
    table["chi_x10"] = np.arange(len(table)) % 7 * 0.5  # a numeric target: regression
    table.to_csv(tmp_path / "alloys.csv", index=False)
    (tmp_path / "model.yaml").write_text(yaml.safe_dump(bench_config()))
    argv = ["bench", "table", "--data", str(tmp_path / "alloys.csv"), "--target", "chi_x10"]
    argv += ["--formula-column", "composition", "--config", str(tmp_path / "model.yaml")]
    argv += ["--folds", "0", "--rf-estimators", "10", "--out", str(tmp_path / "o"), "--quiet"]
    argv += ["--feature-cache", str(tmp_path / "fc"), "--name", "matbench_steels"]
    assert fm_main(argv) == 0
    saved = json.loads((tmp_path / "o" / "matbench_steels.json").read_text())
    assert saved["task_type"] == "regression" and "classes" not in saved
    report = (tmp_path / "o" / "matbench_steels.md").read_text()
    assert "Published Matbench" not in report  # a Matbench name on your table: no anchors
    assert math.isfinite(saved["model"]["mean"]) and math.isfinite(saved["rf_scm_magpie"]["mean"])
    assert "No published anchors" in report


def test_bench_table_needs_a_model_and_a_readable_table(tmp_path, capsys):
    table = _own_table(tmp_path / "alloys.csv")
    argv = ["bench", "table", "--data", str(table), "--target", "kind", "--out", str(tmp_path)]
    argv += ["--formula-column", "composition", "--quiet"]
    assert fm_main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "needs --pretrained CKPT" in err[0]
    assert fm_main([*argv[:5], "yield", *argv[6:]]) == 2  # no such column
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "column(s) ['yield'] not found" in err[0]


def test_incompatible_pretrained_checkpoint_is_one_line_error(tmp_path, capsys):
    bad = tmp_path / "bad.ckpt"
    bad.write_bytes(b"not a checkpoint")
    argv = ["matbench", "--task", "steels", "--pretrained", str(bad), "--folds", "0"]
    argv += ["--data-dir", str(tmp_path / "mb"), "--out", str(tmp_path / "o"), "--quiet"]
    assert fm_main(["bench", *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "bad.ckpt" in err[0]


def test_featurize_like_a_checkpoint_writes_its_columns(pretrained, tmp_path):
    base = PretrainedBase.read(pretrained)
    pd.DataFrame({"id": ["a", "b"], "formula": ["Fe2O3", "Xx2"]}).to_csv(tmp_path / "my.csv")
    out = tmp_path / "my.parquet"
    argv = ["--input", str(tmp_path / "my.csv"), "--id-column", "id", "--output", str(out)]
    assert featurize_main([*argv, "--like", str(pretrained), "--no-cache", "--quiet"]) == 0
    table = pd.read_parquet(out)
    assert list(table.columns) == base.columns and list(table.index) == ["a"]
    assert not table.isna().any().any()
    other = "rich" if base.preset != "rich" else "magpie"  # --like fixes the preset
    argv += ["--like", str(pretrained), "--no-cache", "--quiet"]
    assert featurize_main([*argv, "--preset", other]) == 2
    assert featurize_main([*argv, "--preset", base.preset]) == 0


def test_seeds_below_one_is_a_one_line_error(tmp_path, capsys):
    argv = ["bench", "matbench", "--task", "steels", "--seeds", "0", "--out", str(tmp_path)]
    assert fm_main(argv) == 2
    assert "--seeds must be at least 1" in capsys.readouterr().err
    assert fm_main([*argv[:-4], "--workers", "0", "--out", str(tmp_path)]) == 2
    assert "--workers must be at least 1" in capsys.readouterr().err
    assert fm_main([*argv[:-4], "--combine", "vote", "--out", str(tmp_path)]) == 2
    assert "--combine must be one of pick, all, got 'vote'" in capsys.readouterr().err


def test_point_mass_rule_reads_training_targets_only(pretrained):
    from foundation_model.cli.lightning_cli import load_fit_config

    recipe = FinetuneRecipe()
    gaps = np.r_[np.zeros(30), np.linspace(0.5, 4.0, 70), np.nan]  # 30 % metals at 0 eV
    assert recipe.point_mass(gaps) == 0.0
    assert recipe.point_mass(np.linspace(1000.0, 2000.0, 300)) is None  # no value repeats
    assert FinetuneRecipe(point_mass_share=0.0).point_mass(gaps) is None
    assert FinetuneRecipe(point_mass_share=0.5).point_mass(gaps) is None
    cfgs = recipe.configs(
        load_fit_config(RECIPE), PretrainedBase.read(pretrained), "g", "regression", 400, 0.0
    )
    for cfg in cfgs.values():  # scratch and every mode get the same gate
        assert cfg["data"]["init_args"]["tasks"][0]["init_args"]["point_mass"] == 0.0
    plain = recipe.configs(
        load_fit_config(RECIPE), PretrainedBase.read(pretrained), "g", "regression", 400
    )
    assert "point_mass" not in plain["full"]["data"]["init_args"]["tasks"][0]["init_args"]


def test_pick_mode_takes_the_lowest_finite_score_else_the_fallback():
    from foundation_model.workflows.finetune_recipe import pick_mode

    assert pick_mode({"full": 0.3, "full_uniform": 0.2, "full_task": None}) == "full_uniform"
    assert pick_mode({"full": float("nan"), "full_task": 0.5}) == "full_task"
    assert pick_mode({"full_uniform": 0.2, "full_task": 0.2}) == "full_uniform"  # first on ties
    assert pick_mode({"full_uniform": None, "full_task": float("inf")}) == "full"


class _NamedPool:
    """Stands in for :class:`FitPool`: a network's prediction is ``100 * mode + seed``, so
    the test can see which networks an entry averaged; the log lists every call."""

    workers = 1

    def __init__(self) -> None:
        self.log: list[tuple[str, int]] = []

    def run(self, calls):
        from foundation_model.workflows.fit_pool import FitResult
        from foundation_model.workflows.rf_baseline import FoldPrediction

        out = []
        for c in calls:
            name, code = c.config["name"], c.config["code"]
            self.log.append((name, c.seed))
            pred = FoldPrediction(np.array([100.0 * code + c.seed]), val_score=c.config["val"])
            out.append(FitResult(pred, 1.0, 1.0))
        return out


@pytest.mark.parametrize("combine, seeds", [("pick", 3), ("all", 5), ("all", 1)])
def test_transfer_fold_combines_the_networks_the_recipe_names(combine, seeds):
    from types import SimpleNamespace

    from foundation_model.workflows.bench_model import SEED_STRIDE
    from foundation_model.workflows.transfer_bench import transfer_fold

    vals = {"full": 0.3, "full_uniform": 0.1, "full_task": 0.2, "full_uniform_task": 0.4}
    configs = {m: {"name": m, "code": i + 1, "val": v} for i, (m, v) in enumerate(vals.items())}
    configs["scratch"] = {"name": "scratch", "code": 0, "val": None}
    opts = SimpleNamespace(seeds=seeds, max_epochs=None, val_fraction=0.1)
    pool = _NamedPool()
    recipe = FinetuneRecipe(combine=combine)
    scratch, tuned, info = transfer_fold(configs, None, None, [], [], 7, opts, pool, recipe)
    n = recipe.members(seeds)
    member_seeds = [7 + j * SEED_STRIDE for j in range(n if combine == "pick" else n // 4)]
    scratch_seeds = [7 + j * SEED_STRIDE for j in range(n)]
    assert info["members"] == n and scratch.values[0] == pytest.approx(np.mean(scratch_seeds))
    if combine == "pick":
        assert n == seeds and info["mode"] == "full_uniform"  # the lowest validation score
        assert tuned.values[0] == pytest.approx(200 + np.mean(member_seeds))
    else:
        assert n == 4 * math.ceil(seeds / 4) and info["mode"] == "all"
        codes = [100 * (i + 1) + s for i in range(4) for s in member_seeds]
        assert tuned.values[0] == pytest.approx(np.mean(codes))
    # nothing trained twice, nothing trained that the entries do not use
    assert len(pool.log) == len(set(pool.log))
    # pick: 4 modes + n scratch + n - 1 more of the chosen mode; all: n of each
    assert len(pool.log) == 2 * n + (3 if combine == "pick" else 0)


def test_recipe_combine_is_checked():
    with pytest.raises(ValueError, match="combine must be one of"):
        FinetuneRecipe(combine="vote")
    assert FinetuneRecipe(combine="pick").members(5) == 5 and FinetuneRecipe().members(5) == 8
