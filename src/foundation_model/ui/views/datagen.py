"""Data-generation page: a form for ``fm datagen run``, the run in the background, live log."""

from __future__ import annotations

from pathlib import Path

from foundation_model.ui import config_forms as cf
from foundation_model.ui.workflow_page import Workflow, render_workflow


def form() -> dict | None:
    """The datagen form; returns the config once submitted."""
    import streamlit as st

    with st.form("datagen-form"):
        c1, c2, c3 = st.columns(3)
        system = c1.selectbox("System kind", list(cf.SYSTEMS), key="dg-system")
        elements = c2.text_input("Elements", "Cu, Al", key="dg-elements")
        fractions = c3.text_input("Fractions (blank: equal)", "", key="dg-fractions")
        lattice = c1.selectbox("Lattice", ["fcc", "bcc", "hcp"], key="dg-lattice")
        supercell = c2.number_input("Supercell repeats", 1, 8, 2, key="dg-supercell")
        n_structures = c3.number_input("Seed structures", 1, 1000, 4, key="dg-n")
        temperatures = c1.text_input("Temperatures (K)", "300, 600", key="dg-temps")
        md_steps = c2.number_input("MD steps per structure", 1, 1_000_000, 50, key="dg-steps")
        workers = c3.number_input("Worker processes", 1, 64, 1, key="dg-workers")
        calculator = c1.selectbox("Calculator", list(cf.CALCULATORS), key="dg-calc")
        sampler = c2.selectbox("Sampler", list(cf.SAMPLERS), key="dg-sampler")
        n_select = c3.number_input("Budget (structures kept)", 1, 1_000_000, 20, key="dg-budget")
        seed = c1.number_input("Random seed", 0, 2**31 - 1, 0, key="dg-seed")
        if not st.form_submit_button("Build config"):
            return None
    choices = cf.DatagenChoices(
        system=system,
        elements=cf.parse_elements(elements),
        fractions=cf.parse_numbers(fractions, "Fractions") if fractions.strip() else None,
        lattice=lattice,
        supercell=int(supercell),
        n_structures=int(n_structures),
        temperatures=cf.parse_numbers(temperatures, "Temperatures"),
        md_steps=int(md_steps),
        calculator=calculator,
        sampler=sampler,
        n_select=int(n_select),
        workers=int(workers),
        seed=int(seed),
    )
    return cf.datagen_config(choices)


def prepare(config: dict, folder: Path) -> dict:
    """Point the run's output into the job folder."""
    return {**config, "output_dir": str(folder / "run")}


WORKFLOW = Workflow(
    kind="datagen",
    title="Generate training data (fm datagen)",
    samples_dir="samples/datagen",
    form=form,
    prepare=prepare,
)


def render() -> None:
    """The data-generation page."""
    render_workflow(WORKFLOW)
