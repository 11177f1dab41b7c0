"""MACE adapter (``uv sync --extra mace``, in its own environment: mace-torch pins e3nn
0.4.4, which conflicts with sevenn). MACE weights are not bundled: pass the path of a
MACE model file (e.g. a downloaded MACE-MP-0 ``.model``), or build a small random model
with :func:`build_small_mace` for tests and demos.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import ase
import numpy as np
import torch
from ase.data import chemical_symbols

from foundation_model.backbones.base import BackboneOutput, ForceMode, MLIPBackbone, missing_extra


def _import_mace() -> Any:
    try:
        import mace.data
        import mace.modules
        import mace.tools
    except ImportError as err:
        raise missing_extra("mace-torch", "mace", ".venv-mace") from err
    return mace


def _load_model(path: str) -> torch.nn.Module:
    file = Path(path)
    if file.is_dir():
        raise ValueError(f"MACE model_path {file} is a folder: give the model file in it.")
    if not file.is_file():
        raise FileNotFoundError(
            f"MACE model file not found: {file}. MACE weights are not bundled: download a model "
            "(e.g. MACE-MP-0) yourself and give its path, or build one with build_small_mace()."
        )
    try:
        model = torch.load(file, map_location="cpu", weights_only=False)
    except Exception as err:  # torch raises many types for a file that is not a checkpoint
        raise ValueError(
            f"{file} could not be read as a MACE model ({type(err).__name__}: "
            f"{' '.join(str(err).split())[:120]}): give a MACE .model file."
        ) from None
    if not isinstance(model, torch.nn.Module) or not hasattr(model, "r_max"):
        raise ValueError(f"{file} does not hold a MACE model (a pickled torch module with r_max).")
    return model


def _scalar_channels(net: torch.nn.Module) -> list[int]:
    """Indices of the invariant (0e) channels in MACE's concatenated ``node_feats``."""
    idx: list[int] = []
    offset = 0
    for product in net.products:
        for mul, ir in product.linear.irreps_out:
            width = mul * ir.dim
            if ir.l == 0 and ir.p == 1:
                idx.extend(range(offset, offset + width))
            offset += width
    return idx


class MACEBackbone(MLIPBackbone):
    """MACE from a model file.

    Forces and stress are MACE's own autograd of the energy (conservative only). Atom
    features are the invariant channels of every interaction layer. A fine-tuning
    checkpoint stores the serialized model, so it loads without the original file.

    Args:
        model_path: path of a MACE model file (a pickled ``torch.nn.Module``).
        head: head name of a multi-head model (default: its first head).
    """

    def __init__(self, model_path: str, head: str | None = None) -> None:
        super().__init__()
        _import_mace()
        self.model_path = str(model_path)
        self._attach(_load_model(self.model_path), head)

    @classmethod
    def from_stored(cls, init_args: dict[str, Any], stored: dict[str, Any]) -> MACEBackbone:
        """Rebuild from a checkpoint's serialized model (``model_path`` need not exist)."""
        _import_mace()
        net = torch.load(io.BytesIO(stored["model"]), map_location="cpu", weights_only=False)
        backbone = cls.__new__(cls)
        MLIPBackbone.__init__(backbone)
        backbone.model_path = str(init_args["model_path"])
        backbone._attach(net, init_args.get("head"))
        return backbone

    def stored_state(self) -> dict[str, Any]:
        """The serialized model (architecture and weights) for checkpoints."""
        buffer = io.BytesIO()
        torch.save(self.net, buffer)
        return {"model": buffer.getvalue()}

    def _attach(self, net: torch.nn.Module, head: str | None) -> None:
        """Use ``net`` as the backbone's MACE model."""
        mace = _import_mace()
        self.net = net
        self.dtype = next(self.net.parameters()).dtype
        heads = list(getattr(self.net, "heads", None) or ["Default"])
        self.head = head or heads[0]
        if self.head not in heads:
            raise ValueError(
                f"MACE model has heads {heads}; head={self.head!r} is not one of them."
            )
        self._heads = heads
        self.cutoff = float(self.net.r_max)
        zs = [int(z) for z in self.net.atomic_numbers]
        self.elements = set(zs)
        self.z_table = mace.tools.AtomicNumberTable(zs)
        self._scalars = _scalar_channels(self.net)
        self.node_dim = len(self._scalars)

    def atoms_to_data(self, atoms: ase.Atoms, has_labels: bool = False) -> Any:
        import mace.data

        self.check_elements(atoms)
        config = mace.data.config_from_atoms(atoms)
        config.head = self.head
        data = mace.data.AtomicData.from_config(
            config, z_table=self.z_table, cutoff=self.cutoff, heads=self._heads
        )
        for key in ("positions", "shifts", "unit_shifts", "cell", "node_attrs"):
            data[key] = data[key].to(self.dtype)
        return data

    def collate(self, data_list: list[Any]) -> Any:
        from mace.tools import torch_geometric

        return torch_geometric.Batch.from_data_list(data_list)

    def reset_output_heads(self) -> None:
        for readout in self.net.readouts:
            for p in readout.parameters():
                torch.nn.init.normal_(p)

    def forward(
        self, batch: Any, forces: ForceMode | None = None, stress: ForceMode | None = None
    ) -> BackboneOutput:
        self.check_modes(forces, stress)
        data = batch.to_dict()
        with torch.enable_grad():
            out = self.net(
                data,
                training=self.training,
                compute_force=bool(forces),
                compute_stress=bool(stress),
            )
        result: BackboneOutput = {
            "energy": out["energy"],  # (B,)
            "node_features": out["node_feats"][:, self._scalars],  # (N, D)
            "batch_index": data["batch"],
        }
        if forces:
            result["forces"] = out["forces"]  # (N, 3)
        if stress:
            result["stress"] = out["stress"]  # (B, 3, 3) eV/Å³, ASE sign
        return result


def build_small_mace(
    path: str | Path,
    elements: list[str],
    r_max: float = 4.0,
    hidden_irreps: str = "8x0e + 8x1o",
    num_interactions: int = 2,
    seed: int = 0,
) -> Path:
    """Build a small randomly initialised MACE model and save it to ``path``.

    Args:
        path: output file (``.model``).
        elements: chemical symbols the model knows.
        r_max: cutoff radius in Å.
        hidden_irreps: e3nn irreps of the hidden features.
        num_interactions: number of interaction layers.
        seed: seed of the random initialisation.
    """
    mace = _import_mace()
    from e3nn import o3

    torch.manual_seed(seed)
    zs = sorted(chemical_symbols.index(s) for s in elements)
    block = mace.modules.RealAgnosticResidualInteractionBlock
    model = mace.modules.MACE(
        r_max=r_max,
        num_bessel=6,
        num_polynomial_cutoff=5,
        max_ell=2,
        interaction_cls=block,
        interaction_cls_first=block,
        num_interactions=num_interactions,
        num_elements=len(zs),
        hidden_irreps=o3.Irreps(hidden_irreps),
        MLP_irreps=o3.Irreps("8x0e"),
        atomic_energies=np.zeros(len(zs)),
        avg_num_neighbors=12.0,
        atomic_numbers=zs,
        correlation=2,
        gate=torch.nn.functional.silu,
    )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(model, path)
    return path
