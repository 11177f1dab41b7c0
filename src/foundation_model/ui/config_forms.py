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
}
SAMPLERS = {
    "farthest point sampling (SOAP)": f"{DATAGEN}.samplers.FPSSampler",
    "DIRECT (SOAP)": f"{DATAGEN}.samplers.DIRECTSampler",
    "random": f"{DATAGEN}.samplers.RandomSampler",
}
SOAP = f"{DATAGEN}.samplers.SOAPDescriptor"


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


def parse_fractions(text: str, what: str) -> dict[str, float]:
    """``{symbol: fraction}`` from ``"Mg:0.5, Ca:0.5"`` (a lone symbol means fraction 1)."""
    out: dict[str, float] = {}
    for item in (t for t in re.split(r"[\s,;]+", text.strip()) if t):
        symbol, _, fraction = item.partition(":")
        parse_elements(symbol)
        try:
            out[symbol] = float(fraction) if fraction else 1.0
        except ValueError as exc:
            raise UserInputError(f"{what}: {fraction!r} is not a fraction.") from exc
    if not out:
        raise UserInputError(f"{what}: give at least one element, e.g. Mg:1.")
    if abs(sum(out.values()) - 1.0) > 1e-6:
        raise UserInputError(f"{what}: fractions sum to {sum(out.values()):g}, not 1.")
    return out


def formula_elements(formula: str) -> list[str]:
    """Elements of a formula such as ``TiO2`` (refused when it does not parse)."""
    from ase.formula import Formula

    try:
        counts = Formula(formula.strip()).count()
    except ValueError as exc:
        raise UserInputError(f"{formula!r} is not a chemical formula: {exc}") from exc
    if not counts:
        raise UserInputError("Give a formula, e.g. TiO2.")
    return parse_elements(" ".join(counts))


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

    def species(self) -> list[str]:
        """Every element the generated structures can contain (SOAP species)."""
        kind = SYSTEMS[self.system].rsplit(".", 1)[1]
        if kind == "IonicGenerator":
            return list(self.cations) + list(self.anions)
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


def check_with_cli_parser(build_parser, config: dict, instantiate: bool = True) -> None:
    """Check ``config`` with a workflow CLI's own jsonargparse parser.

    Args:
        build_parser: the CLI's parser factory (e.g. ``foundation_model.cli.datagen.build_parser``).
        config: the config mapping.
        instantiate: also build the stage objects (runs their constructors' validation).

    Raises:
        UserInputError: with the parser's message when the CLI would refuse the config.
    """
    import yaml

    parser = build_parser()
    try:
        namespace = parser.parse_string(yaml.safe_dump(config, sort_keys=False))
        if instantiate:
            parser.instantiate_classes(namespace)
    except Exception as exc:  # jsonargparse's ArgumentError, or any constructor's error
        raise UserInputError(f"The CLI refuses this config: {_last_line(exc)}") from exc


def _last_line(exc: BaseException) -> str:
    while exc.__cause__ is not None and isinstance(exc.__cause__, ValueError | TypeError):
        exc = exc.__cause__
    lines = [ln.strip() for ln in str(exc).strip().splitlines() if ln.strip()]
    return lines[-1] if lines else type(exc).__name__


TEACHERS = {
    "keep the sample's": None,
    "SchNet (small, trained from scratch)": {
        "class_path": "foundation_model.backbones.SchNetBackbone",
        "init_args": {"cutoff": 4.5, "hidden": 32, "num_interactions": 2, "num_rbf": 16},
    },
    "SevenNet-0 (pretrained)": {"class_path": "foundation_model.backbones.SevenNetBackbone"},
    "CHGNet 0.3.0 (pretrained)": {"class_path": "foundation_model.backbones.CHGNetBackbone"},
}
ALLOY = f"{DATAGEN}.generators.AlloyGenerator"


