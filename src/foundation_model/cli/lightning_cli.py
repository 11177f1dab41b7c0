"""``fm fit|validate|test|predict``: LightningCLI with data-linked model arguments."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import operator
import os
import re
import signal
import sys
from pathlib import Path
from typing import Any

import yaml
from lightning.pytorch.cli import LightningCLI
from lightning.pytorch.utilities.exceptions import MisconfigurationException, SIGTERMException

from foundation_model.cli.parse_errors import parse_error_line
from foundation_model.utils.folder_lock import FolderLock, is_first_process

DEFAULT_MODEL = "foundation_model.models.FlexibleMultiTaskModel"

TRAINER_DEFAULTS: dict[str, Any] = {
    "default_root_dir": "results/runs",  # where run files go when a config sets logger: false
    "logger": {
        "class_path": "lightning.pytorch.loggers.CSVLogger",
        "init_args": {"save_dir": "results/runs", "name": "fm"},
    },
}


def _config_paths(argv: list[str]) -> list[str]:
    paths = []
    for i, arg in enumerate(argv):
        if arg in ("--config", "-c") and i + 1 < len(argv):
            paths.append(argv[i + 1])
        elif arg.startswith("--config="):
            paths.append(arg.split("=", 1)[1])
    return paths


def model_class_path(argv: list[str]) -> str | None:
    """The model ``class_path`` the command line will use (last one wins), if it can be seen."""
    found: str | None = None
    for path in _config_paths(argv):
        try:
            cfg = yaml.safe_load(Path(path).read_text())
        except (OSError, yaml.YAMLError):
            return None  # LightningCLI reports the problem with the file itself
        model = cfg.get("model") if isinstance(cfg, dict) else None
        if isinstance(model, dict) and model.get("class_path"):
            found = model["class_path"]
        elif isinstance(model, str):
            found = model
    for i, arg in enumerate(argv):
        for key in ("--model", "--model.class_path"):
            if arg == key and i + 1 < len(argv):
                found = argv[i + 1]
            elif arg.startswith(key + "="):
                found = arg.split("=", 1)[1]
    return found


def _import(path: str) -> Any:
    module_name, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module_name), name)


def _model_class(class_path: str | None) -> Any:
    """The model class a ``class_path`` names (default: ``FlexibleMultiTaskModel``); None if
    it does not import (LightningCLI reports the unknown class)."""
    path = class_path or DEFAULT_MODEL
    if "." not in path:
        path = DEFAULT_MODEL if path == "FlexibleMultiTaskModel" else path
    module_name, _, cls_name = path.rpartition(".")
    try:
        return getattr(importlib.import_module(module_name), cls_name)
    except (ImportError, AttributeError, ValueError):
        return None


def data_links_for(class_path: str | None) -> dict[str, str]:
    """The model class's ``data_links`` ({init arg: datamodule attribute}); ``{}`` if none."""
    return dict(getattr(_model_class(class_path), "data_links", {}) or {})


PROGRESS_REFRESH_STEPS = 20
OPTIONAL_CALLBACKS = (
    ("lightning.pytorch.callbacks.ModelCheckpoint", "model_checkpoint"),
    ("lightning.pytorch.callbacks.EarlyStopping", "early_stopping"),
)
SPECIAL_CKPT_PATHS = ("last", "best", "hpc", "registry")
LIGHTNING_CKPT_KEYS = ("state_dict", "pytorch-lightning_version")
CONFIG_ONLY_FILES = frozenset({"config.yaml", "hparams.yaml"})


def _relative(path: Path) -> Path:
    """``path`` relative to the working directory when it is under it (as printed run
    folders are), else as it is."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        return path


def run_folder(trainer: Any) -> Path | None:
    """The ``version_N`` folder the trainer's logger writes into (it may not exist yet)."""
    if trainer is None or trainer.logger is None:
        return None
    log_dir = getattr(trainer.logger, "log_dir", None)
    if not log_dir:
        return None
    folder = Path(log_dir)
    return folder if folder.name.startswith("version_") else None


