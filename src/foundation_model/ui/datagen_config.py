"""Form choices -> a ``fm datagen run`` config (same layout as ``samples/datagen/``).

Every stage is a ``class_path`` + ``init_args`` mapping; what the form does not ask keeps
the CLI's defaults.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from foundation_model.ui.config_forms import (
    class_path,
    formula_elements,
    parse_elements,
    parse_fractions,
    parse_numbers,
)
from foundation_model.ui.safety import UserInputError

DATAGEN = "foundation_model.workflows.datagen"
CALC = f"{DATAGEN}.calculators"
# form label -> (calculator spec class_path, init_args)
CALCULATORS: dict[str, tuple[str, dict]] = {
    "EMT (ASE; Cu, Al, Ni, Pd, Ag, Pt, Au)": (f"{CALC}.EMTSpec", {}),
    "GFN2-xTB (tblite)": (f"{CALC}.TBLiteSpec", {"method": "GFN2-xTB"}),
    "SevenNet-0 (pretrained)": (f"{CALC}.MLIPSpec", {"model": "sevennet"}),
    "CHGNet 0.3.0 (pretrained)": (f"{CALC}.MLIPSpec", {"model": "chgnet"}),
    "Fine-tuned checkpoint (.ckpt)": (f"{CALC}.MLIPSpec", {}),
}
SYSTEMS = {
    "alloy (random solid solution)": f"{DATAGEN}.generators.AlloyGenerator",
    "surface slab": f"{DATAGEN}.generators.SurfaceGenerator",
    "covalent crystal": f"{DATAGEN}.generators.CovalentGenerator",
    "ionic crystal": f"{DATAGEN}.generators.IonicGenerator",
    "from a formula (random symmetric crystals)": f"{DATAGEN}.generators.KnowledgeGenerator",
    "my structure files (CIF, POSCAR, extxyz, ...)": f"{DATAGEN}.generators.FileGenerator",
}
SAMPLERS = {
    "farthest point sampling (SOAP)": f"{DATAGEN}.samplers.FPSSampler",
    "DIRECT (SOAP)": f"{DATAGEN}.samplers.DIRECTSampler",
    "random": f"{DATAGEN}.samplers.RandomSampler",
}
SOAP = f"{DATAGEN}.samplers.SOAPDescriptor"


@dataclass
class DatagenChoices:
    """The common choices of a data-generation run (the form's fields).

    Fields that a system kind does not use are ignored for it.
    """

    system: str = "alloy (random solid solution)"
    elements: list[str] = field(default_factory=lambda: ["Cu", "Al"])
    fractions: list[float] | None = None
    lattice: str = "fcc"
    covalent_structure: str = "diamond"
    cations: dict[str, float] = field(default_factory=lambda: {"Mg": 1.0})
    anions: dict[str, float] = field(default_factory=lambda: {"O": 1.0})
    prototype: str = "rocksalt"
    formula: str = "TiO2"
    structure_files: list[str] = field(default_factory=list)
    supercell: int = 2
    layers: int = 4
    vacuum: float = 8.0
    n_structures: int = 2
    temperatures: list[float] = field(default_factory=lambda: [600.0])
    md_steps: int = 50
    timestep_fs: float = 2.0
    sample_interval: int = 10
    ensemble: str = "auto"
    mc_interval: int = 0
    calculator: str = "EMT (ASE; Cu, Al, Ni, Pd, Ag, Pt, Au)"
    checkpoint: str | None = None
    sampler: str = "farthest point sampling (SOAP)"
    n_samples: int = 20
    workers: int = 1
    seed: int = 0

    def validate(self) -> None:
        """Cross-field checks with messages for the page."""
        if self.fractions is not None:
            if len(self.fractions) != len(self.elements):
                raise UserInputError("Give one fraction per element.")
            if abs(sum(self.fractions) - 1.0) > 1e-6:
                raise UserInputError(f"Fractions sum to {sum(self.fractions):g}, not 1.")
        for name in ("supercell", "n_structures", "md_steps", "n_samples", "workers", "layers"):
            if getattr(self, name) < 1:
                raise UserInputError(f"{name.replace('_', ' ')} must be at least 1.")
        if self.timestep_fs <= 0 or self.vacuum < 0 or self.mc_interval < 0:
            raise UserInputError("Time step must be > 0; vacuum and MC interval >= 0.")
        if self.sample_interval < 1 or self.sample_interval > self.md_steps:
            raise UserInputError("Sample interval must be between 1 and the MD steps.")
        for name, table in (("calculator", CALCULATORS), ("sampler", SAMPLERS),
                            ("system", SYSTEMS)):  # fmt: skip
            if getattr(self, name) not in table:
                raise UserInputError(f"Unknown {name} {getattr(self, name)!r}.")
        if self.calculator.startswith("Fine-tuned") and not self.checkpoint:
            raise UserInputError("Give the path of the fine-tuned checkpoint.")
        if self._kind() == "FileGenerator" and not self.structure_files:
            raise UserInputError("Give at least one structure file.")

    def _kind(self) -> str:
        return SYSTEMS[self.system].rsplit(".", 1)[1]

    def species(self) -> list[str]:
        """Every element the generated structures can contain (SOAP species)."""
        kind = self._kind()
        if kind == "IonicGenerator":
            return list(self.cations) + list(self.anions)
        if kind == "FileGenerator":  # read the files (one message for a bad one)
            from foundation_model.workflows.datagen.generators import FileGenerator

            try:
                return FileGenerator(self.structure_files).elements
            except (OSError, ValueError) as err:
                raise UserInputError(str(err)) from err
        if kind == "KnowledgeGenerator":
            return formula_elements(self.formula)
        return list(self.elements)


def parse_system_fields(raw: dict) -> dict:
    """Typed DatagenChoices arguments from the raw system-specific form inputs."""
    out = dict(raw)
    if "elements" in raw:
        out["elements"] = parse_elements(str(raw["elements"]))
    if "fractions" in raw:
        text = str(raw["fractions"])
        out["fractions"] = parse_numbers(text, "Fractions") if text.strip() else None
    for key, what in (("cations", "Cations"), ("anions", "Anions")):
        if key in raw:
            out[key] = parse_fractions(str(raw[key]), what)
    if "formula" in raw:
        formula_elements(str(raw["formula"]))
    if "structure_files" in raw:
        text = str(raw["structure_files"]).replace(",", "\n")
        out["structure_files"] = [line.strip() for line in text.splitlines() if line.strip()]
    for key, cast in (("layers", int), ("vacuum", float)):
        if key in raw:
            out[key] = cast(raw[key])
    return out


def _generator(c: DatagenChoices) -> dict:
    path = SYSTEMS[c.system]
    kind = path.rsplit(".", 1)[1]
    n = c.supercell
    if kind == "AlloyGenerator":
        return class_path(path, elements=c.elements, fractions=c.fractions, lattice=c.lattice,
                          supercell=[n, n, n], n_structures=c.n_structures)  # fmt: skip
    if kind == "SurfaceGenerator":
        return class_path(path, elements=c.elements, fractions=c.fractions, lattice=c.lattice,
                          layers=c.layers, size=[n, n], vacuum=c.vacuum,
                          n_structures=c.n_structures)  # fmt: skip
    if kind == "CovalentGenerator":
        return class_path(path, elements=c.elements, structure=c.covalent_structure,
                          supercell=[n, n, n], vacuum=c.vacuum,
                          n_structures=c.n_structures)  # fmt: skip
    if kind == "IonicGenerator":
        return class_path(path, cations=c.cations, anions=c.anions, prototype=c.prototype,
                          supercell=[n, n, n], n_structures=c.n_structures)  # fmt: skip
    if kind == "FileGenerator":  # every frame of the files: they are the user's choice
        return class_path(path, paths=list(c.structure_files))
    return class_path(path, formula=c.formula.strip(), n_structures=c.n_structures)


def calculator_config(label: str, checkpoint: str | None = None) -> dict:
    """The calculator spec of a form label (``checkpoint`` for the fine-tuned choice)."""
    path, args = CALCULATORS[label]
    if label.startswith("Fine-tuned"):
        args = {"checkpoint": checkpoint}
    return class_path(path, **args)


def datagen_config(c: DatagenChoices, output_dir: str = "results/datagen/ui_run") -> dict:
    """A ``fm datagen run`` config from the form's choices (same layout as the samples)."""
    c.validate()
    sampler_args: dict = {"n_samples": c.n_samples}
    if not SAMPLERS[c.sampler].endswith("RandomSampler"):
        sampler_args["descriptor"] = class_path(
            SOAP, r_cut=4.5, n_max=4, l_max=3, species=sorted(c.species())
        )
    return {
        "output_dir": output_dir,
        "seed": c.seed,
        "generate": {"generators": [_generator(c)]},
        "explore": class_path(
            f"{DATAGEN}.explore.explorer.MDExplorer",
            calculator=calculator_config(c.calculator, c.checkpoint),
            temperatures=c.temperatures,
            steps=c.md_steps,
            timestep_fs=c.timestep_fs,
            sample_interval=c.sample_interval,
            ensemble=c.ensemble,
            mc_interval=c.mc_interval,
        ),
        "sample": class_path(SAMPLERS[c.sampler], **sampler_args),
        "store": class_path(f"{DATAGEN}.storage.AseDatabaseStorage", filename="dataset.db"),
        "executor": class_path(f"{DATAGEN}.executor.TaskExecutor", n_workers=c.workers),
    }
