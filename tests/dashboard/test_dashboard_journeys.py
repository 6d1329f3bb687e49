"""User journeys through the review dashboard: a real Voila server, headless Chromium.

Each journey saves a screenshot per step in ``test-artifacts/screenshots/``. The
database is shared by the session (see ``conftest.py``); journeys that edit pick
samples the others do not count.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
import sys

import pytest
from dashboard_support import DEMO, XSS_FILE, XSS_LABEL, XSS_TEXT
from playwright.sync_api import expect

from audiosoup_widgets.features.registry import FAMILIES, features_in
from audiosoup_widgets.store import SampleQuery, Store

pytestmark = pytest.mark.browser

CARD = ".audiosoup-grid .audiosoup-card"
FIRST_LOAD_MS = 120_000


def open_dashboard(page, server) -> None:
    server.next_visit()
    page.goto(server.url, timeout=FIRST_LOAD_MS)
    page.wait_for_selector(CARD, state="visible", timeout=FIRST_LOAD_MS)


def choose(page, field: str, *options: str) -> None:
    """Pick each of ``options`` (text of a list item) in the Vuetify select ``field``."""
    page.locator(f"{field} .v-field").first.click()
    menu = page.locator(".v-overlay-container .v-overlay--active .v-list-item")
    for option in options:
        menu.filter(has_text=option).first.click()


def close_menus(page) -> None:
    page.locator(".audiosoup-header").click()
    page.locator(".v-overlay-container .v-overlay--active").wait_for(state="detached")


def card_ids(page) -> list[str]:
    return page.locator(CARD).evaluate_all("cs => cs.map(c => c.dataset.sampleId)")


def open_review(page, card) -> str:
    sample_id = card.get_attribute("data-sample-id")
    card.locator(".as-actions button").click()
    page.wait_for_selector(".audiosoup-review", state="visible")
    return sample_id


def no_script_ran(page) -> None:
    assert page.evaluate("() => window.__xss") is None
    assert page.locator("img[src='x']").count() == 0
    assert page.locator("[onmouseover], [onerror]").count() == 0
    assert not page.page_errors, page.page_errors


def test_grid_shows_cards_with_waveforms(page, dashboard, dashboard_db, shot):
    open_dashboard(page, dashboard)
    store = Store(dashboard_db)
    try:
        total = store.count_samples(SampleQuery(DEMO))
    finally:
        store.dispose()
    assert page.locator(".audiosoup-grid .as-total").inner_text().startswith(f"{total} sample")
    cards = page.locator(CARD)
    assert cards.count() == 24
    # A waveform is a filled SVG path with one point per bin, not an empty line.
    paths = page.locator(f"{CARD} svg path.as-ink").evaluate_all("ps => ps.map(p => p.getAttribute('d'))")
    assert len(paths) == 24
    assert all(d.startswith("M") and len(re.findall(r"-?\d+(?:\.\d+)?", d)) > 100 for d in paths)
    shot(page, "grid")
    # Clicking a card selects it (the server answered and the page re-rendered).
    target = cards.nth(2)
    target.click()
    page.wait_for_selector(f"{CARD}.as-selected[data-sample-id='{target.get_attribute('data-sample-id')}']")
    assert page.locator(f"{CARD}.as-selected").count() == 1
    no_script_ran(page)


def test_page_preloads_only_scripts_it_uses(page, dashboard):
    # The head names the scripts the page will ask for (dashboards/preload.py). A
    # preload the page never uses costs the visitor a download: Chromium reports
    # each one on the console a few seconds after the load event.
    messages: list[str] = []
    page.on("console", lambda m: messages.append(m.text))
    open_dashboard(page, dashboard)
    hrefs = page.locator("link[rel=preload]").evaluate_all("ls => ls.map(l => l.href)")
    assert len(hrefs) > 50
    assert any("/voila/static/voila.js" in h for h in hrefs)
    page.wait_for_function("document.readyState === 'complete'")
    page.wait_for_timeout(4_000)
    unused = [m for m in messages if "preloaded using link preload but not used" in m]
    assert not unused, unused[:3]
    # The cards' own buttons are plain buttons with names a screen reader can say.
    play = page.locator(f"{CARD} button.as-play").first
    assert play.get_attribute("aria-label") == "Play"
    assert page.locator(f"{CARD} .as-actions button").first.inner_text().strip().lower() == "review"


def test_filter_by_label_then_page(page, dashboard, shot):
    open_dashboard(page, dashboard)
    # A multiple select: its menu stays open while labels are picked.
    choose(page, ".as-f-labels", "yes (", "no (")
    close_menus(page)
    expect(page.locator(".as-summary .as-total")).to_contain_text("match")
    expect(page.locator(".as-summary .as-total b")).to_have_text("20")
    expect(page.locator(CARD)).to_have_count(20)
    labels = page.locator(f"{CARD} .as-label").all_inner_texts()
    assert set(labels) == {"yes", "no"}
    shot(page, "filtered-yes-no")

    choose(page, ".as-size", "12")
    page.wait_for_selector(".as-pageof >> text=Page 1 of 2")
    first_page = card_ids(page)
    assert len(first_page) == 12
    page.locator(".as-pagination button[aria-label='Go to page 2']").click()
    page.wait_for_selector(".as-pageof >> text=Page 2 of 2")
    page.wait_for_function(f"() => document.querySelectorAll('{CARD}').length === 8")
    second_page = card_ids(page)
    assert not set(first_page) & set(second_page)
    assert set(page.locator(f"{CARD} .as-label").all_inner_texts()) <= {"yes", "no"}
    shot(page, "filtered-page-2")
    no_script_ran(page)


def test_review_plays_the_audio(page, dashboard, shot):
    open_dashboard(page, dashboard)
    word = page.locator(CARD).filter(has=page.locator(".as-label", has_text="cat")).first
    open_review(page, word)
    review = page.locator(".audiosoup-review")
    # The waveform and spectrogram figures are drawn with axes.
    page.wait_for_function("() => document.querySelectorAll('.audiosoup-review .as-fig g.axis').length >= 4")
    shot(page, "review")
    review.locator(".as-player button", has_text="Play").click()
    page.wait_for_function(
        "() => { const a = document.querySelector('.audiosoup-review audio');"
        " return a && a.src.startsWith('blob:') && a.readyState >= 1; }",
        timeout=30_000,
    )
    page.wait_for_function(
        "() => { const a = document.querySelector('.audiosoup-review audio');"
        " return a.currentTime > 0 || a.ended; }",
        timeout=30_000,
    )
    duration = page.evaluate("() => document.querySelector('.audiosoup-review audio').duration")
    assert duration == pytest.approx(1.0, abs=0.05)
    shot(page, "review-playing")
    # Another clip's review shows that clip's spectrogram, not the first one's.
    first = spectrogram_bytes(page)
    page.keyboard.press("Escape")
    expect(review).to_be_hidden()
    labels = page.locator(f"{CARD} .as-label").all_inner_texts()
    other_label = next(t for t in labels if t not in ("cat", "") and "<" not in t)
    other = page.locator(CARD).filter(has=page.locator(".as-label", has_text=other_label)).first
    open_review(page, other)
    page.wait_for_function("() => document.querySelectorAll('.audiosoup-review .as-fig g.axis').length >= 4")
    page.wait_for_timeout(1000)  # the spectrogram is computed off the kernel's main thread
    assert spectrogram_bytes(page) != first
    no_script_ran(page)


def spectrogram_bytes(page) -> list[int]:
    """The PNG bytes of the spectrogram picture the review shows."""
    return page.evaluate(
        "async () => { const i = document.querySelector('.audiosoup-review .as-fig image');"
        " const b = await (await fetch(i.getAttribute('href'))).arrayBuffer();"
        " return Array.from(new Uint8Array(b)); }"
    )


def test_label_edit_is_saved_and_survives_a_reload(page, dashboard, dashboard_db, shot):
    open_dashboard(page, dashboard)
    bird = page.locator(CARD).filter(has=page.locator(".as-label", has_text="bird")).first
    sample_id = open_review(page, bird)
    page.locator(".audiosoup-review [data-panel=edit]").click()
    editor = page.locator(".audiosoup-editor")
    editor.wait_for(state="visible")
    editor.locator(".as-reviewer input").fill("Dashboard Test")
    editor.locator(".as-reviewer input").press("Enter")
    choose(page, ".audiosoup-editor .v-select.as-label", "tree")
    editor.locator(".as-history >> text=Dashboard Test").wait_for()
    shot(page, "editor-saved")

    store = Store(dashboard_db)
    try:
        record = store.get_sample(int(sample_id))
        assert record.label == "tree" and record.updated_by == "Dashboard Test"
        assert store.sample_history(int(sample_id))[0].reviewer == "Dashboard Test"
    finally:
        store.dispose()

    dashboard.next_visit()
    page.reload(timeout=FIRST_LOAD_MS)
    page.wait_for_selector(CARD, state="visible", timeout=FIRST_LOAD_MS)
    card = page.locator(f"{CARD}[data-sample-id='{sample_id}']")
    expect(card.locator(".as-label")).to_have_text("tree")
    shot(page, "after-reload")
    no_script_ran(page)


def test_every_feature_tab_draws_axes_and_exports_csv(page, dashboard, shot):
    open_dashboard(page, dashboard)
    sample_id = open_review(
        page, page.locator(CARD).filter(has=page.locator(".as-label", has_text="dog")).first
    )
    page.locator(".audiosoup-review [data-panel=features]").click()
    explorer = page.locator(".audiosoup-features")
    explorer.wait_for(state="visible")
    tabs = explorer.locator("[data-tab]").evaluate_all("ts => ts.map(t => t.dataset.tab)")
    assert tabs == list(FAMILIES)
    for tab in tabs:
        explorer.locator(f"[data-tab='{tab}']").click()
        expected = [spec.id for spec in features_in(tab)]
        # This tab's feature cards, each with a figure with two labelled axes.
        page.wait_for_function(
            """ids => {
                const cards = Array.from(document.querySelectorAll('.audiosoup-features .as-feature'));
                return cards.map(c => c.dataset.feature).join() === ids.join() && cards.every(c =>
                    c.querySelectorAll('g.axis').length >= 2 &&
                    Array.from(c.querySelectorAll('text.axislabel')).filter(
                        t => t.textContent.trim()).length >= 2);
            }""",
            arg=expected,
            timeout=90_000,
        )
        shot(page, f"features-{tab}")

    # Export from the last tab shown: its first two features, as CSV.
    features = explorer.locator(".as-feature")
    chosen = [features.nth(i).get_attribute("data-feature") for i in range(2)]
    for i in range(2):
        features.nth(i).locator(".as-pick input").check()
    expect(explorer.locator(".as-export-count")).to_have_text("2 features selected")
    with page.expect_download(timeout=60_000) as info:
        explorer.locator(".as-export button", has_text="Download").click()
    download = info.value
    assert download.suggested_filename.endswith(".csv")
    text = download.path().read_text()
    shot(page, "export")

    body = "\n".join(ln for ln in text.splitlines() if not ln.startswith("#"))
    csv.field_size_limit(sys.maxsize)  # a cell holds a whole matrix as JSON
    rows = list(csv.DictReader(io.StringIO(body)))
    assert len(rows) == 1 and rows[0]["sample_id"] == sample_id
    for feature in chosen:
        matrix = json.loads(rows[0][feature])
        assert len(matrix["values"]) == math.prod(matrix["shape"]) > 0
    no_script_ran(page)


def test_xss_payloads_show_as_text_and_run_nothing(page, dashboard, shot):
    open_dashboard(page, dashboard)
    search = page.locator(".as-f-search input")
    search.fill("onerror")
    search.press("Enter")
    expect(page.locator(".as-summary .as-total b")).to_have_text("1")
    card = page.locator(CARD).first
    assert card.locator(".as-name").inner_text() == f"{XSS_FILE}.wav"
    assert card.locator(".as-label").inner_text() == XSS_LABEL
    assert card.locator(".as-text").inner_text() == XSS_TEXT
    shot(page, "xss-grid")
    no_script_ran(page)

    # The label list shows the payload label as text too.
    page.locator(".as-f-labels .v-field").click()
    page.locator(".v-overlay-container .v-overlay--active .v-list-item", has_text=XSS_LABEL).first.wait_for()
    close_menus(page)

    open_review(page, card)
    review = page.locator(".audiosoup-review")
    expect(review.locator(".as-rhead .as-name")).to_have_text(f"{XSS_FILE}.wav")
    expect(review.locator(".as-rhead .as-label")).to_have_text(XSS_LABEL)
    shot(page, "xss-review")
    page.locator(".audiosoup-review [data-panel=edit]").click()
    editor = page.locator(".audiosoup-editor")
    editor.wait_for(state="visible")
    expect(editor.get_by_role("textbox", name="Transcript or notes")).to_have_value(XSS_TEXT)
    expect(editor.locator(".as-title")).to_have_text(f"{XSS_FILE}.wav")
    shot(page, "xss-editor")
    page.locator(".audiosoup-review [data-panel=features]").click()
    expect(page.locator(".audiosoup-features .as-title")).to_contain_text(XSS_FILE)
    page.wait_for_selector(".audiosoup-features .as-feature g.axis", timeout=90_000)
    shot(page, "xss-features")
    no_script_ran(page)
