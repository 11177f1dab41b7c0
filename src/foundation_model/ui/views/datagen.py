"""Data-generation page: a form for ``fm datagen run``, the run in the background, live log."""

from __future__ import annotations

from pathlib import Path

from foundation_model.ui import config_forms as cf
from foundation_model.ui import context
from foundation_model.ui import datagen_config as dg
from foundation_model.ui.workflow_page import Workflow, render_workflow


def _system_fields(system: str, cols) -> dict[str, str | int | float]:
    """Raw inputs specific to the system kind (parsed after submission)."""
    kind = dg.SYSTEMS[system].rsplit(".", 1)[1]
    c1, c2, c3 = cols
    raw: dict[str, str | int | float] = {}
    if kind in ("AlloyGenerator", "SurfaceGenerator", "CovalentGenerator"):
        default = "C" if kind == "CovalentGenerator" else "Cu, Al"
        raw["elements"] = c1.text_input("Elements", default, key="dg-el")
    if kind in ("AlloyGenerator", "SurfaceGenerator"):
        raw["fractions"] = c2.text_input("Fractions (blank: equal)", "", key="dg-frac")
        raw["lattice"] = c3.selectbox("Lattice", ["fcc", "bcc", "hcp"], key="dg-lat")
    if kind == "SurfaceGenerator":
        raw["layers"] = c1.number_input("Layers", 1, 20, 4, key="dg-layers")
    if kind in ("SurfaceGenerator", "CovalentGenerator"):
        raw["vacuum"] = c2.number_input("Vacuum (Å)", 0.0, 50.0, 8.0, key="dg-vac")
    if kind == "CovalentGenerator":
        raw["covalent_structure"] = c3.selectbox(
            "Structure", ["diamond", "graphite", "graphene"], key="dg-cov"
        )
    if kind == "IonicGenerator":
        raw["cations"] = c1.text_input("Cations (symbol:fraction)", "Mg:1", key="dg-cat")
        raw["anions"] = c2.text_input("Anions (symbol:fraction)", "O:1", key="dg-an")
        raw["prototype"] = c3.selectbox(
            "Prototype", ["rocksalt", "cesiumchloride", "zincblende", "fluorite"], key="dg-pro"
        )
    if kind == "KnowledgeGenerator":
        raw["formula"] = c1.text_input("Formula", "TiO2", key="dg-formula")
    if kind == "FileGenerator":
        raw["structure_files"] = c1.text_area(
            "Structure files (one path per line)",
            "",
            key="dg-files",
            help="any format ASE reads; every frame is a seed (the seed-structure count "
            "is not used); labels in the files are dropped",
        )
    return raw


def form() -> dict | None:
    """The datagen form; returns the config once submitted."""
    import streamlit as st

    system = st.selectbox("System kind", list(dg.SYSTEMS), key="dg-system")
    calculator = st.selectbox("Calculator (labels energies, forces, stress)",
                              list(dg.CALCULATORS), key="dg-calc")  # fmt: skip
    with st.form("datagen-form"):
        cols = st.columns(3)
        fields = _system_fields(system, cols)
        c1, c2, c3 = st.columns(3)
        supercell = c1.number_input("Supercell repeats", 1, 8, 2, key="dg-supercell")
        n_structures = c2.number_input("Seed structures", 1, 1000, 2, key="dg-n")
        temperatures = c3.text_input("Temperatures (K)", "600", key="dg-temps")
        md_steps = c1.number_input("MD steps per trajectory", 1, 1_000_000, 40, key="dg-steps")
        interval = c2.number_input("Keep a frame every N steps", 1, 100_000, 10, key="dg-int")
        ensemble = c3.selectbox(
            "Ensemble",
            ["auto", "nvt", "npt"],
            key="dg-ens",
            help="auto: NVT for slabs (vacuum found), NPT for bulk",
        )
        mc_interval = c1.number_input("MC swap every N steps (0: off)", 0, 100_000, 0,
                                      key="dg-mc")  # fmt: skip
        sampler = c2.selectbox("Sampler", list(dg.SAMPLERS), key="dg-sampler")
        n_samples = c3.number_input("Budget (structures kept)", 1, 1_000_000, 12, key="dg-n-s")
        workers = c1.number_input("Worker processes", 1, 64, 1, key="dg-workers")
        seed = c2.number_input("Random seed", 0, 2**31 - 1, 0, key="dg-seed")
        typed_ckpt = ""
        if calculator.startswith("Fine-tuned"):
            typed_ckpt = c3.text_input("Checkpoint path", key="dg-ckpt")
        if not st.form_submit_button("Build config"):
            return None
    guard = context.settings().guard
    if "structure_files" in fields:  # inside the allowed folders, and present
        names = dg.parse_system_fields({"structure_files": fields["structure_files"]})
        fields["structure_files"] = "\n".join(
            str(guard.resolve(name, must_exist=True)) for name in names["structure_files"]
        )
    checkpoint = None
    if typed_ckpt.strip():
        checkpoint = str(guard.resolve(typed_ckpt, must_exist=True))
    choices = dg.DatagenChoices(
        system=system,
        supercell=int(supercell),
        n_structures=int(n_structures),
        temperatures=cf.parse_numbers(temperatures, "Temperatures"),
        md_steps=int(md_steps),
        sample_interval=int(interval),
        ensemble=ensemble,
        mc_interval=int(mc_interval),
        calculator=calculator,
        checkpoint=checkpoint,
        sampler=sampler,
        n_samples=int(n_samples),
        workers=int(workers),
        seed=int(seed),
        **dg.parse_system_fields(fields),
    )
    return dg.datagen_config(choices)


def prepare(config: dict, folder: Path) -> dict:
    """Write the run's outputs into the job folder (``<job>/run``)."""
    return {**config, "output_dir": str(folder / "run")}


def check(config: dict) -> None:
    """Refuse a config that ``fm datagen run`` would refuse before any work: its own parser,
    the stages' constructors, and the pipeline's cross-stage checks (e.g. elements the
    calculator has no parameters for)."""
    from foundation_model.cli.datagen import build_parser
    from foundation_model.workflows.datagen.pipeline import DatagenPipeline

    cf.check_with_cli_parser(build_parser, config, pipeline=DatagenPipeline)


WORKFLOW = Workflow(
    kind="datagen",
    title="Generate training data (fm datagen)",
    samples_dir="samples/datagen",
    form=form,
    prepare=prepare,
    check=check,
)


def render() -> None:
    """The data-generation page."""
    render_workflow(WORKFLOW)
