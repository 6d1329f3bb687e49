"""Journey: the similarity map in the dashboard, a lasso drawn with the mouse, then the grid's filter.

The session's demo database has no feature summaries (the dashboard computes a clip's
features on demand), so this module stores synthetic ones for the demo clips and takes
them away again, map included, when it is done.
"""

from __future__ import annotations

import numpy as np
import pytest
from dashboard_support import DEMO
from playwright.sync_api import expect

from audiosoup_widgets.store import Store
from audiosoup_widgets.testing import seed_summaries

pytestmark = pytest.mark.browser

ROWS = {"mfcc": 6, "chroma": 4}
CARD = ".audiosoup-grid .audiosoup-card"


def open_dashboard(page, server) -> None:
    server.next_visit()
    page.goto(server.url, timeout=120_000)
    page.wait_for_selector(CARD, state="visible", timeout=120_000)


@pytest.fixture
def demo_summaries(dashboard_db):
    store = Store(dashboard_db)
    seed_summaries(store, DEMO, rows=ROWS)
    yield store
    store.clear_summaries(DEMO, list(ROWS))
    empty = np.zeros(0, np.int64)
    store.save_projection(  # an empty map replaces the stored one
        DEMO, family="all", method="pca", input_key="-", sample_ids=empty, xy=np.zeros((0, 2))
    )
    store.dispose()


def test_map_lasso_then_grid_filter(page, dashboard, demo_summaries, shot):
    open_dashboard(page, dashboard)
    page.locator(".as-view-tab.as-view-map").click()
    legend = page.locator(".audiosoup-map .as-map-group")
    expect(legend.first).to_be_visible(timeout=60_000)
    n_clips = sum(int(t.replace(",", "")) for t in page.locator(".as-map-gcount").all_inner_texts())
    assert n_clips == len(demo_summaries.sample_table(DEMO))
    expect(page.locator(".audiosoup-map .as-map-note")).to_contain_text(
        f"{n_clips} clips · PCA of all features"
    )
    # The points arrive as one picture of the plot area, in the label colours.
    picture = page.locator(".audiosoup-map .as-map-plot image")
    expect(picture).to_have_count(1)
    shot(page, "map")

    # A lasso drawn with the mouse around the left two thirds of the plot, once it is laid out.
    page.wait_for_function(
        "() => { const a = document.querySelector('.audiosoup-map .plotarea_background');"
        " const r = a && a.getBoundingClientRect(); return r && r.width > 300 && r.height > 200; }"
    )
    page.wait_for_timeout(500)
    area = page.locator(".audiosoup-map .plotarea_background").bounding_box()
    x0, y0, w, h = area["x"], area["y"], area["width"], area["height"]
    page.mouse.move(x0 + 0.02 * w, y0 + 0.02 * h)
    page.mouse.down()
    for fx, fy in [(0.66, 0.02), (0.66, 0.98), (0.02, 0.98), (0.02, 0.05)]:
        page.mouse.move(x0 + fx * w, y0 + fy * h, steps=10)
    page.mouse.up()
    bar = page.locator(".audiosoup-map .as-map-selection")
    expect(bar).to_be_visible(timeout=20_000)
    n = int(bar.locator(".as-map-count b").inner_text().replace(",", ""))
    assert 0 < n <= n_clips
    assert page.locator(".audiosoup-map .as-map-lasso polygon").count() == 1
    shot(page, "lasso")

    bar.locator("button.as-map-show").click()
    note = page.locator(".audiosoup-grid .as-idfilter-text")
    expect(note).to_have_text(f"Showing {n} clips from the map selection")
    expect(page.locator(".audiosoup-grid .as-summary .as-total b")).to_have_text(str(n))
    expect(page.locator(CARD).first).to_be_visible()
    shot(page, "grid-filtered")
    # Taking the filter off in the grid also clears the map's selection.
    page.locator(".audiosoup-grid .as-idfilter-clear").click()
    expect(note).to_have_count(0)
    page.locator(".as-view-tab.as-view-map").click()
    expect(bar).to_have_count(0)

    # The box tool: dragged from corner to corner, the clips inside become the selection.
    page.locator(".audiosoup-map .as-map-mode-box").click()
    page.wait_for_timeout(300)
    area = page.locator(".audiosoup-map .plotarea_background").bounding_box()
    x0, y0, w, h = area["x"], area["y"], area["width"], area["height"]
    page.mouse.move(x0 + 0.01 * w, y0 + 0.01 * h)
    page.mouse.down()
    page.mouse.move(x0 + 0.99 * w, y0 + 0.99 * h, steps=12)
    page.mouse.up()
    expect(bar).to_be_visible(timeout=20_000)
    assert 0 < int(bar.locator(".as-map-count b").inner_text().replace(",", "")) <= n_clips
    shot(page, "box")
    # The demo's script-laden label is in the legend as text, and nothing ran.
    assert page.evaluate("() => window.__xss") is None
    assert page.locator(".audiosoup-map [onerror], .audiosoup-map img").count() == 0
    assert not page.page_errors, page.page_errors
