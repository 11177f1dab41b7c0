"""Form choices -> workflow configs that the CLIs accept (plain Python, no Streamlit).

``fm datagen run --config`` and ``fm distill run --config`` read jsonargparse configs where
every stage is a ``class_path`` + ``init_args`` mapping. The functions here turn the few
common choices of the forms into such a config; everything else keeps the CLI's defaults.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ase.data import atomic_numbers

from foundation_model.ui.safety import UserInputError

DATAGEN = "foundation_model.workflows.datagen"
CALCULATORS = {
    "EMT (ASE, fast, metals)": f"{DATAGEN}.calculators.EMTSpec",
    "GFN2-xTB (tblite)": f"{DATAGEN}.calculators.TBLiteSpec",
    "SevenNet-0 (pretrained)": f"{DATAGEN}.calculators.SevenNetSpec",
    "CHGNet (pretrained)": f"{DATAGEN}.calculators.CHGNetSpec",
}
SYSTEMS = {
    "alloy": f"{DATAGEN}.generators.AlloyGenerator",
}
SAMPLERS = {
    "farthest point (SOAP)": f"{DATAGEN}.samplers.FPSSampler",
    "random": f"{DATAGEN}.samplers.RandomSampler",
}


def parse_elements(text: str) -> list[str]:
    """Chemical symbols from ``"Cu, Al"`` / ``"Cu Al"``; unknown symbols are refused."""
    symbols = [s for s in re.split(r"[\s,;]+", text.strip()) if s]
    if not symbols:
        raise UserInputError("Give at least one element, e.g. Cu, Al.")
    bad = [s for s in symbols if s not in atomic_numbers or s == "X"]
    if bad:
        raise UserInputError(f"Unknown element(s): {', '.join(bad)}.")
    if len(set(symbols)) != len(symbols):
        raise UserInputError("Each element once, please.")
    return symbols


def parse_numbers(text: str, what: str, positive: bool = True) -> list[float]:
    """Numbers from ``"300, 600"``; refuses non-numbers (and non-positive when asked)."""
    values = []
    for item in (s for s in re.split(r"[\s,;]+", text.strip()) if s):
        try:
            values.append(float(item))
        except ValueError as exc:
            raise UserInputError(f"{what}: {item!r} is not a number.") from exc
    if not values:
        raise UserInputError(f"{what}: give at least one number.")
    if positive and min(values) <= 0:
        raise UserInputError(f"{what}: every value must be > 0.")
    return values


def class_path(path: str, **init_args) -> dict:
    """A ``class_path`` / ``init_args`` mapping (``None`` arguments left out)."""
    return {"class_path": path, "init_args": {k: v for k, v in init_args.items() if v is not None}}


@dataclass
class DatagenChoices:
    """The common choices of a data-generation run."""

    system: str = "alloy"
    elements: list[str] = field(default_factory=lambda: ["Cu", "Al"])
    fractions: list[float] | None = None
    lattice: str = "fcc"
    supercell: int = 2
    n_structures: int = 4
    temperatures: list[float] = field(default_factory=lambda: [300.0])
    md_steps: int = 50
    calculator: str = "EMT (ASE, fast, metals)"
    sampler: str = "farthest point (SOAP)"
    n_select: int = 20
    workers: int = 1
    seed: int = 0

    def validate(self) -> None:
        """Cross-field checks with messages for the page."""
        if self.fractions is not None:
            if len(self.fractions) != len(self.elements):
                raise UserInputError("Give one fraction per element.")
            if abs(sum(self.fractions) - 1.0) > 1e-6:
                raise UserInputError(f"Fractions sum to {sum(self.fractions):g}, not 1.")
        for name in ("supercell", "n_structures", "md_steps", "n_select", "workers"):
            if getattr(self, name) < 1:
                raise UserInputError(f"{name.replace('_', ' ')} must be at least 1.")
        if self.calculator not in CALCULATORS:
            raise UserInputError(f"Unknown calculator {self.calculator!r}.")
        if self.sampler not in SAMPLERS:
            raise UserInputError(f"Unknown sampler {self.sampler!r}.")
        if self.system not in SYSTEMS:
            raise UserInputError(f"Unknown system kind {self.system!r}.")


def datagen_config(choices: DatagenChoices, output_dir: str = "datagen_run") -> dict:
    """A ``fm datagen run`` config from the form's choices."""
    choices.validate()
    generator = class_path(
        SYSTEMS[choices.system],
        elements=choices.elements,
        fractions=choices.fractions,
        lattice=choices.lattice,
        supercell=[choices.supercell] * 3,
        n_structures=choices.n_structures,
    )
    return {
        "seed": choices.seed,
        "output_dir": output_dir,
        "generator": generator,
        "explore": {
            "calculator": class_path(CALCULATORS[choices.calculator]),
            "temperatures": choices.temperatures,
            "steps": choices.md_steps,
            "workers": choices.workers,
        },
        "sampler": class_path(SAMPLERS[choices.sampler], n_select=choices.n_select),
    }
