"""Streamlit panel that follows one background job: status, progress, live log, stop.

The panel redraws itself every second (a Streamlit fragment) while the job runs and
rebuilds everything from the job folder, so a reloaded page shows the same run.
"""

from __future__ import annotations

from pathlib import Path

from foundation_model.ui import context
from foundation_model.ui.jobs import Job, JobManager

STATUS_TEXT = {
    "running": "Running",
    "succeeded": "Finished",
    "failed": "Failed",
    "stopped": "Stopped",
    "lost": "Lost (the supervising process is gone without an exit code)",
}


def _elapsed(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"


def status_message(job: Job, status: str) -> str:
    """One line on the outcome of ``job``; the tests wait for the ``completed`` wording."""
    elapsed = _elapsed(job.elapsed())
    if status == "succeeded":
        return f"Run {job.job_id} completed successfully in {elapsed}."
    if status == "failed":
        code = job.state().get("returncode")
        return f"Run {job.job_id} failed with exit code {code} after {elapsed}; see the log."
    if status == "stopped":
        return f"Run {job.job_id} was stopped after {elapsed}."
    if status == "lost":
        return f"Run {job.job_id}: {STATUS_TEXT['lost']}."
    return f"Run {job.job_id} is running ({elapsed})."


def pick_job(manager: JobManager, kind: str, key: str) -> Job | None:
    """Select box of the jobs of ``kind`` (newest first; a just-launched one preselected)."""
    import streamlit as st

    jobs = manager.jobs(kind)
    if not jobs:
        st.caption("No runs yet.")
        return None
    ids = [j.job_id for j in jobs]
    wanted = st.session_state.pop(f"{key}-launched", None)
    if wanted in ids:
        st.session_state[key] = wanted
    if st.session_state.get(key) not in ids:
        st.session_state[key] = ids[0]

    def label(job_id: str) -> str:
        return f"{job_id} ({STATUS_TEXT[jobs[ids.index(job_id)].status()].split(' ')[0]})"

    chosen = st.selectbox("Run", ids, format_func=label, key=key)
    return jobs[ids.index(chosen)]


def show_job(job: Job, results_path: Path | None = None) -> None:
    """Follow ``job`` live; once done, offer to open ``results_path`` in the viewer."""
    import streamlit as st

    config_path = job.state().get("config_path")
    if config_path and Path(config_path).is_file():
        with st.expander("Config of this run"):
            st.code(Path(config_path).read_text(), language="yaml")
    was_running = job.is_running()

    @st.fragment(run_every=1.0 if was_running else None)
    def live() -> None:
        status = job.status()
        message = status_message(job, status)
        if status == "running":
            progress = job.progress()
            text = message
            if progress is not None:
                text += f" {progress.label} {progress.done}/{progress.total}".rstrip()
            st.progress(progress.fraction if progress else 0.0, text=text)
            if st.button("Stop this run", key=f"stop-{job.job_id}"):
                job.stop()
        elif status == "succeeded":
            st.success(message)
        else:
            st.error(message)
        st.code(job.log_tail(max_lines=60) or "(no output yet)", language="text", wrap_lines=True)
        if was_running and status != "running":
            st.rerun(scope="app")

    live()
    can_open = not was_running and results_path is not None and results_path.exists()
    if can_open and st.button("Open the results in the viewer", key=f"open-{job.job_id}"):
        context.open_in_viewer(results_path)
