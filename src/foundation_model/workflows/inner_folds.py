"""Studies on inner folds of one official Matbench fold's training ids.

Recipe choices (fine-tuning variants, seed ensembles, the point-mass rule) are judged on
rows the official test folds never see: the training ids of one fold, split again. This
module loads what those studies share and gives their scripts one set of options.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from foundation_model.workflows.finetune_recipe import PretrainedBase

DEFAULT_PRETRAINED = Path("results/pretrained/fm-base/model.ckpt")
DEFAULT_RECIPE = "samples/generated_configs/finetune_from_base.yaml"


@dataclass
class InnerData:
    """A regression task in the pretrained model's descriptors, and one fold's training ids.

    Attributes:
        base: the pretrained checkpoint.
        x: descriptors of every row, in the checkpoint's column order (all-NaN columns filled
            with its pre-training medians).
        y: targets of every row.
        train_ids: the official fold's training ids (its test ids are not given out).
    """

    base: PretrainedBase
    x: pd.DataFrame
    y: pd.Series
    train_ids: np.ndarray


def load_inner_data(
    task_name: str, pretrained: Path, data_dir: Path, script: str, fold: int = 0
) -> InnerData:
    """Read ``task_name`` (written by ``fm data matbench``) for an inner-fold study.

    Args:
        task_name: a Matbench regression task.
        pretrained: the pretrained checkpoint (its descriptor preset and columns).
        data_dir: the ``fm data matbench`` folder.
        script: the caller's name, for the error message.
        fold: the official fold whose training ids are returned.

    Raises:
        SystemExit: the task is missing or not a regression task.
    """
    from foundation_model.data.matbench import read_matbench_task
    from foundation_model.workflows.matbench_bench import BenchOptions, task_features

    task = read_matbench_task(data_dir, task_name)
    if task is None or task.task_type != "regression":
        raise SystemExit(f"{script}: run `fm data matbench` first; regression only.")
    base = PretrainedBase.read(pretrained)
    raw, _ = task_features(task, base.preset or "magpie", BenchOptions(task=task_name))
    x = base.align(raw, empty_columns_only=True)
    return InnerData(base, x, task.table["target"], np.array(list(task.folds[fold][0])))


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
