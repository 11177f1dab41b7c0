"""Every YAML in ``samples/generated_configs`` runs ``fm fit`` (short run, in-process), and the
generator writes what the data implies."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import torch
import yaml

from foundation_model.cli.main import main as fm_main

REPO_ROOT = Path(__file__).resolve().parents[2]
CONFIG_DIR = REPO_ROOT / "samples" / "generated_configs"
# exercised by their own tests (pretrain_base/_large: tests/data/test_corpus_build.py, on a corpus
# subset; finetune_from_base: tests/workflows/test_transfer_bench.py as the benchmark recipe
# and tests/results/test_shipped_base.py with the shipped checkpoint)
OWNED_ELSEWHERE = (
    "matbench_",
    "mlip_",
    "pretrain_base",
    "pretrain_large",
    "finetune_from_base",
)
CONFIGS = sorted(p for p in CONFIG_DIR.glob("*.yaml") if not p.name.startswith(OWNED_ELSEWHERE))
SHORT_RUN = [
    "--trainer.max_epochs=1",
    "--trainer.limit_train_batches=2",
    "--trainer.limit_val_batches=1",
    "--trainer.enable_progress_bar=false",
    "--trainer.enable_model_summary=false",
]
PLOTTED = "all_tasks"  # the other configs skip plotting to keep the suite fast
MONITOR = "val_task_error"


def localised_config(path: Path, tmp_path: Path) -> Path:
    """Copy of a config whose fixed checkpoint folders point into ``tmp_path``."""
    cfg = yaml.safe_load(path.read_text())
    callbacks = [*(cfg["trainer"].get("callbacks") or []), cfg.get("model_checkpoint") or {}]
    for callback in callbacks:
        args = callback.get("init_args") or {}
        if args.get("dirpath"):
            args["dirpath"] = str(tmp_path / "checkpoints" / path.stem)
    out = tmp_path / "configs" / path.name
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return out


def short_fit(config: Path, save_dir: Path, *extra: str) -> int:
    """``fm fit`` for 2 training batches, logging under ``save_dir``."""
    argv = [
        "fit",
        "--config",
        str(config),
        *SHORT_RUN,
        f"--trainer.logger.init_args.save_dir={save_dir}",
    ]
    if config.stem != PLOTTED:
        argv.append("--plots.enabled=false")
    return fm_main([*argv, *extra])


def run_dir(save_dir: Path, stem: str) -> Path:
    """The CSVLogger folder of the (only) run named ``stem``."""
    runs = sorted((save_dir / stem).glob("version_*"))
    assert len(runs) == 1, f"expected one run named {stem!r} under {save_dir}, found {runs}"
    return runs[0]


@pytest.fixture(scope="module")
def pretrained_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A checkpoint from a short ``pretrain_mfm`` run (what ``finetune`` warm-starts from)."""
    tmp = tmp_path_factory.mktemp("pretrain")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        config = localised_config(CONFIG_DIR / "pretrain_mfm.yaml", tmp)
        assert short_fit(config, tmp / "runs") == 0
    finally:
        torch.set_num_threads(before)
    ckpt = tmp / "checkpoints" / "pretrain_mfm" / "best.ckpt"
    assert ckpt.is_file()
    return ckpt


def test_the_expected_scenarios_are_generated() -> None:
    stems = {p.stem for p in CONFIGS}
    assert {
        "regression",
        "classification",
        "sequence_heads",
        "all_tasks",
        "structure_ssl",
        "pretrain_mfm",
        "finetune",
        "predefined_split",
        "kfold",
        "head_regression",
        "head_classification",
        "head_sequence_rnn",
        "head_sequence_transformer",
        "head_sequence_tcn",
        "head_sequence_basis",
    } <= stems


