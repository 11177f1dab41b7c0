"""``fm fit|validate|test|predict``: LightningCLI with data-linked model arguments."""

from __future__ import annotations

import importlib
import operator
import os
import sys
from pathlib import Path
from typing import Any

import yaml
from lightning.pytorch.cli import LightningCLI

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


def data_links_for(class_path: str | None) -> dict[str, str]:
    """The model class's ``data_links`` ({init arg: datamodule attribute}); ``{}`` if none."""
    path = class_path or DEFAULT_MODEL
    if "." not in path:
        path = DEFAULT_MODEL if path == "FlexibleMultiTaskModel" else path
    module_name, _, cls_name = path.rpartition(".")
    try:
        cls = getattr(importlib.import_module(module_name), cls_name)
    except (ImportError, AttributeError, ValueError):
        return {}  # LightningCLI will report the unknown class
    return dict(getattr(cls, "data_links", {}) or {})


PROGRESS_REFRESH_STEPS = 20


def default_progress_bar() -> Any:
    """fm's progress bar: Lightning's bar redrawn every 20 steps (per-step redraws cost ~1 ms)."""
    from lightning.pytorch.callbacks import TQDMProgressBar

    return TQDMProgressBar(refresh_rate=PROGRESS_REFRESH_STEPS)


class FMLightningCLI(LightningCLI):
    """LightningCLI that links data-derived values into the model and adds fm's callbacks.

    Args:
        model_links: ``{model init arg: datamodule attribute}`` linked at instantiation.
    """

    def __init__(
        self, *args: Any, model_links: dict[str, str] | None = None, **kwargs: Any
    ) -> None:
        self.model_links = model_links or {}
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

    def _instantiate_trainer(self, config: dict[str, Any], callbacks: list[Any]) -> Any:
        """Add :func:`default_progress_bar` unless the config disables or brings its own bar."""
        from lightning.pytorch.callbacks import ProgressBar

        given = config.get("callbacks") or []
        given = given if isinstance(given, list) else [given]
        has_bar = any(isinstance(c, ProgressBar) for c in [*given, *callbacks])
        if config.get("enable_progress_bar", True) is not False and not has_bar:
            callbacks = [*callbacks, default_progress_bar()]
        return super()._instantiate_trainer(config, callbacks)


def run_lightning_cli(argv: list[str]) -> int:
    """Run a LightningCLI subcommand; our own input errors print as one line (``FM_DEBUG=1``
    shows the traceback)."""
    import warnings

    import lightning.pytorch as pl

    warnings.filterwarnings("ignore", message=".*LightningCLI's args parameter.*")
    try:
        FMLightningCLI(
            pl.LightningModule,
            pl.LightningDataModule,
            subclass_mode_model=True,
            subclass_mode_data=True,
            model_links=data_links_for(model_class_path(argv)),
            trainer_defaults=TRAINER_DEFAULTS,
            save_config_kwargs={"overwrite": True},
            args=argv,
        )
    except (ValueError, KeyError, FileNotFoundError, TypeError) as err:
        if os.environ.get("FM_DEBUG"):
            raise
        print(f"fm {argv[0]}: error: {error_message(err)}", file=sys.stderr)
        return 1
    return 0


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
