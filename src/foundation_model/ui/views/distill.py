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


def _template() -> dict:
    """The sample config the form starts from (chosen on the page)."""
    import streamlit as st

    cfg = context.settings()
    samples = sorted((cfg.project_dir / SAMPLES).glob("*.yaml"))
    if not samples:
        raise UserInputError(f"No sample config under {SAMPLES}/ to start from.")
    names = [p.name for p in samples]
    default = names.index("cu_al_emt.yaml") if "cu_al_emt.yaml" in names else 0
    name = st.selectbox("Start from the sample", names, index=default, key="ds-template")
    return yaml.safe_load((cfg.project_dir / SAMPLES / name).read_text())


def form() -> dict | None:
    """The distill form; returns the config once submitted."""
    import streamlit as st

    template = _template()
    with st.form("distill-form"):
        c1, c2, c3 = st.columns(3)
        elements = c1.text_input("Alloy elements (blank: the sample's)", "", key="ds-el")
        fractions = c2.text_input("Fractions (blank: equal)", "", key="ds-frac")
        budget = c3.number_input("Oracle budget (calls)", 1, 1_000_000, 60, key="ds-budget")
        rounds = c1.number_input("Active-learning rounds", 1, 100, 3, key="ds-rounds")
        per_round = c2.number_input("Structures per round", 1, 10_000, 10, key="ds-per")
        teacher = c3.selectbox("Teacher", list(dc.TEACHERS), key="ds-teacher")
        epochs = c1.number_input("Teacher epochs", 1, 10_000, 60, key="ds-epochs")
        temps = c2.text_input("Surrogate MD temperatures (K)", "300, 600", key="ds-temps")
        steps = c3.number_input("Surrogate MD steps", 1, 1_000_000, 200, key="ds-steps")
        n_traj = c1.number_input("Surrogate trajectories", 1, 1000, 4, key="ds-traj")
        workers = c2.number_input("Worker processes", 1, 64, 1, key="ds-workers")
        seed = c3.number_input("Random seed", 0, 2**31 - 1, 0, key="ds-seed")
        if not st.form_submit_button("Build config"):
            return None
    choices = dc.DistillChoices(
        elements=cf.parse_elements(elements) if elements.strip() else None,
        fractions=cf.parse_numbers(fractions, "Fractions") if fractions.strip() else None,
        budget=int(budget),
        rounds=int(rounds),
        per_round=int(per_round),
        teacher=teacher,
        teacher_epochs=int(epochs),
        md_temperatures=cf.parse_numbers(temps, "Surrogate MD temperatures"),
        md_steps=int(steps),
        n_trajectories=int(n_traj),
        workers=int(workers),
        seed=int(seed),
    )
    return dc.distill_config(template, choices)


def prepare(config: dict, folder: Path) -> dict:
    """Write the run's outputs into the job folder (``<job>/run``)."""
    return {**config, "output_dir": str(folder / "run")}


def check(config: dict) -> None:
    """Refuse a config that ``fm distill run`` would refuse (types and class paths)."""
    from foundation_model.cli.distill import build_parser

    # parse only: building the stages would load the teacher's weights
    cf.check_with_cli_parser(build_parser, config, instantiate=False)


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