def remove_if_config_only(folder: Path) -> bool:
    """Delete ``folder`` if it holds nothing but a saved config (and empty sub-folders).

    Used only for the folder of a run that just failed and did not exist before it, so
    that failed starts leave no ``version_N`` behind; folders with metrics, checkpoints or
    plots are kept. Returns whether it was removed.
    """
    if not folder.is_dir():
        return False
    files = [p for p in folder.rglob("*") if p.is_file()]
    if any(p.parent != folder or p.name not in CONFIG_ONLY_FILES for p in files):
        return False
    import shutil

    shutil.rmtree(folder)
    return True


def remove_failed_run(folder: Path, remove_parent: bool) -> None:
    """Remove a failed run's config-only ``folder`` and, if asked, its now empty parent.

    Args:
        folder: the ``version_N`` folder the failed run created.
        remove_parent: the run-name folder was created by this run too.
    """
    removed = remove_if_config_only(folder)
    if removed and remove_parent and not any(folder.parent.iterdir()):
        folder.parent.rmdir()


def default_progress_bar() -> Any:
    """fm's progress bar: Lightning's bar redrawn every 20 steps (per-step redraws cost ~1 ms)."""
    from lightning.pytorch.callbacks import TQDMProgressBar

    return TQDMProgressBar(refresh_rate=PROGRESS_REFRESH_STEPS)


def _flat(value: Any, prefix: str = "") -> dict[str, Any]:
    """``{dotted key: leaf}`` of nested namespaces, dicts and lists (items of lists that hold
    namespaces or dicts by index; a list of plain values is one leaf)."""
    if hasattr(value, "as_dict"):
        value = value.as_dict()
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            out |= _flat(v, f"{prefix}{k}.")
        return out
    if isinstance(value, (list, tuple)):
        if any(hasattr(v, "as_dict") or isinstance(v, (dict, list, tuple)) for v in value):
            out = {}
            for i, v in enumerate(value):
                out |= _flat(v, f"{prefix}{i}.")
            return out
        value = [str(v) if isinstance(v, Path) else v for v in value]
    return {prefix.rstrip("."): str(value) if isinstance(value, Path) else value}


def _replaced_model_args(
    config_model: Any, stored: dict[str, Any], skip: tuple[str, ...] = ()
) -> list[str]:
    """``key: config value -> checkpoint value`` for every model argument the config sets
    (not None) to something else than the checkpoint stored (its ``dict_kwargs`` or
    ``init_args``), except the arguments named in ``skip`` (those linked from the data,
    which the config does not set, and those the model class does not keep)."""
    if config_model is None:
        return []
    mine = _flat(config_model)
    theirs = _flat({"init_args": stored.get("dict_kwargs", stored.get("init_args", {}))})
    out = []
    for key, value in mine.items():
        if not key.startswith("init_args.") or value is None or key not in theirs:
            continue
        if key.split(".")[1] in skip:
            continue
        other = theirs[key]
        if key.endswith("class_path"):  # `pkg.Cls` and `pkg.module.Cls` are one class
            value, other = _resolved_class(value), _resolved_class(other)
        if value != other:
            out.append(f"{key.removeprefix('init_args.')}: {mine[key]!r} -> {theirs[key]!r}")
    return out


def _resolved_class(path: Any) -> Any:
    """The object a ``class_path`` names (the text itself when it does not import)."""
    if not isinstance(path, str) or "." not in path:
        return path
    try:
        return _import(path)
    except (ImportError, AttributeError, ValueError):
        return path


def _stop_early_after_validation(trainer: Any) -> None:
    """Early stopping on a validation metric checks after validation, not at the end of
    each training epoch (Lightning's default when validation runs every epoch): an epoch cut
    short by ``max_steps`` has no validation, and the check would fail for lack of its
    metric. With validation every epoch both give the same stops. A callback given its own
    ``check_on_train_epoch_end`` keeps it."""
    from lightning.pytorch.callbacks import EarlyStopping

    for callback in getattr(trainer, "callbacks", []):
        on_validation = str(getattr(callback, "monitor", "")).startswith("val")
        unset = getattr(callback, "_check_on_train_epoch_end", False) is None
        if isinstance(callback, EarlyStopping) and on_validation and unset:
            callback._check_on_train_epoch_end = False


