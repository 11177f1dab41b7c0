"""The generation stage: generators -> augmentation -> validation, rejections recorded."""

from __future__ import annotations

from collections.abc import Sequence

import ase

from foundation_model.workflows.datagen.generators.augment import Augmentation
from foundation_model.workflows.datagen.generators.base import StructureGenerator
from foundation_model.workflows.datagen.validation import Rejection, StructureValidator


class GenerationStage:
    """Seed structures from one or more generators, augmented and validated.

    Args:
        generators: the generators (each chosen by ``class_path``).
        augmentation: strained/rattled copies of each seed (``null``: none).
        validator: physical checks (distances, cell size vs cutoff, neutrality).
    """

    def __init__(
        self,
        generators: Sequence[StructureGenerator],
        augmentation: Augmentation | None = None,
        validator: StructureValidator | None = None,
    ) -> None:
        if not generators:
            raise ValueError("generate.generators: give at least one generator.")
        self.generators = list(generators)
        self.augmentation = augmentation
        self.validator = validator or StructureValidator()

    def to_dict(self) -> dict:
        return {
            "generators": [g.to_dict() for g in self.generators],
            "augmentation": self.augmentation.to_dict() if self.augmentation else None,
            "validator": self.validator.to_dict(),
        }

    @property
    def elements(self) -> list[str]:
        """Every element the generators can emit."""
        return sorted({e for g in self.generators for e in g.elements})

    def run(self, seed: int, cutoff: float) -> tuple[list[ase.Atoms], list[Rejection]]:
        """Valid seeds (``info["seed_id"]`` set) and the rejections with their reasons.

        Args:
            seed: base seed; generator ``k`` uses ``seed + k``.
            cutoff: calculator cutoff for the cell-size check.
        """
        raw: list[ase.Atoms] = []
        for k, generator in enumerate(self.generators):
            for atoms in generator.generate(seed + k):
                atoms.info["seed_id"] = f"g{k}_{atoms.info['generator_index']:03d}"
                raw.append(atoms)
        if self.augmentation is not None:
            raw = self.augmentation.apply(raw, seed)
            counter: dict[str, int] = {}
            for atoms in raw:
                if atoms.info.get("augmentation", "none") != "none":
                    parent = atoms.info["parent_id"]
                    counter[parent] = counter.get(parent, 0) + 1
                    atoms.info["seed_id"] = f"{parent}_a{counter[parent]}"
        valid, rejected = [], []
        for atoms in raw:
            checked, reason, detail = self.validator.check(atoms, cutoff)
            if checked is None:
                rejected.append(Rejection(atoms.info["seed_id"], "generate", reason, detail))
            else:
                valid.append(checked)
        return valid, rejected
