"""Per-run helpers shared by the pages: settings, path guard, page switching, uploads."""

from __future__ import annotations

from pathlib import Path

from foundation_model.ui.jobs import JobManager
from foundation_model.ui.safety import UserInputError
from foundation_model.ui.settings import AppSettings

VIEWER_TARGET_KEY = "viewer_target"


def settings() -> AppSettings:
    """The app's settings (from the environment ``fm ui`` set)."""
    return AppSettings.from_env()


def job_manager() -> JobManager:
    """Job manager over the app's jobs folder."""
    return JobManager(settings().jobs_dir)


def open_in_viewer(path: Path) -> None:
    """Switch to the results viewer with ``path`` opened."""
    import streamlit as st

    from foundation_model.ui.app import PAGE_KEY

    st.session_state[VIEWER_TARGET_KEY] = str(path)
    st.switch_page(st.session_state[PAGE_KEY]["viewer"])


def read_upload(upload, max_bytes: int) -> bytes:
    """Bytes of a Streamlit upload, refused above ``max_bytes``."""
    size = getattr(upload, "size", None)
    if size is None:
        size = len(upload.getvalue())
    if size > max_bytes:
        raise UserInputError(
            f"{upload.name} is {size / 1e6:.1f} MB; the limit is {max_bytes / 1e6:.0f} MB "
            "(fm ui --max-upload-mb raises it)."
        )
    return upload.getvalue()