class FMLightningCLI(LightningCLI):
    """LightningCLI that links data-derived values into the model and adds fm's callbacks.

    Args:
        model_links: ``{model init arg: datamodule attribute}`` linked at instantiation.
    """

    def __init__(
        self, *args: Any, model_links: dict[str, str] | None = None, **kwargs: Any
    ) -> None:
        self.model_links = model_links or {}
        # a backbone's stored model read from --ckpt_path: (class_path, stored state)
        self._stored_backbone: tuple[str, dict[str, Any]] | None = None
        super().__init__(*args, **kwargs)

    def add_arguments_to_parser(self, parser: Any) -> None:
        from foundation_model.cli.prediction_writer import PredictionWriter
        from foundation_model.plotting.callback import PlotCallback

        for arg, attr in self.model_links.items():
            parser.link_arguments(
                "data",
                f"model.init_args.{arg}",
                compute_fn=operator.attrgetter(attr),
                apply_on="instantiate",
            )
        parser.add_lightning_class_args(PredictionWriter, "prediction_writer")
        parser.add_lightning_class_args(PlotCallback, "plots")
        # Optional top-level callbacks, so that e.g. ``--early_stopping.patience=5`` overrides
        # one argument of a configured callback (entries of trainer.callbacks cannot be
        # addressed one by one). ``null`` (the default) adds none.
        for cls, key in OPTIONAL_CALLBACKS:
            parser.add_lightning_class_args(_import(cls), key, subclass_mode=True, required=False)

    def _parse_ckpt_path(self) -> None:
        """Check ``--ckpt_path`` before LightningCLI reads its hyperparameters: a missing,
        truncated or foreign file is a one-line error naming it."""
        subcommand = self.config.get("subcommand")
        ckpt_path = self.config[subcommand].get("ckpt_path") if subcommand else None
        model = str(self._config_model_class(subcommand) if subcommand else "")
        if (
            subcommand in ("validate", "test", "predict")
            and (ckpt_path is None or str(ckpt_path) in ("last", "best"))
            and "MLIPFineTuneModule" not in model  # a pretrained potential: zero-shot is real
        ):  # no fit ran in this process, so Lightning would use the untrained weights
            raise ValueError(
                f"fm {subcommand} needs --ckpt_path with a trained checkpoint (e.g. "
                "<run folder>/checkpoints/best.ckpt); without one it would score untrained "
                "weights."
            )
        if ckpt_path and str(ckpt_path) not in SPECIAL_CKPT_PATHS:
            from foundation_model.utils.checkpoint import load_checkpoint

            ckpt = load_checkpoint(ckpt_path, mmap=True, require=LIGHTNING_CKPT_KEYS)
            self._parse_checkpoint_hparams(subcommand, ckpt)

    def _parse_checkpoint_hparams(self, subcommand: str, ckpt: dict[str, Any]) -> None:
        """Merge the checkpoint's model hyperparameters into the config (as LightningCLI
        does), leaving out a backbone's stored model file: that is the checkpoint's own
        copy of a file, not a config value the parser knows."""
        from foundation_model.backbones.base import STORED_KEY

        hparams = dict(ckpt.get("hyper_parameters") or {})
        hparams.pop("_instantiator", None)
        backbone = hparams.get("backbone")
        if isinstance(backbone, dict) and STORED_KEY in backbone:
            hparams["backbone"] = {k: v for k, v in backbone.items() if k != STORED_KEY}
            self._stored_backbone = (str(backbone.get("class_path")), backbone[STORED_KEY])
        if not hparams:
            return
        if "_class_path" in hparams:
            stored = str(hparams["_class_path"]).rsplit(".", 1)[-1]
            wanted = (self._config_model_class(subcommand) or stored).rsplit(".", 1)[-1]
            if stored != wanted:
                raise ValueError(
                    f"--ckpt_path holds a {stored} checkpoint, but this config builds a "
                    f"{wanted}; use the config the checkpoint was trained with (its run "
                    "folder's config.yaml)."
                )
            hparams = {"class_path": hparams.pop("_class_path"), "dict_kwargs": hparams}
        elif self._config_model_class(subcommand):  # saved outside LightningCLI (plain Python)
            hparams = self._as_config_class(subcommand, hparams)
        model = self.config[subcommand].get("model")
        not_kept = getattr(_model_class(self._config_model_class(subcommand)), "not_kept", ())
        replaced = _replaced_model_args(model, hparams, (*self.model_links, *not_kept))
        if replaced:  # the checkpoint's weights need its own architecture: say what changed
            print(
                f"fm {subcommand}: --ckpt_path's stored hyperparameters replace the config's "
                f"model arguments: {'; '.join(replaced)}",
                file=sys.stderr,
            )
        self.config = self.parser.parse_object({subcommand: {"model": hparams}}, self.config)

    def _as_config_class(self, subcommand: str, hparams: dict[str, Any]) -> dict[str, Any]:
        """Hyperparameters stored without their class (a model saved by a plain
        ``Trainer``) as arguments of the config's model class; one line if they are not."""
        from foundation_model.cli.parse_errors import accepted_parameters

        wanted = str(self._config_model_class(subcommand))
        known = accepted_parameters(wanted)
        unknown = [k for k in hparams if known and k not in known]
        if unknown:
            name = wanted.rsplit(".", 1)[-1]
            raise ValueError(
                f"--ckpt_path's stored hyperparameters {unknown[:3]} are not arguments of "
                f"{name}, the class this config builds: the checkpoint was trained with "
                "another model class; use the config it was trained with."
            )
        return {"class_path": wanted, "dict_kwargs": hparams}

    def _config_model_class(self, subcommand: str) -> str | None:
        """The model ``class_path`` the parsed config builds, if it names one."""
        model = self.config[subcommand].get("model")
        found = model.get("class_path") if hasattr(model, "get") else model
        return str(found) if found else None

    def _add_instantiators(self) -> None:
        """Also rebuild a backbone from the model stored in ``--ckpt_path`` (e.g. a MACE
        model read from a file when it was fine-tuned), so that ``fm test`` / ``fm predict``
        on that checkpoint do not need the original file the config names."""
        super()._add_instantiators()
        if self._stored_backbone is None:
            return
        import warnings

        from foundation_model.backbones.base import MLIPBackbone

        class_path, stored = self._stored_backbone
        stored_class = MLIPBackbone.resolve_class({"class_path": class_path})

        def from_checkpoint(cls: type, *args: Any, **kwargs: Any) -> Any:
            if cls is stored_class and not args:
                return cls.from_stored(kwargs, stored)
            return cls(*args, **kwargs)

        with warnings.catch_warnings():  # deprecated in jsonargparse, as Lightning's own use
            warnings.simplefilter("ignore", DeprecationWarning)
            self.parser.add_instantiator(from_checkpoint, MLIPBackbone, subclasses=True)

    def _run_subcommand(self, subcommand: str) -> None:
        """Run the subcommand; print the run folder after it, or remove the folder this run
        created if it fails before writing anything but its config."""
        folder = run_folder(self.trainer)
        existed = [p.exists() for p in (folder, folder.parent)] if folder else [True, True]
        try:
            with contextlib.ExitStack() as locks:
                if subcommand == "fit":
                    if is_first_process():  # one fit at a time into a fixed folder
                        for fixed in self._fixed_checkpoint_folders():
                            locks.enter_context(FolderLock(fixed, "model_checkpoint dirpath"))
                    self._refuse_overwriting_checkpoints()
                    _stop_early_after_validation(self.trainer)
                super()._run_subcommand(subcommand)
        except BaseException as err:
            if folder is not None and not existed[0]:
                remove_failed_run(folder, remove_parent=not existed[1])
            last = self._last_checkpoint(folder)
            if subcommand == "fit" and isinstance(err, SystemExit) and err.code != 0:
                # Lightning turns Ctrl-C into exit(1): say where the run is and how to go on
                print(
                    f"Interrupted. Run folder: {_relative(folder)}; resume with "
                    f"--ckpt_path {_relative(last)}"
                    if last is not None
                    else "Interrupted before the first checkpoint was written: nothing to "
                    "resume from; run the command again.",
                    file=sys.stderr,
                )
                # Lightning exits 1 after Ctrl-C, as for a crash: say "interrupted" as a shell
                # does (128 + SIGINT), so that scripts can tell the two apart
                if not isinstance(err, SIGTERMException):
                    raise SystemExit(128 + signal.SIGINT) from None
            if isinstance(err, SIGTERMException):  # a SystemExit with no code: status 0
                raise SystemExit(128 + signal.SIGTERM) from None  # as a shell reports it
            raise
        if not getattr(self.trainer, "is_global_zero", True):
            return  # under DDP every process gets here: one of them says where things are
        if folder is not None and folder.exists():
            print(f"Run folder: {_relative(folder)}")
        best = getattr(self.trainer.checkpoint_callback, "best_model_path", "")
        if subcommand == "fit" and best:
            print(f"Best checkpoint: {_relative(Path(best))}")
            earlier = self._better_before_resume()
            if earlier:
                print(earlier)

    def _last_checkpoint(self, folder: Path | None) -> Path | None:
        """The ``last.ckpt`` this fit wrote: in its checkpoint callback's folder (a config may
        fix one, as the pretraining configs do) or in the run folder's ``checkpoints/``."""
        callback = getattr(self.trainer, "checkpoint_callback", None)
        folders = [Path(callback.dirpath)] if getattr(callback, "dirpath", None) else []
        folders += [folder / "checkpoints"] if folder is not None else []
        return next((d / "last.ckpt" for d in folders if (d / "last.ckpt").is_file()), None)

    def _better_before_resume(self) -> str | None:
        """A resumed fit writes into a new run folder, and Lightning then forgets the
        interrupted run's best score: a line naming the interrupted run's best checkpoint
        when it scored better than this run's best (None otherwise)."""
        ckpt_path = self._get(self.config, "ckpt_path")
        callback = self.trainer.checkpoint_callback
        now = getattr(callback, "best_model_score", None)
        if not ckpt_path or not Path(str(ckpt_path)).is_file() or now is None:
            return None
        from foundation_model.utils.checkpoint import load_checkpoint

        states = (load_checkpoint(ckpt_path).get("callbacks") or {}).values()
        for state in states:
            if not isinstance(state, dict) or state.get("monitor") != callback.monitor:
                continue
            before, path = state.get("best_model_score"), state.get("best_model_path")
            if before is None or not path or not Path(path).is_file():
                continue
            before, now_value = float(before), float(now)
            better = before < now_value if callback.mode == "min" else before > now_value
            if better:
                return (
                    f"The interrupted run's best checkpoint scored better ({callback.monitor} "
                    f"{before:.4g} vs {now_value:.4g}): {_relative(Path(path))}"
                )
        return None

    def _fixed_checkpoint_folders(self) -> list[Path]:
        """The folders of the ``ModelCheckpoint`` callbacks whose ``dirpath`` the config
        fixes (not a run's own ``version_N/checkpoints``)."""
        from lightning.pytorch.callbacks import ModelCheckpoint

        return [
            Path(c.dirpath)
            for c in self.trainer.callbacks
            if isinstance(c, ModelCheckpoint) and c.dirpath
        ]

    def _refuse_overwriting_checkpoints(self) -> None:
        """A ``ModelCheckpoint`` with a fixed ``dirpath`` that already holds checkpoints of
        an earlier fit would overwrite them: refused unless this fit resumes from there."""
        ckpt_path = self.config["fit"].get("ckpt_path")
        resume = Path(ckpt_path).resolve().parent if ckpt_path else None
        for folder in self._fixed_checkpoint_folders():
            earlier = sorted(p.name for p in folder.glob("*.ckpt")) if folder.is_dir() else []
            if earlier and resume != folder.resolve():
                raise ValueError(
                    f"model_checkpoint dirpath {folder} already holds {', '.join(earlier)} "
                    "from an earlier fit, which this fit would overwrite: resume it with "
                    f"--ckpt_path {folder / 'last.ckpt'}, move those files, or set another "
                    "--model_checkpoint.init_args.dirpath."
                )

    def _instantiate_trainer(self, config: dict[str, Any], callbacks: list[Any]) -> Any:
        """Add :func:`default_progress_bar` unless the config disables or brings its own bar,
        and a :class:`~foundation_model.utils.latest_checkpoint.LatestCheckpoint` beside every
        monitored ``ModelCheckpoint`` with ``save_last: true``."""
        from lightning.pytorch.callbacks import ProgressBar

        from foundation_model.utils.checkpoint_io import use_atomic_checkpoints
        from foundation_model.utils.latest_checkpoint import LatestCheckpoint, needs_latest

        callbacks = [c for c in callbacks if c is not None]  # unset optional callbacks
        given = config.get("callbacks") or []
        given = given if isinstance(given, list) else [given]
        # a real last.ckpt every epoch (Lightning writes it only when the monitor improves);
        # the source's own save_last goes off, so there is one last.ckpt, not a last-v1 too
        sources = [c for c in [*given, *callbacks] if needs_latest(c)]
        callbacks += [LatestCheckpoint(c) for c in sources]
        for source in sources:
            source.save_last = False
        has_bar = any(isinstance(c, ProgressBar) for c in [*given, *callbacks])
        if config.get("enable_progress_bar", True) is not False and not has_bar:
            callbacks = [*callbacks, default_progress_bar()]
        trainer = super()._instantiate_trainer(config, callbacks)
        use_atomic_checkpoints(trainer)  # a full disk never leaves a truncated best.ckpt
        return trainer


