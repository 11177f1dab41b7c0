"""Descriptors for sampling: SOAP (dscribe) or a backbone embedding of this package."""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence

import ase
import numpy as np

from foundation_model.utils.class_path import ClassPathSerializable


class Descriptor(ClassPathSerializable):
    """Maps frames to vectors: :meth:`structures` ``(n, D)``; :meth:`environments` gives one
    ``(n_atoms_i, D)`` array per frame when the descriptor has per-atom environments."""

    def structures(self, frames: Sequence[ase.Atoms]) -> np.ndarray:
        raise NotImplementedError

    def environments(self, frames: Sequence[ase.Atoms]) -> list[np.ndarray]:
        raise NotImplementedError(f"{type(self).__name__} has no per-environment vectors.")


DSCRIBE_MISSING = (
    "SOAPDescriptor needs dscribe: run `uv sync --locked --extra datagen`"
    " (with the --extra flags you already use: uv sync removes extras it is not given)."
)


def require_dscribe() -> None:
    """Raise when dscribe (the ``datagen`` extra) is not installed.

    Only looks the package up (importing dscribe takes seconds), so a descriptor can check
    it when constructed, i.e. when the config is read, before any stage runs.

    Raises:
        ImportError: :data:`DSCRIBE_MISSING`.
    """
    try:
        found = importlib.util.find_spec("dscribe") is not None
    except (ImportError, ValueError):  # a broken or partly imported package
        found = False
    if not found:
        raise ImportError(DSCRIBE_MISSING)


class SOAPDescriptor(Descriptor):
    """Smooth overlap of atomic positions (dscribe), averaged per structure or per atom.

    Args:
        r_cut: cutoff radius (Å).
        n_max: radial basis functions.
        l_max: maximum spherical-harmonics degree.
        sigma: Gaussian width of the atomic densities (Å).
        species: elements of the descriptor (default: all elements of the frames).
        n_jobs: dscribe processes (1 is fastest on small machines).

    Raises:
        ImportError: dscribe is not installed (checked here, before any work).
    """

    def __init__(
        self,
        r_cut: float = 5.0,
        n_max: int = 6,
        l_max: int = 4,
        sigma: float = 0.5,
        species: Sequence[str] | None = None,
        n_jobs: int = 1,
    ) -> None:
        if r_cut <= 1.0 or n_max < 1 or l_max < 0 or sigma <= 0:
            raise ValueError("SOAPDescriptor: need r_cut > 1 Å, n_max >= 1, l_max >= 0, sigma > 0.")
        require_dscribe()
        self.r_cut, self.n_max, self.l_max, self.sigma = float(r_cut), n_max, l_max, sigma
        self.species = list(species) if species else None
        self.n_jobs = int(n_jobs)

    def _soap(self, frames: Sequence[ase.Atoms], average: str):  # -> dscribe SOAP
        try:
            from dscribe.descriptors import SOAP
        except ImportError as err:
            raise ImportError(DSCRIBE_MISSING) from err
        species = self.species or sorted({s for a in frames for s in a.get_chemical_symbols()})
        return SOAP(
            species=species,
            r_cut=self.r_cut,
            n_max=self.n_max,
            l_max=self.l_max,
            sigma=self.sigma,
            periodic=any(a.pbc.any() for a in frames),
            average=average,
        )

    def structures(self, frames: Sequence[ase.Atoms]) -> np.ndarray:
        frames = list(frames)
        out = self._soap(frames, "inner").create(frames, n_jobs=self.n_jobs)
        return np.asarray(out, dtype=float).reshape(len(frames), -1)  # (n, D)

    def environments(self, frames: Sequence[ase.Atoms]) -> list[np.ndarray]:
        frames = list(frames)
        out = self._soap(frames, "off").create(frames, n_jobs=self.n_jobs)
        if len(frames) == 1:
            out = [out]
        return [np.asarray(x, dtype=float) for x in out]  # each (n_atoms_i, D)


class BackboneDescriptor(Descriptor):
    """Per-structure embeddings of an MLIP backbone
    (:func:`foundation_model.backbones.embedding.embedding_table`).

    Args:
        backbone: ``sevennet``, ``chgnet``, a MACE model path or a fine-tuned ``.ckpt``.
        device: ``cpu``, ``cuda`` or ``auto``.
        batch_size: structures per forward pass.
    """

    def __init__(
        self, backbone: str = "sevennet", device: str = "cpu", batch_size: int = 16
    ) -> None:
        self.backbone = backbone
        self.device = device
        self.batch_size = int(batch_size)

    def structures(self, frames: Sequence[ase.Atoms]) -> np.ndarray:
        from foundation_model.backbones.embedding import embedding_table

        clean = []
        for a in frames:
            c = a.copy()
            c.calc = None
            clean.append(c)
        table = embedding_table(
            clean, backbone=self.backbone, batch_size=self.batch_size, device=self.device
        )
        return table.to_numpy(dtype=float)  # (n, D)
