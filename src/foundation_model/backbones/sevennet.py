"""SevenNet adapter (``uv sync --extra sevenn``): SevenNet-0 weights ship in the package."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ase
import torch
from torch import Tensor

from foundation_model.backbones.base import BackboneOutput, ForceMode, MLIPBackbone, missing_extra

# SevenNet's internal stress order is xx yy zz xy yz zx with the opposite sign to ASE
_TO_FULL = torch.tensor([[0, 3, 5], [3, 1, 4], [5, 4, 2]])


def _import_sevenn() -> Any:
    try:
        import sevenn.util
    except ImportError as err:
        raise missing_extra("sevenn", "sevenn") from err
    return sevenn


class _WouldDownloadError(Exception):
    """Raised instead of the download ``sevenn`` would start for a missing checkpoint."""


def _local_checkpoint(name: str) -> str | None:
    """The file of the pretrained SevenNet model ``name`` if it is on this machine (in
    the ``sevenn`` package or its ``~/.cache/sevennet``), ``None`` when ``sevenn`` would
    have to download it.

    Raises:
        ValueError: ``sevenn`` knows no pretrained model of that name.
    """
    import sevenn.util

    def refuse(path: str, url: str) -> str:
        raise _WouldDownloadError(url)

    download = sevenn.util.download_checkpoint
    sevenn.util.download_checkpoint = refuse  # sevenn's own name-to-file rules, no network
    try:
        return sevenn.util.pretrained_name_to_path(name)
    except (_WouldDownloadError, FileNotFoundError):
        return None
    finally:
        sevenn.util.download_checkpoint = download


def offline_pretrained_names() -> list[str]:
    """The pretrained SevenNet names whose weights are on this machine (no download)."""
    import sevenn.util

    return [n for n in sevenn.util.get_available_pretrained_models() if _local_checkpoint(n)]


def resolve_checkpoint(model: str) -> str:
    """The checkpoint file of ``model``: a SevenNet checkpoint path, or a pretrained name
    (its local file; else ``sevenn`` downloads it, and a failed download, e.g. offline, is
    one line).

    Raises:
        FileNotFoundError: one line naming the pretrained names available offline here.
    """
    if Path(model).is_file():
        return str(model)
    try:
        path = _local_checkpoint(str(model))
        known = True
    except ValueError:
        path, known = None, False
    if path is not None:
        return path
    if known:  # sevenn's own download (keeps the real hub loading code for online users)
        import sevenn.util

        try:
            return sevenn.util.pretrained_name_to_path(str(model))
        except Exception as err:  # network errors come in many types
            first = str(err).splitlines()[0][:160] if str(err) else type(err).__name__
            problem = f"has no weights on this machine and the download failed ({first})"
    elif Path(model).suffix or "/" in str(model):
        problem = "is not an existing file"
    else:
        problem = "is neither a SevenNet checkpoint file nor a pretrained SevenNet name"
    raise FileNotFoundError(
        f"SevenNet model {str(model)!r} {problem}: use a name available offline here "
        f"({', '.join(offline_pretrained_names())}) or pass the path of a local SevenNet "
        "checkpoint (.pth) as model."
    )


class SevenNetBackbone(MLIPBackbone):
    """SevenNet (equivariant NequIP-style GNN) from a pretrained name or checkpoint file.

    Forces and stress are SevenNet's own autograd of the energy (conservative only).
    Atom features are the 128 invariant channels entering SevenNet's energy readout.

    Args:
        model: pretrained name known to ``sevenn`` (``7net-0`` ships with the package;
            others are downloaded by ``sevenn`` when not on this machine) or a SevenNet
            checkpoint path.
    """

    def __init__(self, model: str = "7net-0") -> None:
        super().__init__()
        _import_sevenn()
        import sevenn.util

        self.model = model
        checkpoint = sevenn.util.load_checkpoint(resolve_checkpoint(model))
        self.net = checkpoint.build_model()
        self.net.set_is_batch_data(True)
        self.net.eval_type_map = torch.tensor(True)
        self.cutoff = float(self.net.cutoff)
        self.elements = {int(z) for z in self.net.type_map}
        readout = self.net._modules["reduce_input_to_hidden"]
        self.node_dim = int(readout.linear.irreps_in.dim)
        self._features: Tensor | None = None
        readout.register_forward_pre_hook(self._capture)

    def _capture(self, module: Any, args: tuple) -> None:
        import sevenn._keys as KEY

        self._features = args[0][KEY.NODE_FEATURE]

    def atoms_to_data(self, atoms: ase.Atoms, has_labels: bool = False) -> Any:
        from sevenn.atom_graph_data import AtomGraphData
        from sevenn.train.dataload import unlabeled_atoms_to_graph

        self.check_elements(atoms)
        return AtomGraphData.from_numpy_dict(unlabeled_atoms_to_graph(atoms, self.cutoff))

    def collate(self, data_list: list[Any]) -> Any:
        from torch_geometric.data import Batch

        return Batch.from_data_list(data_list)

    def reset_output_heads(self) -> None:
        for key in ("reduce_input_to_hidden", "reduce_hidden_to_energy"):
            for p in self.net._modules[key].parameters():
                torch.nn.init.normal_(p, std=1.0)

    def forward(
        self, batch: Any, forces: ForceMode | None = None, stress: ForceMode | None = None
    ) -> BackboneOutput:
        self.check_modes(forces, stress)
        import sevenn._keys as KEY

        # SevenNet always differentiates the energy; it mutates the batch, so work on a copy
        data = batch.clone()
        with torch.enable_grad():
            out = self.net(data)
        features, self._features = self._features, None  # captured by the readout hook
        result: BackboneOutput = {
            "energy": out[KEY.PRED_TOTAL_ENERGY],  # (B,)
            "node_features": features,  # (N, 128)
            "batch_index": out[KEY.BATCH],
        }
        if forces:
            result["forces"] = out[KEY.PRED_FORCE]  # (N, 3)
        if stress:
            voigt = -out[KEY.PRED_STRESS]  # (B, 6) xx yy zz xy yz zx
            result["stress"] = voigt[:, _TO_FULL.to(voigt.device)]  # (B, 3, 3)
        return result