STATE_DICT_ERROR = "Error(s) in loading state_dict"


def state_dict_mismatch(err: RuntimeError) -> str:
    """One line out of torch's multi-line ``load_state_dict`` error."""
    text = str(err)
    counts = []
    for label, pattern in (
        ("missing", r"Missing key\(s\) in state_dict: (.*?)\.\s*$"),
        ("unexpected", r"Unexpected key\(s\) in state_dict: (.*?)\.\s*$"),
    ):
        found = re.search(pattern, text, re.MULTILINE)
        if found:
            keys = re.findall(r'"([^"]+)"', found.group(1))
            counts.append(f"{len(keys)} {label} (e.g. {keys[0]})" if keys else label)
    shapes = re.findall(r"size mismatch for ([^:]+):", text)
    if shapes:
        counts.append(f"{len(shapes)} with another shape (e.g. {shapes[0]})")
    detail = "; ".join(counts) or text.splitlines()[0]
    return (
        f"the checkpoint does not fit this config's model: {detail}; use the config the "
        "checkpoint was trained with (its run folder's config.yaml)."
    )


#: list arguments that a command-line value replaces as a whole
REPLACED_LISTS = ("--data.init_args.tasks",)


def replace_lists(argv: list[str]) -> list[str]:
    """``argv`` with each command-line value of a :data:`REPLACED_LISTS` argument preceded by
    an empty list. jsonargparse merges a new list of classes into the config's by position
    (a task with the same ``class_path`` would keep the old task's ``num_classes``,
    ``class_names`` or ``point_mass``); emptying it first makes the new list a replacement,
    with every unset argument at its default."""
    out: list[str] = []
    for arg in argv:
        key = arg.split("=", 1)[0]
        if key in REPLACED_LISTS:
            out.append(f"{key}=[]")
        out.append(arg)
    return out


