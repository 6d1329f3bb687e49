"""Journey: the Model view ranks the features, a bar's detail with extreme clips, a family ticked.

The session's demo database has no feature summaries, so this module stores synthetic
ones for the demo clips and takes them away again when it is done.
"""

from __future__ import annotations

import pytest
from dashboard_support import DEMO
from playwright.sync_api import expect

from audiosoup_widgets.store import Store
from audiosoup_widgets.testing import seed_summaries

pytestmark = pytest.mark.browser

ROWS = {"mfcc": 6, "chroma": 4, "spectral_contrast": 7, "onset_strength": 1}
CARD = ".audiosoup-grid .audiosoup-card"


@pytest.fixture
def demo_summaries(dashboard_db):
    store = Store(dashboard_db)
    seed_summaries(store, DEMO, rows=ROWS)
    yield store
    store.clear_summaries(DEMO, list(ROWS))
    store.dispose()


def test_model_view_ranks_features(page, dashboard, demo_summaries, shot):
    dashboard.next_visit()
    page.goto(dashboard.url, timeout=120_000)
    page.wait_for_selector(CARD, state="visible", timeout=120_000)
    page.locator(".as-view-tab.as-view-model").click()
    view = page.locator(".audiosoup-ranking")
    rows = view.locator(".as-rk-featrow")
    expect(rows.first).to_be_visible(timeout=60_000)
    assert rows.count() == len(ROWS)
    bars = view.locator(".as-rk-fig rect.bar")
    expect(bars.first).to_be_visible(timeout=30_000)
    assert bars.count() == len(ROWS)
    expect(view.locator(".as-rk-fig")).to_contain_text("Spectral contrast")
    shot(page, "model")

    bars.last.click()
    expect(view.locator(".as-rk-featrow.as-picked")).to_have_count(1)
    expect(view.locator(".as-rk-lowest .as-rk-clip").first).to_be_visible(timeout=30_000)
    assert view.locator(".as-rk-highest .as-rk-clip").count() >= 1
    expect(view.locator(".as-rk-hist svg").first).to_be_visible()
    shot(page, "feature")

    view.locator(".as-rk-family[data-family='spectral'] .as-rk-famtick").check()
    spectral = view.locator(".as-rk-family[data-family='spectral'] .as-rk-tick")
    for i in range(spectral.count()):
        expect(spectral.nth(i)).to_be_checked()
    expect(view.locator(".as-rk-ticks .as-rk-small")).to_contain_text("2 ticked")

    for width in (1400, 1024):
        page.set_viewport_size({"width": width, "height": 1000})
        page.wait_for_timeout(600)
        shot(page, f"model-{width}")
    assert page.evaluate("() => window.__xss") is None
    assert not page.page_errors, page.page_errors
