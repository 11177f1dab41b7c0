"""Knowledge-based seeds from a chemical formula alone: random symmetric crystals (pyxtal)."""

from __future__ import annotations

from collections.abc import Sequence

import ase
import numpy as np

from foundation_model.workflows.datagen.generators.base import StructureGenerator, check_elements


def parse_formula(formula: str) -> dict[str, int]:
    """``{element: count}`` of a formula (pymatgen parser)."""
    from pymatgen.core import Composition

    try:
        comp = Composition(formula)
    except Exception as err:  # noqa: BLE001 - pymatgen raises several parser errors
        raise ValueError(f"KnowledgeGenerator: cannot parse formula {formula!r}: {err}") from err
    counts = {str(el): v for el, v in comp.get_el_amt_dict().items()}
    if any(abs(v - round(v)) > 1e-6 for v in counts.values()):
        raise ValueError(f"KnowledgeGenerator: formula {formula!r} needs integer amounts.")
    return {k: int(round(v)) for k, v in counts.items()}


class KnowledgeGenerator(StructureGenerator):
    """Random crystals with space-group symmetry for a formula (pyxtal).

    For each structure a space group is drawn from ``space_groups`` (default: all 230)
    and pyxtal places ``formula_units`` formula units on compatible Wyckoff positions
    with a volume scaled by ``volume_factor`` from its atomic-volume estimate.
    Incompatible space groups are skipped; failing after ``max_attempts`` raises.

    Args:
        formula: e.g. ``TiO2``.
        formula_units: formula units per cell.
        space_groups: candidate space groups (1-230).
        volume_factor: pyxtal volume factor (>1: looser packing).
        n_structures: number of crystals.
        max_attempts: space groups tried per structure.
    """

    def __init__(
        self,
        formula: str,
        formula_units: int = 2,
        space_groups: Sequence[int] | None = None,
        volume_factor: float = 1.1,
        n_structures: int = 2,
        max_attempts: int = 60,
    ) -> None:
        super().__init__(n_structures)
        self.formula = formula
        self._counts = parse_formula(formula)
        check_elements(list(self._counts), "KnowledgeGenerator")
        if formula_units < 1:
            raise ValueError("KnowledgeGenerator: formula_units must be >= 1.")
        groups = list(space_groups) if space_groups else list(range(1, 231))
        if not all(1 <= g <= 230 for g in groups):
            raise ValueError("KnowledgeGenerator: space groups are numbered 1-230.")
        self.formula_units = int(formula_units)
        self.space_groups = space_groups
        self._groups = groups
        self.volume_factor = float(volume_factor)
        self.max_attempts = int(max_attempts)

    @property
    def elements(self) -> list[str]:
        return list(self._counts)

    def _one(self, rng: np.random.Generator) -> ase.Atoms:
        try:
            from pyxtal import pyxtal
        except ImportError as err:
            raise ImportError(
                "KnowledgeGenerator needs pyxtal: run `uv sync --locked --extra datagen`"
                " (with the --extra flags you already use: uv sync removes extras it is not given)."
            ) from err
        species = list(self._counts)
        numbers = [self._counts[s] * self.formula_units for s in species]
        for _ in range(self.max_attempts):
            group = int(rng.choice(self._groups))
            crystal = pyxtal()
            try:
                crystal.from_random(
                    3, group, species, numbers, factor=self.volume_factor, random_state=rng
                )
            except Exception:  # noqa: BLE001, S112 - incompatible Wyckoff set: try another group
                continue
            if crystal.valid:
                atoms = crystal.to_ase()
                atoms.pbc = True
                atoms.info["space_group"] = group
                return atoms
        raise ValueError(
            f"KnowledgeGenerator: no valid {self.formula} x{self.formula_units} crystal in "
            f"{self.max_attempts} tries; change formula_units or space_groups."
        )

    def _build(self, rng: np.random.Generator) -> list[ase.Atoms]:
        return [self._one(rng) for _ in range(self.n_structures)]
