"""``MLIPFineTuneModule``: fine-tune any :class:`MLIPBackbone` on energy/forces/stress and
graph properties with ``fm fit``
(``model.class_path: foundation_model.backbones.MLIPFineTuneModule``).
"""

from __future__ import annotations

from functools import partial
from typing import Any, ClassVar

import ase
import lightning.pytorch as pl
import numpy as np
import torch
from lightning.pytorch.cli import LRSchedulerCallable, OptimizerCallable
from lightning.pytorch.utilities import rank_zero_info
from torch import Tensor, nn

from foundation_model.backbones.base import (
    STORED_KEY,
    MLIPBackbone,
    scatter_max,
    voigt_from_full,
)
from foundation_model.backbones.batch import MLIPBatch, MLIPSample, collate_samples
from foundation_model.backbones.checks import check_datamodule
from foundation_model.backbones.data import extract_labels, is_periodic_3d
from foundation_model.backbones.datamodule import warn_trained_structures
from foundation_model.backbones.ema import WeightEMA
from foundation_model.backbones.heads import GraphPropertyHead
from foundation_model.backbones.normalization import (
    ReferenceEnergies,
    composition_matrix,
    fit_reference_energies,
)
from foundation_model.backbones.properties import (
    EnergyProperty,
    ForcesProperty,
    GraphProperty,
    PropertyConfig,
    StressProperty,
    check_properties,
    default_properties,
)
from foundation_model.data.scalers import StandardScaler
from foundation_model.models.fine_tuning import configure_optimization, freeze


