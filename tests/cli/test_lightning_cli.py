from __future__ import annotations

import json
from pathlib import Path

import lightning.pytorch as pl
import pandas as pd
import pytest
import torch
import yaml

from foundation_model.cli.main import main
from foundation_model.data import CompoundDataModule
from foundation_model.models import FlexibleMultiTaskModel
from foundation_model.models.task_head import (
    ClassificationTask,
    RegressionTask,
    SequenceTCNFiLMTask,
)
from synthetic_tables import TABLE_TASKS

TASKS = TABLE_TASKS


def write_config(tmp_path: Path, files: dict[str, str], tasks=TASKS, **model_args) -> Path:
    cfg = {
        "seed_everything": 0,
        "trainer": {
            "max_epochs": 2,
            "enable_progress_bar": False,
            "logger": {
                "class_path": "lightning.pytorch.loggers.CSVLogger",
                "init_args": {"save_dir": str(tmp_path / "runs"), "name": "t"},
            },
            "callbacks": [
                {
                    "class_path": "lightning.pytorch.callbacks.ModelCheckpoint",
                    "init_args": {
                        "monitor": "val_final_loss",
                        "save_last": True,
                        "filename": "best",
                    },
                },
                {  # as in the generated configs: resuming must find its metric
                    "class_path": "lightning.pytorch.callbacks.EarlyStopping",
                    "init_args": {"monitor": "val_task_error", "patience": 50},
                },
            ],
        },
        "model": {
            "class_path": "foundation_model.models.FlexibleMultiTaskModel",
            "init_args": {"encoder_dims": [16], "deposit_dim": 8, **model_args},
        },
        "data": {
            "class_path": "foundation_model.data.CompoundDataModule",
            "init_args": {
                "formula_desc_source": files["formula"],
                "attributes_source": files["attributes"],
                "batch_size": 64,
                "tasks": tasks,
            },
        },
        "prediction_writer": {"output_path": str(tmp_path / "pred.csv")},
    }
    path = tmp_path / f"cfg_{len(tasks)}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


@pytest.fixture
def fitted(tmp_path, table_files):
    cfg = write_config(tmp_path, table_files)
    assert main(["fit", "--config", str(cfg)]) == 0
    run = tmp_path / "runs" / "t" / "version_0"
    return cfg, run


def test_fit_writes_run_folder_then_test_and_predict(fitted, tmp_path, tables):
    cfg, run = fitted
    assert (run / "config.yaml").exists()
    saved = yaml.safe_load((run / "config.yaml").read_text())
    assert "tasks" not in saved["model"]["init_args"] or saved["model"]["init_args"]["tasks"]
    plots = {p.name for p in (run / "plots").glob("*.png")}
    assert {"training_curves.png", "parity_val_y.png", "classification_val_cls.png"} <= plots
    ckpt = run / "checkpoints" / "best.ckpt"
    assert main(["test", "--config", str(cfg), "--ckpt_path", str(ckpt)]) == 0
    assert (tmp_path / "runs" / "t" / "version_1" / "plots" / "parity_test_y.png").exists()
    assert main(["predict", "--config", str(cfg), "--ckpt_path", str(ckpt)]) == 0
    pred = pd.read_csv(tmp_path / "pred.csv")
    assert list(pred["id"]) == list(tables["formula"].index)
    assert {"y_value", "cls_label", "cls_probabilities_metal", "cp_sequence", "split"} <= set(
        pred.columns
    )
    assert set(pred["cls_label"]) <= {"metal", "insulator"}


def test_checkpoint_rebuilds_itself_and_predicts_identically(tmp_path, tables):
    tasks = [
        RegressionTask("y"),
        ClassificationTask("cls"),
        SequenceTCNFiLMTask("cp", "T", "cp", channels=8),
    ]
    dm = CompoundDataModule(tables["formula"], tasks, tables["attributes"], batch_size=64)
    model = FlexibleMultiTaskModel(dm.tasks, dm.formula_dim, encoder_dims=[16], deposit_dim=8)
    trainer = pl.Trainer(
        max_epochs=2, default_root_dir=tmp_path, logger=False, enable_progress_bar=False
    )
    trainer.fit(model, dm)
    path = tmp_path / "m.ckpt"
    trainer.save_checkpoint(path)
    before = trainer.predict(model, dm)
    loaded = FlexibleMultiTaskModel.load_from_checkpoint(path)
    assert loaded.task_specs == model.task_specs
    after = pl.Trainer(logger=False, enable_progress_bar=False).predict(loaded, dm)
    for a, b in zip(before, after, strict=True):
        for key in a:
            assert torch.equal(a[key].nan_to_num(-1), b[key].nan_to_num(-1)), key


