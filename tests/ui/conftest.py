"""Browser fixtures: one `fm ui` server per test session, driven by Debian's chromium.

The server runs with the repository as project folder and a temporary `--data-dir`
(background runs and test data go there). Tests are skipped with a reason when
/usr/bin/chromium or the `ui` extra is missing.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "results" / "ui"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_healthy(url: str, proc: subprocess.Popen, log: Path, timeout: float = 90.0) -> None:
    end = time.time() + timeout
    while time.time() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"fm ui exited early:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"fm ui did not answer within {timeout} s:\n{log.read_text()[-3000:]}")


def skip_without_browser() -> None:
    """Skip the calling test when chromium or the ui extra is missing."""
    if not CHROMIUM.exists():
        pytest.skip("browser tests need Debian's chromium at /usr/bin/chromium (apt-get install)")
    pytest.importorskip("streamlit", reason="the ui extra is not installed")
    pytest.importorskip("playwright", reason="the ui extra is not installed")


@pytest.fixture(scope="session")
def ui_data_dir(tmp_path_factory) -> Path:
    """The server's --data-dir (jobs, test databases, the tiny model)."""
    return tmp_path_factory.mktemp("ui_data")


@pytest.fixture(scope="session")
def ui_server(ui_data_dir) -> str:
    """URL of a running `fm ui` (started once per session)."""
    skip_without_browser()
    port = _free_port()
    log = ui_data_dir / "server.log"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "foundation_model.cli.main", "ui", "--port", str(port),
             "--data-dir", str(ui_data_dir)],
            cwd=REPO, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, proc, log)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


@pytest.fixture(scope="session")
def browser(ui_server):
    """One headless chromium for the session."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    """A fresh tab, 1280 x 1600 (tall, so screenshots show whole pages)."""
    context = browser.new_context(viewport={"width": 1280, "height": 1600})
    tab = context.new_page()
    tab.set_default_timeout(60_000)
    yield tab
    context.close()


def screenshot(page, name: str, height: int | None = None) -> Path:
    """Save a screenshot under results/ui/ (``height``: enlarge the window first, since
    Streamlit scrolls inside its own container and a full-page shot stops at the window)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    if height is not None:
        page.set_viewport_size({"width": page.viewport_size["width"], "height": height})
    path = SCREENSHOTS / f"{name}.png"
    page.wait_for_timeout(1500)  # let canvases (tables, charts, 3D view) draw
    page.screenshot(path=str(path), full_page=True)
    return path


def wait_app_idle(page) -> None:
    """Wait until Streamlit has finished the current script run."""
    page.wait_for_selector("[data-testid='stApp']")
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=60_000
    )
