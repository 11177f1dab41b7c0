"""The backbone contract: how a pretrained (or random) MLIP plugs into fine-tuning.

An adapter turns one ``ase.Atoms`` into the backbone's native sample
(:meth:`MLIPBackbone.atoms_to_data`), batches samples (:meth:`MLIPBackbone.collate`) and
predicts from a batch (:meth:`MLIPBackbone.forward`). It holds no training logic: losses,
normalisation, heads and optimisation live in
:class:`foundation_model.backbones.module.MLIPFineTuneModule`.

Conventions of :class:`BackboneOutput` (ASE units):

* ``energy`` ``(B,)`` total energy per structure in eV.
* ``forces`` ``(N, 3)`` eV/Å, atoms of all structures concatenated in batch order.
* ``stress`` ``(B, 3, 3)`` eV/Å³, ASE sign (``(1/V) dE/dstrain``).
* ``node_features`` ``(N, D)`` rotation-invariant per-atom features.
* ``batch_index`` ``(N,)`` structure index of every atom.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from typing import Any, Literal, TypedDict

import ase
import numpy as np
import torch
from ase.data import chemical_symbols
from torch import Tensor, nn

from foundation_model.utils.class_path import ClassPathSerializable

ForceMode = Literal["conservative", "direct"]

# key of a backbone dict in checkpoint hyperparameters holding its stored_state()
STORED_KEY = "stored"


class BackboneOutput(TypedDict, total=False):
    """What a backbone forward returns (see the module docstring for shapes and units)."""

    energy: Tensor
    forces: Tensor
    stress: Tensor
    node_features: Tensor
    batch_index: Tensor


def missing_extra(package: str, extra: str, environment: str | None = None) -> ImportError:
    """The error raised when an optional backbone package is not installed.

    Args:
        package: the missing distribution.
        extra: the project extra that installs it.
        environment: for an extra that conflicts with others (MACE), the separate virtual
            environment it lives in, named in the command.
    """
    how = f"`uv sync --locked --extra {extra}`"
    if environment:
        how = (
            f"`UV_PROJECT_ENVIRONMENT={environment} uv sync --locked --extra {extra}` and run "
            f"with `{environment}/bin/fm`"
        )
    return ImportError(
        f"The {package!r} package is needed for this backbone: install it with {how} "
        f"(or `pip install foundation_model[{extra}]`)."
    )


class MLIPBackbone(nn.Module, ClassPathSerializable, ABC):
    """Narrow interface every MLIP adapter implements.

    Subclasses set ``self.cutoff`` (Å), ``self.node_dim`` (width of the atom features)
    and may set ``self.elements`` (atomic numbers the
    model knows; ``None`` = any), ``supports_direct_forces``, ``supports_direct_stress``
    and ``requires_3d_periodic`` (only cells periodic in all three directions are accepted;
    checked for every structure when data load, see :meth:`check_structure`).
    """

    supports_direct_forces: bool = False
    supports_direct_stress: bool = False
    requires_3d_periodic: bool = False

    def __init__(self) -> None:
        super().__init__()
        self.cutoff: float = 0.0
        self.node_dim: int = 0
        self.elements: set[int] | None = None

    # ------------------------------------------------------------------ contract
    @abstractmethod
    def atoms_to_data(self, atoms: ase.Atoms, has_labels: bool = False) -> Any:
        """Convert one structure into the backbone's native sample.

        Labels are read by the data module, not here; ``has_labels`` only tells the
        adapter whether label fields may be attached (unused by the built-in adapters).
        """

    @abstractmethod
    def collate(self, data_list: list[Any]) -> Any:
        """Batch native samples."""

    @abstractmethod
    def forward(
        self,
        batch: Any,
        forces: ForceMode | None = None,
        stress: ForceMode | None = None,
    ) -> BackboneOutput:
        """Predict energy (always), node features, and forces/stress when asked.

        Args:
            batch: output of :meth:`collate` (on the model's device).
            forces: ``conservative`` (``-dE/dx`` by autograd), ``direct`` or ``None``.
            stress: ``conservative`` (strain derivative), ``direct`` or ``None``.
        """

    def embed(self, batch: Any) -> Tensor:
        """Per-structure features ``(B, D)``: mean of the invariant node features."""
        out = self.forward(batch)
        return scatter_mean(out["node_features"], out["batch_index"], int(out["energy"].shape[0]))

    def batch_to_device(self, batch: Any, device: torch.device) -> Any:
        """Move a collated batch to ``device`` (override for non-tensor batches)."""
        return batch.to(device)

    def reset_output_heads(self) -> None:
        """Re-initialise the layers that map features to energy (no-op if not supported)."""

    # ------------------------------------------------------------------ checkpoints
    def stored_state(self) -> dict[str, Any] | None:
        """What a checkpoint must hold, besides the init args and the state dict, to rebuild
        this backbone without outside files (e.g. the architecture of a model read from a
        file); ``None`` when the init args suffice."""
        return None

    @classmethod
    def from_stored(cls, init_args: dict[str, Any], stored: dict[str, Any]) -> MLIPBackbone:
        """Rebuild from init args and :meth:`stored_state` output (weights come later from
        the checkpoint's state dict)."""
        return cls(**init_args)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | MLIPBackbone) -> MLIPBackbone:
        """Rebuild from ``{class_path, init_args}``, plus ``stored`` when a checkpoint wrote
        :meth:`stored_state` there (see ``MLIPFineTuneModule.on_save_checkpoint``)."""
        if isinstance(data, dict) and data.get(STORED_KEY) is not None:
            target = cls.resolve_class(data)
            return target.from_stored(dict(data.get("init_args") or {}), data[STORED_KEY])
        return super().from_dict(data)

    # ------------------------------------------------------------------ checks
    def check_elements(self, atoms: ase.Atoms, where: str = "") -> None:
        """Raise a clear error when ``atoms`` holds an element the backbone does not know.

        Args:
            atoms: the structure.
            where: how the message names it, e.g. ``"17 of train.extxyz"``.
        """
        if self.elements is None:
            return
        unknown = sorted(set(atoms.numbers.tolist()) - self.elements)
        if unknown:
            names = [chemical_symbols[z] for z in unknown]
            place = f"{where}, " if where else ""
            known = sorted(self.elements)
            which = (
                f" ({', '.join(chemical_symbols[z] for z in known)})" if len(known) <= 12 else ""
            )
            raise ValueError(
                f"{type(self).__name__} does not know element(s) {names} "
                f"(structure {place}{atoms.get_chemical_formula()}); it supports "
                f"{len(self.elements)} elements{which}: remove those structures or use a "
                "backbone trained on these elements."
            )

    def check_periodicity(self, atoms: ase.Atoms, where: str = "") -> None:
        """Raise a clear error when the backbone needs 3D-periodic cells and ``atoms`` is a
        slab, a wire or a non-periodic cluster (no-op unless ``requires_3d_periodic``).

        Args:
            atoms: the structure.
            where: how the message names it, e.g. ``"17 of train.extxyz"``.
        """
        if not self.requires_3d_periodic:
            return
        pbc = [bool(p) for p in atoms.pbc]
        rank = int(atoms.cell.rank)
        if all(pbc) and rank == 3:
            return
        place = f"{where}, " if where else ""
        problem = f"pbc={pbc}" if not all(pbc) else f"pbc={pbc} but a cell of rank {rank}"
        raise ValueError(
            f"{type(self).__name__} needs 3D-periodic cells, but structure "
            f"{place}{atoms.get_chemical_formula()} has {problem}: give it a vacuum-padded "
            "3D cell with pbc=True, or use a backbone that handles any periodicity "
            "(SevenNet, MACE)."
        )

    def check_structure(self, atoms: ase.Atoms, where: str = "") -> None:
        """Every load-time check of one structure: cell, elements and periodicity.

        Override (calling ``super()``) to add a backbone-specific requirement.

        Args:
            atoms: the structure.
            where: how messages name it, e.g. ``"17 of train.extxyz"``.
        """
        check_cell(atoms, where)
        self.check_elements(atoms, where)
        self.check_periodicity(atoms, where)

    def check_modes(self, forces: ForceMode | None, stress: ForceMode | None) -> None:
        """Raise when direct forces/stress are requested from a backbone without them."""
        if forces == "direct" and not self.supports_direct_forces:
            raise ValueError(
                f"{type(self).__name__} has no direct force output: use conservative forces."
            )
        if stress == "direct" and not self.supports_direct_stress:
            raise ValueError(
                f"{type(self).__name__} has no direct stress output: use conservative stress."
            )


def check_cell(atoms: ase.Atoms, where: str = "") -> None:
    """Raise a one-line ``ValueError`` when a periodic direction of ``atoms`` has a zero
    cell vector (no lattice to repeat along: neighbour lists and stress fail on it).

    Args:
        atoms: the structure.
        where: how the message names it, e.g. ``"17 of train.extxyz"``.
    """
    pbc = np.asarray(atoms.pbc, dtype=bool)
    empty = np.linalg.norm(np.asarray(atoms.cell), axis=1) < 1e-8  # (3,)
    bad = pbc & empty
    if not bad.any():
        return
    place = f"{where} " if where else ""
    name = f"Structure {place}({atoms.get_chemical_formula()})"
    if bad.all():
        raise ValueError(f"{name}: pbc=True but the cell is empty; set a cell or pbc=False.")
    axes = ", ".join("abc"[i] for i in np.flatnonzero(bad))
    raise ValueError(
        f"{name}: pbc={pbc.tolist()} but the cell vector {axes} is zero; set that cell vector "
        "or make the structure non-periodic in that direction."
    )


# ---------------------------------------------------------------------- tensor helpers
def scatter_sum(values: Tensor, index: Tensor, size: int) -> Tensor:
    """Sum rows of ``values (N, ...)`` into ``size`` groups given by ``index (N,)``."""
    out = values.new_zeros((size, *values.shape[1:]))
    return out.index_add(0, index, values)


def scatter_mean(values: Tensor, index: Tensor, size: int) -> Tensor:
    """Mean of rows of ``values (N, D)`` per group; empty groups give zeros."""
    total = scatter_sum(values, index, size)  # (B, D)
    count = torch.bincount(index, minlength=size).clamp_min(1).to(values.dtype)  # (B,)
    return total / count.view(-1, *([1] * (values.dim() - 1)))


def scatter_max(values: Tensor, index: Tensor, size: int) -> Tensor:
    """Maximum of rows of ``values (N, D)`` per group."""
    out = values.new_full((size, *values.shape[1:]), float("-inf"))
    idx = index.view(-1, *([1] * (values.dim() - 1))).expand_as(values)
    return out.scatter_reduce(0, idx, values, reduce="amax", include_self=True)


def voigt_from_full(stress: Tensor) -> Tensor:
    """``(B, 3, 3)`` -> Voigt ``(B, 6)`` in ASE order xx yy zz yz xz xy."""
    return stress[:, [0, 1, 2, 1, 0, 0], [0, 1, 2, 2, 2, 1]]


def full_from_voigt(voigt: Tensor) -> Tensor:
    """Voigt ``(..., 6)`` (xx yy zz yz xz xy) -> symmetric ``(..., 3, 3)``."""
    xx, yy, zz, yz, xz, xy = voigt.unbind(-1)
    rows = [torch.stack(r, -1) for r in ((xx, xy, xz), (xy, yy, yz), (xz, yz, zz))]
    return torch.stack(rows, -2)


def element_set(symbols_or_numbers: Iterable[str | int] | None) -> set[int] | None:
    """Normalise a list of symbols or atomic numbers to a set of atomic numbers."""
    if symbols_or_numbers is None:
        return None
    out = set()
    for s in symbols_or_numbers:
        out.add(int(s) if not isinstance(s, str) else chemical_symbols.index(s))
    return out
