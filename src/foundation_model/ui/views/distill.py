"""Distillation page: a form for ``fm distill run``, the run in the background, live log."""

from __future__ import annotations

from pathlib import Path

from foundation_model.ui import config_forms as cf
from foundation_model.ui.workflow_page import Workflow, render_workflow


def form() -> dict | None:
    """The distill form; returns the config once submitted."""
    import streamlit as st

    with st.form("distill-form"):
        c1, c2, c3 = st.columns(3)
        elements = c1.text_input("Elements", "Cu, Al", key="ds-elements")
        oracle = c2.selectbox("Oracle (reference)", list(cf.CALCULATORS), key="ds-oracle")
        budget = c3.number_input("Oracle budget (calls)", 1, 1_000_000, 50, key="ds-budget")
        temperatures = c1.text_input("MD temperatures (K)", "300, 600", key="ds-temps")
        seed = c2.number_input("Random seed", 0, 2**31 - 1, 0, key="ds-seed")
        if not st.form_submit_button("Build config"):
            return None
    return {
        "seed": int(seed),
        "elements": cf.parse_elements(elements),
        "oracle": cf.class_path(cf.CALCULATORS[oracle]),
        "budget": int(budget),
        "temperatures": cf.parse_numbers(temperatures, "MD temperatures"),
    }


def prepare(config: dict, folder: Path) -> dict:
    """Point the run's output into the job folder."""
    return {**config, "output_dir": str(folder / "run")}


WORKFLOW = Workflow(
    kind="distill",
    title="Distil a fast potential (fm distill)",
    samples_dir="samples/distill",
    form=form,
    prepare=prepare,
)


def render() -> None:
    """The distillation page."""
    render_workflow(WORKFLOW)
