"""Journey: check three clips, relabel them from the selection bar, see the cards change, undo.

A real Voila server and headless Chromium (the session's, see ``conftest.py``); screenshots
of each step land in ``test-artifacts/screenshots/``. The clips are the last three of the
first page, which the other journeys leave alone; the undo gives them their labels back.
"""

from __future__ import annotations

import pytest
from dashboard_support import DEMO
from playwright.sync_api import expect
from test_dashboard_journeys import CARD, no_script_ran, open_dashboard

from audiosoup_widgets.store import Store

pytestmark = pytest.mark.browser


def test_relabel_three_clips_then_undo(page, dashboard, dashboard_db, shot):
    open_dashboard(page, dashboard)
    cards = page.locator(CARD)
    chosen = [cards.nth(i) for i in (21, 22, 23)]
    ids = [c.get_attribute("data-sample-id") for c in chosen]
    before = [c.locator(".as-label").inner_text() for c in chosen]
    store = Store(dashboard_db)
    try:
        target = next(
            lab.name for lab in store.list_labels(DEMO) if lab.name.isalpha() and lab.name not in before
        )
    finally:
        store.dispose()
    for card in chosen:
        card.locator("input.as-check").click()
    bar = page.locator(".audiosoup-selection")
    bar.get_by_text("3 clips selected").wait_for()
    bar.locator(".as-sel-relabel").click()

    dialog = page.locator(".audiosoup-relabel")
    dialog.wait_for(state="visible")
    expect(dialog.locator(".as-rl-title")).to_have_text("Relabel 3 clips")
    rows = dialog.locator(".as-rl-preview tr").all_inner_texts()
    assert sum(int(r.split()[-1]) for r in rows) == 3
    assert {r.rsplit(maxsplit=1)[0] for r in rows} == set(before)
    dialog.locator(".as-rl-label input").fill(target)
    page.locator(".v-overlay-container .v-overlay--active .v-list-item").filter(has_text=target).first.click()
    dialog.locator(".as-rl-reason input").fill("heard them again")
    if dialog.locator(".as-rl-who input").count():
        dialog.locator(".as-rl-who input").fill("Relabel Journey")
    shot(page, "dialog-1440")
    page.set_viewport_size({"width": 1024, "height": 1000})
    shot(page, "dialog-1024", full_page=False)
    page.set_viewport_size({"width": 1440, "height": 1000})
    dialog.locator(".as-rl-apply").click()

    outcome = page.locator(".as-relabel-outcome")
    expect(outcome.locator(".as-outcome-text")).to_contain_text("Relabelled 3 clips")
    for sid in ids:
        expect(page.locator(f"{CARD}[data-sample-id='{sid}'] .as-label")).to_have_text(target)
    page.locator(".v-overlay-container .v-overlay--active").wait_for(state="detached")
    shot(page, "relabelled-top")
    chosen[0].scroll_into_view_if_needed()
    shot(page, "relabelled-cards")
    page.evaluate("window.scrollTo(0, 0)")
    store = Store(dashboard_db)
    try:
        rows_by_clip = [store.sample_history(int(sid))[0] for sid in ids]
        assert len({e.batch_id for e in rows_by_clip}) == 1 and rows_by_clip[0].batch_id
        assert {(e.new, e.reason) for e in rows_by_clip} == {(target, "heard them again")}
    finally:
        store.dispose()

    outcome.locator(".as-relabel-undo").click()
    expect(outcome.locator(".as-outcome-text")).to_contain_text("Undid the relabel: 3 clips")
    for sid, label in zip(ids, before, strict=True):
        expect(page.locator(f"{CARD}[data-sample-id='{sid}'] .as-label")).to_have_text(label)
    chosen[0].scroll_into_view_if_needed()
    shot(page, "undone")
    no_script_ran(page)
