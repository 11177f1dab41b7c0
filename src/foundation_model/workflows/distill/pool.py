"""Step 1: a diverse candidate pool from the ``fm datagen`` pieces.

Seeds come from the datagen generators (plus augmentation and validation), an optional
datagen ``MDExplorer`` runs short dynamics from them through the executor (with a cheap
calculator spec, e.g. the pretrained model), and a datagen sampler (DIRECT by default)
picks a diverse subset. Identical structures (a generator's copies of one cell, an MD
frame equal to its seed) are removed before the sampler (:func:`remove_duplicates`), so a
structure can never be both in the oracle test set and in the training set. The pool is
stored unlabelled: labels come from the oracle (step 2) or the teacher (step 5).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import ase
import numpy as np

from foundation_model.workflows.datagen.executor import TaskExecutor
from foundation_model.workflows.datagen.explore.explorer import MDExplorer
from foundation_model.workflows.datagen.generators.augment import Augmentation
from foundation_model.workflows.datagen.generators.base import StructureGenerator
from foundation_model.workflows.datagen.samplers.base import Sampler
from foundation_model.workflows.datagen.validation import StructureValidator


class PoolStage:
    """Generators -> (explorer) -> sampler.

    Args:
        generators: datagen structure generators (``class_path`` each).
        structures: a structure file (extxyz, ASE db, ...) whose structures are seeds too.
        augmentation: datagen augmentation (strained / rattled copies; ``null``: none).
        validator: datagen structure validator (default checks).
        explorer: datagen ``MDExplorer`` run from every seed (``null``: seeds only).
        sampler: datagen sampler choosing the pool (``null``: keep every frame).
        cutoff: interaction range for the validator's cell-size check (Å).
    """

    def __init__(
        self,
        generators: Sequence[StructureGenerator] | None = None,
        structures: str | None = None,
        augmentation: Augmentation | None = None,
        validator: StructureValidator | None = None,
        explorer: MDExplorer | None = None,
        sampler: Sampler | None = None,
        cutoff: float = 5.0,
    ) -> None:
        if not generators and not structures:
            raise ValueError("pool: give generators, a structures file, or both.")
        self.generation = None
        if generators:
            from foundation_model.workflows.datagen.generation import GenerationStage

            self.generation = GenerationStage(list(generators), augmentation, validator)
        self.structures = structures
        self.explorer = explorer
        self.sampler = sampler
        self.cutoff = float(cutoff)

    def to_dict(self) -> dict[str, Any]:
        """Settings that define the pool (for the config hash)."""
        return {
            "generation": self.generation.to_dict() if self.generation is not None else None,
            "structures": self.structures,
            "explorer": self.explorer.to_dict() if self.explorer is not None else None,
            "sampler": self.sampler.to_dict() if self.sampler is not None else None,
            "cutoff": self.cutoff,
        }

    def run(self, executor: TaskExecutor, seed: int) -> tuple[list[ase.Atoms], dict[str, Any]]:
        """The pool (unlabelled, detached) and counts of every stage."""
        seeds: list[ase.Atoms] = []
        rejected: list[Any] = []
        if self.generation is not None:
            seeds, rejected = self.generation.run(seed, self.cutoff)
        if self.structures:
            from foundation_model.backbones.data import read_structures

            seeds += read_structures(self.structures)
        if not seeds:
            reasons = sorted({r.reason for r in rejected})
            raise ValueError(f"Every generated structure was rejected ({reasons}).")
        frames = list(seeds)
        info: dict[str, Any] = {"seeds": len(seeds), "rejected": len(rejected)}
        if self.explorer is not None:
            from foundation_model.workflows.datagen.explore.explorer import run_trajectory

            results = executor.map(run_trajectory, self.explorer.tasks(seeds, seed), "explore")
            failed = [r.error for r in results if not r.ok]
            for result in results:
                if result.ok:
                    frames.extend(result.value.frames)
            info.update(explored_frames=len(frames) - len(seeds), explore_failures=failed)
        frames, info["duplicates_removed"] = remove_duplicates(frames)
        if self.sampler is not None and len(frames) > self.sampler.n_samples:
            frames = [frames[i] for i in self.sampler.select(frames, seed)]
        elif self.sampler is not None and len(frames) < self.sampler.n_samples:
            print(  # as fm datagen says it: the pool is smaller than asked for
                f"[fm distill] warning: pool.sampler n_samples={self.sampler.n_samples} but "
                f"the pool has {len(frames)} distinct structures; kept them all (more "
                "structures, steps or temperatures give more)",
                file=sys.stderr,
                flush=True,
            )
        info["pool"] = len(frames)
        return [_unlabelled(a) for a in frames], info


#: positions and cells equal after rounding to this many Å are the same structure
DUPLICATE_TOLERANCE = 1e-6


def remove_duplicates(
    structures: list[ase.Atoms], tolerance: float = DUPLICATE_TOLERANCE
) -> tuple[list[ase.Atoms], int]:
    """The structures without repeats (first occurrence kept, order preserved).

    Two structures are the same when their atomic numbers and ``pbc`` are equal and their
    positions and cell vectors agree after rounding to ``tolerance`` Å (atom order
    matters: a permuted copy is kept).

    Args:
        structures: the candidates.
        tolerance: rounding grid of positions and cell (Å).

    Returns:
        ``(unique structures, number removed)``.
    """
    seen: set[tuple] = set()
    unique = []
    for atoms in structures:
        key = (
            atoms.numbers.tobytes(),
            np.asarray(atoms.pbc, dtype=bool).tobytes(),
            np.round(atoms.positions / tolerance).astype(np.int64).tobytes(),
            np.round(atoms.cell.array / tolerance).astype(np.int64).tobytes(),
        )
        if key not in seen:
            seen.add(key)
            unique.append(atoms)
    return unique, len(structures) - len(unique)


def _unlabelled(atoms: ase.Atoms) -> ase.Atoms:
    out = ase.Atoms(atoms.numbers, atoms.positions, cell=atoms.cell, pbc=atoms.pbc)
    for key in ("seed_id", "generator", "kind", "traj_id", "md_step"):
        if key in atoms.info:
            out.info[key] = atoms.info[key]
    return out
