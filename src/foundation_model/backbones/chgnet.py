"""CHGNet adapter (``uv sync --extra chgnet``): CHGNet 0.3.0 weights ship in the package."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ase
import torch
from ase import units

from foundation_model.backbones.base import BackboneOutput, ForceMode, MLIPBackbone, missing_extra


def _import_chgnet() -> Any:
    try:
        import chgnet.model
    except ImportError as err:
        raise missing_extra("chgnet", "chgnet") from err
    return chgnet.model


class CHGNetBackbone(MLIPBackbone):
    """CHGNet (crystal graph with angles) from a pretrained version or a model file.

    Forces and stress are CHGNet's autograd of the energy (conservative only); its stress
    (GPa) is converted to eV/Å³. Atom features are CHGNet's 64-wide final atom features.
    Only 3D-periodic cells are accepted (``requires_3d_periodic``): slabs and clusters are
    reported when data load, naming the file and the structure.

    Args:
        model: pretrained version (``0.3.0``) or the path of a CHGNet model file.
    """

    requires_3d_periodic = True

    def __init__(self, model: str = "0.3.0") -> None:
        super().__init__()
        chgnet_model = _import_chgnet()

        self.model = model
        if Path(model).is_file():
            self.net = chgnet_model.CHGNet.from_file(model)
        else:
            self.net = chgnet_model.CHGNet.load(model_name=model, verbose=False)
        self.cutoff = float(self.net.graph_converter.atom_graph_cutoff)
        self.elements = set(range(1, 95))
        self.node_dim = int(self.net.atom_fea_dim)

    def check_structure(self, atoms: ase.Atoms, where: str = "") -> None:
        """The base checks, then CHGNet's own: every atom has a neighbour (periodic images
        included) within the graph cutoff, else CHGNet's graph cannot be built.

        Args:
            atoms: the structure.
            where: how messages name it, e.g. ``"17 of train.extxyz"``.
        """
        super().check_structure(atoms, where)
        from ase.neighborlist import neighbor_list

        centres = set(neighbor_list("i", atoms, self.cutoff).tolist())
        alone = [i for i in range(len(atoms)) if i not in centres]
        if alone:
            label = f"Structure {where} ({atoms.get_chemical_formula()})".replace("  ", " ")
            raise ValueError(
                f"{label} has {len(alone)} isolated atom(s) (e.g. index {alone[0]}): no "
                f"neighbour within CHGNet's {self.cutoff:g} Å graph cutoff; compress the cell "
                "or drop the structure."
            )

    def atoms_to_data(self, atoms: ase.Atoms, has_labels: bool = False) -> Any:
        from pymatgen.io.ase import AseAtomsAdaptor

        self.check_structure(atoms)  # guard for structures that bypassed the load-time check
        return self.net.graph_converter(AseAtomsAdaptor.get_structure(atoms))

    def collate(self, data_list: list[Any]) -> list[Any]:
        return list(data_list)

    def batch_to_device(self, batch: list[Any], device: torch.device) -> list[Any]:
        return [g.to(str(device)) for g in batch]

    def reset_output_heads(self) -> None:
        for layer in self.net.mlp.modules():
            if isinstance(layer, torch.nn.Linear):
                layer.reset_parameters()

    def forward(
        self, batch: list[Any], forces: ForceMode | None = None, stress: ForceMode | None = None
    ) -> BackboneOutput:
        self.check_modes(forces, stress)
        task = "e" + ("f" if forces else "") + ("s" if stress else "")
        with torch.enable_grad():
            out = self.net(batch, task=task, return_atom_feas=True)
        n_atoms = out["atoms_per_graph"]  # (B,)
        result: BackboneOutput = {
            "energy": out["e"] * n_atoms,  # (B,) eV; CHGNet predicts eV/atom
            "node_features": torch.cat(list(out["atom_fea"])),  # (N, 64)
            "batch_index": torch.repeat_interleave(
                torch.arange(len(batch), device=n_atoms.device), n_atoms
            ),
        }
        if forces:
            result["forces"] = torch.cat(out["f"])  # (N, 3)
        if stress:
            result["stress"] = torch.stack(out["s"]) * units.GPa  # (B, 3, 3) eV/Å³
        return result
