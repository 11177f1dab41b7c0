"""``FlexibleMultiTaskModel``: wiring, training/eval steps and logging of the multi-task model."""

from __future__ import annotations

from collections import defaultdict
from typing import Any, ClassVar, Literal

import lightning.pytorch as pl
import numpy as np
import torch
from lightning.pytorch.cli import LRSchedulerCallable, OptimizerCallable
from torch import Tensor, nn

from foundation_model.data.batch import Batch
from foundation_model.data.scalers import StandardScaler
from foundation_model.data.statistics import BIN_EDGE_RULES, BinEdgeRule, DataStatistics
from foundation_model.models.calibration import MIN_SIGMA_ROWS, SIGMA_FITS, distance_weight
from foundation_model.models.components.contrastive import ContrastiveAlignment
from foundation_model.models.components.cross_reconstruction import CrossReconstruction
from foundation_model.models.components.foundation_encoder import EncoderOutput, FoundationEncoder
from foundation_model.models.components.head_ensemble import HeadEnsemble
from foundation_model.models.components.latent_distance import LatentDistance
from foundation_model.models.components.masked_feature_modeling import MaskedFeatureModeling
from foundation_model.models.fine_tuning import configure_optimization, freeze, warm_start
from foundation_model.models.loss_weighting import UncertaintyWeighting
from foundation_model.models.task_head.base import TaskScalers, TaskSpec