class MLIPFineTuneModule(pl.LightningModule):
    """Fine-tunes an MLIP backbone; checkpoints rebuild themselves (``load_from_checkpoint``).

    A structure without a label for some property (e.g. no stress) is masked for that
    property: it adds nothing to that loss and is left out of that metric. Labels and
    elements of every structure are checked when the data are loaded; a property without
    any label in the training split is an error.

    Parameter groups for ``component_lr``/``freeze``: ``backbone``, ``backbone.<child>``,
    ``graph_heads`` and ``graph_heads.<property>``.

    Args:
        backbone: the adapter, e.g. ``class_path: foundation_model.backbones.SevenNetBackbone``.
        properties: property schema (default: energy, conservative forces and stress).
        optimizer: optimizer factory, e.g. ``class_path: torch.optim.AdamW``.
        lr_scheduler: optional scheduler factory (ReduceLROnPlateau monitors ``val_total_loss``).
        freeze_backbone: keep the backbone fixed and train only the heads of the
            ``GraphProperty`` targets (reference energies are fitted by least squares, not
            trained): with energy/forces/stress alone nothing would be left to train.
        reset_output_heads: re-initialise the backbone's energy readout before training.
        component_lr: learning rate per parameter-name prefix, e.g. ``{backbone: 1e-4}``.
        ema_decay: keep an exponential moving average of weights (e.g. 0.99) used for
            validation, test, predict and the calculator; ``None`` disables it.
        fit_reference_energies: fit per-element energies on ``label - backbone`` residuals
            of the training split at the start of ``fit`` (aligns a pretrained energy scale).
        reference_batch_size: structures per batch when fitting reference energies.
    """

    data_links: ClassVar[dict[str, str]] = {}

    def __init__(
        self,
        backbone: MLIPBackbone,
        properties: list[PropertyConfig] | None = None,
        optimizer: OptimizerCallable = torch.optim.AdamW,
        lr_scheduler: LRSchedulerCallable | None = None,
        freeze_backbone: bool = False,
        reset_output_heads: bool = False,
        component_lr: dict[str, float] | None = None,
        ema_decay: float | None = None,
        fit_reference_energies: bool = True,
        reference_batch_size: int = 16,
    ) -> None:
        super().__init__()
        self.backbone = MLIPBackbone.from_dict(backbone)
        self.properties = [
            PropertyConfig.from_dict(p) for p in (properties or default_properties())
        ]
        check_properties(self.properties)
        # a force/stress mode the backbone lacks is said now, not at the first batch
        self.backbone.check_modes(*self.modes(forces=True, stress=True))
        self.save_hyperparameters(ignore=["backbone", "properties", "optimizer", "lr_scheduler"])
        self.hparams["backbone"] = self.backbone.to_dict()
        self.hparams["properties"] = [p.to_dict() for p in self.properties]
        self.hparams["reset_output_heads"] = False  # a reloaded checkpoint keeps its trained heads
        self.optimizer_factory = optimizer
        self.scheduler_factory = lr_scheduler
        self.reference = ReferenceEnergies()
        graph_props = [p for p in self.properties if isinstance(p, GraphProperty)]
        node_dim = int(getattr(self.backbone, "node_dim", 0))
        if graph_props and node_dim <= 0:
            raise ValueError(
                f"{type(self.backbone).__name__} exposes no atom features for graph properties."
            )
        self.graph_heads = nn.ModuleDict(
            {p.name: GraphPropertyHead(node_dim, p) for p in graph_props}
        )
        self.target_scalers = nn.ModuleDict(
            {p.name: StandardScaler(1) for p in graph_props if p.task_type == "regression"}
        )
        if reset_output_heads:
            self.backbone.reset_output_heads()
        if freeze_backbone:
            if not graph_props:
                raise ValueError(
                    "freeze_backbone: true leaves nothing to train with only energy, forces "
                    "and stress (their reference energies are fitted, not trained); add a "
                    "GraphProperty to train its head, or fine-tune the backbone (use "
                    "component_lr for a smaller backbone learning rate)."
                )
            freeze(self, ["backbone"])
        self.ema = WeightEMA(self, ema_decay) if ema_decay is not None else None
        self.split_record: dict[str, Any] | None = None  # fm_split of the fit's data
        self._ema_backup: dict[str, Tensor] | None = None

    # ------------------------------------------------------------------ schema helpers
    def prop(self, kind: type[PropertyConfig]) -> PropertyConfig | None:
        return next((p for p in self.properties if isinstance(p, kind)), None)

    def modes(self, forces: bool, stress: bool) -> tuple[str | None, str | None]:
        """Force/stress modes from the schema (conservative when not in the schema)."""
        fp, sp = self.prop(ForcesProperty), self.prop(StressProperty)
        f_mode = ("conservative" if fp is None or fp.conservative else "direct") if forces else None
        s_mode = ("conservative" if sp is None or sp.conservative else "direct") if stress else None
        return f_mode, s_mode

    # ------------------------------------------------------------------ data
    def atoms_to_sample(
        self, atoms: ase.Atoms, index: int = -1, has_labels: bool = True
    ) -> MLIPSample:
        """One structure as backbone data + the labels of the schema it has.

        Args:
            atoms: the structure.
            index: its index in the source file (-1 when unknown).
            has_labels: read labels (a missing one is left out and masked).
        """
        where = f"{index}" if index >= 0 else ""
        labels = (
            extract_labels(atoms, self.properties, where, allow_missing=True) if has_labels else {}
        )
        data = self.backbone.atoms_to_data(atoms, has_labels)
        return MLIPSample(data, atoms.numbers.copy(), labels, index, is_periodic_3d(atoms))

    def collate(self, samples: list[MLIPSample]) -> MLIPBatch:
        return collate_samples(samples, self.backbone.collate)

    def batch_from_atoms(self, structures: list[ase.Atoms], has_labels: bool = False) -> MLIPBatch:
        batch = self.collate(
            [self.atoms_to_sample(a, i, has_labels) for i, a in enumerate(structures)]
        )
        return self.transfer_batch_to_device(batch, self.device, 0)

    def transfer_batch_to_device(
        self, batch: Any, device: torch.device, dataloader_idx: int
    ) -> Any:
        if isinstance(batch, MLIPBatch):
            return batch.to(device, self.backbone)
        return super().transfer_batch_to_device(batch, device, dataloader_idx)

    # ------------------------------------------------------------------ forward
    def forward(
        self, batch: MLIPBatch, forces: bool | None = None, stress: bool | None = None
    ) -> dict[str, Tensor]:
        """Predictions in ASE units: ``energy (B,)``, ``forces (N, 3)``, ``stress (B, 3, 3)``,
        graph properties ``(B,)`` (regression, original units) or ``(B, C)`` (logits).

        ``forces``/``stress`` default to whether the schema has them.
        """
        forces = self.prop(ForcesProperty) is not None if forces is None else forces
        stress = self.prop(StressProperty) is not None if stress is None else stress
        f_mode, s_mode = self.modes(forces, stress)
        out = self.backbone(batch.graph, forces=f_mode, stress=s_mode)
        n_graphs = len(batch)
        preds: dict[str, Tensor] = {
            "energy": out["energy"] + self.reference(batch.numbers, batch.batch_index, n_graphs)
        }
        for key in ("forces", "stress"):
            if key in out:
                preds[key] = out[key]
        for name, head in self.graph_heads.items():
            value = head(out["node_features"], batch.batch_index, n_graphs)  # (B, C)
            if name in self.target_scalers:
                value = self.target_scalers[name].inverse(value.squeeze(-1))  # (B,)
            preds[name] = value
        return preds

    # ------------------------------------------------------------------ losses
    def _labelled(
        self, batch: MLIPBatch, preds: dict[str, Tensor], prop: PropertyConfig
    ) -> tuple[Tensor, Tensor, Tensor]:
        """Predictions and targets of the structures labelled for ``prop`` and their count.

        Energies are per atom when the property says so, graph regression targets are
        standardised; forces keep the rows of the labelled structures' atoms.
        """
        mask = batch.has_label(prop.name)  # (B,)
        count = mask.sum()
        pred = preds[prop.name]
        if not bool(count):
            return pred[:0], pred[:0], count
        target = batch.labels[prop.name].to(pred.dtype)
        rows = mask[batch.batch_index] if isinstance(prop, ForcesProperty) else mask
        pred, target = pred[rows], target[rows]
        if isinstance(prop, EnergyProperty) and prop.per_atom:
            n_atoms = batch.num_atoms[mask].to(pred.dtype)
            pred, target = pred / n_atoms, target / n_atoms
        elif prop.name in self.target_scalers:
            scaler = self.target_scalers[prop.name]
            pred, target = scaler.transform(pred), scaler.transform(target)
        return pred, target, count

    def compute_losses(
        self, batch: MLIPBatch, preds: dict[str, Tensor]
    ) -> dict[str, tuple[Tensor, int]]:
        """``{property: (loss, labelled structures)}``; a property without labels in the
        batch gives a zero loss that still touches its outputs (no unused parameters)."""
        losses: dict[str, tuple[Tensor, int]] = {}
        for p in self.properties:
            pred, target, count = self._labelled(batch, preds, p)
            if int(count) == 0:
                losses[p.name] = (preds[p.name].sum() * 0.0, 0)
            else:
                losses[p.name] = (p.compute_loss(pred, target), int(count))
        return losses

    def _metrics(self, batch: MLIPBatch, preds: dict[str, Tensor]) -> dict[str, tuple[Tensor, int]]:
        """``{metric: (value, labelled structures)}`` over labelled structures only."""
        m: dict[str, tuple[Tensor, int]] = {}
        for p in self.properties:
            mask = batch.has_label(p.name)
            count = int(mask.sum())
            if count == 0 or p.name not in preds:
                continue
            pred, target = preds[p.name].detach(), batch.labels[p.name].to(preds[p.name].dtype)
            if isinstance(p, EnergyProperty):
                n = batch.num_atoms[mask].to(pred.dtype)
                m["energy_mae_per_atom"] = (((pred[mask] - target[mask]) / n).abs().mean(), count)
            elif isinstance(p, ForcesProperty):
                rows = mask[batch.batch_index]
                m["forces_mae"] = ((pred[rows] - target[rows]).abs().mean(), count)
            elif isinstance(p, StressProperty):
                m["stress_mae"] = ((pred[mask] - target[mask]).abs().mean(), count)
            elif p.task_type == "regression":
                m[f"{p.name}_mae"] = ((pred[mask] - target[mask]).abs().mean(), count)
            else:
                hit = (pred[mask].argmax(-1) == target[mask].long()).float()
                m[f"{p.name}_accuracy"] = (hit.mean(), count)
        return m

    def _step(self, stage: str, batch: MLIPBatch) -> Tensor:
        preds = self(batch)
        losses = self.compute_losses(batch, preds)
        total = sum(p.loss_coefficient * losses[p.name][0] for p in self.properties)
        n = len(batch)
        # sync_dist: under DDP each epoch value is the weighted mean over every process's
        # structures (Lightning sums values x batch sizes and batch sizes across processes),
        # not rank 0's share; checkpointing monitors val_total_loss
        self.log(
            f"{stage}_total_loss",
            total,
            prog_bar=True,
            on_step=stage == "train",
            on_epoch=True,
            batch_size=n,
            sync_dist=True,
        )
        for name, (value, count) in losses.items():
            if count:
                self.log(
                    f"{stage}_{name}_loss",
                    value,
                    on_step=False,
                    on_epoch=True,
                    batch_size=count,
                    sync_dist=True,
                )
        for name, (value, count) in self._metrics(batch, preds).items():
            self.log(
                f"{stage}_{name}",
                value,
                on_step=False,
                on_epoch=True,
                batch_size=count,
                sync_dist=True,
            )
        return total

    def training_step(self, batch: MLIPBatch, batch_idx: int) -> Tensor:
        return self._step("train", batch)

    def validation_step(self, batch: MLIPBatch, batch_idx: int) -> Tensor:
        return self._step("val", batch).detach()

    def test_step(self, batch: MLIPBatch, batch_idx: int) -> Tensor:
        return self._step("test", batch).detach()

    def predict_step(
        self, batch: MLIPBatch, batch_idx: int, dataloader_idx: int = 0
    ) -> dict[str, Tensor]:
        """Per-structure outputs for ``fm predict`` (forces per atom: use MLIPCalculator).

        ``stress`` (Voigt, eV/Å³) is NaN for structures that are not 3D-periodic
        (molecules, slabs, wires): they have no stress, as in :class:`MLIPCalculator`.
        """
        periodic = batch.periodic_mask()  # (B,)
        want_stress = self.prop(StressProperty) is not None
        preds = self(batch, stress=want_stress and bool(periodic.any()))
        n = batch.num_atoms
        out = {
            "row_index": batch.index,
            "num_atoms": n,
            "energy": preds["energy"],
            "energy_per_atom": preds["energy"] / n,
        }
        if "forces" in preds:
            norms = preds["forces"].norm(dim=-1)  # (N,)
            out["max_force"] = scatter_max(norms[:, None], batch.batch_index, len(batch))[:, 0]
        if want_stress:
            out["stress"] = self._periodic_stress(preds, periodic)  # (B, 6) xx yy zz yz xz xy
        for p in self.properties:
            if isinstance(p, GraphProperty) and p.task_type == "classification":
                proba = torch.softmax(preds[p.name], -1)
                out[f"{p.name}_probabilities"] = proba
                out[f"{p.name}_label"] = proba.argmax(-1)
            elif isinstance(p, GraphProperty):
                out[p.name] = preds[p.name]
        return {k: v.detach().cpu() for k, v in out.items()}

    @staticmethod
    def _periodic_stress(preds: dict[str, Tensor], periodic: Tensor) -> Tensor:
        """``(B, 6)`` Voigt stress, NaN for the structures that are not 3D-periodic."""
        nan = torch.full((len(periodic), 6), float("nan"), device=periodic.device)
        if "stress" not in preds:
            return nan
        voigt = voigt_from_full(preds["stress"])  # (B, 6)
        return torch.where(periodic[:, None], voigt, nan.to(voigt.dtype))

    # ------------------------------------------------------------------ setup
    def setup(self, stage: str) -> None:
        trainer = self._trainer
        if trainer is None:
            return
        # conservative forces/stress need autograd during evaluation: no inference mode
        for loop in (
            trainer.fit_loop.epoch_loop.val_loop,
            trainer.validate_loop,
            trainer.test_loop,
            trainer.predict_loop,
        ):
            loop.inference_mode = False
        dm = getattr(trainer, "datamodule", None)
        if dm is None or not hasattr(dm, "set_converter"):
            return
        if hasattr(dm, "locate"):  # an MLIPDataModule: check every structure now
            for line in check_datamodule(dm, stage, self.properties, self.backbone):
                rank_zero_info(line)
        has_labels = stage != "predict"
        dm.set_converter(partial(self.atoms_to_sample, has_labels=has_labels), self.collate)
        if stage == "fit":
            self.fit_normalisation(dm.load()["train"])
            if hasattr(dm, "split_fingerprint") and self.split_record is None:
                self.split_record = dm.split_fingerprint()
            if self.split_record is not None and "train_structures" in self.split_record:
                held_out = {s: dm.split_structures(s) for s in ("val", "test")}
                warn_trained_structures(self.split_record["train_structures"], held_out)

    def fit_normalisation(self, structures: list[ase.Atoms]) -> None:
        """Fit reference energies and graph-property scalers on the training structures
        that have the label (once)."""
        for p in self.properties:
            if p.name in self.target_scalers and not bool(self.target_scalers[p.name].fitted):
                values = np.array([float(v) for v in _label_values(structures, p).values()])
                self.target_scalers[p.name].set_statistics(values.mean(), max(values.std(), 1e-8))
        energy = self.prop(EnergyProperty)
        if energy is None or not self.hparams.fit_reference_energies or bool(self.reference.fitted):
            return
        found = _label_values(structures, energy)
        labelled = [structures[i] for i in found]
        labels = np.array([float(v) for v in found.values()])
        predicted = self.backbone_energies(labelled)
        numbers = [a.numbers for a in labelled]
        values = fit_reference_energies(numbers, labels - predicted)
        self.reference.set(values, present=composition_matrix(numbers).sum(0) > 0)

    @torch.no_grad()
    def backbone_energies(self, structures: list[ase.Atoms]) -> np.ndarray:
        """Raw backbone energies (eV) of ``structures``, without reference energies."""
        was_training = self.training
        self.eval()
        out = []
        size = self.hparams.reference_batch_size
        for start in range(0, len(structures), size):
            batch = self.batch_from_atoms(structures[start : start + size])
            out.append(self.backbone(batch.graph)["energy"].double().cpu().numpy())
        self.train(was_training)
        return np.concatenate(out)

    def on_train_start(self) -> None:
        # Lightning keeps modules in the mode they had; a module evaluated before fit (e.g.
        # zero-shot) would train in eval mode, where backbones skip create_graph for forces.
        self.train()

    # ------------------------------------------------------------------ EMA
    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        if self.ema is not None:
            self.ema.update(self)

    def _ema_in(self) -> None:
        if self.ema is not None and self._ema_backup is None:
            self._ema_backup = self.ema.swap_in(self)

    def _ema_out(self) -> None:
        if self.ema is not None and self._ema_backup is not None:
            self.ema.restore(self, self._ema_backup)
            self._ema_backup = None

    def on_validation_epoch_start(self) -> None:
        self._ema_in()

    def on_validation_epoch_end(self) -> None:
        self._ema_out()

    def on_test_epoch_start(self) -> None:
        self._ema_in()

    def on_test_epoch_end(self) -> None:
        self._ema_out()

    def on_predict_epoch_start(self) -> None:
        self._ema_in()

    def on_predict_epoch_end(self) -> None:
        self._ema_out()

    def use_ema_weights(self) -> None:
        """Overwrite the weights with their moving averages (for inference)."""
        if self.ema is not None:
            self.ema.copy_to(self)

    # ------------------------------------------------------------------ optimisation, checkpoints
    def configure_optimizers(self) -> Any:
        return configure_optimization(
            self,
            self.optimizer_factory,
            self.scheduler_factory,
            self.hparams.component_lr,
            monitor="val_total_loss",
        )

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        if self.ema is not None:
            checkpoint["mlip_ema"] = self.ema.state_dict()
        if self.split_record is not None:
            checkpoint["fm_split"] = self.split_record
        stored = self.backbone.stored_state()
        hparams = checkpoint.get("hyper_parameters")
        if stored is not None and hparams is not None:
            # in the checkpoint only (not hparams.yaml): load_from_checkpoint then rebuilds
            # the backbone without the file it was first read from
            backbone = {**hparams["backbone"], STORED_KEY: stored}
            # LightningCLI's instantiator would pass the stored model through its parser,
            # which rejects it; this class's own __init__ rebuilds it (MLIPBackbone.from_dict)
            kept = {k: v for k, v in hparams.items() if k != "_instantiator"}
            checkpoint["hyper_parameters"] = {**kept, "backbone": backbone}

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        if self.ema is not None and "mlip_ema" in checkpoint:
            self.ema.load_state_dict(checkpoint["mlip_ema"])
        from foundation_model.data.split_fingerprint import check_loaded_split

        stored = checkpoint.get("fm_split")
        check_loaded_split(stored, self._trainer)  # another split would score trained rows
        if stored is not None:
            self.split_record = stored
            self._warn_evaluated_trained_structures(stored)

    def _warn_evaluated_trained_structures(self, stored: dict[str, Any]) -> None:
        """``fm test`` / ``fm validate`` on files holding this model's training structures
        (e.g. ``test_path`` = the training file: "another table" to the split check)."""
        trainer = self._trainer
        dm = getattr(trainer, "datamodule", None) if trainer is not None else None
        fn = str(getattr(trainer.state.fn, "value", trainer.state.fn)) if trainer else ""
        split = {"validate": "val", "test": "test"}.get(fn)
        if split is None or "train_structures" not in stored or not hasattr(dm, "load"):
            return
        warn_trained_structures(stored["train_structures"], {split: dm.split_structures(split)})


def _label_values(structures: list[ase.Atoms], prop: PropertyConfig) -> dict[int, np.ndarray]:
    """``{position: label}`` of the training structures that have a label for ``prop``.

    Raises:
        ValueError: none has one.
    """
    out = {}
    for i, atoms in enumerate(structures):
        labels = extract_labels(atoms, [prop], f"{i}", allow_missing=True)
        if prop.name in labels:
            out[i] = labels[prop.name]
    if not out:
        raise ValueError(
            f"No training structure has a label {prop.label_key!r} for property {prop.name!r}: "
            "label the data or drop the property from model.properties."
        )
    return out
