"""Journey: in the Model view, tick a family, train a model, read its scores, click a matrix cell.

The session's demo database has no feature summaries, so this module stores synthetic
ones for the demo clips (clustered by label) and takes them, and the model runs the
journey records, away again when it is done.
"""

from __future__ import annotations

import pytest
from dashboard_support import DEMO
from playwright.sync_api import expect
from sqlalchemy import delete

from audiosoup_widgets.store import Store
from audiosoup_widgets.store.models import ModelRun
from audiosoup_widgets.testing import seed_summaries

pytestmark = pytest.mark.browser

ROWS = {"mfcc": 6, "chroma": 4}
CARD = ".audiosoup-grid .audiosoup-card"
PANEL = ".audiosoup-modelpanel"


@pytest.fixture
def demo_summaries(dashboard_db):
    store = Store(dashboard_db)
    # The demo's one script-laden clip is a label of its own: left without summaries.
    ids = [sid for sid, _, label, _ in store.sample_table(DEMO) if not str(label).startswith("<")]
    seed_summaries(store, DEMO, rows=ROWS, ids=ids, spread=3.0)
    yield store
    with store.session() as sess:
        sess.execute(delete(ModelRun))  # its suspects go with it
    store.clear_summaries(DEMO, list(ROWS))
    store.dispose()


def test_train_a_model_and_open_a_cell(page, dashboard, demo_summaries, shot):
    dashboard.next_visit()
    page.goto(dashboard.url, timeout=120_000)
    page.wait_for_selector(CARD, state="visible", timeout=120_000)
    page.locator(".as-view-tab.as-view-model").click()
    ranking, panel = page.locator(".audiosoup-ranking"), page.locator(PANEL)
    expect(ranking.locator(".as-rk-featrow").first).to_be_visible(timeout=60_000)
    expect(panel.locator(".as-mp-ticked")).to_contain_text("Tick features or a family above")
    expect(panel.locator(".as-mp-train")).to_be_disabled()

    ranking.locator(".as-rk-family[data-family='spectral'] .as-rk-famtick").check()
    expect(panel.locator(".as-mp-ticked")).to_contain_text("1 ticked: Chroma")
    panel.locator(".as-mp-train").click()
    expect(panel.locator(".as-mp-summary")).to_be_visible(timeout=120_000)
    expect(panel.locator(".as-mp-val")).to_contain_text("Validation")
    expect(panel.locator(".as-mp-recall tbody tr").first).to_be_visible()
    n = panel.locator(".as-mp-recall tbody tr").count()
    cells = panel.locator(".as-mp-fig rect.heatmapcell")
    expect(cells.first).to_be_visible(timeout=30_000)
    assert cells.count() == n * n
    expect(panel.locator(".as-mp-runs tbody tr")).to_have_count(1)
    panel.scroll_into_view_if_needed()
    shot(page, "trained")
    for width in (1400, 1024):
        page.set_viewport_size({"width": width, "height": 1000})
        page.wait_for_timeout(600)
        panel.locator(".as-mp-scores").scroll_into_view_if_needed()
        shot(page, f"modelpanel-{width}")

    # A cell with clips: its count is its label's text; the grid shows exactly that many.
    texts = [t or "" for t in panel.locator(".as-mp-fig .heatmapcell_label").all_text_contents()]
    assert len(texts) == n * n
    index = next(i for i, t in enumerate(texts) if t.strip() not in ("", "0"))
    count = int(texts[index])
    cells.nth(index).click()
    expect(page.locator(".audiosoup-grid")).to_be_visible(timeout=30_000)
    expect(page.locator(".audiosoup-grid")).to_contain_text("the confusion matrix", timeout=30_000)
    expect(page.locator(CARD)).to_have_count(count, timeout=30_000)
    shot(page, "cell-clips")
    assert page.evaluate("() => window.__xss") is None
    assert not page.page_errors, page.page_errors
