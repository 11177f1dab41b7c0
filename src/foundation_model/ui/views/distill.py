"""Distillation page: a form for ``fm distill run`` on top of a sample config, run live."""

from __future__ import annotations

from pathlib import Path

import yaml

from foundation_model.ui import config_forms as cf
from foundation_model.ui import context
from foundation_model.ui import distill_config as dc
from foundation_model.ui.safety import UserInputError
from foundation_model.ui.workflow_page import Workflow, render_workflow

SAMPLES = "samples/distill"


def _template() -> tuple[str, dict]:
    """The sample config the form starts from (chosen on the page) and its file name."""
    import streamlit as st

    cfg = context.settings()
    samples = sorted((cfg.project_dir / SAMPLES).glob("*.yaml"))
    if not samples:
        raise UserInputError(f"No sample config under {SAMPLES}/ to start from.")
    names = [p.name for p in samples]
    default = names.index("cu_al_emt.yaml") if "cu_al_emt.yaml" in names else 0
    name = st.selectbox("Start from the sample", names, index=default, key="ds-template")
    return name, yaml.safe_load((cfg.project_dir / SAMPLES / name).read_text())


def _int(value: object) -> int | None:
    """A template value as a number-field start (``None``: an empty field)."""
    return int(value) if isinstance(value, int | float) else None


def _numbers_text(values: object) -> str:
    """A template's list of numbers as the text of a field (``"300, 500"``)."""
    if not isinstance(values, list | tuple):
        return ""
    return ", ".join(f"{float(v):g}" for v in values)


def form() -> dict | None:
    """The distill form, filled from the chosen sample; returns the config once submitted.

    Every widget key carries the sample's name, so switching the sample refills the form
    with that sample's values; fields left as they are keep the sample's values exactly.
    """
    import streamlit as st

    name, template = _template()
    start = dc.template_choices(template)

    def key(field: str) -> str:
        return f"ds-{field}-{name}"

    with st.form("distill-form"):
        c1, c2, c3 = st.columns(3)
        elements = c1.text_input("Alloy elements (blank: the sample's)", "", key=key("el"))
        fractions = c2.text_input("Fractions (blank: equal)", "", key=key("frac"))
        budget = c3.number_input("Oracle budget (calls)", 1, 1_000_000, _int(start.budget),
                                 key=key("budget"))  # fmt: skip
        rounds = c1.number_input("Active-learning rounds", 1, 100, _int(start.rounds),
                                 key=key("rounds"))  # fmt: skip
        per_round = c2.number_input("Structures per round", 1, 10_000, _int(start.per_round),
                                    key=key("per"))  # fmt: skip
        teacher = c3.selectbox("Teacher", list(dc.TEACHERS), key=key("teacher"))
        epochs = c1.number_input("Teacher epochs", 1, 10_000, _int(start.teacher_epochs),
                                 key=key("epochs"))  # fmt: skip
        temps = c2.text_input("Surrogate MD temperatures (K)",
                              _numbers_text(start.md_temperatures), key=key("temps"),
                              help="blank: the chosen sample's temperatures")  # fmt: skip
        steps = c3.number_input("Surrogate MD steps", 1, 1_000_000, _int(start.md_steps),
                                key=key("steps"))  # fmt: skip
        n_traj = c1.number_input("Surrogate trajectories", 1, 1000, _int(start.n_trajectories),
                                 key=key("traj"))  # fmt: skip
        workers = c2.number_input("Worker processes", 1, 64, _int(start.workers),
                                  key=key("workers"))  # fmt: skip
        seed = c3.number_input("Random seed", 0, 2**31 - 1, _int(start.seed), key=key("seed"))
        if not st.form_submit_button("Build config"):
            return None
    choices = dc.DistillChoices(
        elements=cf.parse_elements(elements) if elements.strip() else None,
        fractions=cf.parse_numbers(fractions, "Fractions") if fractions.strip() else None,
        budget=_int(budget),
        rounds=_int(rounds),
        per_round=_int(per_round),
        teacher=teacher,
        teacher_epochs=_int(epochs),
        md_temperatures=cf.parse_numbers(temps, "Surrogate MD temperatures")
        if temps.strip()
        else None,
        md_steps=_int(steps),
        n_trajectories=_int(n_traj),
        workers=_int(workers),
        seed=_int(seed),
    )
    return dc.distill_config(template, choices)


def prepare(config: dict, folder: Path) -> dict:
    """Write the run's outputs into the job folder (``<job>/run``)."""
    return {**config, "output_dir": str(folder / "run")}


def check(config: dict) -> None:
    """Refuse a config that ``fm distill run`` would refuse before any work.

    The CLI's parser checks types and class paths; the stages are then built (the teacher
    keeps its backbone as a mapping, so no weights are loaded) and the pipeline's own
    constructor checks run: the oracle budget against ``n_test + n_initial``, and the
    oracle's calculator against the pool's elements.
    """
    from foundation_model.cli.distill import build_parser
    from foundation_model.workflows.distill.pipeline import DistillPipeline

    cf.check_with_cli_parser(build_parser, config, pipeline=DistillPipeline)


WORKFLOW = Workflow(
    kind="distill",
    title="Distil a fast potential (fm distill)",
    samples_dir=SAMPLES,
    form=form,
    prepare=prepare,
    check=check,
)


def render() -> None:
    """The distillation page."""
    render_workflow(WORKFLOW)
