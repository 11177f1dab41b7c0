"""Step 3 (and the committee of step 2): fine-tune the teacher with ``MLIPFineTuneModule``.

Training stays in the LightningModule; this file only builds the module from the
configured backbone, wraps the labelled structures in an ``MLIPDataModule``, runs a
``lightning`` Trainer and saves a checkpoint that ``MLIPCalculator.from_checkpoint`` (and
the ``fm datagen`` ``MLIPSpec``) load. The schema is energy + forces, plus stress when
every structure is a 3D-periodic cell (molecules have no stress).
"""

from __future__ import annotations

import copy
import warnings
from pathlib import Path
from typing import Any

import ase
import numpy as np

from foundation_model.utils.class_path import ClassPathSerializable


class TeacherTrainer(ClassPathSerializable):
    """Fine-tunes a (pretrained) MLIP backbone on oracle-labelled structures.

    Args:
        backbone: the adapter as ``{class_path, init_args}`` (e.g. SevenNet-0, CHGNet, a MACE
            file, or the small ``SchNetBackbone``), or its class path alone (its defaults).
        epochs: training epochs.
        batch_size: structures per batch.
        lr: AdamW learning rate.
        val_fraction: share of the structures held out for validation (0: none).
        ema_decay: exponential moving average of the weights (``None``: off).
        stress_weight: loss coefficient of the stress (periodic data only).
        energy_weight: loss coefficient of the energy per atom.
        force_weight: loss coefficient of the forces.
        freeze_backbone: train only the heads and reference energies.
        device: ``cpu``, ``cuda`` or ``auto``.
    """

    def __init__(
        self,
        backbone: dict[str, Any] | str | None = None,
        epochs: int = 20,
        batch_size: int = 4,
        lr: float = 1e-3,
        val_fraction: float = 0.0,
        ema_decay: float | None = None,
        stress_weight: float = 0.1,
        energy_weight: float = 1.0,
        force_weight: float = 1.0,
        freeze_backbone: bool = False,
        device: str = "cpu",
    ) -> None:
        if isinstance(backbone, str):  # --teacher.backbone=foundation_model.backbones.X
            backbone = {"class_path": backbone, "init_args": {}}
        self.backbone = dict(
            backbone or {"class_path": "foundation_model.backbones.SchNetBackbone", "init_args": {}}
        )
        model_path = (self.backbone.get("init_args") or {}).get("model_path")
        if model_path and not Path(model_path).is_file():  # before the pool and the oracle
            raise FileNotFoundError(
                f"teacher.backbone model_path {model_path} not found: fix the path "
                "(a MACE .model file)."
            )
        if int(epochs) < 1 or int(batch_size) < 1 or not float(lr) > 0:
            raise ValueError(
                f"teacher epochs and batch_size must be >= 1 and lr > 0, got epochs={epochs}, "
                f"batch_size={batch_size}, lr={lr} (an untrained teacher would label nothing "
                "useful)."
            )
        if not 0.0 <= float(val_fraction) < 1.0:
            raise ValueError(f"teacher val_fraction must be in [0, 1), got {val_fraction}.")
        self.epochs = int(epochs)
        self.batch_size = int(batch_size)
        self.lr = float(lr)
        self.val_fraction = float(val_fraction)
        self.ema_decay = ema_decay
        self.stress_weight = float(stress_weight)
        self.energy_weight = float(energy_weight)
        self.force_weight = float(force_weight)
        self.freeze_backbone = bool(freeze_backbone)
        self.device = device

    def backbone_config(self, seed: int | None) -> dict[str, Any]:
        """The backbone config; ``seed`` replaces a ``seed`` init argument (committee members)."""
        config = copy.deepcopy(self.backbone)
        args = config.setdefault("init_args", {})
        if seed is not None and "seed" in args:
            args["seed"] = int(seed)
        return config

    def check_structures(self, structures: list[ase.Atoms], source: str = "the pool") -> None:
        """Refuse structures the backbone cannot take (elements, periodicity) with one line,
        naming the first by its index in ``source`` (the backbone's own load-time checks).

        Args:
            structures: e.g. the candidate pool, before the oracle labels any of it.
            source: how messages name the list (``"17 of the pool"``).

        Raises:
            ValueError: an unknown element or a cell the backbone cannot handle.
        """
        from foundation_model.backbones.base import MLIPBackbone
        from foundation_model.backbones.checks import count_labels

        backbone = MLIPBackbone.from_dict(self.backbone_config(None))
        count_labels(structures, [], backbone, lambda i: f"{i} of {source}")

    def properties(self, structures: list[ase.Atoms]) -> list[Any]:
        """Energy and forces; stress too when every structure is 3D-periodic with a stress."""
        from foundation_model.backbones.properties import (
            EnergyProperty,
            ForcesProperty,
            StressProperty,
        )

        props = [
            EnergyProperty(loss_coefficient=self.energy_weight),
            ForcesProperty(loss_coefficient=self.force_weight),
        ]
        periodic = all(
            bool(a.pbc.all()) and a.cell.rank == 3 and "stress" in a.info for a in structures
        )
        if periodic and self.stress_weight > 0:
            props.append(StressProperty(loss_coefficient=self.stress_weight))
        return props

    def build_module(self, structures: list[ase.Atoms], seed: int | None = None) -> Any:
        """A fresh ``MLIPFineTuneModule`` for ``structures``."""
        import torch

        from foundation_model.backbones.base import MLIPBackbone
        from foundation_model.backbones.module import MLIPFineTuneModule

        lr = self.lr
        return MLIPFineTuneModule(
            MLIPBackbone.from_dict(self.backbone_config(seed)),
            properties=self.properties(structures),
            optimizer=lambda params: torch.optim.AdamW(params, lr=lr, weight_decay=0.0),
            ema_decay=self.ema_decay,
            freeze_backbone=self.freeze_backbone,
        )

    def fit(self, structures: list[ase.Atoms], checkpoint: str | Path, seed: int = 0) -> Path:
        """Fine-tune on ``structures`` and save the checkpoint; returns its path."""
        import lightning.pytorch as pl

        from foundation_model.backbones.datamodule import MLIPDataModule
        from foundation_model.data.shared_rows import SharedRowsWarning

        if len(structures) < 2:
            raise ValueError(
                f"The teacher needs at least 2 labelled structures, got {len(structures)}."
            )
        pl.seed_everything(seed, workers=True, verbose=False)
        module = self.build_module(structures, seed)
        n_val = int(round(self.val_fraction * len(structures)))
        rng = np.random.default_rng(seed)
        order = rng.permutation(len(structures))
        train = [structures[i] for i in order[n_val:]]
        val = [structures[i] for i in order[:n_val]] or train[:1]
        dm = MLIPDataModule(train, val_path=val, test_path=val, batch_size=self.batch_size)
        trainer = pl.Trainer(
            max_epochs=self.epochs,
            accelerator="cpu" if self.device == "cpu" else "auto",
            logger=False,
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
            num_sanity_val_steps=0,
            limit_val_batches=1.0 if n_val else 0,
        )
        with warnings.catch_warnings():
            if not n_val:  # the placeholder validation structure is never evaluated
                warnings.simplefilter("ignore", SharedRowsWarning)
            trainer.fit(module, dm)
        checkpoint = Path(checkpoint)
        checkpoint.parent.mkdir(parents=True, exist_ok=True)
        trainer.save_checkpoint(checkpoint)
        return checkpoint


def load_module(checkpoint: str | Path, device: str = "cpu") -> Any:
    """A fine-tuned module from its checkpoint (EMA weights when present), in eval mode."""
    from foundation_model.backbones.module import MLIPFineTuneModule

    module = MLIPFineTuneModule.load_from_checkpoint(str(checkpoint), map_location=device)
    module.use_ema_weights()
    return module.eval()


def predict(module: Any, structures: list[ase.Atoms], batch_size: int = 16) -> tuple:
    """Energies ``(S,)`` (eV) and per-structure forces ``[(N_s, 3)]`` (eV/Å) of a module."""
    energies, forces = [], []
    for start in range(0, len(structures), batch_size):
        chunk = structures[start : start + batch_size]
        batch = module.batch_from_atoms(chunk)
        preds = module(batch, forces=True, stress=False)
        energies.append(preds["energy"].detach().double().cpu().numpy())
        flat = preds["forces"].detach().double().cpu().numpy()
        counts = np.cumsum([len(a) for a in chunk])[:-1]
        forces.extend(np.split(flat, counts))
    return np.concatenate(energies), forces
