"""A datagen generator for the SN2 reaction Cl- + CH3Cl -> ClCH3 + Cl- (Walden inversion).

Structures lie along a reaction coordinate ``s`` in [0, 1]: the leaving chlorine moves
from the C-Cl bond length to a loose ion-molecule distance, the incoming chloride does the
opposite, and the three hydrogens flip through the planar transition state (``s = 0.5``)
like an umbrella. Each structure gets a random rotation and a rattle. Molecules are not
periodic (no cell); the total charge (-1) belongs to the oracle (``XTBOracle(charge=-1)``).
"""

from __future__ import annotations

import ase
import numpy as np
from scipy.spatial.transform import Rotation

from foundation_model.workflows.datagen.generators.base import StructureGenerator

C_H = 1.09  # Å
C_CL_BOND = 1.80  # Å, C-Cl bond in CH3Cl
C_CL_COMPLEX = 3.20  # Å, C...Cl- in the ion-molecule complex
UMBRELLA_Z = 0.35  # Å, height of the H3 plane above C in CH3Cl (H-C-Cl ~ 108.5°)


def sn2_geometry(s: float) -> ase.Atoms:
    """CH3Cl + Cl- at reaction coordinate ``s`` (0: reactant complex, 1: product complex).

    The C-Cl axis is ``z``: the leaving Cl at ``-z``, the incoming Cl at ``+z``.
    """
    d_leaving = C_CL_BOND + (C_CL_COMPLEX - C_CL_BOND) * s
    d_incoming = C_CL_COMPLEX - (C_CL_COMPLEX - C_CL_BOND) * s
    z_h = UMBRELLA_Z * (1.0 - 2.0 * s)  # the umbrella points away from the C-Cl bond
    r_h = np.sqrt(C_H**2 - z_h**2)
    angles = np.deg2rad([0.0, 120.0, 240.0])
    hydrogens = [[r_h * np.cos(a), r_h * np.sin(a), z_h] for a in angles]
    positions = [[0.0, 0.0, 0.0], *hydrogens, [0.0, 0.0, -d_leaving], [0.0, 0.0, d_incoming]]
    return ase.Atoms("CH3Cl2", positions=positions, pbc=False)


class SN2PathGenerator(StructureGenerator):
    """Structures along the SN2 reaction path of Cl- + CH3Cl.

    Args:
        n_structures: how many structures (``s`` spread evenly over ``s_range``).
        s_range: part of the reaction coordinate covered.
        rattle: standard deviation of the random displacements (Å).
        jitter: random shift of ``s`` around its grid value (fraction of the spacing).
    """

    kind = "molecule"

    def __init__(
        self,
        n_structures: int = 20,
        s_range: tuple[float, float] = (-0.1, 1.1),
        rattle: float = 0.05,
        jitter: float = 0.5,
    ) -> None:
        super().__init__(n_structures)
        self.s_range = (float(s_range[0]), float(s_range[1]))
        self.rattle = float(rattle)
        self.jitter = float(jitter)

    @property
    def elements(self) -> list[str]:
        return ["C", "Cl", "H"]

    def _build(self, rng: np.random.Generator) -> list[ase.Atoms]:
        grid = np.linspace(*self.s_range, self.n_structures)
        spacing = grid[1] - grid[0] if len(grid) > 1 else 0.0
        out = []
        for s in grid:
            s = float(s + self.jitter * spacing * rng.uniform(-0.5, 0.5))
            atoms = sn2_geometry(s)
            atoms.positions = atoms.positions @ Rotation.random(random_state=rng).as_matrix().T
            atoms.positions += rng.normal(0.0, self.rattle, atoms.positions.shape)
            atoms.info["reaction_coordinate"] = s
            out.append(atoms)
        return out
