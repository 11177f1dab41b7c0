"""Form choices -> a ``fm distill run`` config, applied on top of a sample config."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

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


# form field -> the template key it edits
FIELDS = {
    "seed": "seed",
    "budget": "oracle.init_args.budget",
    "rounds": "active_learning.rounds",
    "per_round": "active_learning.selector.per_round",
    "teacher_epochs": "teacher.epochs",
    "md_temperatures": "surrogate_md.temperatures",
    "md_steps": "surrogate_md.steps",
    "n_trajectories": "surrogate_md.n_trajectories",
    "workers": "executor.init_args.n_workers",
}


@dataclass
class DistillChoices:
    """Common choices of a distillation run, applied on top of a sample config.

    ``None`` (the default of every field) keeps the template's value; so does a value equal
    to the template's, so that an untouched form reproduces the sample exactly.
    """

    elements: list[str] | None = None
    fractions: list[float] | None = None
    budget: int | None = None
    rounds: int | None = None
    per_round: int | None = None
    teacher: str = "keep the sample's"
    teacher_epochs: int | None = None
    md_temperatures: list[float] | None = None
    md_steps: int | None = None
    n_trajectories: int | None = None
    workers: int | None = None
    seed: int | None = None

    def validate(self) -> None:
        """Range checks with messages for the page."""
        for name in ("budget", "rounds", "per_round", "teacher_epochs", "md_steps",
                     "n_trajectories", "workers"):  # fmt: skip
            value = getattr(self, name)
            if value is not None and value < 1:
                raise UserInputError(f"{name.replace('_', ' ')} must be at least 1.")
        if self.teacher not in TEACHERS:
            raise UserInputError(f"Unknown teacher {self.teacher!r}.")
        if self.fractions is not None:
            if self.elements is None or len(self.fractions) != len(self.elements):
                raise UserInputError("Give one fraction per element.")
            if abs(sum(self.fractions) - 1.0) > 1e-6:
                raise UserInputError(f"Fractions sum to {sum(self.fractions):g}, not 1.")


def template_choices(template: dict) -> DistillChoices:
    """The form's starting values: the template's own (``None`` where it has no such key)."""
    values = {}
    for name, dotted in FIELDS.items():
        try:
            values[name] = get_in(template, dotted)
        except UserInputError:
            values[name] = None
    return DistillChoices(**values)


def _same(old: Any, new: Any) -> bool:
    """Whether a form value equals the template's (``300`` and ``300.0`` are the same)."""
    if isinstance(old, list | tuple) and isinstance(new, list | tuple):
        return len(old) == len(new) and all(_same(a, b) for a, b in zip(old, new, strict=True))
    if isinstance(old, int | float) and isinstance(new, int | float):
        return float(old) == float(new)
    return old == new


def _retarget_alloy_pool(config: dict, elements: list[str], fractions: list[float] | None):
    generators = get_in(config, "pool.generators")
    if not all(g.get("class_path") == ALLOY for g in generators):
        raise UserInputError(
            "Changing the elements needs a template whose pool is made of AlloyGenerator "
            "entries (e.g. samples/distill/cu_al_emt.yaml); leave the field blank otherwise."
        )
    for generator in generators:
        args = generator["init_args"]
        # without fractions, the template's compositions (e.g. 0.75/0.25 and 0.5/0.5) are
        # kept on the new elements when their count matches; else equal shares
        if fractions is not None or len(args.get("fractions") or []) != len(elements):
            args["fractions"] = fractions or [1.0 / len(elements)] * len(elements)
        args["elements"] = elements
    descriptor = get_in(config, "pool.sampler.init_args").get("descriptor")
    if isinstance(descriptor, dict) and "species" in descriptor.get("init_args", {}):
        descriptor["init_args"]["species"] = sorted(elements)


def distill_config(template: dict, c: DistillChoices, output_dir: str | None = None) -> dict:
    """A ``fm distill run`` config: ``template`` (a sample) with the form's choices applied."""
    c.validate()
    config = copy.deepcopy(template)
    for name, dotted in FIELDS.items():
        value = getattr(c, name)
        if value is None:
            continue
        try:
            current = get_in(config, dotted)
        except UserInputError:
            current = None
        if current is None or not _same(current, value):
            set_in(config, dotted, value)
    if TEACHERS[c.teacher] is not None:
        set_in(config, "teacher.backbone", copy.deepcopy(TEACHERS[c.teacher]))
    if c.elements:
        _retarget_alloy_pool(config, c.elements, c.fractions)
    if output_dir is not None:
        set_in(config, "output_dir", output_dir)
    return config