def run_lightning_cli(argv: list[str]) -> int:
    """Run a LightningCLI subcommand; our own input errors print as one line (``FM_DEBUG=1``
    shows the traceback)."""
    import lightning.pytorch as pl

    from foundation_model.utils.checkpoint import allow_checkpoint_globals
    from foundation_model.utils.upstream_warnings import hide_upstream_noise

    hide_upstream_noise()
    allow_checkpoint_globals()  # numpy arrays in checkpoints load with weights_only=True
    argv = replace_lists(argv)
    try:
        FMLightningCLI(
            pl.LightningModule,
            pl.LightningDataModule,
            subclass_mode_model=True,
            subclass_mode_data=True,
            model_links=data_links_for(model_class_path(argv)),
            trainer_defaults=TRAINER_DEFAULTS,
            save_config_kwargs={"overwrite": True},
            parser_kwargs={"exit_on_error": False},
            args=argv,
        )
    except argparse.ArgumentError as err:  # a bad key, value or YAML: one line, no usage dump
        if os.environ.get("FM_DEBUG"):
            raise
        print(f"fm {argv[0]}: error: {parse_error_line(str(err), argv, argv[0])}", file=sys.stderr)
        return 2
    except RuntimeError as err:
        if os.environ.get("FM_DEBUG"):
            raise
        if str(err).startswith(STATE_DICT_ERROR):
            print(f"fm {argv[0]}: error: {state_dict_mismatch(err)}", file=sys.stderr)
            return 1
        missing = re.search(r"conditioned on metric `([^`]+)` which is not available", str(err))
        if missing is None:
            raise
        print(
            f"fm {argv[0]}: error: early stopping watches {missing.group(1)}, which no "
            "validation step logged: the validation split has no labelled row (too few "
            "rows for its fraction?); give more rows or a larger val_fraction, or drop "
            "early_stopping.",
            file=sys.stderr,
        )
        return 1
    except (
        ValueError,
        KeyError,
        FileNotFoundError,
        TypeError,
        NotADirectoryError,  # e.g. a logger save_dir that is a file
        PermissionError,
    ) as err:
        if os.environ.get("FM_DEBUG"):
            raise
        print(f"fm {argv[0]}: error: {error_message(err)}", file=sys.stderr)
        return 1
    except MisconfigurationException as err:  # e.g. resuming past --trainer.max_epochs
        if os.environ.get("FM_DEBUG"):
            raise
        print(f"fm {argv[0]}: error: {' '.join(str(err).split())}", file=sys.stderr)
        return 1
    except OSError as err:  # e.g. a read-only or full disk under the run folder
        if os.environ.get("FM_DEBUG"):
            raise
        where = f" {err.filename}" if err.filename else ""
        print(
            f"fm {argv[0]}: error: cannot write{where} ({err.strerror or err}); checkpoints are "
            "written whole or not at all: free space or point --trainer.logger.init_args."
            "save_dir (and any model_checkpoint dirpath) at a writable folder.",
            file=sys.stderr,
        )
        return 1
    return 0