class FlexibleMultiTaskModel(pl.LightningModule):
    """Shared encoder + deposit layer feeding one head per task, trained jointly.

    Args:
        tasks: task specs (linked from ``data.tasks`` by the CLI).
        formula_input_dim: number of formula descriptors (linked from the data).
        structure_input_dim: number of structure descriptors, 0 for none (linked).
        encoder_dims: formula encoder widths after the input; the last is the latent width.
        deposit_dim: width of ``h_task`` given to every head.
        norm: ``layer``, ``batch`` or ``none`` normalisation in the encoders.
        activation: ``torch.nn`` activation name.
        dropout: encoder dropout.
        residual: residual connections between equal-width encoder layers.
        structure_encoder_dims: structure encoder widths (default ``encoder_dims``).
        modality_dropout: probability of hiding a row's structure during training.
        formula_bins: 0 (default) or a number of bins: each raw formula descriptor is also
            encoded piecewise-linearly in that many quantile bins of the training rows
            (Gorishniy et al., NeurIPS 2022) and a linear map of the encoding, starting at
            zero, is added to the first formula layer (``encoder.formula_bins``). It lets the
            network cut one descriptor where a tree would (a minor alloying element's
            fraction). A warm start from a checkpoint without the branch fits its bins on
            this run's training rows; ``init_input_scaling: task`` refits them too.
        formula_bin_edges: where the bins' edges go, on the training rows: ``quantile``
            (default: quantiles, so a value shared by many rows, like the 0 of an element
            absent from most compounds, leaves the column few bins) or ``dominant`` (such a
            value becomes one edge and the other rows' quantiles place the rest; see
            :func:`foundation_model.data.statistics.bin_edges`). Edges already in a
            checkpoint are kept.
        uncertainty_weighting: learn ``log sigma_t`` per task; False gives ``sum w_t L_t``.
        mfm_weight: weight of masked feature modelling (0 disables it).
        mfm_mask_ratio: fraction of descriptors hidden by masked feature modelling.
        contrastive_weight: weight of formula/structure InfoNCE (0 disables it).
        contrastive_temperature: InfoNCE temperature.
        cross_recon_weight: weight of cross-modal reconstruction (0 disables it).
        ensemble_size: heads per task; with 2 or more, the members' spread gives
            ``<task>_std`` (regression, sequence) and the predictive entropy (classification),
            rescaled on validation rows so that the Gaussian intervals are calibrated.
        ensemble_subsample: fraction of labelled rows each ensemble member trains on.
        sigma_fit: how the σ map ``sqrt((a spread)^2 + b^2)`` is fitted on the validation rows:
            ``matched`` (default; Gaussian likelihood, moved to a map whose ±1σ/±2σ coverage
            of those rows is consistent with 68 %/95 % when it is not), ``likelihood``
            (Gaussian likelihood only), ``conformal`` (at least the split-conformal share
            of the rows within ±1σ and ±2σ: wider σ, ±2σ coverage of new rows ≥ 95 % on
            average) or ``quantile`` (error quantiles in bins of the spread: σ keeps
            following the spread when a few huge errors would make the likelihood fits
            flat; for validation sets of thousands of rows). Compared on Matbench in
            ``results/bench/calibration/methods.md``.
        sigma_distance_rows: 0 (default) or the number of training rows whose shared
            representation (``h_task``) the checkpoint keeps; then every row's mean distance
            to its ``sigma_distance_k`` nearest kept rows (output ``latent_distance``) joins
            the spread in each regression task's σ map: ``sqrt((a hypot(spread, w d))^2 +
            b^2)``, with ``w``, ``a`` and ``b`` fitted on the validation rows. σ then grows
            away from the training data. A single model without a noise head gets σ from the
            distance alone. Kept rows are refreshed at every validation epoch during fitting.
        sigma_distance_k: neighbours averaged by ``sigma_distance_rows``.
        optimizer: optimizer factory, e.g. ``class_path: torch.optim.AdamW``.
        lr_scheduler: optional scheduler factory (ReduceLROnPlateau monitors ``val_final_loss``).
        component_lr: learning rate per component prefix, e.g. ``{encoder: 1e-4, heads: 1e-3}``.
        freeze_components: component prefixes whose parameters are not trained.
        init_from_checkpoint: checkpoint to warm-start ``init_components`` from.
        init_components: components copied from ``init_from_checkpoint``.
        init_input_scaling: how a warm-started encoder's inputs are standardised:
            ``checkpoint`` (default) keeps the pre-training means and stds, so the copied
            weights see inputs exactly as in pre-training; ``task`` refits them on this
            run's training rows, so descriptors that vary little in the corpus but matter
            here (a minor alloying element) reach the encoder at full scale.
    """

    data_links: ClassVar[dict[str, str]] = {
        "tasks": "tasks",
        "formula_input_dim": "formula_dim",
        "structure_input_dim": "structure_dim",
    }
    #: init arguments the checkpoint stores as None: a warm start is done once, and the
    #: checkpoint then rebuilds from itself alone
    not_kept: ClassVar[tuple[str, ...]] = ("init_from_checkpoint",)
    #: attributes set several times per training step that never hold a parameter, buffer or
    #: module: Lightning's hook bookkeeping and the last step's predictions
    _PLAIN_ATTRIBUTES: ClassVar[frozenset[str]] = frozenset(
        {"_current_fx_name", "_last_preds", "_last_h_task"}
    )

    def __setattr__(self, name: str, value: Any) -> None:
        # nn.Module.__setattr__ checks parameters, buffers and submodules on every call
        # (~1.5 us); Lightning sets `_current_fx_name` about 45 times per step
        if name in self._PLAIN_ATTRIBUTES:
            object.__setattr__(self, name, value)
        else:
            super().__setattr__(name, value)

    def __init__(
        self,
        tasks: list[TaskSpec],
        formula_input_dim: int,
        structure_input_dim: int = 0,
        encoder_dims: list[int] | None = None,
        deposit_dim: int = 128,
        norm: Literal["layer", "batch", "none"] = "layer",
        activation: str = "SiLU",
        dropout: float = 0.0,
        residual: bool = False,
        structure_encoder_dims: list[int] | None = None,
        modality_dropout: float = 0.0,
        formula_bins: int = 0,
        formula_bin_edges: BinEdgeRule = "quantile",
        uncertainty_weighting: bool = True,
        mfm_weight: float = 0.0,
        mfm_mask_ratio: float = 0.15,
        contrastive_weight: float = 0.0,
        contrastive_temperature: float = 0.1,
        cross_recon_weight: float = 0.0,
        ensemble_size: int = 1,
        ensemble_subsample: float = 0.8,
        sigma_fit: Literal["matched", "likelihood", "conformal", "quantile"] = "matched",
        sigma_distance_rows: int = 0,
        sigma_distance_k: int = 5,
        optimizer: OptimizerCallable = torch.optim.AdamW,
        lr_scheduler: LRSchedulerCallable | None = None,
        component_lr: dict[str, float] | None = None,
        freeze_components: list[str] | None = None,
        init_from_checkpoint: str | None = None,
        init_components: list[str] | None = None,
        init_input_scaling: Literal["checkpoint", "task"] = "checkpoint",
    ) -> None:
        super().__init__()
        if init_input_scaling not in ("checkpoint", "task"):
            raise ValueError(
                f"init_input_scaling must be 'checkpoint' or 'task', got {init_input_scaling!r}."
            )
        if formula_bin_edges not in BIN_EDGE_RULES:
            raise ValueError(
                f"formula_bin_edges must be one of {list(BIN_EDGE_RULES)}, "
                f"got {formula_bin_edges!r}."
            )
        self.task_specs = [TaskSpec.from_dict(t) for t in tasks]
        if not self.task_specs:
            raise ValueError("model.tasks is empty: name at least one task.")
        encoder_dims = list(encoder_dims or [256, 128])
        self.save_hyperparameters(ignore=["tasks", "optimizer", "lr_scheduler"])
        self.hparams["tasks"] = [t.to_dict() for t in self.task_specs]
        for name in self.not_kept:  # a checkpoint rebuilds from itself alone
            self.hparams[name] = None
        self.optimizer_factory = optimizer
        self.scheduler_factory = lr_scheduler

        self.encoder = FoundationEncoder(
            formula_input_dim,
            encoder_dims,
            deposit_dim,
            structure_input_dim,
            structure_encoder_dims,
            norm,
            activation,
            dropout,
            residual,
            modality_dropout,
            formula_bins,
        )
        if ensemble_size < 1:
            raise ValueError(f"ensemble_size must be >= 1, got {ensemble_size}.")
        if sigma_fit not in SIGMA_FITS:
            raise ValueError(f"sigma_fit must be one of {list(SIGMA_FITS)}, got {sigma_fit!r}.")
        self.heads = nn.ModuleDict(
            {
                t.name: HeadEnsemble(
                    [t.build_head(deposit_dim) for _ in range(ensemble_size)],
                    ensemble_subsample if ensemble_size > 1 else 1.0,
                    seed=i,
                )
                for i, t in enumerate(self.task_specs)
            }
        )
        self.formula_scaler = StandardScaler(formula_input_dim)
        self.structure_scaler = StandardScaler(max(structure_input_dim, 1))
        self.target_scalers = nn.ModuleDict(
            {
                t.name: StandardScaler(1, t.target_log10())
                for t in self.task_specs
                if t.has_target_scaler
            }
        )
        self.seq_x_scalers = nn.ModuleDict(
            {t.name: StandardScaler(1) for t in self.task_specs if t.is_sequence}
        )
        # recalibration factor of each task's ensemble spread (fitted on validation rows)
        self.register_buffer("sigma_scales", torch.ones(len(self.task_specs)))
        self.register_buffer("sigma_floors", torch.zeros(len(self.task_specs)))
        if sigma_distance_rows < 0:
            raise ValueError(f"sigma_distance_rows must be >= 0, got {sigma_distance_rows}.")
        # off by default: no extra state, so checkpoints made without it load unchanged
        self.latent_distance: LatentDistance | None = None
        if sigma_distance_rows > 0:
            self.latent_distance = LatentDistance(
                sigma_distance_rows, deposit_dim, sigma_distance_k
            )
            self.register_buffer("sigma_distance_weights", torch.zeros(len(self.task_specs)))
        # per task with a σ source, the most validation rows its σ map could be fitted on
        self._sigma_rows: dict[str, int] = {}
        self.input_schema: dict[str, Any] | None = None
        # digests of the rows the fit trained / validated / tested on (``fm_split``)
        self.split_record: dict[str, Any] | None = None
        self.loss_weighting = UncertaintyWeighting(
            [t.name for t in self.task_specs],
            {t.name: t.loss_weight for t in self.task_specs},
            enabled=uncertainty_weighting,
        )
        self.ssl = self._build_ssl(formula_input_dim, structure_input_dim)
        # descriptor columns the copied encoder was trained on: the data is aligned to them
        self._warm_schema: tuple[dict[str, Any] | None, str] = (None, "")
        if init_from_checkpoint:
            copied = warm_start(self, init_from_checkpoint, list(init_components or ["encoder"]))
            self._warm_schema = (copied["input_schema"], f"checkpoint {init_from_checkpoint}")
            if init_input_scaling == "task":  # setup() refits them on the training rows
                self.formula_scaler.fitted.fill_(False)
                self.structure_scaler.fitted.fill_(False)
                if self.encoder.formula_bins is not None:
                    self.encoder.formula_bins.fitted.fill_(False)
        if freeze_components:
            freeze(self, list(freeze_components))
        self._last_h_task: Tensor | None = None
        # runtime switch, never saved: True skips the σ map's per-epoch refit (and the latent
        # bank's refresh) during fit, for :meth:`refit_sigma` to do once on the kept weights
        self.defer_sigma_fit = False
        self._sigma_refit_pending = False
        self.eval_outputs: dict[str, dict[str, dict[str, np.ndarray]]] = {}
        self._collected: dict[str, dict[str, list[np.ndarray]]] = defaultdict(dict)
        self._loss_sums: dict[str, dict[str, Tensor]] = {}
        self._loss_counts: dict[str, int] = {}

    def _build_ssl(self, f_dim: int, s_dim: int) -> nn.ModuleDict:
        hp = self.hparams
        latent = self.encoder.latent_dim
        ssl = nn.ModuleDict()
        if hp.mfm_weight > 0:
            ssl["mfm"] = MaskedFeatureModeling(latent, f_dim, hp.mfm_mask_ratio)
        if (hp.contrastive_weight > 0 or hp.cross_recon_weight > 0) and s_dim <= 0:
            raise ValueError(
                "contrastive_weight/cross_recon_weight need structure descriptors: "
                "set data.init_args.structure_desc_source or set those weights to 0."
            )
        if hp.contrastive_weight > 0:
            ssl["contrastive"] = ContrastiveAlignment(
                latent, temperature=hp.contrastive_temperature
            )
        if hp.cross_recon_weight > 0:
            ssl["cross_recon"] = CrossReconstruction(latent, f_dim, s_dim)
        return ssl

    # ------------------------------------------------------------------ statistics
    def set_statistics(self, stats: DataStatistics, overwrite: bool = False) -> None:
        """Load train-split statistics into the scalers (fitted ones kept unless ``overwrite``)."""
        if overwrite or not bool(self.formula_scaler.fitted):
            self.formula_scaler.set_statistics(stats.formula_mean, stats.formula_std)
        bins = self.encoder.formula_bins
        if bins is not None and (overwrite or not bool(bins.fitted)):
            if stats.formula_quantiles is None:
                raise ValueError(
                    f"this model has formula_bins={bins.n_bins} but the statistics carry no "
                    f"bin quantiles; compute them with dm.statistics(formula_bins={bins.n_bins})."
                )
            bins.set_edges(stats.formula_quantiles)
        if stats.structure_mean is not None and (
            overwrite or not bool(self.structure_scaler.fitted)
        ):
            self.structure_scaler.set_statistics(stats.structure_mean, stats.structure_std)
        for name, scaler in self.target_scalers.items():
            if name in stats.targets and (overwrite or not bool(scaler.fitted)):
                scaler.set_statistics(*stats.targets[name])
        for name, scaler in self.seq_x_scalers.items():
            if name in stats.seq_x and (overwrite or not bool(scaler.fitted)):
                scaler.set_statistics(*stats.seq_x[name])
        self._load_head_statistics()

    def _load_head_statistics(self) -> None:
        """Let each task put target-scaler-dependent constants into its heads."""
        for spec in self.task_specs:
            if spec.name not in self.target_scalers:
                continue
            scaler = self.target_scalers[spec.name]
            if bool(scaler.fitted):
                spec.load_head_statistics(self.heads[spec.name].members, scaler)

    def _datamodule(self) -> Any:
        return getattr(self.trainer, "datamodule", None) if self._trainer is not None else None

    def _align_data(self, schema: dict[str, Any] | None, source: str) -> None:
        """Reorder the attached data module's descriptor columns to ``schema``'s, by name
        (a model reads them by position); different names are a one-line error."""
        dm = self._datamodule()
        if schema and dm is not None and hasattr(dm, "align_descriptors"):
            dm.align_descriptors(schema, source)

    def setup(self, stage: str) -> None:
        dm = self._datamodule()
        # a model from a checkpoint (input_schema set) or warm-started from one reads the
        # descriptors in that checkpoint's order; checkpoints given to trainer.fit/test/
        # predict(ckpt_path=...) are aligned in on_load_checkpoint
        if self.input_schema is not None:
            self._align_data(self.input_schema, "the model's checkpoint")
        elif self._warm_schema[0] is not None:
            self._align_data(*self._warm_schema)
        if stage == "fit" and dm is not None and hasattr(dm, "splits"):
            self._check_validation_rows(dm)
        if stage == "test" and dm is not None and hasattr(dm, "splits") and not len(dm.splits.test):
            raise ValueError(
                "the split has no test rows, so there is nothing to test; set the splitter's "
                "test_fraction > 0 (the training run's split), or use fm predict."
            )
        if stage == "fit" and dm is not None and hasattr(dm, "statistics"):
            bins = self.encoder.formula_bins
            n_bins = bins.n_bins if bins else 0
            rule = self.hparams.get("formula_bin_edges", "quantile")  # older checkpoints: none
            self.set_statistics(dm.statistics(formula_bins=n_bins, bin_edges=rule))
            if hasattr(dm, "input_schema"):
                self.input_schema = dm.input_schema()
            if hasattr(dm, "split_fingerprint"):
                self.split_record = dm.split_fingerprint()

    def _check_split(self, stored: dict[str, Any] | None) -> None:
        """A checkpoint loaded to resume, validate or test on the table it was trained on
        must see that run's split (see :mod:`foundation_model.data.split_fingerprint`)."""
        from foundation_model.data.split_fingerprint import check_loaded_split

        check_loaded_split(stored, self._trainer)
        if stored is not None:
            self.split_record = stored

    def _check_validation_rows(self, dm: Any) -> None:
        """A callback that monitors a validation metric needs validation rows: without them
        Lightning fails after the first epoch with a traceback."""
        if len(dm.splits.val) > 0 or self._trainer is None:
            return
        watched = sorted(
            {
                str(cb.monitor)
                for cb in self.trainer.callbacks
                if str(getattr(cb, "monitor", None) or "").startswith("val_")
            }
        )
        if watched:
            raise ValueError(
                f"the split has no validation rows, but {', '.join(watched)} (monitored by a "
                "checkpoint or early-stopping callback) is computed on them; set "
                "splitter val_fraction > 0 or remove those callbacks' monitor."
            )

    def transfer_batch_to_device(
        self, batch: Any, device: torch.device, dataloader_idx: int
    ) -> Any:
        """Move a :class:`Batch` directly (Lightning's generic tree walk costs ~0.6 ms/step)."""
        if isinstance(batch, Batch):
            return batch.to(device, non_blocking=True)
        return super().transfer_batch_to_device(batch, device, dataloader_idx)

    # ------------------------------------------------------------------ forward
    def encode(self, batch: Batch) -> EncoderOutput:
        """Run the shared encoder on standardised descriptors."""
        xs = None
        if batch.x_structure is not None and self.encoder.structure is not None:
            xs = self.structure_scaler.transform(batch.x_structure)
        return self.encoder(
            self.formula_scaler.transform(batch.x_formula),
            xs,
            batch.has_structure,
            batch.x_formula if self.encoder.formula_bins is not None else None,
        )

    def _heads(self, batch: Batch, h_task: Tensor) -> dict[str, Tensor]:
        """Member predictions per task: ``(K, B)``, ``(K, B, C)`` or ``(K, B, L)``."""
        out: dict[str, Tensor] = {}
        for name, head in self.heads.items():
            if name in self.seq_x_scalers:
                sx = self.seq_x_scalers[name].transform(batch.seq_x[name])  # (B, L, 1)
                out[name] = head(h_task, sx, batch.seq_mask[name])  # (K, B, L)
            else:
                out[name] = head(h_task)  # (K, B) or (K, B, C)
        return out

    def member_predictions(self, batch: Batch) -> dict[str, Tensor]:
        """Model-space predictions of every ensemble member, keyed by task name."""
        return self._heads(batch, self.encode(batch).h_task)

    def forward(self, batch: Batch) -> dict[str, Tensor]:
        """Model-space ensemble predictions keyed by task name (scaled values, or logits)."""
        stacked = self.member_predictions(batch)
        return {spec.name: spec.combine(stacked[spec.name]) for spec in self.task_specs}

    # ------------------------------------------------------------------ losses
    def _ssl_losses(self, batch: Batch, enc: EncoderOutput) -> dict[str, Tensor]:
        out: dict[str, Tensor] = {}
        if "mfm" in self.ssl:
            x = self.formula_scaler.transform(batch.x_formula)
            out["mfm"] = self.ssl["mfm"](x, lambda z: self.encoder.formula(z))
        if enc.h_structure is not None and batch.x_structure is not None:
            if "contrastive" in self.ssl:
                out["contrastive"] = self.ssl["contrastive"](
                    enc.h_formula, enc.h_structure, batch.has_structure
                )
            if "cross_recon" in self.ssl:
                out["cross_recon"] = self.ssl["cross_recon"](
                    enc.h_formula,
                    enc.h_structure,
                    self.formula_scaler.transform(batch.x_formula),
                    self.structure_scaler.transform(batch.x_structure),
                    batch.has_structure,
                )
        return out

    def compute_losses(self, batch: Batch) -> tuple[Tensor, dict[str, Tensor], dict[str, Tensor]]:
        """Return ``(total, raw_task_losses, ssl_losses)`` and keep predictions for metrics;
        the last also holds the heads' auxiliary losses (``<task>_aux``)."""
        enc = self.encode(batch)
        preds = self._heads(batch, enc.h_task)
        raw: dict[str, Tensor] = {}
        present: dict[str, Tensor] = {}
        aux: dict[str, Tensor] = {}
        for name, pred in preds.items():
            target, mask = batch.targets[name], batch.masks[name]
            if name in self.target_scalers:
                target = self.target_scalers[name].transform(target)
            raw[name] = self.heads[name].loss(pred, target, mask, batch.index)
            present[name] = mask.any()
            extra = self.heads[name].aux_loss(pred, target, mask, batch.index)
            if extra is not None:  # noise likelihood, point-mass BCE: outside the weighting
                aux[f"{name}_aux"] = extra
        total, _ = self.loss_weighting(raw, present)
        ssl = self._ssl_losses(batch, enc)
        weights = {
            "mfm": self.hparams.mfm_weight,
            "contrastive": self.hparams.contrastive_weight,
            "cross_recon": self.hparams.cross_recon_weight,
        }
        for key, value in ssl.items():
            total = total + weights[key] * value
        for value in aux.values():
            total = total + value
        ssl = {**ssl, **aux}  # logged as <stage>_<task>_aux_loss
        self._last_preds = preds
        self._last_h_task = enc.h_task
        return total, raw, ssl

    def _accumulate(self, stage: str, total: Tensor, raw: dict, ssl: dict, n: int) -> None:
        """Add batch losses to detached running sums; logged once per epoch (cheap steps)."""
        sums = self._loss_sums.setdefault(stage, {})
        for name, value in {"final": total, **raw, **ssl}.items():
            v = value.detach() * n
            sums[name] = sums[name] + v if name in sums else v
        self._loss_counts[stage] = self._loss_counts.get(stage, 0) + n

    def _log_epoch_losses(self, stage: str) -> None:
        sums = self._loss_sums.pop(stage, None)
        count = self._loss_counts.pop(stage, 0)
        if not sums or count == 0:
            return
        distributed = self._world_size() > 1
        for name, total in sums.items():
            key = f"{stage}_final_loss" if name == "final" else f"{stage}_{name}_loss"
            self.log(key, total / count, prog_bar=name == "final", sync_dist=distributed)
        if stage == "train":
            sigmas = self.loss_weighting.log_sigma.detach().exp()
            for name, sigma in zip(self.loss_weighting.task_names, sigmas, strict=True):
                self.log(f"sigma_{name}", sigma, sync_dist=distributed)  # equal on all ranks

    def training_step(self, batch: Batch, batch_idx: int) -> Tensor:
        total, raw, ssl = self.compute_losses(batch)
        if self._trainer is None or batch_idx % max(self.trainer.log_every_n_steps, 1) == 0:
            # each self.log call costs ~0.5 ms on CPU; the logger only writes at this rate anyway
            self.log("train_loss", total, prog_bar=True, on_step=True, on_epoch=False)
        self._accumulate("train", total, raw, ssl, len(batch))
        return total

    def on_train_epoch_end(self) -> None:
        self._log_epoch_losses("train")

    def _eval_step(self, stage: str, batch: Batch) -> Tensor:
        total, raw, ssl = self.compute_losses(batch)
        self._accumulate(stage, total, raw, ssl, len(batch))
        self._collect(stage, batch, self._last_preds, self._last_h_task)
        return total

    def validation_step(self, batch: Batch, batch_idx: int) -> Tensor:
        return self._eval_step("val", batch)

    def test_step(self, batch: Batch, batch_idx: int) -> Tensor:
        return self._eval_step("test", batch)

    # ------------------------------------------------------------------ outputs
    def task_scalers(self, spec: TaskSpec, distance: Tensor | None = None) -> TaskScalers:
        """The scalers and recalibration factors ``spec`` needs for its outputs;
        ``distance`` is the batch's ``latent_distance`` (``sigma_distance_rows`` > 0)."""
        i = [t.name for t in self.task_specs].index(spec.name)
        return TaskScalers(
            target=dict(self.target_scalers.items()).get(spec.name),
            seq_x=dict(self.seq_x_scalers.items()).get(spec.name),
            sigma_scale=self.sigma_scales[i],
            sigma_floor=self.sigma_floors[i],
            distance=distance,
            distance_weight=self.sigma_distance_weights[i] if distance is not None else 0.0,
        )

    def to_outputs(
        self, batch: Batch, stacked: dict[str, Tensor], h_task: Tensor | None = None
    ) -> dict[str, Tensor]:
        """Predictions in original units from member predictions, e.g. ``<task>_value``,
        ``<task>_std``, ``<task>_probabilities``, ``<task>_label``, ``<task>_entropy``,
        ``<task>_sequence`` (NaN at padding); plus ``row_index``, ``structure_used`` and,
        with ``sigma_distance_rows``, ``latent_distance`` (``h_task``, the batch's shared
        representation, is recomputed when not given).

        ``stacked`` holds each task's member predictions ``(members, batch, ...)``, as
        :meth:`member_predictions` returns them (not :meth:`forward`'s combined ones)."""
        rows = int(batch.index.shape[0])
        for spec in self.task_specs:
            shape = tuple(stacked[spec.name].shape)
            members = len(self.heads[spec.name].members)
            if len(shape) < 2 or shape[0] != members or shape[1] != rows:
                raise ValueError(
                    f"to_outputs: task {spec.name!r} predictions have shape {shape}; expected "
                    f"({members} members, {rows} rows, ...) from model.member_predictions(batch)."
                )
        out: dict[str, Tensor] = {"row_index": batch.index}
        if self.encoder.structure is not None:
            out["structure_used"] = batch.has_structure
        distance = None
        bank = self.latent_distance
        if bank is not None and bank.ready and not self._sigma_fit_deferred():
            if h_task is None:
                h_task = self.encode(batch).h_task
            distance = bank(h_task.detach())
            out["latent_distance"] = distance
        for spec in self.task_specs:
            out |= spec.outputs(stacked[spec.name], batch, self.task_scalers(spec, distance))
        return out

    def predict_step(
        self, batch: Batch, batch_idx: int, dataloader_idx: int = 0
    ) -> dict[str, Tensor]:
        h_task = self.encode(batch).h_task
        return self.to_outputs(batch, self._heads(batch, h_task), h_task)

    def _collect(
        self, stage: str, batch: Batch, stacked: dict[str, Tensor], h_task: Tensor | None
    ) -> None:
        outputs = self.to_outputs(batch, stacked, h_task)
        store = self._collected[stage]
        for spec in self.task_specs:
            for key, value in spec.eval_items(outputs, batch).items():
                store.setdefault(f"{spec.name}/{key}", []).append(
                    value.detach().float().cpu().numpy()
                )

    @staticmethod
    def _concat(parts: list[np.ndarray], key: str) -> np.ndarray:
        """Concatenate batches; ``(B, L)`` parts of different widths are padded."""
        if parts[0].ndim == 2 and len({p.shape[1] for p in parts}) > 1:
            width = max(p.shape[1] for p in parts)
            fill = 0 if key == "mask" else np.nan
            parts = [
                np.pad(p, ((0, 0), (0, width - p.shape[1])), constant_values=fill) for p in parts
            ]
        return np.concatenate(parts)

    def _target_scale(self, spec: TaskSpec) -> float:
        if spec.name not in self.target_scalers:
            return 1.0
        return float(self.target_scalers[spec.name].std.item())

    def _world_size(self) -> int:
        return int(self.trainer.world_size) if self._trainer is not None else 1

    def _gathered(self, store: dict[str, list[np.ndarray]]) -> dict[str, list[np.ndarray]]:
        """Every process's collected arrays (DDP), so split metrics cover the whole split."""
        if self._world_size() < 2:
            return store
        import torch.distributed as dist

        parts: list[dict[str, list[np.ndarray]] | None] = [None] * self._world_size()
        dist.all_gather_object(parts, dict(store))
        merged: dict[str, list[np.ndarray]] = {}
        for part in parts:
            for key, value in (part or {}).items():
                merged.setdefault(key, []).extend(value)
        return merged

    def _finish_stage(self, stage: str) -> None:
        store = self._gathered(self._collected.pop(stage, {}))
        if not store:
            return
        results: dict[str, dict[str, np.ndarray]] = {}
        errors: list[float] = []
        # every process computes the same values from the gathered arrays; syncing them
        # (a mean of equal numbers) keeps Lightning's per-metric DDP advice quiet
        sync = self._world_size() > 1
        for spec in self.task_specs:
            prefix = spec.name + "/"
            arrays = {
                k[len(prefix) :]: self._concat(v, k[len(prefix) :])
                for k, v in store.items()
                if k.startswith(prefix)
            }
            arrays["mask"] = arrays["mask"].astype(bool)
            results[spec.name] = arrays
            if not arrays["mask"].any():
                continue
            for key, value in spec.metrics(arrays).items():
                if np.isfinite(value):
                    self.log(f"{stage}_{spec.name}_{key}", value, sync_dist=sync)
            errors.append(spec.task_error(arrays, self._target_scale(spec)))
        finite = [e for e in errors if np.isfinite(e)]
        if finite:
            # model selection: unitless task errors, free of the learned log-sigma terms
            error = float(np.mean(finite))
            self.log(f"{stage}_task_error", error, prog_bar=stage == "val", sync_dist=sync)
        self.eval_outputs[stage] = results
        if stage == "val" and self._fitting() and not self.defer_sigma_fit:
            self._recalibrate(results)

    def _fitting(self) -> bool:
        if self._trainer is None:
            return False
        return self.trainer.state.fn == "fit" and not self.trainer.sanity_checking

    def _sigma_fit_deferred(self) -> bool:
        """A fit with :attr:`defer_sigma_fit`: its validation passes neither refresh the
        latent bank nor use it (the bank holds an earlier network's rows)."""
        return self.defer_sigma_fit and self._fitting()

    def refit_sigma(self, trainer: Any, datamodule: Any, ckpt_path: str | None = None) -> list[str]:
        """Fit the σ map for the current weights (or ``ckpt_path``'s, loaded first).

        What a fit does at the end of every validation epoch, done once: the latent bank is
        refilled from the data module's training rows, one validation pass runs, and each
        task's σ map is refitted on its validation rows. With :attr:`defer_sigma_fit` set
        during ``trainer.fit`` (a benchmark that trains many small networks), this gives the
        kept weights exactly the σ map the fit would have given them, without the bank
        refresh per epoch (on a few thousand rows, a fifth of the training time). Returns
        the tasks whose map was refitted (see :meth:`_recalibrate`).

        Args:
            trainer: the ``Trainer`` that runs the validation pass.
            datamodule: the data module of the fit (its training rows fill the bank).
            ckpt_path: passed to ``trainer.validate`` (``"best"``: the checkpoint callback's).
        """
        self._sigma_refit_pending = True
        try:
            trainer.validate(self, datamodule, ckpt_path=ckpt_path, verbose=False)
        finally:
            self._sigma_refit_pending = False
        return self._recalibrate(self.eval_outputs.get("val", {}))

    def _recalibrate(self, results: dict[str, dict[str, np.ndarray]]) -> list[str]:
        """Refit each task's σ map on the validation rows: its scale and floor, and with
        ``sigma_distance_rows`` the weight of the latent distance
        (:func:`~foundation_model.models.calibration.distance_weight`). Returns the names
        of the tasks whose map was refitted (``MIN_SIGMA_ROWS`` or more rows with a finite σ
        signal)."""
        fit = SIGMA_FITS[self.hparams.get("sigma_fit", "matched")]
        fitted: list[str] = []
        for i, spec in enumerate(self.task_specs):
            arrays = results.get(spec.name, {})
            if "spread" not in arrays:
                continue
            spread, distance = arrays["spread"], arrays.get("distance")
            use_distance = distance is not None and bool(np.isfinite(distance).any())
            if use_distance:  # a single member without a noise head: the distance alone
                spread = np.nan_to_num(spread, nan=0.0)
            m = arrays["mask"] & np.isfinite(spread) & np.isfinite(arrays["pred"])
            if use_distance:
                m &= np.isfinite(distance)
            if use_distance or np.isfinite(spread).any():
                self._sigma_rows[spec.name] = max(int(m.sum()), self._sigma_rows.get(spec.name, 0))
            if m.sum() < MIN_SIGMA_ROWS:
                continue
            y, pred, first = arrays["target"][m], arrays["pred"][m], spread[m]
            if use_distance:
                w = distance_weight(y, pred, first, distance[m])
                first = np.hypot(first, w * distance[m])
                self.sigma_distance_weights[i] = w
            scale, floor = fit(y, pred, first)
            self.sigma_scales[i] = scale
            self.sigma_floors[i] = floor
            fitted.append(spec.name)
        return fitted

    def _refresh_latent_bank(self) -> None:
        """Put the current representation of the kept training rows into the bank."""
        assert self.latent_distance is not None
        dm = getattr(self.trainer, "datamodule", None)
        if dm is None or not hasattr(dm, "tensors") or not hasattr(dm, "splits"):
            raise ValueError(
                "sigma_distance_rows needs the training rows of a CompoundDataModule "
                "(data.class_path: foundation_model.data.CompoundDataModule); set it to 0 "
                "to train without the latent distance."
            )
        rows = LatentDistance.choose_rows(dm.splits.train, self.latent_distance.bank.shape[0])
        self.latent_distance.fill(self.encode_rows(dm.tensors, rows))

    def encode_rows(self, tensors: Any, rows: np.ndarray, chunk: int = 2048) -> Tensor:
        """``h_task`` ``(len(rows), deposit_dim)`` of ``rows`` of a data module's
        ``tensors``, in eval mode and without gradients (the training mode is restored).
        Rows are sliced directly: a ``DataLoader`` would draw from the global RNG and so
        change the training that follows."""
        from foundation_model.data.dataset import CompoundDataset

        view = CompoundDataset(tensors, rows)
        was_training = self.training
        self.eval()
        with torch.no_grad():
            parts = [
                self.encode(
                    view.__getitems__(range(i, min(i + chunk, len(view)))).to(self.device)
                ).h_task
                for i in range(0, len(view), chunk)
            ]
        self.train(was_training)
        if not parts:
            return torch.zeros(0, self.hparams.deposit_dim, device=self.device)
        return torch.cat(parts)

    def on_validation_epoch_start(self) -> None:
        if self.latent_distance is None:
            return
        if self._sigma_refit_pending or (self._fitting() and not self.defer_sigma_fit):
            self._refresh_latent_bank()

    def on_validation_epoch_end(self) -> None:
        self._log_epoch_losses("val")
        self._finish_stage("val")

    def on_fit_end(self) -> None:
        from lightning.pytorch.utilities import rank_zero_warn

        for name, rows in self._sigma_rows.items():
            if rows < MIN_SIGMA_ROWS:
                rank_zero_warn(
                    f"task {name!r}: no σ was fitted: its validation rows hold {rows} "
                    f"target(s), fewer than the {MIN_SIGMA_ROWS} the σ map needs, so "
                    f"{name}_std will be empty (NaN). To get one, train again with a larger "
                    "splitter val_fraction (fm calibrate fits on the same validation rows)."
                )

    def on_test_epoch_end(self) -> None:
        self._log_epoch_losses("test")
        self._finish_stage("test")

    # ------------------------------------------------------------------ optimisation
    def configure_optimizers(self) -> Any:
        return configure_optimization(
            self,
            self.optimizer_factory,
            self.scheduler_factory,
            self.hparams.component_lr,
            monitor="val_final_loss",
        )

    # ------------------------------------------------------------------ checkpoints
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["fm_tasks"] = [t.to_dict() for t in self.task_specs]
        if self.input_schema is not None:
            checkpoint["fm_input_schema"] = self.input_schema
        if self.split_record is not None:
            checkpoint["fm_split"] = self.split_record

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        saved = [TaskSpec.from_dict(t) for t in checkpoint.get("fm_tasks", [])]
        if saved:
            check_same_tasks(saved, self.task_specs)
            by_name = {t.name: t for t in saved}
            for spec in self.task_specs:
                spec.adopt_fitted(by_name[spec.name])
        if checkpoint.get("fm_input_schema") is not None:
            self.input_schema = checkpoint["fm_input_schema"]
            self._align_data(self.input_schema, "the checkpoint")
        self._check_split(checkpoint.get("fm_split"))
        key = "encoder.formula.layers.0.linear.weight"
        got = checkpoint.get("state_dict", {}).get(key)
        if got is not None and got.shape != self.state_dict()[key].shape:
            raise ValueError(
                f"Checkpoint expects {got.shape[1]} formula descriptors, the data has "
                f"{self.state_dict()[key].shape[1]}: featurize new data with the same preset."
            )


def _signature(spec: TaskSpec) -> tuple:
    cols = tuple(spec.target_columns())
    n_cls = getattr(spec, "num_classes", None)
    return (spec.name, spec.task_type, type(spec).__name__, cols, n_cls)


def check_same_tasks(saved: list[TaskSpec], current: list[TaskSpec]) -> None:
    """Raise a one-line error when a checkpoint's tasks differ from the configured ones."""
    a = {_signature(s) for s in saved}
    b = {_signature(s) for s in current}
    if a != b:
        raise ValueError(
            f"Checkpoint tasks {sorted(s.name for s in saved)} differ from the configured tasks "
            f"{sorted(s.name for s in current)} (or their types/columns/classes); use the "
            "checkpoint's task list, or fine-tune with model.init_args.init_from_checkpoint."
        )
