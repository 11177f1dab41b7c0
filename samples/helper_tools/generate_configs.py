"""Generate ready-to-run ``fm fit`` YAML configs for a dataset and a task list.

Usage (from the repository root)::

    python samples/helper_tools/generate_configs.py \\
        --formula-desc samples/fake_data/formula_descriptors.csv \\
        --attributes samples/fake_data/attributes.csv \\
        --structure-desc samples/fake_data/structure_descriptors.csv \\
        --regression y_easy y_nonlinear y_structure \\
        --classification is_metal crystal_system \\
        --sequence cp_curve:temperatures:cp_values \\
        --split-column split \\
        --out samples/generated_configs

One YAML per scenario is written (the file stem is the run name under ``results/runs``);
``--help`` lists the scenarios (:data:`SCENARIOS`) and ``--scenarios`` picks some of them.

Model selection: ``model_checkpoint`` and ``early_stopping`` monitor ``val_task_error``, the
mean over tasks of the standardised validation error, not ``val_final_loss``: the final loss
contains the learned log-sigma terms of uncertainty weighting, which keep falling while the
validation error rises, so it would pick later, more over-fitted epochs. Both callbacks are
top-level keys, so one argument can be overridden: ``--early_stopping.patience=5``.

With ``--corpus DIR`` (a folder written by ``fm data corpus``) the script instead writes
``pretrain_base``: every corpus task (regression; ``is_metal`` / ``mp_on_hull``
classification; the JANAF Cp(T) and S(T) curves as sequence tasks), learnable log-sigma
weighting and masked-feature modelling, on ``DIR/corpus.parquet`` with the descriptors of
``fm featurize`` in ``DIR/corpus_rich.parquet``; sized for <= 90 min on a 2-core CPU::

    python samples/helper_tools/generate_configs.py --corpus data/corpus

The number of classes and the class names of classification tasks are read from the
attributes table (sorted unique labels, as :class:`CompoundDataModule` infers them).
Paths are written as given, so run ``fm`` from the directory they are relative to. Before
writing, the tables are read as ``fm fit`` reads them, with every task: data it would refuse
stop the script with fm's reason; a scenario whose own splitter fm would refuse (a stratified
split with a class of one row, more folds than rows, an empty validation split) is not
written, with the reason (an error when named in ``--scenarios``). A config of another
content already at the output path (the default ``--out`` holds the repository's sample
configs) is replaced only with ``--force``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from foundation_model.models.task_head.base import safe_task_name

TASK_HEAD = "foundation_model.models.task_head"
MONITOR = "val_task_error"  # mean standardised validation error over tasks (lower is better)
SCENARIOS = {
    "regression": "regression tasks only, random split",
    "classification": "classification tasks only, stratified on the first one",
    "sequence_heads": "each sequence task four times: RNN, Transformer, TCN-FiLM and "
    "Legendre-basis heads",
    "all_tasks": "every task (sequence tasks with the RNN head)",
    "structure_ssl": "every task + structure descriptors, contrastive and cross-reconstruction "
    "self-supervision (needs --structure-desc)",
    "pretrain_mfm": "every task + masked-feature modelling; checkpoints in "
    "results/runs/pretrain_mfm/checkpoints/ (best.ckpt)",
    "finetune": "warm-starts the encoder from pretrain_mfm's best.ckpt, freezes the formula "
    "encoder, per-component learning rates",
    "predefined_split": "regression + classification, split from --split-column",
    "kfold": "regression tasks, fold 0 of 5; pick another fold with "
    "--data.init_args.splitter.init_args.fold=K",
    "head_regression": "a single head: the first regression task",
    "head_classification": "a single head: the first classification task",
    "head_sequence_rnn": "a single head: the first sequence task with the RNN head",
    "head_sequence_transformer": "a single head: the first sequence task, Transformer head",
    "head_sequence_tcn": "a single head: the first sequence task with the TCN-FiLM head",
    "head_sequence_basis": "a single head: the first sequence task, Legendre-basis head",
}
SEQUENCE_HEADS = {
    "rnn": "SequenceRNNTask",
    "transformer": "SequenceTransformerTask",
    "tcn": "SequenceTCNFiLMTask",
    "basis": "SequenceBasisTask",
}


@dataclass
class SequenceSpec:
    """A sequence task read from ``name:x_column:y_column``."""

    name: str
    x_column: str
    y_column: str

    @classmethod
    def parse(cls, text: str) -> SequenceSpec:
        """Parse ``name:x_column:y_column``."""
        parts = text.split(":")
        if len(parts) != 3 or not all(parts):
            raise argparse.ArgumentTypeError(
                "--sequence expects name:x_column:y_column "
                f"(e.g. cp_curve:temperatures:cp_values), got {text!r}."
            )
        return cls(safe_task_name(parts[0]), parts[1], parts[2])


@dataclass
class DatasetSpec:
    """The data files and the tasks to configure."""

    formula_desc: str
    attributes: str
    structure_desc: str | None = None
    regression: list[str] = field(default_factory=list)
    classification: list[str] = field(default_factory=list)
    sequence: list[SequenceSpec] = field(default_factory=list)
    split_column: str | None = None

    def check_task_names(self) -> None:
        """Two target columns whose task names come out the same (``gap.x`` and ``gap/x``
        are both ``gap_x``) are a one-line error naming them."""
        seen: dict[str, str] = {}
        columns = [*self.regression, *self.classification, *(s.name for s in self.sequence)]
        for column in columns:
            name = safe_task_name(column)
            if name in seen:
                raise ValueError(
                    f"columns {seen[name]!r} and {column!r} both give the task name {name!r}; "
                    "rename one of them in the attributes table."
                )
            seen[name] = column


# ---------------------------------------------------------------------- tasks
def class_info(labels: pd.Series) -> dict[str, Any]:
    """``num_classes`` (and ``class_names`` for text labels) of one label column.

    Integer labels ``0..C-1`` (each present) give ``num_classes = C``; other integers
    (e.g. 1..4) and text give the sorted unique labels as ``class_names``. Numbers with
    decimals are refused: such a column is a regression target.
    """
    values = labels.dropna()
    if values.empty:
        raise ValueError(f"Classification column {labels.name!r} has no labels.")
    numeric = pd.to_numeric(values, errors="coerce")
    if numeric.notna().all():
        if not bool((numeric == numeric.round()).all()):
            raise ValueError(
                f"Classification column {labels.name!r} holds numbers with decimals "
                f"({numeric.nunique()} distinct values, e.g. {numeric.iloc[0]:g}): give it as "
                "--regression, or write class labels."
            )
        codes = sorted(set(numeric.astype(int).tolist()))
        if codes == list(range(len(codes))):
            return {"num_classes": max(len(codes), 2)}
        names = [str(c) for c in codes]
        if len(names) < 2:
            raise ValueError(f"Classification column {labels.name!r} has a single class {names}.")
        return {"num_classes": len(names), "class_names": names}
    names = sorted(values.astype(str).unique().tolist())
    if len(names) < 2:
        raise ValueError(f"Classification column {labels.name!r} has a single class {names}.")
    return {"num_classes": len(names), "class_names": names}


def _task(cls_name: str, **init_args: Any) -> dict[str, Any]:
    return {"class_path": f"{TASK_HEAD}.{cls_name}", "init_args": init_args}


def regression_tasks(spec: DatasetSpec) -> list[dict[str, Any]]:
    """One ``RegressionTask`` per regression column."""
    return [_task("RegressionTask", name=safe_task_name(c), column=c) for c in spec.regression]


def classification_tasks(spec: DatasetSpec, attrs: pd.DataFrame) -> list[dict[str, Any]]:
    """One ``ClassificationTask`` per label column, with classes read from the data."""
    return [
        _task("ClassificationTask", name=safe_task_name(c), column=c, **class_info(attrs[c]))
        for c in spec.classification
    ]


def sequence_tasks(spec: DatasetSpec, head: str, suffix: bool = False) -> list[dict[str, Any]]:
    """One sequence task per ``SequenceSpec`` using ``head`` (a key of ``SEQUENCE_HEADS``)."""
    return [
        _task(
            SEQUENCE_HEADS[head],
            name=f"{s.name}_{head}" if suffix else s.name,
            x_column=s.x_column,
            y_column=s.y_column,
        )
        for s in spec.sequence
    ]


def check_columns(spec: DatasetSpec, attrs: pd.DataFrame) -> None:
    """Raise naming every requested column missing from the attributes table."""
    wanted = [*spec.regression, *spec.classification]
    wanted += [c for s in spec.sequence for c in (s.x_column, s.y_column)]
    if spec.split_column:
        wanted.append(spec.split_column)
    missing = [c for c in wanted if c not in attrs.columns]
    if missing:
        raise KeyError(
            f"Column(s) {missing} not in {spec.attributes}; it has {list(attrs.columns)}."
        )


def fit_data_problem(
    formula_desc: str,
    tasks: list[dict[str, Any]],
    attributes: str,
    structure_desc: str | None = None,
    splitter: Any = None,
    need_validation: bool = False,
) -> str | None:
    """Why ``fm fit`` would refuse these tables with these tasks and splitter (fm's own
    one-line reason), or None when it would read them.

    Args:
        formula_desc: formula descriptor table.
        tasks: task ``class_path``/``init_args`` blocks.
        attributes: attributes table.
        structure_desc: structure descriptor table, if used.
        splitter: a splitter, or its ``class_path``/``init_args`` block (None: fm's default).
        need_validation: an empty validation split is a problem too (no epoch could be
            selected on the monitored validation metric).
    """
    from foundation_model.data import CompoundDataModule

    if isinstance(splitter, dict):
        splitter = _instantiate(splitter)
    try:
        dm = CompoundDataModule(
            formula_desc, tasks, attributes, structure_desc_source=structure_desc, splitter=splitter
        )
        dm.setup("fit")
        dm.statistics()
    except (ValueError, KeyError, FileNotFoundError) as err:
        return str(err.args[0]) if isinstance(err, KeyError) and err.args else str(err)
    if need_validation and len(dm.splits.val) == 0:
        return (
            f"its validation split is empty ({len(dm.ids)} rows), so no epoch can be "
            f"selected on {MONITOR}"
        )
    return None


def check_data(spec: DatasetSpec, tasks: list[dict[str, Any]]) -> None:
    """Read the tables as ``fm fit`` will, with every task (and the ``--split-column``
    split), so that data it would refuse (a missing file, a column without labels or with
    text, unreadable curves, split labels other than train/val/test) stop the script with
    fm's own one-line reason, before any config is written.

    Raises:
        ValueError: fm's reason, prefixed with "the data would not fit".
    """
    from foundation_model.data import PredefinedSplitter

    split = PredefinedSplitter(spec.split_column) if spec.split_column else None
    reason = fit_data_problem(spec.formula_desc, tasks, spec.attributes, spec.structure_desc, split)
    if reason is not None:
        raise ValueError(f"the data would not fit: {reason} (no config written)")


def _instantiate(block: dict[str, Any]) -> Any:
    """The object of a ``class_path``/``init_args`` block (e.g. a splitter)."""
    import importlib

    module, _, name = block["class_path"].rpartition(".")
    return getattr(importlib.import_module(module), name)(**block.get("init_args", {}))


def scenario_problems(configs: dict[str, dict[str, Any]]) -> dict[str, str]:
    """Why ``fm fit`` would refuse a config's data with its own tasks and splitter (e.g. a
    stratified split with a class of one row, more folds than rows), or could not select a
    model (an empty validation split), per file stem; configs that would run are absent.

    Args:
        configs: file stem -> config.
    """
    import json

    problems: dict[str, str] = {}
    seen: dict[str, str | None] = {}  # configs with the same data are read once
    for stem, cfg in configs.items():
        data = cfg["data"]["init_args"]
        key = json.dumps(data, sort_keys=True, default=str)
        if key not in seen:
            seen[key] = fit_data_problem(
                data["formula_desc_source"],
                data["tasks"],
                data["attributes_source"],
                data["structure_desc_source"],
                data["splitter"],
                need_validation=True,
            )
        if seen[key] is not None:
            problems[stem] = str(seen[key])
    return problems


# ---------------------------------------------------------------------- configs
def base_config(
    name: str, max_epochs: int = 60, checkpoint_dir: str | None = None
) -> dict[str, Any]:
    """Everything but the model/data ``init_args``: trainer, logger, callbacks, writers.

    Checkpointing and early stopping watch :data:`MONITOR`; they are the top-level
    ``model_checkpoint``/``early_stopping`` keys of ``fm fit`` (overridable one argument at a
    time, e.g. ``--early_stopping.patience=5``), not entries of ``trainer.callbacks``.
    """
    checkpoint: dict[str, Any] = {
        "monitor": MONITOR,
        "mode": "min",
        "save_last": True,
        "filename": "best",
    }
    if checkpoint_dir:
        checkpoint |= {"dirpath": checkpoint_dir, "enable_version_counter": False}
    return {
        "seed_everything": 42,
        "trainer": {
            "max_epochs": max_epochs,
            "log_every_n_steps": 10,
            "logger": {
                "class_path": "lightning.pytorch.loggers.CSVLogger",
                "init_args": {"save_dir": "results/runs", "name": name},
            },
        },
        "model_checkpoint": {
            "class_path": "lightning.pytorch.callbacks.ModelCheckpoint",
            "init_args": checkpoint,
        },
        "early_stopping": {
            "class_path": "lightning.pytorch.callbacks.EarlyStopping",
            "init_args": {"monitor": MONITOR, "mode": "min", "patience": 20},
        },
        "model": {
            "class_path": "foundation_model.models.FlexibleMultiTaskModel",
            "init_args": {
                "encoder_dims": [256, 128],
                "deposit_dim": 128,
                "norm": "layer",
                "dropout": 0.1,
                "uncertainty_weighting": True,
                "ensemble_size": 5,  # five heads per task: <task>_std / _entropy in predictions
                # fused: one kernel per step, the same update as the default multi-tensor
                # AdamW; 1.3-2x faster epochs on CPU (results/bench/bin_branch_speed.md)
                "optimizer": {
                    "class_path": "torch.optim.AdamW",
                    "init_args": {"lr": 1.0e-3, "weight_decay": 1.0e-4, "fused": True},
                },
            },
        },
        "data": {"class_path": "foundation_model.data.CompoundDataModule", "init_args": {}},
        "prediction_writer": {"output_path": None},
        "plots": {"enabled": True},
    }


def splitter(kind: str, **init_args: Any) -> dict[str, Any]:
    """A splitter ``class_path``/``init_args`` block."""
    return {"class_path": f"foundation_model.data.{kind}", "init_args": init_args}


def make_config(
    name: str,
    spec: DatasetSpec,
    tasks: list[dict[str, Any]],
    split: dict[str, Any] | None = None,
    structure: bool = False,
    model_args: dict[str, Any] | None = None,
    checkpoint_dir: str | None = None,
) -> dict[str, Any]:
    """One complete config: ``base_config`` + data sources, splitter, tasks and model options."""
    cfg = base_config(name, checkpoint_dir=checkpoint_dir)
    cfg["model"]["init_args"].update(model_args or {})
    cfg["data"]["init_args"] = {
        "formula_desc_source": spec.formula_desc,
        "attributes_source": spec.attributes,
        "structure_desc_source": spec.structure_desc if structure else None,
        "batch_size": 128,
        "splitter": split
        or splitter("RandomSplitter", val_fraction=0.1, test_fraction=0.1, seed=42),
        "tasks": tasks,
    }
    return cfg


def build_configs(spec: DatasetSpec, prefix: str = "") -> dict[str, dict[str, Any]]:
    """All scenario configs that the dataset supports, keyed by file stem."""
    from foundation_model.data.tables import load_table

    attrs = load_table(spec.attributes, "--attributes")  # CSV, Parquet or pickle
    check_columns(spec, attrs)
    reg, cls = regression_tasks(spec), classification_tasks(spec, attrs)
    seq = sequence_tasks(spec, "rnn")
    every = reg + cls + seq
    check_data(spec, every)
    builders: dict[str, Callable[[str], dict[str, Any]]] = {}
    if reg:
        builders["regression"] = lambda n: make_config(n, spec, reg)
        builders["kfold"] = lambda n: make_config(
            n, spec, reg, splitter("KFoldSplitter", n_folds=5, fold=0, val_fraction=0.1, seed=42)
        )
    if cls:
        first = spec.classification[0]
        builders["classification"] = lambda n: make_config(
            n,
            spec,
            cls,
            splitter(
                "StratifiedSplitter", column=first, val_fraction=0.1, test_fraction=0.1, seed=42
            ),
        )
    if seq:
        heads = [t for h in SEQUENCE_HEADS for t in sequence_tasks(spec, h, suffix=True)]
        builders["sequence_heads"] = lambda n: make_config(n, spec, heads)
    if len(every) > 1:
        builders["all_tasks"] = lambda n: make_config(n, spec, every)
    if spec.structure_desc:
        ssl = {"contrastive_weight": 0.1, "contrastive_temperature": 0.1, "cross_recon_weight": 0.1}
        builders["structure_ssl"] = lambda n: make_config(
            n, spec, every, structure=True, model_args={"modality_dropout": 0.1, **ssl}
        )
    pretrain_dir = f"results/runs/{prefix}pretrain_mfm/checkpoints"
    builders["pretrain_mfm"] = lambda n: make_config(
        n,
        spec,
        every,
        model_args={"mfm_weight": 0.2, "mfm_mask_ratio": 0.15},
        checkpoint_dir=pretrain_dir,
    )
    builders["finetune"] = lambda n: make_config(
        n,
        spec,
        reg[:1] + cls[:1] or every[:1],
        model_args={
            "init_from_checkpoint": f"{pretrain_dir}/best.ckpt",
            "init_components": ["encoder"],
            "freeze_components": ["encoder.formula"],
            "component_lr": {"encoder": 1.0e-4, "heads": 1.0e-3},
        },
    )
    if spec.split_column and (reg or cls):
        builders["predefined_split"] = lambda n: make_config(
            n, spec, reg + cls, splitter("PredefinedSplitter", column=spec.split_column)
        )
    builders |= single_head_builders(spec, reg, cls)
    return {prefix + stem: build(prefix + stem) for stem, build in builders.items()}


def single_head_builders(
    spec: DatasetSpec, reg: list[dict[str, Any]], cls: list[dict[str, Any]]
) -> dict[str, Callable[[str], dict[str, Any]]]:
    """``head_<kind>`` scenarios: one task with one head of each kind the data supports."""
    builders: dict[str, Callable[[str], dict[str, Any]]] = {}
    if reg:
        builders["head_regression"] = lambda n: make_config(n, spec, reg[:1])
    if cls:
        builders["head_classification"] = lambda n: make_config(n, spec, cls[:1])
    if spec.sequence:
        first = DatasetSpec(spec.formula_desc, spec.attributes, sequence=spec.sequence[:1])
        for head in SEQUENCE_HEADS:
            tasks = sequence_tasks(first, head)
            builders[f"head_sequence_{head}"] = lambda n, t=tasks: make_config(n, spec, t)
    return builders


def pick_scenarios(
    configs: dict[str, dict[str, Any]], names: list[str], prefix: str = ""
) -> dict[str, dict[str, Any]]:
    """The configs of ``names``; raises naming a scenario the data does not support."""
    absent = [n for n in names if prefix + n not in configs]
    if absent:
        raise ValueError(
            f"scenario(s) {absent} need tasks or tables that were not given "
            f"(possible here: {[k[len(prefix) :] for k in configs]})."
        )
    return {prefix + n: configs[prefix + n] for n in names}


# ---------------------------------------------------------------------- pretraining corpus
CORPUS_FEATURES = "corpus_rich.parquet"
# sequence head of the curves: the best inner-validation MAE of the JANAF Cp(T) benchmark
# (benchmarks/sequence_heads_janaf.py: transformer 2.40, rnn 2.51, tcn 2.63 J/(K mol atoms))
PRETRAIN_HEAD = "transformer"
# Measured here on 2 CPU cores with the 271 rich descriptors: 5-head ensembles at batch 512
# ran 2.8 steps/s (~190 s per epoch); one head per task at batch 1024 runs ~4 steps/s
# (~65 s per epoch, per-step overhead of 26 heads dominates). 30 epochs of one-head training
# leave a margin within 90 minutes; fine-tuned models get their own ensembles.
PRETRAIN_EPOCHS = 30
PRETRAIN_BATCH = 1024
BASE_ARCHITECTURE = {"encoder_dims": [512, 256], "deposit_dim": 256}
SHIPPED_BASE = "results/pretrained/fm-base/model.ckpt"


def corpus_tasks(info: dict[str, Any], head: str = PRETRAIN_HEAD) -> list[dict[str, Any]]:
    """One task per labelled corpus column, read from ``corpus.json``.

    Args:
        info: the content of ``corpus.json``.
        head: sequence head of the curves (``rnn``/``transformer``/``tcn``).
    """
    columns = info["corpus"]["columns"]
    tasks = [
        _task("RegressionTask", name=c, column=c)
        for c, meta in columns.items()
        if meta["kind"] == "regression" and meta["labelled_rows"]
    ]
    tasks += [
        _task("ClassificationTask", name=c, column=c, num_classes=2)
        for c, meta in columns.items()
        if meta["kind"] == "classification" and meta["labelled_rows"]
    ]
    for name, seq in info["corpus"]["sequences"].items():
        if columns.get(seq["y"], {}).get("labelled_rows"):
            tasks.append(
                _task(
                    SEQUENCE_HEADS[head], name=f"{name}_curve", x_column=seq["x"], y_column=seq["y"]
                )
            )
    return tasks


def pretrain_base_config(
    info: dict[str, Any], corpus_dir: str = "data/corpus", max_epochs: int = PRETRAIN_EPOCHS
) -> dict[str, Any]:
    """The ``pretrain_base`` scenario: every corpus task + MFM, base size, CPU budget.

    Args:
        info: the content of ``corpus.json``.
        corpus_dir: folder of ``corpus.parquet`` and ``corpus_rich.parquet`` as written
            in the YAML (relative to where ``fm fit`` runs).
        max_epochs: training epochs.
    """
    name = "pretrain_base"
    spec = DatasetSpec(
        formula_desc=f"{corpus_dir}/{CORPUS_FEATURES}", attributes=f"{corpus_dir}/corpus.parquet"
    )
    cfg = make_config(
        name,
        spec,
        corpus_tasks(info),
        splitter("RandomSplitter", val_fraction=0.05, test_fraction=0.05, seed=42),
        model_args={
            **BASE_ARCHITECTURE,
            "mfm_weight": 0.2,
            "mfm_mask_ratio": 0.15,
            # no σ: a latent-distance σ fitted on the corpus's random validation split is
            # far too narrow on known compounds (benchmarks/fm_base_uncertainty.py); add
            # `sigma_distance_rows` here, or `fm calibrate` afterwards, to have it anyway
            "ensemble_size": 1,
        },
        checkpoint_dir=f"results/runs/{name}/checkpoints",
    )
    cfg["trainer"]["max_epochs"] = max_epochs
    cfg["trainer"]["log_every_n_steps"] = 50
    # val_task_error averages 26 tasks, most with a handful of validation rows: too noisy to
    # stop on. The run goes through all epochs under a cosine schedule; the shipped model is
    # its best.ckpt (lowest val_task_error), last.ckpt resumes.
    cfg["early_stopping"]["init_args"]["patience"] = max_epochs
    cfg["model"]["init_args"]["lr_scheduler"] = {
        "class_path": "torch.optim.lr_scheduler.CosineAnnealingLR",
        "init_args": {"T_max": max_epochs, "eta_min": 1e-5},
    }
    cfg["data"]["init_args"]["batch_size"] = PRETRAIN_BATCH
    cfg["plots"] = {"enabled": False}
    # the shipped fm-base was trained with the default multi-tensor AdamW: keep it, so that
    # this file repeats that run (fused would be faster, the same update up to rounding)
    cfg["model"]["init_args"]["optimizer"]["init_args"].pop("fused")
    return cfg


# The GPU preset (``pretrain_large``): a wider encoder and as many epochs as a wall-clock
# budget allows (utils/time_budget.py picks the count and ends the cosine schedule on it).
# The loss stays the squared error: benchmarks/pretrain_loss.py compared Huber on the base
# size and its rule, fixed before the results, did not adopt it (results/bench/pretrain_loss.md).
LARGE_ARCHITECTURE = {"encoder_dims": [1024, 512], "deposit_dim": 256}
LARGE_BATCH = 4096
LARGE_LR = 0.002
LARGE_MINUTES = 60.0  # wall-clock budget of the fit; the epoch count follows from it
LARGE_MAX_EPOCHS = 400  # ceiling; the time budget decides
# physical lower bounds of corpus properties, declared from physics (not read from the data)
NON_NEGATIVE = (
    "oqmd_band_gap",
    "oqmd_volume_per_atom",
    "aflow_band_gap",
    "aflow_bulk_modulus_vrh",
    "aflow_shear_modulus_vrh",
    "aflow_debye_temperature",
    "aflow_thermal_conductivity_300K",
    "mp_e_above_hull",
)


def pretrain_large_config(
    info: dict[str, Any], corpus_dir: str = "data/corpus", minutes: float = LARGE_MINUTES
) -> dict[str, Any]:
    """The ``pretrain_large`` scenario: ``pretrain_base``'s tasks on a GPU-sized model.

    Differences from ``pretrain_base``: encoder 1024-512, prediction floors at 0 for
    non-negative properties, batch 4096 at learning rate 2e-3 with fused AdamW, and a
    wall-clock budget (``TimeBudget``) instead of a fixed epoch count.

    Args:
        info: the content of ``corpus.json``.
        corpus_dir: folder of the corpus tables as written in the YAML.
        minutes: the wall-clock budget of the fit.
    """
    name = "pretrain_large"
    cfg = pretrain_base_config(info, corpus_dir=corpus_dir, max_epochs=LARGE_MAX_EPOCHS)
    cfg["model"]["init_args"].update(LARGE_ARCHITECTURE)
    cfg["model"]["init_args"]["optimizer"]["init_args"].update(lr=LARGE_LR, fused=True)
    for task in cfg["data"]["init_args"]["tasks"]:
        regression = task["class_path"].endswith(".RegressionTask")
        if regression and task["init_args"]["name"] in NON_NEGATIVE:
            task["init_args"]["min_value"] = 0.0
    cfg["data"]["init_args"]["batch_size"] = LARGE_BATCH
    cfg["trainer"]["logger"]["init_args"]["name"] = name
    cfg["trainer"]["accelerator"] = "auto"
    cfg["trainer"]["log_every_n_steps"] = 20
    cfg["trainer"]["callbacks"] = [
        {
            "class_path": "foundation_model.utils.time_budget.TimeBudget",
            "init_args": {"minutes": minutes},
        }
    ]
    cfg["model_checkpoint"]["init_args"]["dirpath"] = f"results/runs/{name}/checkpoints"
    return cfg


def finetune_from_base_config(checkpoint: str = SHIPPED_BASE) -> dict[str, Any]:
    """The ``finetune_from_base`` scenario: the one fine-tuning recipe of the shipped model.

    One regression task reading column ``target`` of the attributes table; the encoder is
    copied from ``checkpoint`` and trains at a tenth of the head's learning rate. ``fm bench
    matbench --pretrained`` uses this file as its recipe (it sets batch size, epochs and
    patience from the number of training rows, trains the modes ``full`` / ``full_uniform``
    and their ``*_task`` twins and averages them; see ``workflows/finetune_recipe.py``).
    With one head there is no spread, so ``<target>_std`` comes from the latent distance
    (``sigma_distance_rows``). Each descriptor is also encoded in 32
    quantile bins of the training rows (``formula_bins``, a branch the checkpoint does not
    have, so it starts at zero and learns on the task). The example data are Matbench expt_gap
    (``fm data matbench``, then featurize with ``--preset rich``); point
    ``formula_desc_source``/``attributes_source`` at your own tables.

    Args:
        checkpoint: the pretrained checkpoint.
    """
    name = "finetune_from_base"
    spec = DatasetSpec(
        formula_desc="data/matbench/features/matbench_expt_gap_rich.parquet",
        attributes="data/matbench/matbench_expt_gap.csv",
    )
    cfg = make_config(
        name,
        spec,
        [_task("RegressionTask", name="target", column="target", hidden_dims=[64], loss="l1")],
        model_args={
            **BASE_ARCHITECTURE,
            "dropout": 0.1,
            "ensemble_size": 1,
            # one head gives no spread: σ comes from the distance to the training rows in
            # h_task, fitted on validation rows (results/bench/calibration/README.md, k1dist)
            "sigma_distance_rows": 4096,
            # each descriptor also in 32 quantile bins of the task's training rows, scratch
            # and fine-tuned alike (results/bench/formula_bins_inner_<task>.md: bins at all;
            # results/bench/bins16_inner/README.md: 16 rather than 8;
            # results/bench/bins32_inner/README.md: 32 rather than 16)
            "formula_bins": 32,
            "init_from_checkpoint": checkpoint,
            "init_components": ["encoder"],
            "component_lr": {"encoder": 0.0001, "heads": 0.001},
        },
    )
    cfg["trainer"]["max_epochs"] = 300
    cfg["early_stopping"]["init_args"]["patience"] = 30
    cfg["plots"] = {"enabled": True}
    return cfg


HEADER = """\
# Generated by samples/helper_tools/generate_configs.py -- scenario: {stem}
# Run from the folder its data paths are relative to:  uv run fm fit --config {path}
# Every key can be overridden on the command line, e.g. --trainer.max_epochs=5 or
# --early_stopping.patience=5. Checkpointing and early stopping watch val_task_error (mean
# standardised validation error over tasks), not val_final_loss (see the README).
"""


def write_configs(configs: dict[str, dict[str, Any]], out: Path, force: bool = False) -> list[Path]:
    """Write each config as ``<out>/<stem>.yaml`` with a short header; returns the paths.

    Args:
        configs: file stem -> config.
        out: output folder.
        force: replace existing files of other content (otherwise none is written: the
            default ``--out`` holds the repository's own sample configs).

    Raises:
        FileExistsError: files of other content exist and ``force`` is not set.
    """
    texts = {}
    for stem, cfg in configs.items():
        path = out / f"{stem}.yaml"
        body = yaml.safe_dump(cfg, sort_keys=False, default_flow_style=None, width=100)
        texts[path] = HEADER.format(stem=stem, path=path.as_posix()) + body
    clash = [p for p, text in texts.items() if p.is_file() and p.read_text() != text]
    if clash and not force:
        names = ", ".join(p.name for p in clash[:4]) + (" ..." if len(clash) > 4 else "")
        raise FileExistsError(
            f"{out} already holds other configs of these names ({names}); write elsewhere "
            "with --out DIR, or replace them with --force"
        )
    out.mkdir(parents=True, exist_ok=True)
    for path, text in texts.items():
        path.write_text(text)
    return list(texts)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    scenarios = "\n".join(f"  {k:<26}{v}" for k, v in SCENARIOS.items())
    p = argparse.ArgumentParser(
        description="Generate fm fit YAML configs, one per scenario the data supports.",
        epilog=f"scenarios (file stem = run name):\n{scenarios}\n\n"
        f"Checkpointing and early stopping monitor {MONITOR} (mode min); override one "
        "argument with e.g. --early_stopping.patience=5 on the fm fit command line.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--formula-desc", help="formula descriptor table (id first)")
    p.add_argument("--attributes", help="attributes (targets) table (id first)")
    p.add_argument(
        "--corpus",
        default=None,
        help="folder written by `fm data corpus`: write only pretrain_base, pretrain_large and "
        "finetune_from_base",
    )
    p.add_argument(
        "--structure-desc",
        default=None,
        help="optional structure descriptor table, used by the structure_ssl scenario (the "
        "others are composition-only; add data.init_args.structure_desc_source to use it there)",
    )
    p.add_argument("--regression", nargs="*", default=[], help="regression target columns")
    p.add_argument("--classification", nargs="*", default=[], help="classification label columns")
    p.add_argument(
        "--sequence",
        nargs="*",
        default=[],
        type=SequenceSpec.parse,
        help="sequence tasks as name:x_column:y_column",
    )
    p.add_argument(
        "--split-column", default=None, help="train/val/test column for predefined_split"
    )
    p.add_argument(
        "--prefix",
        default="",
        help="prefix of every file stem and run name; an underscore is added unless it ends "
        "in _ - or . (--prefix steels -> steels_pretrain_mfm.yaml)",
    )
    p.add_argument(
        "--scenarios",
        nargs="+",
        default=None,
        choices=list(SCENARIOS),
        metavar="NAME",
        help="write only these scenarios (default: every one the data supports)",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=Path("samples/generated_configs"),
        help="output folder (default: the repository's sample configs; an existing file of "
        "other content is not replaced unless --force)",
    )
    p.add_argument("--force", action="store_true", help="replace existing configs of other content")
    return p.parse_args(argv)


def write_pretrain_base(corpus: str, out: Path, force: bool = False) -> int:
    """Write ``<out>/pretrain_base.yaml`` from ``<corpus>/corpus.json``, and
    ``<out>/finetune_from_base.yaml`` (the fine-tuning recipe of the shipped model).

    Args:
        corpus: folder written by ``fm data corpus``.
        out: output folder.
        force: replace existing configs of other content.
    """
    import json

    path = Path(corpus) / "corpus.json"
    if not path.is_file():
        print(
            f"generate_configs: error: {path} not found; run `fm data corpus` first.",
            file=sys.stderr,
        )
        return 1
    info = json.loads(path.read_text())
    cfg = pretrain_base_config(info, corpus_dir=Path(corpus).as_posix())
    configs = {
        "pretrain_base": cfg,
        "pretrain_large": pretrain_large_config(info, corpus_dir=Path(corpus).as_posix()),
        "finetune_from_base": finetune_from_base_config(),
    }
    try:
        written = write_configs(configs, out, force)
    except FileExistsError as err:
        print(f"generate_configs: error: {err}", file=sys.stderr)
        return 1
    for path in written:
        print(f"wrote {path}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Generate the configs and print the files written."""
    args = parse_args(argv)
    if args.corpus:
        return write_pretrain_base(args.corpus, args.out, args.force)
    if not (args.formula_desc and args.attributes):
        print("generate_configs: --formula-desc and --attributes are required.", file=sys.stderr)
        return 2
    spec = DatasetSpec(
        formula_desc=args.formula_desc,
        attributes=args.attributes,
        structure_desc=args.structure_desc,
        regression=args.regression,
        classification=args.classification,
        sequence=args.sequence,
        split_column=args.split_column,
    )
    if not (spec.regression or spec.classification or spec.sequence):
        print(
            "generate_configs: name at least one task (--regression/--classification/--sequence).",
            file=sys.stderr,
        )
        return 2
    prefix = args.prefix
    if prefix and prefix[-1] not in "_-.":
        prefix += "_"
    try:
        spec.check_task_names()
        configs = build_configs(spec, prefix)
        if args.scenarios:
            configs = pick_scenarios(configs, args.scenarios, prefix)
        problems = scenario_problems(configs)
        if args.scenarios and problems:  # asked for by name: refuse rather than skip
            stem, reason = next(iter(problems.items()))
            raise ValueError(f"fm fit would refuse {stem}: {reason} (no config written)")
        for stem, reason in problems.items():
            print(f"generate_configs: not written: {stem} ({reason})", file=sys.stderr)
        configs = {k: v for k, v in configs.items() if k not in problems}
        if not configs:
            raise ValueError("fm fit would refuse every scenario on this data (see above)")
        paths = write_configs(configs, args.out, args.force)
    except (KeyError, ValueError, FileNotFoundError, FileExistsError) as err:
        print(f"generate_configs: error: {err}", file=sys.stderr)
        return 1
    for path in paths:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
