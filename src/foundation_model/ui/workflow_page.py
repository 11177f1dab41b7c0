"""Shared body of the pages that launch a workflow CLI (``fm datagen``, ``fm distill``).

The page builds a config (from a form, or from a YAML file that the user picks and edits),
shows it with a download button, writes it into a fresh job folder and starts
``fm <command> run --config <job>/config.yaml`` there as a background job. Below, the
newest run (or a chosen one) is followed live; a failed or stopped run can be resumed with
``--resume``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml

from foundation_model.ui import context
from foundation_model.ui.job_panel import pick_job, show_job
from foundation_model.ui.jobs import Job
from foundation_model.ui.safety import UserInputError

CONFIG_NAME = "config.yaml"


@dataclass(frozen=True)
class Workflow:
    """What a workflow page needs to know about its CLI.

    Args:
        kind: job kind and ``fm`` subcommand (``datagen``, ``distill``).
        title: page title.
        samples_dir: folder of sample configs, relative to the project folder.
        form: Streamlit form function returning a config dict, or None until submitted.
        prepare: adjusts a config for a job folder (output paths) before it is written.
        check: raises :class:`UserInputError` when the CLI would refuse a config.
    """

    kind: str
    title: str
    samples_dir: str
    form: Callable[[], dict | None]
    prepare: Callable[[dict, Path], dict]
    check: Callable[[dict], None] | None = None


def cli_command(kind: str, config_path: Path, resume: bool = False) -> list[str]:
    """argv of ``fm <kind> run --config <config_path> [--resume]``."""
    command = [sys.executable, "-m", "foundation_model.cli.main", kind, "run"]
    command += ["--config", str(config_path)]
    return command + (["--resume"] if resume else [])


def parse_config_text(text: str) -> dict:
    """A YAML mapping from ``text``, or a :class:`UserInputError` saying what is wrong."""
    try:
        config = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise UserInputError(f"The config is not valid YAML: {exc}") from exc
    if not isinstance(config, dict):
        raise UserInputError("The config must be a YAML mapping (key: value lines).")
    return config


class _NoAliasDumper(yaml.SafeDumper):
    """Writes a value shared by two keys twice instead of as an ``&id`` anchor."""

    def ignore_aliases(self, data) -> bool:
        return True


def config_to_yaml(config: dict) -> str:
    """YAML text of a config, keys in the order given, no anchors."""
    return yaml.dump(config, Dumper=_NoAliasDumper, sort_keys=False, default_flow_style=None)


def _from_file(workflow: Workflow) -> dict | None:
    """Pick a sample config (or any YAML in the allowed folders), edit it, use it."""
    import streamlit as st

    cfg = context.settings()
    samples = sorted((cfg.project_dir / workflow.samples_dir).glob("*.yaml"))
    names = [str(p.relative_to(cfg.project_dir)) for p in samples]
    key = f"{workflow.kind}-file"
    path_text = st.selectbox(
        "YAML file",
        names,
        index=None,
        key=f"{key}-pick",
        accept_new_options=True,
        placeholder=f"a sample from {workflow.samples_dir}/ or a path",
    )
    if not path_text:
        return None
    path = cfg.guard.resolve(path_text, must_exist=True)
    if not path.is_file():
        raise UserInputError(f"{path_text} is not a file.")
    try:
        content = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise UserInputError(
            f"{path_text} is not a text file (a config is YAML text): pick a .yaml config."
        ) from None
    text = st.text_area("Edit before launching", content, height=300, key=f"{key}-text-{path}")
    return parse_config_text(text)


def _launch(workflow: Workflow, config: dict) -> Job:
    manager = context.job_manager()
    folder = manager.new_job_folder(workflow.kind)
    config = workflow.prepare(config, folder)
    config_path = folder / CONFIG_NAME
    config_path.write_text(config_to_yaml(config))
    return manager.launch(
        workflow.kind,
        cli_command(workflow.kind, config_path),
        folder=folder,
        config_path=str(config_path),
    )


def _configure(workflow: Workflow) -> None:
    import streamlit as st

    mode = st.radio(
        "Configure with", ["Form", "Config file"], horizontal=True, key=f"{workflow.kind}-mode"
    )
    config_key = f"{workflow.kind}-config"
    if mode == "Form":
        built = workflow.form()
        if built is not None:
            if workflow.check is not None:
                with st.spinner("Checking the config with the CLI's parser..."):
                    workflow.check(built)
            st.session_state[config_key] = built
        config = st.session_state.get(config_key)
    else:
        config = _from_file(workflow)
    if config is None:
        return
    text = config_to_yaml(config)
    with st.expander("Config (the CLI accepts this file as it is)", expanded=mode == "Form"):
        st.caption("At launch, output_dir is set to the run's own folder.")
        st.code(text, language="yaml")
    left, right = st.columns(2)
    left.download_button(
        "Download config.yaml",
        text,
        file_name=f"{workflow.kind}.yaml",
        mime="application/x-yaml",
        key=f"{workflow.kind}-download",
    )
    if right.button(f"Launch {workflow.kind} run", type="primary", key=f"{workflow.kind}-launch"):
        if mode != "Form" and workflow.check is not None:
            with st.spinner("Checking the config with the CLI's parser..."):
                workflow.check(config)
        job = _launch(workflow, config)
        st.session_state[f"{workflow.kind}-run-launched"] = job.job_id
        st.toast(f"Started {job.job_id}")


def _runs(workflow: Workflow) -> None:
    import streamlit as st

    st.subheader("Runs")
    job = pick_job(context.job_manager(), workflow.kind, key=f"{workflow.kind}-run")
    if job is None:
        return
    status = job.status()
    if status in ("failed", "stopped", "lost") and st.button(
        "Resume this run (--resume)", key=f"resume-{job.job_id}"
    ):
        config_path = Path(job.state()["config_path"])
        context.job_manager().launch(
            workflow.kind,
            cli_command(workflow.kind, config_path, resume=True),
            folder=job.folder,
            config_path=str(config_path),
        )
        st.rerun()
    show_job(job, results_path=job.folder)


def render_workflow(workflow: Workflow) -> None:
    """The whole page: configure and launch, then follow the runs."""
    import streamlit as st

    st.title(workflow.title)
    _configure(workflow)
    st.divider()
    _runs(workflow)