@pytest.mark.parametrize("config", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_configs_select_the_model_on_task_error(config: Path) -> None:
    cfg = yaml.safe_load(config.read_text())
    assert not cfg["trainer"].get("callbacks")  # top-level keys, overridable one by one
    for key in ("model_checkpoint", "early_stopping"):
        assert cfg[key]["init_args"]["monitor"] == MONITOR
        assert cfg[key]["init_args"]["mode"] == "min"


def test_single_head_configs_hold_one_head_of_each_kind() -> None:
    kinds = {
        "head_regression": "RegressionTask",
        "head_classification": "ClassificationTask",
        "head_sequence_rnn": "SequenceRNNTask",
        "head_sequence_transformer": "SequenceTransformerTask",
        "head_sequence_tcn": "SequenceTCNFiLMTask",
        "head_sequence_basis": "SequenceBasisTask",
    }
    for stem, kind in kinds.items():
        tasks = yaml.safe_load((CONFIG_DIR / f"{stem}.yaml").read_text())["data"]["init_args"]
        assert [t["class_path"].rsplit(".", 1)[1] for t in tasks["tasks"]] == [kind], stem


def test_help_lists_every_scenario(helper_script, capsys) -> None:
    gen = helper_script("generate_configs")
    with pytest.raises(SystemExit):
        gen.main(["--help"])
    out = capsys.readouterr().out
    for name in gen.SCENARIOS:
        assert f"  {name} " in out, name
    assert "val_task_error" in out and "--early_stopping.patience" in out


def test_scenarios_option_writes_only_those(helper_script, tmp_path: Path, capsys) -> None:
    gen = helper_script("generate_configs")
    base = [
        "--formula-desc",
        str(REPO_ROOT / "samples/fake_data/formula_descriptors.csv"),
        "--attributes",
        str(REPO_ROOT / "samples/fake_data/attributes.csv"),
        "--regression",
        "y_easy",
        "--out",
        str(tmp_path),
    ]
    assert gen.main([*base, "--scenarios", "head_regression", "kfold"]) == 0
    assert sorted(p.stem for p in tmp_path.glob("*.yaml")) == ["head_regression", "kfold"]
    assert gen.main([*base, "--scenarios", "head_classification"]) == 1
    assert "head_classification" in capsys.readouterr().err


def test_early_stopping_patience_is_overridable(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(REPO_ROOT)
    config = CONFIG_DIR / "head_regression.yaml"
    with pytest.raises(SystemExit) as done:
        fm_main(["fit", "--config", str(config), "--early_stopping.patience=3", "--print_config"])
    assert done.value.code in (0, None)
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed["early_stopping"]["init_args"]["patience"] == 3
    assert printed["early_stopping"]["init_args"]["monitor"] == MONITOR
    assert printed["model_checkpoint"]["init_args"]["monitor"] == MONITOR


@pytest.mark.parametrize("config", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_config_fits(
    config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request
) -> None:
    monkeypatch.chdir(REPO_ROOT)  # data paths in the configs are relative to the repository root
    extra: list[str] = []
    if config.stem == "finetune":
        ckpt = request.getfixturevalue("pretrained_checkpoint")
        extra.append(f"--model.init_args.init_from_checkpoint={ckpt}")
    local = localised_config(config, tmp_path)
    save_dir = tmp_path / "runs"
    assert short_fit(local, save_dir, *extra) == 0

    run = run_dir(save_dir, config.stem)  # the config stem is the run name
    metrics = pd.read_csv(run / "metrics.csv")
    assert MONITOR in metrics and metrics[MONITOR].notna().any()  # what best.ckpt follows
    assert "val_final_loss" in metrics and metrics["val_final_loss"].notna().any()
    assert torch.isfinite(torch.tensor(metrics["val_final_loss"].dropna().to_numpy())).all()
    checkpoints = list(run.glob("checkpoints/*.ckpt")) + list(tmp_path.glob("checkpoints/*/*.ckpt"))
    assert checkpoints, "no checkpoint written"
    if config.stem == PLOTTED:
        assert list((run / "plots").glob("*.png")), "no plot written"


def test_finetune_loads_and_freezes_the_pretrained_encoder(
    pretrained_checkpoint: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(REPO_ROOT)
    local = localised_config(CONFIG_DIR / "finetune.yaml", tmp_path)
    override = f"--model.init_args.init_from_checkpoint={pretrained_checkpoint}"
    assert short_fit(local, tmp_path / "runs", override) == 0
    tuned = torch.load(
        run_dir(tmp_path / "runs", "finetune") / "checkpoints" / "last.ckpt",
        map_location="cpu",
        weights_only=False,
    )["state_dict"]
    source = torch.load(pretrained_checkpoint, map_location="cpu", weights_only=False)["state_dict"]
    formula = [k for k in source if k.startswith("encoder.formula.")]
    deposit = [k for k in source if k.startswith("encoder.deposit.") and k.endswith("weight")]
    assert formula and deposit
    for key in formula:  # loaded, then frozen: unchanged by fine-tuning
        assert torch.equal(tuned[key], source[key]), key
    # loaded but trainable (lr 1e-4): moved a little from the pretrained values
    assert any(not torch.equal(tuned[k], source[k]) for k in deposit)


def _cfg(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())


def test_generator_infers_classes_and_sources(helper_script, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(REPO_ROOT)
    gen = helper_script("generate_configs")
    rc = gen.main(
        [
            "--formula-desc",
            "samples/fake_data/formula_descriptors.csv",
            "--attributes",
            "samples/fake_data/attributes.csv",
            "--regression",
            "y_easy",
            "--classification",
            "crystal_system",
            "--sequence",
            "cp:temperatures:cp_values",
            "--prefix",
            "t",  # the separator is added
            "--out",
            str(tmp_path),
        ]
    )
    assert rc == 0
    stems = {p.stem for p in tmp_path.glob("*.yaml")}
    assert "t_all_tasks" in stems and "t_structure_ssl" not in stems  # no structure table given
    assert "t_predefined_split" not in stems  # no --split-column
    cfg = _cfg(tmp_path / "t_all_tasks.yaml")
    assert cfg["trainer"]["logger"]["init_args"]["name"] == "t_all_tasks"
    tasks = {t["init_args"]["name"]: t for t in cfg["data"]["init_args"]["tasks"]}
    assert tasks["crystal_system"]["init_args"]["class_names"] == [
        "cubic",
        "hexagonal",
        "tetragonal",
    ]
    assert tasks["crystal_system"]["init_args"]["num_classes"] == 3
    assert tasks["cp"]["class_path"].endswith("SequenceRNNTask")
    heads = _cfg(tmp_path / "t_sequence_heads.yaml")["data"]["init_args"]["tasks"]
    assert sorted(t["class_path"].rsplit(".", 1)[1] for t in heads) == [
        "SequenceBasisTask",
        "SequenceRNNTask",
        "SequenceTCNFiLMTask",
        "SequenceTransformerTask",
    ]


def test_generator_integer_labels_and_errors(helper_script, tmp_path: Path) -> None:
    gen = helper_script("generate_configs")
    assert gen.class_info(pd.Series([0, 2, None, 1], name="c")) == {"num_classes": 3}
    assert gen.class_info(pd.Series(["b", "a", "b"], name="c")) == {
        "num_classes": 2,
        "class_names": ["a", "b"],
    }
    with pytest.raises(ValueError, match="single class"):
        gen.class_info(pd.Series(["a", "a"], name="c"))
    # codes 1..4 or 2, 10: names, so the model has no class that no row holds
    assert gen.class_info(pd.Series([1, 4, 2, 3, 4], name="c")) == {
        "num_classes": 4,
        "class_names": ["1", "2", "3", "4"],
    }
    assert gen.class_info(pd.Series([10, 2], name="c"))["class_names"] == ["2", "10"]
    with pytest.raises(ValueError, match="numbers with decimals .* give it as --regression"):
        gen.class_info(pd.Series([0.1, 1.5, 0.1], name="gap"))
    rc = gen.main(
        [
            "--formula-desc",
            str(REPO_ROOT / "samples/fake_data/formula_descriptors.csv"),
            "--attributes",
            str(REPO_ROOT / "samples/fake_data/attributes.csv"),
            "--regression",
            "no_such_column",
            "--out",
            str(tmp_path),
        ]
    )
    assert rc == 1 and not list(tmp_path.glob("*.yaml"))


def _predict(checkpoint: Path, tmp_path: Path, *extra: str) -> pd.DataFrame:
    out = tmp_path / "predictions.csv"
    argv = [
        "predict",
        "--config",
        str(localised_config(CONFIG_DIR / "pretrain_mfm.yaml", tmp_path)),
        "--ckpt_path",
        str(checkpoint),
        f"--trainer.logger.init_args.save_dir={tmp_path / 'runs'}",
        "--trainer.enable_progress_bar=false",
        f"--prediction_writer.output_path={out}",
        *extra,
    ]
    assert fm_main(argv) == 0
    return pd.read_csv(out)


def test_predict_writes_every_row_and_task(
    pretrained_checkpoint: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(REPO_ROOT)
    table = _predict(pretrained_checkpoint, tmp_path)
    assert len(table) == 2000 and table["id"].is_unique
    assert set(table["is_metal_label"]) <= {"metal", "insulator"}
    assert {"y_easy_value", "cp_curve_sequence", "crystal_system_probabilities_cubic"} <= set(table)


def test_predict_with_small_batches_and_variable_length_curves(
    pretrained_checkpoint: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(REPO_ROOT)
    table = _predict(pretrained_checkpoint, tmp_path, "--data.init_args.batch_size=16")
    assert len(table) == 2000


def test_column_names_with_dots_or_slashes_get_safe_task_names(
    helper_script, tmp_path: Path, capsys
) -> None:
    """A target column such as ``Eg.PBE`` or ``mass (g/mol)`` keeps its name as the column
    and gets a task name the model can use (``.`` splits module names, ``/`` makes
    folders); such a task name typed by hand is a one-line error naming a safe one."""
    gen = helper_script("generate_configs")
    attrs = pd.read_csv(REPO_ROOT / "samples/fake_data/attributes.csv", index_col=0)
    attrs = attrs.rename(columns={"y_easy": "Eg.PBE", "y_nonlinear": "mass (g/mol)"})
    attrs_path = tmp_path / "attrs.csv"
    attrs.to_csv(attrs_path)
    argv = ["--formula-desc", str(REPO_ROOT / "samples/fake_data/formula_descriptors.csv")]
    argv += ["--attributes", str(attrs_path), "--regression", "Eg.PBE", "mass (g/mol)"]
    argv += ["--scenarios", "regression", "--out", str(tmp_path)]
    assert gen.main(argv) == 0
    cfg = localised_config(tmp_path / "regression.yaml", tmp_path)
    tasks = _cfg(cfg)["data"]["init_args"]["tasks"]
    assert [(t["init_args"]["name"], t["init_args"]["column"]) for t in tasks] == [
        ("Eg_PBE", "Eg.PBE"),
        ("mass (g_mol)", "mass (g/mol)"),
    ]
    run = ["fit", "--config", str(cfg), "--trainer.max_epochs=1"]
    run += ["--trainer.enable_progress_bar=false"]
    run += [f"--trainer.logger.init_args.save_dir={tmp_path / 'runs'}"]
    assert fm_main(run) == 0
    plots = {p.name for p in (tmp_path / "runs").rglob("*.png")}
    assert "parity_val_Eg_PBE.png" in plots and "parity_val_mass (g_mol).png" in plots
    capsys.readouterr()
    bad = '[{"class_path": "foundation_model.models.task_head.RegressionTask", '
    bad += '"init_args": {"name": "Eg.PBE"}}]'
    assert fm_main([*run, f"--data.init_args.tasks={bad}"]) == 1
    # Lightning's log handler may hold an earlier test's closed capture stream ("--- Logging
    # error ---" then): only fm's own lines are checked
    err = [line for line in capsys.readouterr().err.splitlines() if "error:" in line]
    assert len(err) == 1 and "cannot contain '.'" in err[0] and "'Eg_PBE'" in err[0]


def test_columns_giving_the_same_task_name_are_one_line(helper_script, tmp_path: Path, capsys):
    gen = helper_script("generate_configs")
    attrs = pd.read_csv(REPO_ROOT / "samples/fake_data/attributes.csv", index_col=0)
    attrs = attrs.rename(columns={"y_easy": "gap.x", "y_nonlinear": "gap/x"})
    attrs.to_csv(tmp_path / "attrs.csv")
    argv = ["--formula-desc", str(REPO_ROOT / "samples/fake_data/formula_descriptors.csv")]
    argv += ["--attributes", str(tmp_path / "attrs.csv"), "--regression", "gap.x", "gap/x"]
    assert gen.main([*argv, "--out", str(tmp_path / "cfg")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "'gap.x' and 'gap/x' both give the task name 'gap_x'" in err[0]
    assert not (tmp_path / "cfg").exists() or not list((tmp_path / "cfg").iterdir())


def test_generator_reads_parquet_and_refuses_data_fm_would_refuse(
    helper_script, tmp_path: Path, capsys
) -> None:
    """A Parquet attributes table is read (it was decoded as CSV text); data that fm fit
    would refuse (a column without any label) stop the script before any config is
    written, with fm's reason; configs of other content are replaced only with --force."""
    gen = helper_script("generate_configs")
    attrs = pd.read_csv(REPO_ROOT / "samples/fake_data/attributes.csv", index_col=0)
    attrs["empty"] = float("nan")
    attrs.to_parquet(tmp_path / "attrs.parquet")
    argv = ["--formula-desc", str(REPO_ROOT / "samples/fake_data/formula_descriptors.csv")]
    argv += ["--attributes", str(tmp_path / "attrs.parquet"), "--scenarios", "head_regression"]
    out = tmp_path / "cfg"
    assert gen.main([*argv, "--regression", "y_easy", "--out", str(out)]) == 0
    capsys.readouterr()
    assert gen.main([*argv, "--regression", "empty", "--out", str(tmp_path / "bad")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "the data would not fit:" in err[0] and "'empty'" in err[0]
    assert not (tmp_path / "bad").exists()
    # the same configs again: nothing to replace; another task: refused, then --force
    assert gen.main([*argv, "--regression", "y_easy", "--out", str(out)]) == 0
    capsys.readouterr()
    before = (out / "head_regression.yaml").read_text()
    assert gen.main([*argv, "--regression", "y_nonlinear", "--out", str(out)]) == 1
    assert "already holds other configs" in capsys.readouterr().err
    assert (out / "head_regression.yaml").read_text() == before
    assert gen.main([*argv, "--regression", "y_nonlinear", "--out", str(out), "--force"]) == 0
    assert "y_nonlinear" in (out / "head_regression.yaml").read_text()


def test_scenarios_fm_would_refuse_are_not_written(helper_script, tmp_path: Path, capsys):
    """A stratified split with a class of one row: fm fit refuses it, so the
    classification scenario is left out with the reason (it was written, then failed)."""
    gen = helper_script("generate_configs")
    attrs = pd.read_csv(REPO_ROOT / "samples/fake_data/attributes.csv", index_col=0)
    attrs.loc[attrs.index[0], "crystal_system"] = "triclinic"  # one row of its class
    attrs.to_csv(tmp_path / "attrs.csv")
    argv = ["--formula-desc", str(REPO_ROOT / "samples/fake_data/formula_descriptors.csv")]
    argv += ["--attributes", str(tmp_path / "attrs.csv"), "--classification", "crystal_system"]
    out = tmp_path / "cfg"
    assert gen.main([*argv, "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "not written: classification (StratifiedSplitter: class(es) ['triclinic']" in err
    assert (
        not (out / "classification.yaml").exists() and (out / "head_classification.yaml").exists()
    )
    assert gen.main([*argv, "--out", str(out), "--scenarios", "classification"]) == 1
    assert "fm fit would refuse classification: StratifiedSplitter" in capsys.readouterr().err
