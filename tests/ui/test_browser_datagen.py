"""Browser: a tiny EMT `fm datagen` run from the form, reattached after a reload, then viewed."""

from __future__ import annotations

import re

from ase.db import connect

from conftest import screenshot


def test_datagen_form_run_reload_reattach_and_view(page, ui_server, ui_data_dir):
    page.goto(f"{ui_server}/datagen")
    page.get_by_text("Generate training data (fm datagen)").wait_for()
    page.get_by_label("Seed structures").fill("1")
    page.get_by_label("Temperatures (K)").fill("600, 900")
    page.get_by_label("MD steps per trajectory").fill("80")
    page.get_by_label("Keep a frame every N steps").fill("20")
    page.get_by_label("Budget (structures kept)").fill("6")
    page.get_by_role("button", name="Build config").click()
    config = page.get_by_text("Config (the CLI accepts this file as it is)")
    config.wait_for(timeout=120_000)
    page.get_by_role("button", name="Download config.yaml").wait_for()
    page.get_by_role("button", name="Launch datagen run").click()

    running = page.get_by_text(re.compile(r"Run datagen-\S+ is running"))
    running.wait_for()
    job_id = re.search(r"datagen-\S+(?= is running)", running.inner_text()).group(0)
    page.reload()  # the run goes on; the page finds it again from its job folder
    page.get_by_text(re.compile(rf"Run {job_id} (is running|completed)")).wait_for()
    # progress parsed from the live log (or the end, on a fast machine)
    page.get_by_text(re.compile(rf"explore \d+/\d+|Run {job_id} completed")).first.wait_for()
    screenshot(page, "datagen")

    done = page.get_by_text(re.compile(rf"Run {job_id} (completed successfully|failed)"))
    done.wait_for(timeout=300_000)
    assert "completed successfully" in done.inner_text(), page.inner_text("body")[-3000:]
    job_folder = ui_data_dir / "ui_jobs" / job_id
    config_text = (job_folder / "config.yaml").read_text()
    assert "AlloyGenerator" in config_text and str(job_folder / "run") in config_text
    with connect(str(job_folder / "run" / "dataset.db")) as db:
        count = db.count()
    assert count > 0

    page.get_by_role("button", name="Open the results in the viewer").click()
    page.get_by_text(f"dataset.db: {count} structures").wait_for()
    page.get_by_text("Summary: ").first.wait_for()
    page.get_by_text("Plots", exact=True).wait_for()
    screenshot(page, "viewer_datagen_run", height=3400)
