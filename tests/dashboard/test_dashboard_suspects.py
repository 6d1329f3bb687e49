"""Journey: label suspects in the dashboard; a reviewer accepts a model's suggestion.

The session's demo database has no feature summaries, so this module stores synthetic
ones for the demo clips (clustered by label), swaps the labels of two training clips,
fits a model through the Python API, and undoes all of it when it is done.
"""

from __future__ import annotations

import re

import pytest
from dashboard_support import DEMO
from playwright.sync_api import expect
from sqlalchemy import delete

from audiosoup_widgets.services import ReviewServices
from audiosoup_widgets.store import Store
from audiosoup_widgets.store.models import ModelRun, SuspectDecision
from audiosoup_widgets.testing import seed_summaries

pytestmark = pytest.mark.browser

ROWS = {"mfcc": 6, "chroma": 4}
CARD = ".audiosoup-grid .audiosoup-card"
WHY = ".audiosoup-review .audiosoup-suspect .as-why"


@pytest.fixture
def fitted_model(dashboard_db):
    store = Store(dashboard_db)
    table = store.sample_table(DEMO)
    # The demo's one script-laden clip is a label of its own: too small a class to fit on.
    known = {"yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go"}
    ids = [sid for sid, _, label, _ in table if label in known or not label.startswith("<")]
    seed_summaries(store, DEMO, rows=ROWS, ids=ids, spread=3.0)
    # Two training clips of the first page (two labels) swap labels: the model doubts them.
    train = sorted((sid, label) for sid, _, label, split in table if split == "train" and sid in ids)[:24]
    first_id, a = train[0]
    second_id, b = next((sid, label) for sid, label in train if label != a)
    original = {first_id: a, second_id: b}
    for sid, new in ((first_id, b), (second_id, a)):
        store.update_sample(sid, version=store.get_sample(sid).version, reviewer="pytest", label=new)
    ReviewServices(store).model.fit(DEMO, features=list(ROWS), reviewer="pytest")
    yield store, original
    for sid, label in original.items():
        record = store.get_sample(sid)
        if record.label != label:
            store.update_sample(sid, version=record.version, reviewer="pytest", label=label)
    with store.session() as sess:
        sess.execute(delete(SuspectDecision))
        sess.execute(delete(ModelRun))  # its suspects go with it
    store.clear_summaries(DEMO, list(ROWS))
    store.dispose()


def open_dashboard(page, server) -> None:
    server.next_visit()
    page.goto(server.url, timeout=120_000)
    page.wait_for_selector(CARD, state="visible", timeout=120_000)


def test_accept_a_suggestion_from_the_ranking(page, dashboard, fitted_model, shot):
    store, original = fitted_model
    open_dashboard(page, dashboard)
    badge = page.locator(f"{CARD} .as-suspect").first
    expect(badge).to_be_visible()
    assert re.fullmatch(r"maybe \S+ · \d+%", badge.inner_text())
    assert "gives" in (badge.get_attribute("title") or "")
    shot(page, "badges")

    # Most suspicious first: the top card is a suspect.
    page.locator(".audiosoup-grid .as-f-sort .v-field").first.click()
    menu = page.locator(".v-overlay-container .v-overlay--active .v-list-item")
    menu.filter(has_text="Most suspicious first").click()
    page.locator(".v-overlay-container .v-overlay--active").wait_for(state="detached")
    top = page.locator(CARD).first
    expect(top.locator(".as-suspect")).to_be_visible()
    top_id = int(top.get_attribute("data-sample-id") or 0)
    name = top.locator(".as-name").inner_text()
    suggested = top.locator(".as-suspect").inner_text().split(" ")[1]
    for width in (1400, 1024):
        page.set_viewport_size({"width": width, "height": 1000})
        page.wait_for_timeout(300)
        shot(page, f"ranked-{width}", full_page=False)

    # The review explains the doubt: the top 3 labels and 3 nearest clips of the suggestion.
    top.locator(".as-actions button").click()
    why = page.locator(WHY)
    expect(why).to_be_visible(timeout=30_000)
    expect(why.locator(".as-bar-row")).to_have_count(3)
    expect(why.locator(".as-near")).to_have_count(3)
    why.locator(".as-near-play").first.click()
    for width in (1024, 1400):
        page.set_viewport_size({"width": width, "height": 1000})
        page.wait_for_timeout(300)
        shot(page, f"why-{width}", full_page=False)

    # No name yet: refused with the editor's message.
    why.locator(".as-accept").click()
    expect(why.locator(".as-why-msg")).to_contain_text("Enter your name")
    page.locator(".audiosoup-review [data-panel=edit]").click()
    editor = page.locator(".audiosoup-editor")
    editor.locator(".as-reviewer input").fill("Dashboard Test")
    editor.locator(".as-reviewer input").press("Enter")
    page.locator(".audiosoup-review [data-panel=review]").click()
    expect(why).to_be_visible()
    why.locator(".as-why-reason").fill("heard it twice")
    why.locator(".as-accept").click()
    expect(why.locator(".as-why-done")).to_contain_text(f"Relabelled ‘{suggested}’")
    expect(page.locator(".audiosoup-review .as-rhead .as-label")).to_have_text(suggested)
    shot(page, "accepted")

    # The history shows the accept as an edit with its reason.
    page.locator(".audiosoup-review [data-panel=edit]").click()
    first_row = editor.locator(".as-history tbody tr").first
    expect(first_row).to_contain_text("Dashboard Test")
    expect(first_row.locator(".as-new")).to_have_text(suggested)
    expect(first_row.locator(".as-reason")).to_contain_text("accepted the suggestion of model run")
    expect(first_row.locator(".as-reason")).to_contain_text("heard it twice")
    shot(page, "history")

    # The next ranking starts elsewhere; the clip's card has its new label and no badge.
    page.keyboard.press("Escape")
    page.locator(".audiosoup-review").wait_for(state="detached")
    expect(page.locator(CARD).first).not_to_have_attribute("data-sample-id", str(top_id))
    page.locator(".audiosoup-grid .as-f-search input").fill(name)
    page.locator(".audiosoup-grid .as-f-search input").press("Enter")
    card = page.locator(f'{CARD}[data-sample-id="{top_id}"]')
    expect(card.locator(".as-label")).to_have_text(suggested)
    expect(card.locator(".as-suspect")).to_have_count(0)
    shot(page, "card-after")
    assert store.get_sample(top_id).label == suggested
    assert not page.page_errors, page.page_errors
