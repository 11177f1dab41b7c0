"""Studies on inner folds of one official Matbench fold's training ids.

Recipe choices (fine-tuning variants, seed ensembles, the point-mass rule) are judged on
rows the official test folds never see: the training ids of one fold, split again. This
module loads what those studies share and gives their scripts one set of options.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from foundation_model.workflows.finetune_recipe import PretrainedBase

DEFAULT_PRETRAINED = Path("results/pretrained/fm-base/model.ckpt")
DEFAULT_RECIPE = "samples/generated_configs/finetune_from_base.yaml"


@dataclass
class InnerData:
    """A Matbench task in the pretrained model's descriptors, and one fold's training ids.

    Attributes:
        base: the pretrained checkpoint.
        x: descriptors of every row, in the checkpoint's column order (all-NaN columns filled
            with its pre-training medians).
        y: targets of every row.
        train_ids: the official fold's training ids (its test ids are not given out).
        task_type: ``regression`` or ``classification``.
    """

    base: PretrainedBase
    x: pd.DataFrame
    y: pd.Series
    train_ids: np.ndarray
    task_type: str = "regression"


def load_inner_data(
    task_name: str,
    pretrained: Path,
    data_dir: Path,
    script: str,
    fold: int = 0,
    classification: bool = False,
) -> InnerData:
    """Read ``task_name`` (written by ``fm data matbench``) for an inner-fold study.

    Args:
        task_name: a Matbench regression task.
        pretrained: the pretrained checkpoint (its descriptor preset and columns).
        data_dir: the ``fm data matbench`` folder.
        script: the caller's name, for the error message.
        fold: the official fold whose training ids are returned.
        classification: the study scores classification tasks too.

    Raises:
        SystemExit: the task is missing, or a classification task the study cannot score.
    """
    from foundation_model.data.matbench import read_matbench_task
    from foundation_model.workflows.matbench_bench import BenchOptions, task_features

    task = read_matbench_task(data_dir, task_name)
    if task is None:
        raise SystemExit(f"{script}: {task_name} is not in {data_dir}; run `fm data matbench`.")
    if task.task_type != "regression" and not classification:
        raise SystemExit(f"{script}: {task_name} is a classification task; regression only.")
    base = PretrainedBase.read(pretrained)
    raw, _ = task_features(task, base.preset or "magpie", BenchOptions(task=task_name))
    x = base.align(raw, empty_columns_only=True)
    train_ids = np.array(list(task.folds[fold][0]))
    return InnerData(base, x, task.table["target"], train_ids, task.task_type)


@dataclass
class InnerFold:
    """One inner fold of an official fold's training ids.

    Attributes:
        index: the inner fold's number.
        train: ids the networks train on (their validation part drawn from these).
        test: ids the entries are scored on.
        y_test: targets of ``test``.
        n_train: rows a network trains on after its validation part (sets the recipe's sizes).
    """

    index: int
    train: list
    test: list
    y_test: np.ndarray
    n_train: int


def inner_folds(ids: np.ndarray, y: pd.Series, splits: int, val_fraction: float = 0.1):
    """The inner folds every study uses: ``KFold(splits, shuffle=True, random_state=7)``.

    Args:
        ids: the official fold's training ids.
        y: targets of every row.
        splits: number of inner folds.
        val_fraction: share of an inner fold's training ids its networks validate on.

    Yields:
        :class:`InnerFold`, in order.
    """
    from sklearn.model_selection import KFold

    for i, (tr, te) in enumerate(KFold(splits, shuffle=True, random_state=7).split(ids)):
        train, test = list(ids[tr]), list(ids[te])
        n_train = int(len(train) * (1.0 - val_fraction))
        yield InnerFold(i, train, test, y.loc[test].to_numpy(), n_train)


def add_inner_arguments(parser: argparse.ArgumentParser, task: str) -> None:
    """The options every inner-fold script takes (task, checkpoint, recipe, folders).

    Args:
        parser: the script's parser.
        task: its default task.
    """
    parser.add_argument("--task", default=task)
    parser.add_argument("--pretrained", type=Path, default=DEFAULT_PRETRAINED)
    parser.add_argument("--recipe", default=DEFAULT_RECIPE)
    parser.add_argument("--data-dir", type=Path, default=Path("data/matbench"))
    parser.add_argument("--out", type=Path, default=Path("results/bench"))


def write_report(result: dict, markdown: str, out: Path, stem: str) -> None:
    """``<out>/<stem>_<task>.json`` and ``.md`` (task without its ``matbench_`` prefix).

    Args:
        result: the study's JSON dict (with ``task``).
        markdown: its Markdown report.
        out: destination folder.
        stem: report name.
    """
    from foundation_model.utils.atomic import write_json, write_text

    name = f"{stem}_{result['task'].removeprefix('matbench_')}"
    write_json(result, out / f"{name}.json")
    write_text(markdown, out / f"{name}.md")


class PartialFolds:
    """A study's finished inner folds, saved after each one so that an interrupted run of the
    same command resumes (``<out>/<stem>_<task>.partial.json``, removed by :meth:`finish`).

    Args:
        out: the study's output folder.
        stem: report name (as in :func:`write_report`).
        task: the Matbench task.
        key: the settings the saved folds must match to be reused (seeds, splits, ...).
    """

    def __init__(self, out: Path, stem: str, task: str, key: dict) -> None:
        import json
        import time

        self.path = out / f"{stem}_{task.removeprefix('matbench_')}.partial.json"
        self.state: dict = {"key": key, "folds": [], "seconds": 0.0}
        if self.path.exists():
            saved = json.loads(self.path.read_text())
            if saved.get("key") == key:
                self.state = saved
                print(f"resuming: {len(self.folds)} inner fold(s) read from {self.path}")
        self._start = time.perf_counter() - self.state["seconds"]

    @property
    def folds(self) -> list[dict]:
        """The finished folds' results, in fold order."""
        return self.state["folds"]

    @property
    def seconds(self) -> float:
        """Wall time of the study so far, earlier runs of it included."""
        import time

        return time.perf_counter() - self._start

    def add(self, fold_result: dict) -> None:
        """Record one finished fold and save the file."""
        from foundation_model.utils.atomic import write_json

        self.folds.append(fold_result)
        self.state["seconds"] = self.seconds
        write_json(self.state, self.path)

    def finish(self) -> None:
        """Remove the file once the study's reports are made from its folds."""
        self.path.unlink(missing_ok=True)


def mean_table(
    result: dict, names: dict[str, str] | None = None, notes: dict[str, str] | None = None
) -> list[str]:
    """Markdown rows ``| entry | mean | per inner fold |`` of a study's result.

    Args:
        result: the study's JSON dict (``mae_per_inner_fold``, ``mae_mean`` and, for
            classification, ``roc_auc_proba_mean``).
        names: display name per entry (default: the entry's key).
        notes: per entry, text appended to its per-fold cell.
    """
    per, mean = result["mae_per_inner_fold"], result["mae_mean"]
    proba = result.get("roc_auc_proba_mean") or {}
    lines = ["| entry | mean | per inner fold |", "|---|---|---|"]
    for key in per:
        cell = f"{mean[key]:.4g}" + (f" (proba {proba[key]:.4g})" if key in proba else "")
        folds = ", ".join(f"{v:.4g}" for v in per[key]) + (notes or {}).get(key, "")
        lines.append(f"| {(names or {}).get(key, key)} | {cell} | {folds} |")
    return lines


def rf_same_features_mae(x: pd.DataFrame, y: pd.Series, train: list, test: list) -> float:
    """Test MAE of a 500-tree random forest on the same descriptors (NaNs filled with the
    training medians): the control every inner-fold study reports.

    Args:
        x: descriptors of every row.
        y: targets of every row.
        train: ids the forest fits.
        test: ids it is scored on.
    """
    return rf_same_features_score(x, y, train, test, "regression")


def rf_same_features_score(
    x: pd.DataFrame,
    y: pd.Series,
    train: list,
    test: list,
    task_type: str,
    trees: int = 500,
    n_jobs: int = 1,
) -> float:
    """:func:`rf_same_features_mae` for either task type: MAE, or ROC-AUC on hard labels
    (Matbench's classification score) of a classification forest, labelled like the
    bench's networks (``p >=`` the training positive rate).

    Args:
        x: descriptors of every row.
        y: targets (labels) of every row.
        train: ids the forest fits.
        test: ids it is scored on.
        task_type: ``regression`` or ``classification``.
        trees: trees of the forest.
        n_jobs: processes fitting it.
    """
    from foundation_model.workflows.rf_baseline import rf_fold

    filled = x.fillna(x.loc[train].median())
    a, b = filled.loc[train].to_numpy(), filled.loc[test].to_numpy()
    pred = rf_fold(a, y.loc[train].to_numpy(), b, task_type, trees, 0, n_jobs, balanced=True)
    return inner_score(task_type, y.loc[test].to_numpy(), pred.values)


def inner_score(task_type: str, y_test: np.ndarray, values: np.ndarray) -> float:
    """MAE (regression) or ROC-AUC on hard labels (classification) of ``values``.

    Args:
        task_type: ``regression`` or ``classification``.
        y_test: true targets or labels.
        values: predictions, or predicted labels.
    """
    if task_type == "classification":
        from foundation_model.workflows.bench_report import classification_scores

        labels = np.asarray(values).astype(int)
        return classification_scores(np.asarray(y_test).astype(int), labels, None)["roc_auc"]
    return float(np.abs(np.asarray(values, dtype=float) - y_test).mean())


def prediction_scores(task_type: str, y_test: np.ndarray, pred) -> tuple[float, float | None]:
    """``(MAE, None)``, or ``(ROC-AUC on hard labels, ROC-AUC on probabilities)`` of a
    classification :class:`~foundation_model.workflows.rf_baseline.FoldPrediction`.

    Args:
        task_type: ``regression`` or ``classification``.
        y_test: true targets or labels.
        pred: the (ensemble's) prediction of the test rows.
    """
    if task_type == "classification":
        from foundation_model.workflows.bench_report import classification_scores

        s = classification_scores(
            np.asarray(y_test).astype(int), pred.values.astype(int), pred.proba
        )
        return s["roc_auc"], s["roc_auc_proba"]
    return inner_score(task_type, y_test, pred.values), None


def add_proba_scores(result: dict, proba: dict[str, list[float]]) -> None:
    """Put per-entry probability ROC-AUCs (per inner fold, and their means) in ``result``;
    nothing for a regression study (``proba`` empty)."""
    if proba:
        result["roc_auc_proba_per_inner_fold"] = proba
        result["roc_auc_proba_mean"] = {k: float(np.mean(v)) for k, v in proba.items()}


def study_result(args: argparse.Namespace, maes: dict[str, list[float]], seconds: float) -> dict:
    """The JSON fields every inner-fold study writes (task, protocol, per-fold MAEs).

    Args:
        args: the script's options (``task``, ``seeds``, ``splits``, ``pretrained``, ``recipe``).
        maes: per entry, the MAE of each inner fold.
        seconds: wall time of the study.
    """
    return {
        "task": args.task,
        "seeds": args.seeds,
        "inner_folds": args.splits,
        "protocol": "KFold(seed 7) over fold 0's training ids; official test ids never read",
        "pretrained": str(args.pretrained),
        "recipe": str(args.recipe),
        "mae_per_inner_fold": maes,
        "mae_mean": {k: float(np.mean(v)) for k, v in maes.items()},
        "seconds": seconds,
    }


def study_main(
    argv: list[str] | None,
    description: str,
    stem: str,
    default_seeds: int,
    run: Callable[[argparse.Namespace], dict],
    markdown: Callable[[dict], str],
    extra_arguments: Callable[[argparse.ArgumentParser], None] | None = None,
) -> int:
    """The ``main`` of a seeds-by-inner-folds study: options, run, reports.

    Args:
        argv: command-line arguments (None: ``sys.argv``).
        description: the script's ``--help`` text.
        stem: report name (:func:`write_report`).
        default_seeds: networks per entry unless ``--seeds`` says otherwise.
        run: the study, from the parsed options to its JSON dict.
        markdown: the JSON dict as a Markdown report.
        extra_arguments: adds the study's own options to the parser.
    """
    parser = argparse.ArgumentParser(description=description)
    add_inner_arguments(parser, "matbench_steels")
    parser.add_argument("--seeds", type=int, default=default_seeds)
    parser.add_argument("--splits", type=int, default=5, help="inner folds")
    if extra_arguments is not None:
        extra_arguments(parser)
    args = parser.parse_args(argv)
    result = run(args)
    write_report(result, markdown(result), args.out, stem)
    print(markdown(result))
    return 0