def get_in(config: dict, dotted: str):
    """``config["a"]["b"]`` for ``"a.b"``; a :class:`UserInputError` names a missing key."""
    node = config
    for key in dotted.split("."):
        if not isinstance(node, dict) or key not in node:
            raise UserInputError(f"The template config has no {dotted!r}.")
        node = node[key]
    return node


def set_in(config: dict, dotted: str, value) -> None:
    """Set an existing key given as ``"a.b.c"`` (refuses keys the template lacks)."""
    parent, _, last = dotted.rpartition(".")
    try:
        node = get_in(config, parent) if parent else config
    except UserInputError:
        node = None
    if not isinstance(node, dict) or last not in node:
        raise UserInputError(f"The template config has no {dotted!r}.")
    node[last] = value


@dataclass
class DistillChoices:
    """Common choices of a distillation run, applied on top of a sample config."""

    elements: list[str] | None = None
    fractions: list[float] | None = None
    budget: int = 60
    rounds: int = 3
    per_round: int = 10
    teacher: str = "keep the sample's"
    teacher_epochs: int = 60
    md_temperatures: list[float] = field(default_factory=lambda: [300.0, 600.0])
    md_steps: int = 200
    n_trajectories: int = 4
    workers: int = 1
    seed: int = 0

    def validate(self) -> None:
        """Range checks with messages for the page."""
        for name in ("budget", "rounds", "per_round", "teacher_epochs", "md_steps",
                     "n_trajectories", "workers"):  # fmt: skip
            if getattr(self, name) < 1:
                raise UserInputError(f"{name.replace('_', ' ')} must be at least 1.")
        if self.teacher not in TEACHERS:
            raise UserInputError(f"Unknown teacher {self.teacher!r}.")
        if self.fractions is not None:
            if self.elements is None or len(self.fractions) != len(self.elements):
                raise UserInputError("Give one fraction per element.")
            if abs(sum(self.fractions) - 1.0) > 1e-6:
                raise UserInputError(f"Fractions sum to {sum(self.fractions):g}, not 1.")


def _retarget_alloy_pool(config: dict, elements: list[str], fractions: list[float] | None):
    generators = get_in(config, "pool.generators")
    if not all(g.get("class_path") == ALLOY for g in generators):
        raise UserInputError(
            "Changing the elements needs a template whose pool is made of AlloyGenerator "
            "entries (e.g. samples/distill/cu_al_emt.yaml); leave the field blank otherwise."
        )
    for generator in generators:
        generator["init_args"]["elements"] = elements
        generator["init_args"]["fractions"] = fractions or [1.0 / len(elements)] * len(elements)
    descriptor = get_in(config, "pool.sampler.init_args").get("descriptor")
    if isinstance(descriptor, dict) and "species" in descriptor.get("init_args", {}):
        descriptor["init_args"]["species"] = sorted(elements)


def distill_config(template: dict, c: DistillChoices, output_dir: str | None = None) -> dict:
    """A ``fm distill run`` config: ``template`` (a sample) with the form's choices applied."""
    import copy

    c.validate()
    config = copy.deepcopy(template)
    set_in(config, "seed", c.seed)
    set_in(config, "oracle.init_args.budget", c.budget)
    set_in(config, "active_learning.rounds", c.rounds)
    set_in(config, "active_learning.selector.per_round", c.per_round)
    set_in(config, "teacher.epochs", c.teacher_epochs)
    if TEACHERS[c.teacher] is not None:
        set_in(config, "teacher.backbone", copy.deepcopy(TEACHERS[c.teacher]))
    set_in(config, "surrogate_md.temperatures", c.md_temperatures)
    set_in(config, "surrogate_md.steps", c.md_steps)
    set_in(config, "surrogate_md.n_trajectories", c.n_trajectories)
    set_in(config, "executor.init_args.n_workers", c.workers)
    if c.elements:
        _retarget_alloy_pool(config, c.elements, c.fractions)
    if output_dir is not None:
        set_in(config, "output_dir", output_dir)
    return config
