"""Seeds read from the user's own structure files (any format ASE reads)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import ase
import numpy as np

from foundation_model.workflows.datagen.generators.base import StructureGenerator

#: ``info["kind"]`` by the number of periodic directions
KIND_BY_PERIODICITY = {3: "bulk", 2: "slab", 1: "wire", 0: "molecule"}


def _clean(atoms: ase.Atoms) -> ase.Atoms:
    """Positions, cell, periodicity and initial charges/magnetic moments only: labels and
    calculators in the file are dropped (the run's calculator labels every frame)."""
    out = ase.Atoms(atoms.numbers, atoms.positions, cell=atoms.cell, pbc=atoms.pbc)
    for name in ("initial_charges", "initial_magmoms"):
        if atoms.has(name):
            out.set_array(name, atoms.get_array(name).copy())
    return out


class FileGenerator(StructureGenerator):
    """Seed structures read from files: CIF, POSCAR, extxyz, ASE trajectories or
    databases, or any other format ``ase.io.read`` knows.

    Every selected frame of every file is a seed, or ``n_structures`` of them drawn without
    replacement with the run's seed. Energies, forces and calculators in the files are
    dropped: the explorer's calculator labels what the run keeps. ``info["kind"]`` is
    ``bulk``, ``slab``, ``wire`` or ``molecule`` by the number of periodic directions;
    ``info["source"]`` names the file as given in ``paths`` (with ``index`` unless it is
    ``":"``) and the frame's position among those read. The files are read when the config is, so a
    missing or unreadable file is a one-line error before any work; the run's settings
    hash includes a digest of their contents, so ``--resume`` redoes the generation when a
    file changed.

    Args:
        paths: structure files (relative paths: from the working directory).
        index: frames of each file, in ASE's index syntax (``":"`` every frame, ``"-1"``
            the last, ``"0:10"`` the first ten).
        n_structures: how many seeds to draw (``null``: every frame read).
        format: ASE format name when the suffix does not tell (e.g. ``vasp`` for POSCAR);
            it applies to every file, so files of other formats need their own generator.
    """

    def __init__(
        self,
        paths: Sequence[str] | str,
        index: str = ":",
        n_structures: int | None = None,
        format: str | None = None,
    ) -> None:
        super().__init__(1 if n_structures is None else n_structures)
        if isinstance(paths, str):
            paths = [paths]
        if not paths:
            raise ValueError("FileGenerator: paths is empty; name at least one structure file.")
        self.paths = [str(p) for p in paths]
        self.index = str(index)
        self.n_structures = n_structures  # type: ignore[assignment]  # None: every frame
        self.format = format
        self._frames = self._read_all()
        if n_structures is not None and n_structures > len(self._frames):
            raise ValueError(
                f"FileGenerator: n_structures={n_structures} but the files hold "
                f"{len(self._frames)} frame(s); lower it or leave it out (every frame)."
            )

    def _read_all(self) -> list[ase.Atoms]:
        from ase.io import read

        frames: list[ase.Atoms] = []
        self.digest = hashlib.sha256()
        for name in self.paths:
            path = Path(name)
            if not path.is_file():
                raise FileNotFoundError(f"FileGenerator: structure file {path} not found.")
            self.digest.update(path.read_bytes())
            try:
                read_back = read(path, index=self.index, format=self.format)
            except (StopIteration, IndexError) as err:
                raise ValueError(
                    f"FileGenerator: index {self.index!r} selects no frame of {path}."
                ) from err
            except Exception as err:  # ASE raises many types for unreadable files
                first = str(err).strip().splitlines()[0] if str(err).strip() else ""
                hint = (
                    f"format {self.format!r} applies to every file of this generator: give "
                    "files of another format their own FileGenerator"
                    if self.format
                    else "check the file, or set format (e.g. format: vasp for a POSCAR)"
                )
                raise ValueError(
                    f"FileGenerator: cannot read {path} ({type(err).__name__}: {first}); {hint}."
                ) from err
            items = read_back if isinstance(read_back, list) else [read_back]
            if not items:
                raise ValueError(f"FileGenerator: {path} holds no structure at index {self.index}.")
            for i, atoms in enumerate(items):
                if len(atoms) == 0:
                    raise ValueError(f"FileGenerator: frame {i} of {path} has no atoms.")
                clean = _clean(atoms)
                where = name if self.index == ":" else f"{name}[{self.index}]"
                clean.info["source"] = f"{where}:{i}"
                clean.info["kind"] = KIND_BY_PERIODICITY[int(np.sum(clean.pbc))]
                frames.append(clean)
        return frames

    def init_args(self) -> dict:
        """The constructor arguments, plus the files' content digest (so that the stage
        hash, and ``--resume``, see a changed file)."""
        return {**super().init_args(), "content_sha256": self.digest.hexdigest()[:16]}

    @classmethod
    def from_dict(cls, data: dict) -> FileGenerator:  # type: ignore[override]
        """Rebuild from :meth:`to_dict` (the digest is recomputed, not read back)."""
        if isinstance(data, cls):
            return data
        args = dict(data.get("init_args") or {})
        args.pop("content_sha256", None)
        return cls(**args)

    @property
    def elements(self) -> list[str]:
        return sorted({s for atoms in self._frames for s in atoms.get_chemical_symbols()})

    def _build(self, rng: np.random.Generator) -> list[ase.Atoms]:
        if self.n_structures is None:
            chosen = range(len(self._frames))
        else:
            chosen = sorted(rng.choice(len(self._frames), self.n_structures, replace=False))
        return [self._frames[int(i)].copy() for i in chosen]
