"""Form choices -> a ``fm distill run`` config, applied on top of a sample config."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from foundation_model.ui.config_forms import get_in, set_in
from foundation_model.ui.datagen_config import DATAGEN
from foundation_model.ui.safety import UserInputError

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
