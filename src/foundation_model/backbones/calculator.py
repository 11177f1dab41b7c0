"""``MLIPCalculator``: one ASE calculator for every backbone and fine-tuned checkpoint."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ase
import numpy as np
import torch
from ase.calculators.calculator import Calculator, all_changes

from foundation_model.backbones.base import MLIPBackbone, check_cell, voigt_from_full
from foundation_model.backbones.data import is_periodic_3d
from foundation_model.backbones.properties import GraphProperty


class MLIPCalculator(Calculator):
    """ASE calculator over an :class:`MLIPFineTuneModule` (eV, eV/Å, eV/Å³ Voigt).

    ``results`` holds ``energy``, ``free_energy``, ``forces``, ``stress`` (periodic cells)
    and every graph property of the schema (classification: ``<name>`` = predicted class,
    ``<name>_probabilities``).

    Args:
        module: the fine-tuning module (or a bare backbone, wrapped automatically).
        device: ``cpu``, ``cuda`` or ``auto``.
    """

    implemented_properties = ["energy", "free_energy", "forces", "stress"]

    def __init__(self, module: Any, device: str = "auto", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        from foundation_model.backbones.module import MLIPFineTuneModule

        if isinstance(module, MLIPBackbone):
            module = MLIPFineTuneModule(module, fit_reference_energies=False)
        if not isinstance(module, MLIPFineTuneModule):
            raise TypeError(
                "MLIPCalculator needs an MLIPFineTuneModule or MLIPBackbone, "
                f"got {type(module).__name__}."
            )
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.module = module.to(device).eval()
        self.device = torch.device(device)
        self.implemented_properties = list(type(self).implemented_properties) + [
            p.name for p in module.properties if isinstance(p, GraphProperty)
        ]

    @classmethod
    def from_checkpoint(
        cls, path: str | Path, device: str = "auto", use_ema: bool = True
    ) -> MLIPCalculator:
        """Load a fine-tuned checkpoint (written by ``fm fit``); EMA weights when present.

        Raises:
            CheckpointError: one line naming the file when it is missing, empty, truncated
                or not a PyTorch checkpoint (e.g. a structure file given by mistake);
                a missing file raises its subclass ``CheckpointNotFoundError``, which is
                also a ``FileNotFoundError``.
        """
        from foundation_model.backbones.module import MLIPFineTuneModule
        from foundation_model.utils.checkpoint import check_checkpoint_file

        path = check_checkpoint_file(path)
        module = MLIPFineTuneModule.load_from_checkpoint(path, map_location="cpu")
        if use_ema:
            module.use_ema_weights()
        return cls(module, device=device)

    @classmethod
    def from_pretrained(
        cls, name: str | Path, device: str = "auto", **backbone_args: Any
    ) -> MLIPCalculator:
        """A pretrained backbone without fine-tuning.

        Args:
            name: ``sevennet`` (SevenNet-0), ``chgnet`` (0.3.0) or the path of a MACE model file.
            device: ``cpu``, ``cuda`` or ``auto``.
            backbone_args: extra arguments of the adapter.
        """
        return cls(pretrained_backbone(name, **backbone_args), device=device)

    def calculate(
        self,
        atoms: ase.Atoms | None = None,
        properties: list[str] | None = None,
        system_changes: list[str] = all_changes,
    ) -> None:
        super().calculate(atoms, properties, system_changes)
        atoms = self.atoms
        check_cell(atoms)
        periodic = is_periodic_3d(atoms)
        batch = self.module.batch_from_atoms([atoms])
        preds = self.module(batch, forces=True, stress=periodic)
        energy = float(preds["energy"].detach().double().item())
        self.results = {
            "energy": energy,
            "free_energy": energy,
            "forces": preds["forces"].detach().double().cpu().numpy(),
        }
        if periodic:
            self.results["stress"] = (
                voigt_from_full(preds["stress"].detach().double()).cpu().numpy()[0]
            )
        for p in self.module.properties:
            if not isinstance(p, GraphProperty):
                continue
            value = preds[p.name].detach().double().cpu()
            if p.task_type == "classification":
                proba = torch.softmax(value, -1).numpy()[0]
                self.results[f"{p.name}_probabilities"] = proba
                self.results[p.name] = int(np.argmax(proba))
            else:
                self.results[p.name] = float(value.reshape(-1)[0])


#: short names of the pretrained models :func:`pretrained_backbone` builds
SEVENNET_NAMES = ("sevennet", "sevennet-0", "7net-0")
CHGNET_NAMES = ("chgnet", "chgnet-0.3.0")


def check_pretrained_name(name: str | Path, what: str) -> None:
    """One-line error, before any work, for a model that is neither a pretrained name nor
    an existing MACE model file (``what`` names the config key)."""
    if str(name).lower() in SEVENNET_NAMES + CHGNET_NAMES or Path(name).is_file():
        return
    raise FileNotFoundError(
        f"{what} {str(name)!r} is neither a pretrained model name ('sevennet', 'chgnet') nor "
        "an existing MACE model file: fix the name or the path."
    )


def pretrained_backbone(name: str | Path, **kwargs: Any) -> MLIPBackbone:
    """Build the adapter of a pretrained model by short name or MACE model path."""
    key = str(name).lower()
    if key in SEVENNET_NAMES:
        from foundation_model.backbones.sevennet import SevenNetBackbone

        return SevenNetBackbone(**kwargs)
    if key in CHGNET_NAMES:
        from foundation_model.backbones.chgnet import CHGNetBackbone

        return CHGNetBackbone(**kwargs)
    if Path(name).is_file():
        from foundation_model.backbones.mace import MACEBackbone

        return MACEBackbone(model_path=str(name), **kwargs)
    raise ValueError(
        f"Unknown pretrained model {name!r}: "
        "use 'sevennet', 'chgnet' or the path of a MACE model file."
    )
