"""Coherent hetero-interfaces: two crystals stacked along z, the top one strained to fit."""

from __future__ import annotations

from collections.abc import Sequence

import ase
import numpy as np
from ase.build import bulk

from foundation_model.workflows.datagen.generators.base import (
    StructureGenerator,
    check_elements,
    reference_lattice,
)


def cubic_block(symbol: str, lattice: str, a: float, size: Sequence[int], layers: int) -> ase.Atoms:
    """A (001)-oriented block of ``layers`` conventional cubic cells."""
    return bulk(symbol, lattice, a=a, cubic=True).repeat((int(size[0]), int(size[1]), layers))


class InterfaceGenerator(StructureGenerator):
    """A bottom and a top crystal (fcc/bcc, (001)) joined coherently.

    The top block is strained in-plane to the bottom's cell (its out-of-plane spacing kept);
    with ``vacuum == 0`` the stack is fully periodic (two interfaces, treated as bulk: NPT),
    otherwise a slab with vacuum (NVT). ``interdiffusion`` swaps a fraction of the atoms of
    the two layers nearest each interface, for rougher interfaces.

    Args:
        bottom: ``[symbol, lattice]`` of the bottom crystal, e.g. ``[Cu, fcc]``.
        top: ``[symbol, lattice]`` of the top crystal, e.g. ``[Ni, fcc]``.
        bottom_a: bottom lattice constant (Å; default: reference state).
        top_a: top lattice constant before straining (Å; default: reference state).
        size: in-plane repetitions of the bottom's conventional cell.
        bottom_layers: conventional cells of the bottom block along z.
        top_layers: conventional cells of the top block along z.
        gap: extra distance between the blocks (Å) on top of the mean interlayer spacing.
        vacuum: vacuum above and below (Å); 0 for a periodic bi-crystal.
        interdiffusion: fraction of interface atoms swapped across the interface.
        n_structures: number of structures.
    """

    kind = "interface"

    def __init__(
        self,
        bottom: Sequence[str] = ("Cu", "fcc"),
        top: Sequence[str] = ("Ni", "fcc"),
        bottom_a: float | None = None,
        top_a: float | None = None,
        size: Sequence[int] = (2, 2),
        bottom_layers: int = 2,
        top_layers: int = 2,
        gap: float = 0.0,
        vacuum: float = 0.0,
        interdiffusion: float = 0.0,
        n_structures: int = 1,
    ) -> None:
        super().__init__(n_structures)
        self.bottom, self.top = list(bottom), list(top)
        for name, part in (("bottom", self.bottom), ("top", self.top)):
            if len(part) != 2 or part[1] not in ("fcc", "bcc"):
                raise ValueError(f"InterfaceGenerator: {name} must be [symbol, fcc|bcc].")
            check_elements(part[:1], f"InterfaceGenerator {name}")
        if not 0.0 <= interdiffusion <= 1.0:
            raise ValueError("InterfaceGenerator: interdiffusion must be in [0, 1].")
        self.bottom_a, self.top_a = bottom_a, top_a
        self.size = tuple(int(x) for x in size)
        self.bottom_layers, self.top_layers = int(bottom_layers), int(top_layers)
        self.gap, self.vacuum = float(gap), float(vacuum)
        self.interdiffusion = float(interdiffusion)
        self.kind = "slab" if self.vacuum > 0 else "interface"

    @property
    def elements(self) -> list[str]:
        return sorted({self.bottom[0], self.top[0]})

    def template(self) -> ase.Atoms:
        """The ideal coherent stack."""
        a_bot = self.bottom_a or reference_lattice(self.bottom[0])[1]
        a_top = self.top_a or reference_lattice(self.top[0])[1]
        low = cubic_block(self.bottom[0], self.bottom[1], a_bot, self.size, self.bottom_layers)
        high = cubic_block(self.top[0], self.top[1], a_top, self.size, self.top_layers)
        scale = a_bot / a_top  # coherent in-plane strain of the top block
        high.set_cell(np.diag([low.cell[0, 0], low.cell[1, 1], high.cell[2, 2]]), scale_atoms=False)
        high.positions[:, :2] *= scale
        spacing = 0.25 * (a_bot + a_top) + self.gap  # mean (001) interplanar distance
        high.positions[:, 2] += low.positions[:, 2].max() + spacing
        stack = low + high
        stack.set_cell([low.cell[0, 0], low.cell[1, 1], high.positions[:, 2].max() + spacing])
        stack.pbc = True
        if self.vacuum > 0:
            stack.pbc = (True, True, False)
            stack.center(vacuum=self.vacuum, axis=2)
        return stack

    def _build(self, rng: np.random.Generator) -> list[ase.Atoms]:
        template = self.template()
        out = []
        for _ in range(self.n_structures):
            atoms = template.copy()
            if self.interdiffusion > 0:
                self._interdiffuse(atoms, rng)
            out.append(atoms)
        return out

    def _n_bottom(self) -> int:
        per_cell = 4 if self.bottom[1] == "fcc" else 2
        return per_cell * self.size[0] * self.size[1] * self.bottom_layers

    def _interdiffuse(self, atoms: ase.Atoms, rng: np.random.Generator) -> None:
        """Swap atoms of the bottom's top layer with atoms of the top's first layer."""
        z = atoms.positions[:, 2]
        n_bot = self._n_bottom()
        layer = max(1, n_bot // (2 * self.bottom_layers))  # atoms per (001) layer
        below = np.argsort(-z[:n_bot])[:layer]
        above = n_bot + np.argsort(z[n_bot:])[:layer]
        n_swap = int(round(self.interdiffusion * min(len(below), len(above))))
        i = rng.choice(below, n_swap, replace=False)
        j = rng.choice(above, n_swap, replace=False)
        numbers = atoms.numbers.copy()
        numbers[i], numbers[j] = atoms.numbers[j], atoms.numbers[i]
        atoms.numbers = numbers