def test_balanced_labels_use_the_checkpoints_class_shares_on_unlabelled_data(tmp_path, tables):
    cls = ClassificationTask("cls", decision="balanced")
    dm = CompoundDataModule(tables["formula"], [cls], tables["attributes"], batch_size=64)
    model = FlexibleMultiTaskModel(dm.tasks, dm.formula_dim, encoder_dims=[16], deposit_dim=8)
    trainer = pl.Trainer(
        max_epochs=2, default_root_dir=tmp_path, logger=False, enable_progress_bar=False
    )
    trainer.fit(model, dm)
    prior = model.task_specs[0].class_prior
    assert prior is not None and len(prior) == 2
    path = tmp_path / "m.ckpt"
    trainer.save_checkpoint(path)
    # a config-built model on unlabelled rows takes the prior from the checkpoint
    names = model.task_specs[0].class_names
    fresh = ClassificationTask("cls", class_names=names, decision="balanced")
    dm2 = CompoundDataModule(tables["formula"], [fresh], None, batch_size=64)
    model2 = FlexibleMultiTaskModel(dm2.tasks, dm2.formula_dim, encoder_dims=[16], deposit_dim=8)
    out = pl.Trainer(logger=False, enable_progress_bar=False).predict(model2, dm2, ckpt_path=path)
    assert model2.task_specs[0].class_prior == prior
    loaded = FlexibleMultiTaskModel.load_from_checkpoint(path)  # the checkpoint alone
    assert loaded.task_specs[0].class_prior == prior
    assert loaded.task_specs[0].decision == "balanced"
    proba = torch.cat([b["cls_probabilities"] for b in out])
    labels = torch.cat([b["cls_label"] for b in out])
    assert torch.equal(labels, (proba / torch.tensor(prior)).argmax(dim=-1))


def test_checkpoint_of_a_different_task_set(fitted, tmp_path, table_files, capsys):
    _, run = fitted
    other = write_config(tmp_path, table_files, tasks=TASKS[:2])
    code = main(
        ["test", "--config", str(other), "--ckpt_path", str(run / "checkpoints" / "best.ckpt")]
    )
    assert code == 1
    assert (
        "Checkpoint tasks ['cls', 'cp', 'y'] differ from the configured tasks"
        in capsys.readouterr().err
    )