class _FitConfigReader(FMLightningCLI):
    """``fm fit``'s parser, stopped after parsing: nothing is instantiated, seeded or run."""

    def _set_seed(self) -> None:
        pass

    def instantiate_classes(self) -> None:
        pass

    def _run_subcommand(self, subcommand: str) -> None:
        pass


def load_fit_config(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> dict:
    """Read a YAML through exactly the schema ``fm fit`` uses (the same LightningCLI parser).

    Unknown keys, wrong types and bad ``class_path`` values fail as in ``fm fit``; defaults
    are filled in. ``fm bench`` reads its model config with this function.

    Args:
        path: the YAML file.
        overrides: extra ``fm fit`` command-line arguments, e.g. ``["--trainer.max_epochs=3"]``.

    Returns:
        The parsed config as plain dicts (``model``, ``data``, ``trainer``,
        ``model_checkpoint``, ``early_stopping``, ...), classes as ``{class_path, init_args}``.

    Raises:
        FileNotFoundError: when ``path`` does not exist.
        ValueError: one line naming the file and the key when it does not fit the schema.
    """
    import lightning.pytorch as pl

    from foundation_model.utils.upstream_warnings import hide_upstream_noise

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Config {path} not found.")
    argv = replace_lists(["fit", "--config", str(path), *overrides])
    hide_upstream_noise()
    try:
        reader = _FitConfigReader(
            pl.LightningModule,
            pl.LightningDataModule,
            subclass_mode_model=True,
            subclass_mode_data=True,
            model_links=data_links_for(model_class_path(argv)),
            trainer_defaults=TRAINER_DEFAULTS,
            save_config_callback=None,
            parser_kwargs={"exit_on_error": False},
            args=argv,
        )
    except argparse.ArgumentError as err:
        line = parse_error_line(str(err), argv, "fit")
        raise ValueError(f"Config {path} does not fit the fm fit schema: {line}") from err
    return reader.config["fit"].as_dict()


def _raised_by_fm(err: BaseException) -> bool:
    """Whether ``err`` was raised in foundation_model code (its innermost frame)."""
    tb = err.__traceback__
    if tb is None:
        return False
    while tb.tb_next is not None:
        tb = tb.tb_next
    return str(tb.tb_frame.f_globals.get("__name__", "")).startswith("foundation_model.")


def error_message(err: BaseException) -> str:
    """The one line to print for ``err``.

    Links and jsonargparse wrap our errors, and our errors wrap the packages' ones: the
    first error of the cause chain that foundation_model raised carries the message meant
    for the user (it names the file and the fix); without one, the innermost error.
    """
    chain = [err]
    while chain[-1].__cause__ is not None and len(chain) < 50:
        chain.append(chain[-1].__cause__)
    ours = next((e for e in chain if _raised_by_fm(e)), None)
    chosen = ours if ours is not None else chain[-1]
    if isinstance(chosen, KeyError) and chosen.args:
        return str(chosen.args[0])
    return str(chosen)
