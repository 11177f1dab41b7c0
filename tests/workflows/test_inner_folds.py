"""Shared pieces of the inner-fold studies: options, refusals, reports."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pandas as pd
import pytest

from foundation_model.workflows.inner_folds import (
    DEFAULT_RECIPE,
    add_inner_arguments,
    add_proba_scores,
    inner_score,
    load_inner_data,
    prediction_scores,
    rf_same_features_mae,
    rf_same_features_score,
    write_report,
)


def test_options_and_their_defaults():
    p = argparse.ArgumentParser()
    add_inner_arguments(p, "matbench_steels")
    args = p.parse_args([])
    assert args.task == "matbench_steels" and args.recipe == DEFAULT_RECIPE
    assert p.parse_args(["--task", "matbench_jdft2d"]).task == "matbench_jdft2d"


def test_missing_task_is_refused_with_the_script_name(tmp_path):
    with pytest.raises(SystemExit, match="my_study: matbench_steels is not in .*fm data matbench"):
        load_inner_data("matbench_steels", tmp_path / "none.ckpt", tmp_path, "my_study")


def _classification_task(folder):
    """A 4-row classification task in ``fm data matbench``'s file layout."""
    ids = ["a", "b", "c", "d"]
    pd.DataFrame(
        {"composition": ["Fe", "Cu", "NaCl", "Zr"], "target": [1, 1, 0, 0]}, index=ids
    ).to_csv(folder / "matbench_glass.csv")
    folds = {"fold_0": ["a", "c"], "fold_1": ["b", "d"]}
    (folder / "matbench_glass_folds.json").write_text(json.dumps(folds))
    info = {"task_type": "classification", "target": "gfa", "unit": None}
    info.update({"input": "composition", "source": "test"})
    (folder / "tasks.json").write_text(json.dumps({"matbench_glass": info}))


def test_a_classification_task_is_refused_unless_the_study_scores_it(tmp_path):
    _classification_task(tmp_path)
    with pytest.raises(SystemExit, match="my_study: matbench_glass is a classification task"):
        load_inner_data("matbench_glass", tmp_path / "none.ckpt", tmp_path, "my_study")
    # a study that scores classification gets past the task check (to the checkpoint)
    with pytest.raises(Exception, match="none.ckpt") as err:
        load_inner_data(
            "matbench_glass", tmp_path / "none.ckpt", tmp_path, "my_study", classification=True
        )
    assert err.type is not SystemExit


def test_rf_control_and_scores_for_both_task_types():
    rng = np.random.default_rng(0)
    x = pd.DataFrame(rng.normal(size=(80, 3)), index=[f"r{i}" for i in range(80)])
    x.columns = ["a", "b", "c"]
    labels = pd.Series((x["a"] > 0).astype(int), index=x.index)
    train, test = list(x.index[:60]), list(x.index[60:])
    assert rf_same_features_score(x, labels, train, test, "classification") > 0.8
    assert inner_score("classification", np.array([0, 1, 1]), np.array([0, 1, 0])) == 0.75
    assert inner_score("regression", np.array([1.0, 2.0]), np.array([1.5, 2.0])) == 0.25
    y = 3.0 * x["a"]
    assert rf_same_features_mae(x, y, train, test) == rf_same_features_score(
        x, y, train, test, "regression"
    )


def test_report_files_are_named_by_study_and_task(tmp_path):
    write_report({"task": "matbench_steels", "mae": 1.5}, "# table\n", tmp_path, "study")
    assert json.loads((tmp_path / "study_steels.json").read_text())["mae"] == 1.5
    assert (tmp_path / "study_steels.md").read_text() == "# table\n"


def test_inner_folds_partition_the_ids_reproducibly():
    from foundation_model.workflows.inner_folds import inner_folds

    ids = np.array([f"r{i}" for i in range(50)])
    y = pd.Series(np.arange(50.0), index=ids)
    folds = list(inner_folds(ids, y, 5))
    assert [f.index for f in folds] == list(range(5))
    assert sorted(i for f in folds for i in f.test) == sorted(ids)
    for f in folds:
        assert not set(f.train) & set(f.test) and len(f.train) + len(f.test) == 50
        assert f.n_train == int(len(f.train) * 0.9)
        assert np.array_equal(f.y_test, y.loc[f.test].to_numpy())
    again = list(inner_folds(ids, y, 5))
    assert all(a.test == b.test for a, b in zip(folds, again, strict=True))


def test_prediction_scores_give_the_label_and_probability_auc_or_the_mae():
    from foundation_model.workflows.rf_baseline import FoldPrediction

    reg = FoldPrediction(np.array([1.0, 2.0, 4.0]))
    assert prediction_scores("regression", np.array([1.0, 3.0, 3.0]), reg) == (
        pytest.approx(2 / 3),
        None,
    )
    # probabilities rank every positive first; the 0.5 labels miss one positive
    clf = FoldPrediction.from_proba(np.array([0.9, 0.45, 0.2, 0.1]), 0.5, None)
    label, proba = prediction_scores("classification", np.array([1, 1, 0, 0]), clf)
    assert proba == pytest.approx(1.0) and label == pytest.approx(0.75)
    result: dict = {}
    add_proba_scores(result, {})
    assert result == {}
    add_proba_scores(result, {"a": [0.8, 0.9]})
    assert result["roc_auc_proba_mean"] == {"a": pytest.approx(0.85)}
    assert result["roc_auc_proba_per_inner_fold"] == {"a": [0.8, 0.9]}


def test_partial_folds_resume_only_under_the_same_key(tmp_path, capsys):
    from foundation_model.workflows.inner_folds import PartialFolds

    key = {"seeds": 2, "splits": 3}
    first = PartialFolds(tmp_path, "study", "matbench_steels", key)
    first.add({"score": {"a": 1.0}})
    assert (tmp_path / "study_steels.partial.json").is_file()
    again = PartialFolds(tmp_path, "study", "matbench_steels", key)
    assert again.folds == [{"score": {"a": 1.0}}]
    assert "resuming: 1 inner fold(s)" in capsys.readouterr().out
    assert again.seconds >= first.state["seconds"]
    other = PartialFolds(tmp_path, "study", "matbench_steels", {"seeds": 3, "splits": 3})
    assert other.folds == []  # other settings: the saved folds are not reused
    again.finish()
    assert not (tmp_path / "study_steels.partial.json").exists()


def test_mean_table_names_entries_and_appends_notes():
    from foundation_model.workflows.inner_folds import mean_table

    result = {
        "mae_per_inner_fold": {"a": [1.0, 2.0], "b": [3.0, 4.0]},
        "mae_mean": {"a": 1.5, "b": 3.5},
        "roc_auc_proba_mean": {"b": 0.9},
    }
    lines = mean_table(result, names={"a": "entry A"}, notes={"b": " (picked)"})
    assert lines[2] == "| entry A | 1.5 | 1, 2 |"
    assert lines[3] == "| b | 3.5 (proba 0.9) | 3, 4 (picked) |"
