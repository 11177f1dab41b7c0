"""Browser: the distill form builds a config the CLI accepts; a bad element is a message."""

from __future__ import annotations

import yaml

from conftest import screenshot


def test_distill_form_builds_config_and_reports_bad_input(page, ui_server):
    page.goto(f"{ui_server}/distill")
    page.get_by_text("Distil a fast potential (fm distill)").wait_for()
    page.get_by_label("Alloy elements (blank: the sample's)").fill("Cu, Xx")
    page.get_by_role("button", name="Build config").click()
    page.get_by_text("Unknown element(s): Xx.").wait_for()
    assert "Traceback" not in page.inner_text("body")
    page.get_by_label("Alloy elements (blank: the sample's)").fill("Ni, Al")
    page.get_by_label("Oracle budget (calls)").fill("40")
    page.get_by_role("button", name="Build config").click()
    page.get_by_text("Config (the CLI accepts this file as it is)").wait_for(timeout=120_000)
    config = yaml.safe_load(page.locator("[data-testid='stCode']").first.inner_text())
    assert config["oracle"]["init_args"]["budget"] == 40
    assert config["oracle"]["class_path"].endswith("EMTOracle")
    assert config["pool"]["generators"][0]["init_args"]["elements"] == ["Ni", "Al"]
    page.get_by_role("button", name="Launch distill run").wait_for()
    screenshot(page, "distill")