def test_bad_yaml_key_and_bad_yaml(tmp_path, table_files, capsys):
    cfg = write_config(tmp_path, table_files, deposit_dimm=3)
    assert main(["fit", "--config", str(cfg)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1  # no usage text, no dump of the parsed values
    assert err[0].startswith("fm fit: error: model: FlexibleMultiTaskModel has no parameter")
    assert "'deposit_dimm' (did you mean 'deposit_dim'?)" in err[0] and str(cfg) in err[0]
    clean = write_config(tmp_path, table_files)
    assert main(["fit", "--config", str(clean), "--data.init_args.batchsize=8"]) == 2
    err = capsys.readouterr().err
    assert "did you mean 'batch_size'?" in err and "(command-line argument)" in err
    broken = tmp_path / "broken.yaml"
    broken.write_text("model: [unclosed\n")
    assert main(["fit", "--config", str(broken)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(broken) in err[0] and "<unicode string>" not in err[0]
    tabbed = tmp_path / "tabbed.yaml"
    tabbed.write_text("model:\n\tclass_path: x\n")
    assert main(["fit", "--config", str(tabbed)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "replace the tab characters" in err[0], err
    for text in ("", "# nothing yet\n\n"):
        broken.write_text(text)
        assert main(["fit", "--config", str(broken)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "holds no settings" in err[0], err
        assert "samples/generated_configs/" in err[0]
    assert main(["fit", "--config", str(tmp_path / "missing.yaml")]) == 2
    assert "missing.yaml" in capsys.readouterr().err
    with pytest.raises(SystemExit) as help_exit:  # help still prints and exits cleanly
        main(["fit", "--help"])
    assert help_exit.value.code in (0, None) and "--trainer" in capsys.readouterr().out
    assert not (tmp_path / "runs").exists()


def test_missing_file_is_one_line(tmp_path, table_files, capsys):
    files = dict(table_files, formula=str(tmp_path / "missing.csv"))
    assert main(["fit", "--config", str(write_config(tmp_path, files))]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("fm fit: error: formula_desc_source: file not found")


def test_help_lists_commands(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "fit" in out and "featurize" in out
    assert main(["nope"]) == 2


def test_predict_help_shows_the_checkpoint_only_options_too(capsys):
    with pytest.raises(SystemExit):
        main(["predict", "--help"])
    out = capsys.readouterr().out
    assert "--input" in out and "--id-column" in out  # the checkpoint-only form
    assert "--trainer" in out  # and LightningCLI's predict subcommand after it


def test_interrupted_fit_resumes_from_last_checkpoint(fitted, tmp_path):
    cfg, run = fitted
    last = run / "checkpoints" / "last.ckpt"
    # one last.ckpt (no Lightning last-v1.ckpt beside it), saved when the epoch is done
    assert sorted(p.name for p in last.parent.iterdir()) == ["best.ckpt", "last.ckpt"]
    before = torch.load(last, weights_only=False)["epoch"]
    code = main(["fit", "--config", str(cfg), "--ckpt_path", str(last), "--trainer.max_epochs=3"])
    assert code == 0
    resumed = tmp_path / "runs" / "t" / "version_1" / "checkpoints" / "last.ckpt"
    assert torch.load(resumed, weights_only=False)["epoch"] == before + 1


def test_predict_new_rows_without_targets(fitted, tmp_path, tables, capsys):
    cfg, run = fitted
    new = tables["formula"].head(4).rename(index=lambda i: f"new-{i}")
    new_path = tmp_path / "new.csv"
    new.to_csv(new_path)
    ckpt = str(run / "checkpoints" / "best.ckpt")
    base = ["predict", "--config", str(cfg), "--ckpt_path", ckpt]
    base += [
        f"--data.init_args.formula_desc_source={new_path}",
        "--data.init_args.attributes_source=null",
    ]
    # string class labels cannot be inferred without targets: a one-line error says what to set
    assert main(base) == 1
    assert "num_classes is unknown" in capsys.readouterr().err
    # with the classes named in the config, new rows are predicted (no split column)
    classes = {
        "class_path": "foundation_model.models.task_head.ClassificationTask",
        "init_args": {"name": "cls", "class_names": ["insulator", "metal"]},
    }
    tasks = json.dumps([TASKS[0], classes, TASKS[2]])
    assert main([*base, f"--data.init_args.tasks={tasks}"]) == 0
    pred = pd.read_csv(tmp_path / "pred.csv")
    assert list(pred["id"]) == list(new.index) and "split" not in pred.columns
    assert set(pred["cls_label"]) <= {"metal", "insulator"}


def test_descriptor_columns_are_matched_by_name_not_position(fitted, tmp_path, tables, capsys):
    """A model reads descriptors by position: a table with the same columns in another order
    predicts exactly as the original; other column names are a one-line error."""
    cfg, run = fitted
    ckpt = str(run / "checkpoints" / "best.ckpt")
    base = ["predict", "--config", str(cfg), "--ckpt_path", ckpt]
    assert main(base) == 0
    want = pd.read_csv(tmp_path / "pred.csv")
    formula = tables["formula"]
    permuted = tmp_path / "permuted.csv"
    formula[formula.columns[::-1]].to_csv(permuted)
    assert main([*base, f"--data.init_args.formula_desc_source={permuted}"]) == 0
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "pred.csv"), want)
    renamed = tmp_path / "renamed.csv"
    formula.set_axis([f"f{i}" for i in range(formula.shape[1])], axis=1).to_csv(renamed)
    assert main([*base, f"--data.init_args.formula_desc_source={renamed}"]) == 1
    err = _one_error_line(capsys)
    assert "descriptor columns are not the" in err and "fm featurize --like" in err


def test_warm_start_aligns_the_new_data_to_the_checkpoints_columns(fitted, tmp_path, tables):
    """Fine-tuning from a checkpoint on a table whose columns come in another order trains
    on the checkpoint's order, and the new checkpoint records it."""
    _, run = fitted
    formula = tables["formula"]
    permuted = tmp_path / "permuted.csv"
    formula[formula.columns[::-1]].to_csv(permuted)
    dm = CompoundDataModule(str(permuted), [RegressionTask("y")], tables["attributes"])
    model = FlexibleMultiTaskModel(
        dm.tasks,
        dm.formula_dim,
        encoder_dims=[16],
        deposit_dim=8,
        init_from_checkpoint=str(run / "checkpoints" / "best.ckpt"),
    )
    trainer = pl.Trainer(
        max_epochs=1, logger=False, enable_progress_bar=False, default_root_dir=tmp_path
    )
    trainer.fit(model, dm)
    assert dm.formula_columns == [str(c) for c in formula.columns]
    assert model.input_schema["formula"]["columns"] == dm.formula_columns
    original = CompoundDataModule(tables["formula"], [RegressionTask("y")], tables["attributes"])
    original.setup("fit")
    torch.testing.assert_close(dm.tensors.x_formula, original.tensors.x_formula)


# ------------------------------------------------------------------ run folders, bad checkpoints
def _versions(tmp_path: Path) -> list[str]:
    return sorted(p.name for p in (tmp_path / "runs" / "t").glob("version_*"))


def _one_error_line(capsys) -> str:
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1, err
    return err[0]


def test_fit_prints_its_run_folder(tmp_path, table_files, capsys, monkeypatch):
    cfg = write_config(tmp_path, table_files)
    assert main(["fit", "--config", str(cfg), "--trainer.max_epochs=1"]) == 0
    out = capsys.readouterr().out
    run = tmp_path / "runs" / "t" / "version_0"
    assert f"Run folder: {run}" in out
    assert f"Best checkpoint: {run / 'checkpoints' / 'best.ckpt'}" in out
    assert main(["fit", "--config", str(cfg), "--trainer.max_epochs=1"]) == 0
    assert f"Run folder: {run.parent / 'version_1'}" in capsys.readouterr().out
    monkeypatch.chdir(tmp_path)  # under the working directory both lines are relative to it
    assert main(["fit", "--config", str(cfg), "--trainer.max_epochs=1"]) == 0
    out = capsys.readouterr().out
    assert f"Run folder: {Path('runs/t/version_2')}\n" in out
    assert f"Best checkpoint: {Path('runs/t/version_2/checkpoints/best.ckpt')}" in out


BAD_CHECKPOINTS = [  # (command, file content, problem named)
    ("test", "truncated", "is truncated or not a PyTorch checkpoint"),
    ("test", "text", "is truncated or not a PyTorch checkpoint"),
    ("test", "empty", "is empty"),
    ("test", "missing", "Checkpoint not found"),
    ("predict", "truncated", "is truncated or not a PyTorch checkpoint"),
    ("fit", "truncated", "is truncated or not a PyTorch checkpoint"),  # resume
]


def test_bad_ckpt_path_is_one_line_and_leaves_no_folder(fitted, tmp_path, capsys):
    cfg, run = fitted
    good = (run / "checkpoints" / "last.ckpt").read_bytes()
    contents = {"truncated": good[: len(good) // 2], "text": b"id,y\n", "empty": b""}
    for command, content, problem in BAD_CHECKPOINTS:
        capsys.readouterr()
        bad = tmp_path / f"{content}.ckpt"
        if content in contents:
            bad.write_bytes(contents[content])
        assert main([command, "--config", str(cfg), "--ckpt_path", str(bad)]) == 1
        line = _one_error_line(capsys)
        assert line.startswith(f"fm {command}: error: "), line
        assert str(bad) in line and problem in line, line
        assert _versions(tmp_path) == ["version_0"]


def test_no_validation_rows_under_a_validation_monitor_is_one_line(tmp_path, table_files, capsys):
    cfg = write_config(tmp_path, table_files)
    split = "--data.init_args.splitter=foundation_model.data.RandomSplitter"
    argv = ["fit", "--config", str(cfg), split, "--data.init_args.splitter.val_fraction=0"]
    assert main(argv) == 1
    line = _one_error_line(capsys)
    assert "no validation rows" in line and "val_final_loss, val_task_error" in line, line


def test_a_checkpoint_of_another_model_class_is_one_line(fitted, tmp_path, capsys):
    """An MLIP checkpoint given to a multi-task config (or the reverse) used to end in an
    AttributeError deep in Lightning."""
    import torch

    cfg, _ = fitted
    other = tmp_path / "mlip.ckpt"
    hparams = {"_class_path": "foundation_model.backbones.MLIPFineTuneModule"}
    torch.save(
        {"state_dict": {}, "pytorch-lightning_version": "2.6.0", "hyper_parameters": hparams},
        other,
    )
    capsys.readouterr()
    assert main(["test", "--config", str(cfg), "--ckpt_path", str(other)]) == 1
    line = _one_error_line(capsys)
    assert "holds a MLIPFineTuneModule checkpoint" in line and "FlexibleMultiTaskModel" in line


def test_a_checkpoint_saved_without_lightningcli_tests_with_its_config(fitted, tmp_path, capsys):
    """A plain ``Trainer.save_checkpoint`` stores the hyperparameters without their class:
    they are read as the config's model class, or refused in one line if they are not."""
    import torch

    cfg, run = fitted
    ckpt = torch.load(run / "checkpoints" / "best.ckpt", weights_only=False)
    ckpt["hyper_parameters"].pop("_class_path")
    plain = tmp_path / "plain.ckpt"
    torch.save(ckpt, plain)
    assert main(["test", "--config", str(cfg), "--ckpt_path", str(plain)]) == 0
    ckpt["hyper_parameters"] = {"backbone": {"class_path": "x.Y"}, "properties": []}
    torch.save(ckpt, plain)
    capsys.readouterr()
    assert main(["test", "--config", str(cfg), "--ckpt_path", str(plain)]) == 1
    line = _one_error_line(capsys)
    assert "['backbone', 'properties'] are not arguments of FlexibleMultiTaskModel" in line


def test_max_steps_inside_the_first_epoch_stops_without_an_early_stopping_error(
    tmp_path, table_files
):
    """The epoch cut short by max_steps has no validation; early stopping on val_task_error
    used to fail at that epoch's end for lack of its metric."""
    cfg = write_config(tmp_path, table_files)
    argv = ["fit", "--config", str(cfg), "--data.init_args.batch_size=8", "--trainer.max_steps=3"]
    assert main(argv) == 0
    metrics = pd.read_csv(tmp_path / "runs" / "t" / "version_0" / "metrics.csv")
    assert metrics["step"].max() <= 3


def test_early_stopping_without_validation_rows_is_one_line(tmp_path, table_files, capsys):
    """Validation rows without labels (as a 3-row table gives): Lightning's traceback
    ("Early stopping conditioned on metric ... which is not available") is one line with
    the fix."""
    attrs = pd.read_csv(table_files["attributes"], index_col=0)
    attrs["split"] = ["train"] * (len(attrs) - 4) + ["val"] * 2 + ["test"] * 2
    attrs.loc[attrs["split"] == "val", attrs.columns != "split"] = float("nan")  # unlabelled
    attrs.to_csv(tmp_path / "attrs_split.csv")
    files = {**table_files, "attributes": str(tmp_path / "attrs_split.csv")}
    cfg = write_config(tmp_path, files)
    split = "--data.init_args.splitter=foundation_model.data.PredefinedSplitter"
    assert main(["fit", "--config", str(cfg), split, "--data.init_args.splitter.column=split"]) == 1
    line = _one_error_line(capsys)
    assert "early stopping watches val_task_error, which no validation step logged" in line
    assert "larger val_fraction" in line


def test_a_log_folder_that_is_a_file_is_one_line(tmp_path, table_files, capsys):
    cfg = write_config(tmp_path, table_files)
    blocker = tmp_path / "afile"
    blocker.write_text("not a folder")
    argv = ["fit", "--config", str(cfg), f"--trainer.logger.init_args.save_dir={blocker}"]
    assert main(argv) == 1
    assert "Not a directory" in _one_error_line(capsys)
    assert blocker.read_text() == "not a folder"


def test_test_without_test_rows_is_one_line(fitted, tmp_path, capsys):
    cfg, run = fitted
    split = "--data.init_args.splitter=foundation_model.data.RandomSplitter"
    ckpt = str(run / "checkpoints" / "best.ckpt")
    argv = ["test", "--config", str(cfg), split, "--data.init_args.splitter.test_fraction=0"]
    capsys.readouterr()
    assert main([*argv, "--ckpt_path", ckpt]) == 1
    assert "no test rows" in _one_error_line(capsys)


def test_test_on_another_split_of_the_training_table_is_refused(fitted, tmp_path, capsys):
    """Other splitter settings on the same table would put training rows in the test split
    and flatter the score: one line naming the split; the run's own split still tests."""
    cfg, run = fitted
    ckpt = str(run / "checkpoints" / "best.ckpt")
    stored = torch.load(ckpt, weights_only=False)["fm_split"]
    assert stored["n_train"] + stored["n_val"] + stored["n_test"] == stored["n_rows"]
    split = "--data.init_args.splitter=foundation_model.data.RandomSplitter"
    for argv in (["test"], ["validate"]):
        capsys.readouterr()
        other_seed = [split, "--data.init_args.splitter.seed=7", "--ckpt_path", ckpt]
        assert main([*argv, "--config", str(cfg), *other_seed]) == 1
        line = _one_error_line(capsys)
        part = "test" if argv == ["test"] else "val"
        assert f"fm {argv[0]}: error: the {part} split" in line and "config.yaml" in line, line
    assert main(["test", "--config", str(cfg), "--ckpt_path", ckpt]) == 0


def test_model_args_the_checkpoint_replaces_are_named(fitted, capsys):
    """The weights need the checkpoint's architecture, so its hyperparameters win over the
    config's; a config that asks for something else is told so, the run's own is not."""
    cfg, run = fitted
    ckpt = str(run / "checkpoints" / "best.ckpt")
    capsys.readouterr()
    assert main(["test", "--config", str(cfg), "--ckpt_path", ckpt]) == 0
    assert "replace the config's" not in capsys.readouterr().err
    wider = "--model.init_args.deposit_dim=12"
    assert main(["test", "--config", str(cfg), wider, "--ckpt_path", ckpt]) == 0
    err = capsys.readouterr().err
    assert "replace the config's model arguments: deposit_dim: 12 -> 8" in err, err


def test_a_class_named_by_its_short_or_full_path_is_not_a_replacement():
    from jsonargparse import Namespace

    from foundation_model.cli.lightning_cli import _replaced_model_args

    config = Namespace(
        class_path="foundation_model.models.FlexibleMultiTaskModel",
        init_args=Namespace(
            loss=Namespace(class_path="foundation_model.models.task_head.RegressionTask"),
            width=[16, 8],
            lr=0.001,
        ),
    )
    full = "foundation_model.models.task_head.regression.RegressionTask"
    same = {"dict_kwargs": {"loss": {"class_path": full}, "width": (16, 8), "lr": 1e-3}}
    assert _replaced_model_args(config, same) == []
    other = {"dict_kwargs": {"loss": {"class_path": "x.Y"}, "width": [16], "lr": 1e-3}}
    named = "'foundation_model.models.task_head.RegressionTask'"
    assert _replaced_model_args(config, other) == [
        f"loss.class_path: {named} -> 'x.Y'",
        "width: [16, 8] -> [16]",
    ]
    other["dict_kwargs"]["lr"] = 0.01
    assert _replaced_model_args(config, other)[-1] == "lr: 0.001 -> 0.01"
    # linked from the data (skipped by the caller) or not kept (a warm start): no notice
    warm = Namespace(init_args=Namespace(structure_input_dim=0, init_from_checkpoint="a.ckpt"))
    kept = {"dict_kwargs": {"structure_input_dim": 7, "init_from_checkpoint": None}}
    skip = ("structure_input_dim", *FlexibleMultiTaskModel.not_kept)
    assert _replaced_model_args(warm, kept, skip) == []


def test_test_and_predict_without_a_checkpoint_are_refused(fitted, tmp_path, capsys):
    """Without --ckpt_path (or with last/best, which need a fit in the same process) the
    untrained weights would be scored: a one-line error instead, and no run folder."""
    cfg, _ = fitted
    for argv in (["test"], ["predict"], ["test", "--ckpt_path", "last"]):
        capsys.readouterr()
        assert main([*argv, "--config", str(cfg)]) == 1
        line = _one_error_line(capsys)
        assert f"fm {argv[0]} needs --ckpt_path" in line, line
    assert _versions(tmp_path) == ["version_0"]


def test_checkpoint_that_does_not_fit_the_config(fitted, tmp_path, table_files, capsys):
    cfg, run = fitted
    data = yaml.safe_load(cfg.read_text())
    data["data"]["init_args"]["structure_desc_source"] = table_files["structure"]
    other = tmp_path / "with_structure.yaml"
    other.write_text(yaml.safe_dump(data))
    capsys.readouterr()
    ckpt = str(run / "checkpoints" / "best.ckpt")
    assert main(["test", "--config", str(other), "--ckpt_path", ckpt]) == 1
    line = _one_error_line(capsys)
    assert "does not fit this config's model" in line and "encoder.structure" in line
    assert _versions(tmp_path) == ["version_0"]  # the failed run's folder is gone


def test_failed_fit_removes_only_its_own_folder(fitted, tmp_path, capsys):
    cfg, run = fitted
    capsys.readouterr()
    bad_lr = "--model.init_args.component_lr={encodr: 0.001}"
    assert main(["fit", "--config", str(cfg), bad_lr]) == 1
    line = _one_error_line(capsys)
    assert "component_lr: unknown component 'encodr'" in line
    assert _versions(tmp_path) == ["version_0"]
    assert (run / "checkpoints" / "best.ckpt").exists()  # the earlier run is kept


def test_failed_first_run_leaves_no_run_folder(tmp_path, table_files, capsys):
    cfg = write_config(tmp_path, table_files, component_lr={"nope": 0.1})
    assert main(["fit", "--config", str(cfg)]) == 1
    assert "unknown component 'nope'" in _one_error_line(capsys)
    assert not (tmp_path / "runs" / "t").exists()


def test_last_checkpoint_is_the_newest_epoch_not_the_best(tmp_path, table_files, capsys):
    """Lightning 2.6 writes last.ckpt only when the monitor improves; fm fit writes it every
    epoch. Mode ``max`` on a falling loss makes epoch 0 the best, so the two differ."""
    cfg_path = write_config(tmp_path, table_files)
    cfg = yaml.safe_load(cfg_path.read_text())
    cfg["trainer"]["max_epochs"] = 4
    cfg["trainer"]["callbacks"][0]["init_args"]["mode"] = "max"  # val_final_loss falls
    cfg_path.write_text(yaml.safe_dump(cfg))
    assert main(["fit", "--config", str(cfg_path)]) == 0
    ckpts = tmp_path / "runs" / "t" / "version_0" / "checkpoints"
    last = torch.load(ckpts / "last.ckpt", weights_only=False)
    best = torch.load(ckpts / "best.ckpt", weights_only=False)
    assert last["epoch"] == 3 and last["global_step"] > best["global_step"]
    code = main(["fit", "--config", str(cfg_path), "--ckpt_path", str(ckpts / "last.ckpt")])
    assert code == 0  # resuming at the end of max_epochs is a clean no-op
    capsys.readouterr()
    resume = ["--ckpt_path", str(ckpts / "last.ckpt"), "--trainer.max_epochs=2"]
    assert main(["fit", "--config", str(cfg_path), *resume]) == 1  # below the restored epoch
    assert "max_epochs=2" in _one_error_line(capsys)


def test_fixed_checkpoint_dirpath_is_never_overwritten(tmp_path, table_files, capsys):
    """A second fit into a dirpath that holds checkpoints is refused (the first fit's
    best.ckpt stays byte for byte); resuming from that folder is allowed."""
    cfg = write_config(tmp_path, table_files)
    fixed = tmp_path / "fixed"
    doc = yaml.safe_load(cfg.read_text())
    doc["trainer"]["callbacks"][0]["init_args"]["dirpath"] = str(fixed)
    cfg.write_text(yaml.safe_dump(doc))
    assert main(["fit", "--config", str(cfg), "--trainer.max_epochs=1"]) == 0
    before = (fixed / "best.ckpt").read_bytes()
    capsys.readouterr()
    assert main(["fit", "--config", str(cfg), "--trainer.max_epochs=1"]) == 1
    line = _one_error_line(capsys)
    assert "already holds best.ckpt, last.ckpt" in line and "--ckpt_path" in line
    assert (fixed / "best.ckpt").read_bytes() == before
    assert _versions(tmp_path) == ["version_0"]
    resume = ["--ckpt_path", str(fixed / "last.ckpt"), "--trainer.max_epochs=2"]
    assert main(["fit", "--config", str(cfg), *resume]) == 0
    assert not (tmp_path / ".fixed.fm.lock").exists()  # released when the fit ends


def test_a_fixed_checkpoint_dirpath_takes_one_fit_at_a_time(tmp_path, table_files, capsys):
    """Two fits started together into one fixed dirpath would overwrite each other's
    best.ckpt: the second is refused while the first (a live process) holds the folder."""
    import subprocess
    import sys

    cfg = write_config(tmp_path, table_files)
    fixed = tmp_path / "fixed"
    doc = yaml.safe_load(cfg.read_text())
    doc["trainer"]["callbacks"][0]["init_args"]["dirpath"] = str(fixed)
    cfg.write_text(yaml.safe_dump(doc))
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (tmp_path / ".fixed.fm.lock").write_text(str(other.pid))
        assert main(["fit", "--config", str(cfg), "--trainer.max_epochs=1"]) == 1
        line = _one_error_line(capsys)
        assert f"is in use by another fm process (pid {other.pid}, in " in line
        assert not list(fixed.glob("*.ckpt"))
    finally:
        other.kill()
        other.wait()
    assert main(["fit", "--config", str(cfg), "--trainer.max_epochs=1"]) == 0  # dead: taken over
    assert (fixed / "best.ckpt").is_file() and not (tmp_path / ".fixed.fm.lock").exists()


def test_a_task_list_on_the_command_line_replaces_the_configs(tmp_path, table_files):
    """jsonargparse merges a list of classes into the config's by position; a task list
    given on the command line must not inherit the old first task's arguments."""
    from foundation_model.cli.lightning_cli import load_fit_config

    old = [
        {
            "class_path": "foundation_model.models.task_head.RegressionTask",
            "init_args": {"name": "y", "hidden_dims": [7], "point_mass": 0.0},
        }
    ]
    cfg = write_config(tmp_path, table_files, tasks=old)
    new = json.dumps(
        [
            {
                "class_path": "foundation_model.models.task_head.RegressionTask",
                "init_args": {"name": "z"},
            }
        ]
    )
    for override in ([f"--data.init_args.tasks={new}"], ["--data.init_args.tasks", new]):
        (task,) = load_fit_config(cfg, override)["data"]["init_args"]["tasks"]
        assert task["init_args"]["name"] == "z"
        assert task["init_args"]["hidden_dims"] is None and task["init_args"]["point_mass"] is None


def test_input_with_config_names_both_prediction_forms(capsys):
    assert main(["predict", "--config", "c.yaml", "--ckpt_path", "m.ckpt", "--input", "x.csv"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no --config" in err[0] and "formula_desc_source" in err[0]


def test_a_resumed_fit_names_the_interrupted_runs_better_best(fitted, tmp_path, capsys):
    """Lightning forgets the best score when a resumed fit writes into a new run folder;
    the CLI then names the interrupted run's best checkpoint if it scored better."""
    cfg, run = fitted
    ckpt = torch.load(run / "checkpoints" / "last.ckpt", weights_only=False)
    (key,) = [k for k in ckpt["callbacks"] if k.startswith("ModelCheckpoint")]
    ckpt["callbacks"][key]["best_model_score"] = torch.tensor(-1e9)  # unbeatable (mode min)
    ckpt["callbacks"][key]["best_model_path"] = str(run / "checkpoints" / "best.ckpt")
    doctored = tmp_path / "interrupted.ckpt"
    torch.save(ckpt, doctored)
    capsys.readouterr()
    argv = ["fit", "--config", str(cfg), "--ckpt_path", str(doctored), "--trainer.max_epochs=3"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "The interrupted run's best checkpoint scored better (val_final_loss -1e+09" in out
    assert str(run / "checkpoints" / "best.ckpt") in out or "version_0/checkpoints/best" in out


@pytest.mark.parametrize(
    ("fixed_dirpath", "signal_name", "status"),
    [(False, "SIGINT", 130), (True, "SIGINT", 130), (False, "SIGTERM", 143)],
)
def test_ctrl_c_during_a_fit_prints_how_to_resume(
    tmp_path, table_files, fixed_dirpath, signal_name, status
):
    """A real SIGINT: Lightning shuts down (exit 1, which fm reports as 130, the shell's
    status for an interrupt, not a crash's); the CLI names the run folder and
    the --ckpt_path to resume from, also when the config fixes the checkpoint folder (as
    the pretraining configs do). A SIGTERM (a scheduler's stop) is not a success: 143."""
    import os
    import signal
    import subprocess
    import sys
    import time

    cfg = write_config(tmp_path, table_files)
    # no early stop: only the signal may end this fit, however slow the poll below is
    settings = yaml.safe_load(cfg.read_text())
    settings["trainer"]["callbacks"][1]["init_args"]["patience"] = 100000
    if fixed_dirpath:
        settings["trainer"]["callbacks"][0]["init_args"]["dirpath"] = str(tmp_path / "ckpts")
    cfg.write_text(yaml.safe_dump(settings))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    argv = [sys.executable, "-m", "foundation_model.cli.main", "fit", "--config", str(cfg)]
    proc = subprocess.Popen(
        [*argv, "--trainer.max_epochs=100000"],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
        # a suite started in the background (`cmd &`) ignores SIGINT, and children inherit
        # that: give the fit the default handler so the signal below reaches it
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    last = tmp_path / "runs" / "t" / "version_0" / "checkpoints" / "last.ckpt"
    if fixed_dirpath:
        last = tmp_path / "ckpts" / "last.ckpt"
    deadline = time.time() + 120
    while not last.is_file() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    assert last.is_file()
    proc.send_signal(getattr(signal, signal_name))
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == status
    assert "Interrupted. Run folder:" in err and "resume with --ckpt_path" in err
    assert "last.ckpt" in err.splitlines()[-1]
    assert last.name in err and ("ckpts" in err) == fixed_dirpath
    # the epochs it ran are plotted (as at the end of a fit)
    assert (tmp_path / "runs" / "t" / "version_0" / "plots" / "training_curves.png").is_file()
