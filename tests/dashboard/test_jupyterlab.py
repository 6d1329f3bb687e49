"""The review app in a JupyterLab notebook cell: narrower than the page, with Lab's own styles.

A real ``jupyter lab`` (token passed by environment, its own config and data folders)
serves a temporary notebook whose one cell builds the app on the session's
database; headless Chromium opens it and runs the cell. The toolbar must show whole
values at 1400 and 1024 px, the feature plots must have room for their titles and
tick labels, and Vue must not warn about the tables. Screenshots land in
``test-artifacts/screenshots/`` (``lab-*.png``).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
from dashboard_support import ARTIFACTS, SCREENSHOTS, free_port, http_get, subprocess_env
from layout_checks import (
    LONGEST,
    TABLE_WARNING,
    assert_axes_clear,
    assert_toolbar_whole,
    assert_whole_beats,
    choose,
    wait_tab,
)

pytestmark = pytest.mark.browser

CELL = """import os
from audiosoup_widgets import build_review_app
app = build_review_app(db=os.environ["AUDIOSOUP_DATABASE_URL"])
app"""


@pytest.fixture(scope="module")
def lab(dashboard_db, tmp_path_factory) -> Iterator[tuple[str, str]]:
    """A running JupyterLab serving ``review.ipynb``; yields (notebook URL, log path)."""
    root = tmp_path_factory.mktemp("lab")
    notebook = {
        "cells": [
            {
                "cell_type": "code",
                "execution_count": None,
                "id": "app",
                "metadata": {},
                "outputs": [],
                "source": CELL,
            }
        ],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    (root / "review.ipynb").write_text(json.dumps(notebook))
    settings = root / ".settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False})
    )
    token = secrets.token_hex(16)
    port = free_port()
    env = subprocess_env(
        dashboard_db,
        JUPYTER_TOKEN=token,
        JUPYTER_CONFIG_DIR=str(root / ".config"),
        JUPYTER_DATA_DIR=str(root / ".data"),
        JUPYTER_RUNTIME_DIR=str(root / ".runtime"),
        JUPYTERLAB_SETTINGS_DIR=str(root / ".settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(root / ".workspaces"),
    )
    ARTIFACTS.joinpath("logs").mkdir(parents=True, exist_ok=True)
    log_path = ARTIFACTS / "logs" / f"jupyterlab-{port}.log"
    cmd = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        f"--port={port}",
        "--ServerApp.ip=127.0.0.1",
        "--ServerApp.port_retries=0",
        f"--ServerApp.root_dir={root}",
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    if os.geteuid() == 0:  # containers often run as root; Jupyter refuses it unless told
        cmd.append("--allow-root")
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            cmd, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=root, start_new_session=True
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, log_path.read_text()[-3000:]
            try:
                if http_get(f"http://127.0.0.1:{port}/api/status?token={token}", timeout=2)[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "jupyter lab did not answer within 60 s"
            time.sleep(0.2)
        yield f"http://127.0.0.1:{port}/lab/tree/review.ipynb?token={token}", str(log_path)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def open_lab_app(page, url: str) -> None:
    """Open the notebook at 1400 px, run its one cell and wait for the app's cards."""
    page.set_viewport_size({"width": 1400, "height": 900})
    page.goto(url, timeout=90_000)
    page.locator(".jp-Notebook .jp-Cell").first.wait_for(timeout=90_000)
    page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=90_000)
    prompt = page.locator(".jp-Notebook .jp-Cell .jp-InputPrompt").first
    for _ in range(3):  # a run asked for while the kernel still connects can be dropped
        page.locator(".jp-Notebook .jp-Cell .jp-InputArea-editor").first.click()
        page.keyboard.press("Control+Enter")
        try:
            page.wait_for_function(
                "p => !/\\[ \\]/.test(p.textContent)", arg=prompt.element_handle(), timeout=5_000
            )
            break
        except Exception:  # noqa: BLE001 - retried below
            continue
    page.wait_for_selector(".jp-OutputArea .audiosoup-card", timeout=90_000)


def _shot(page, locator, name: str, pad: int = 14) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    locator.scroll_into_view_if_needed()
    box = locator.bounding_box()
    page.screenshot(
        path=str(SCREENSHOTS / f"lab-{name}.png"),
        clip={
            "x": max(0, box["x"] - pad),
            "y": max(0, box["y"] - pad),
            "width": box["width"] + 2 * pad,
            "height": box["height"] + 2 * pad,
        },
    )


def test_review_app_in_a_jupyterlab_cell(page, lab):
    url, log_path = lab
    messages: list[str] = []
    page.on("console", lambda m: messages.append(m.text))
    open_lab_app(page, url)

    cell = page.locator(".jp-OutputArea-output").first
    toolbar = page.locator(".audiosoup-grid .as-toolbar")
    for width in (1400, 1024):
        page.set_viewport_size({"width": width, "height": 900})
        page.wait_for_timeout(300)
        right = cell.bounding_box()
        assert_toolbar_whole(page, right=right["x"] + right["width"])
        _shot(page, toolbar, f"toolbar-{width}-default")
    for field, option in LONGEST.items():
        choose(page, field, option)
    for width in (1024, 1400):
        page.set_viewport_size({"width": width, "height": 900})
        page.wait_for_timeout(300)
        right = cell.bounding_box()
        boxes = assert_toolbar_whole(page, right=right["x"] + right["width"])
        assert [b["value"] for b in boxes if "." + b["field"] in LONGEST] == list(LONGEST.values())
        _shot(page, toolbar, f"toolbar-{width}-longest-values")
    page.locator(".as-summary button", has_text="Clear filters").click()

    # The review dialog: its tables, then the feature plots.
    page.set_viewport_size({"width": 1024, "height": 900})
    page.locator(".audiosoup-card .as-actions button").first.click()
    page.locator(".audiosoup-review .as-table").first.wait_for(state="visible")
    page.locator(".audiosoup-review [data-panel=edit]").click()
    page.locator(".audiosoup-editor .as-meta").wait_for(state="visible")
    _shot(page, page.locator(".audiosoup-review"), "review-editor-1024", pad=0)
    page.locator(".audiosoup-review [data-panel=features]").click()
    wait_tab(page, "spectral")
    for fid in ("mel_spectrogram", "spectral_contrast", "tonnetz"):
        assert_axes_clear(page, fid)
        _shot(page, page.locator(f"[data-feature='{fid}']"), f"feature-{fid}-1024", pad=2)
    wait_tab(page, "deltas")
    assert_axes_clear(page, "stack_memory")
    assert_whole_beats(page)
    _shot(page, page.locator("[data-feature='stack_memory']"), "feature-stack_memory-1024", pad=2)
    assert not [m for m in messages if TABLE_WARNING in m]
    assert not page.page_errors, page.page_errors
