"""Journey: check clips in the grid, press Compare, see their panels side by side.

A real Voila server and headless Chromium (the session's, see ``conftest.py``); screenshots
of each step land in ``test-artifacts/screenshots/``.
"""

from __future__ import annotations

import pytest
from test_dashboard_journeys import CARD, no_script_ran, open_dashboard

pytestmark = pytest.mark.browser

PANEL = ".audiosoup-compare .as-cmp-panel"


def test_select_then_compare(page, dashboard, shot):
    open_dashboard(page, dashboard)
    birds = page.locator(CARD).filter(has=page.locator(".as-label", has_text="bird"))
    chosen = [birds.nth(i).get_attribute("data-sample-id") for i in range(3)]
    for i in range(3):
        birds.nth(i).locator("input.as-check").click()
    bar = page.locator(".audiosoup-selection")
    bar.get_by_text("3 clips selected").wait_for()
    shot(page, "three-checked")
    bar.locator(".as-sel-compare").click()

    page.wait_for_function(
        f"document.querySelectorAll('{PANEL} .bqplot.figure').length === 3", timeout=60_000
    )
    assert page.locator(".audiosoup-views .as-view-compare.as-active .as-view-count").inner_text() == "3"
    ids = page.locator(PANEL).evaluate_all("ps => ps.map(p => p.dataset.sampleId)")
    assert ids == sorted(chosen, key=int)
    # Side by side: one row, left to right, each with its name, label and play button.
    boxes = [page.locator(PANEL).nth(i).bounding_box() for i in range(3)]
    assert len({round(b["y"]) for b in boxes}) == 1 and boxes[0]["x"] < boxes[1]["x"] < boxes[2]["x"]
    assert page.locator(f"{PANEL} .as-cmp-label").all_inner_texts() == ["bird"] * 3
    assert page.locator(f"{PANEL} button.as-play").count() == 3
    # One colour bar for all, and every panel a picture.
    assert page.locator(".audiosoup-compare > .as-cmp-cbar").count() == 1
    assert "loudest point of all clips" in page.locator(".as-cmp-cbar-label").first.inner_text()
    assert page.locator(f"{PANEL} .bqplot image").count() == 3
    shot(page, "compared-1440")

    # Narrower: the grid wraps to two columns and the figures grow to their panels' width.
    page.set_viewport_size({"width": 1024, "height": 1000})
    page.wait_for_function(
        f"(() => {{ const ps = [...document.querySelectorAll('{PANEL}')];"
        " const fits = ps.every(p => p.querySelector('.plotarea_background').getBoundingClientRect().right"
        " > p.getBoundingClientRect().right - 30);"
        " return fits && ps[2].getBoundingClientRect().top > ps[0].getBoundingClientRect().bottom; })()"
    )
    shot(page, "compared-1024")
    no_script_ran(page)
