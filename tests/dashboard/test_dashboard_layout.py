"""Layout and responsiveness in a real browser: whole toolbar values, clear axes, no freezes.

These are things only a browser shows: text cut by its box, axis titles over tick
labels, Vue's warnings on the console, a page that waits for the kernel. Boxes
are measured with ``getBoundingClientRect`` (see ``layout_checks.py``) at 1024
and 1400 px; screenshots of each state land in ``test-artifacts/screenshots/``.
A ten-minute clip joins the session's database as its own dataset.
"""

from __future__ import annotations

import time

import pytest
import soundfile as sf
from dashboard_support import DEMO, SCREENSHOTS
from layout_checks import (
    LONGEST,
    TABLE_WARNING,
    assert_axes_clear,
    assert_toolbar_whole,
    assert_whole_beats,
    choose,
    music_clip,
    wait_tab,
)
from playwright.sync_api import expect

from audiosoup_widgets.features.registry import features_in
from audiosoup_widgets.store import SampleQuery, Store

pytestmark = pytest.mark.browser

CARD = ".audiosoup-grid .audiosoup-card"
LONG_DATASET = "ten-minute-clip"
FIRST_LOAD_MS = 120_000


@pytest.fixture(scope="module")
def long_clip(dashboard_db, tmp_path_factory) -> str:
    """Add a dataset holding a ten-minute 16 kHz clip (and a short one) to the session database."""
    from audiosoup_widgets.jobs.ingest import load_dataset

    folder = tmp_path_factory.mktemp("long-clip")
    (folder / "music").mkdir()
    sf.write(folder / "music" / "ten_minutes.wav", music_clip(600.0), 16000, subtype="PCM_16")
    sf.write(folder / "music" / "short.wav", music_clip(3.0), 16000, subtype="PCM_16")
    store = Store(dashboard_db)
    try:
        if LONG_DATASET not in {d.name for d in store.list_datasets()}:
            load_dataset(store, folder, dataset=LONG_DATASET, layout="folders", workers=1)
    finally:
        store.dispose()
    return LONG_DATASET


def open_dashboard(page, server, *, width: int = 1400) -> None:
    page.set_viewport_size({"width": width, "height": 900})
    server.next_visit()
    page.goto(server.url, timeout=FIRST_LOAD_MS)
    page.wait_for_selector(CARD, state="visible", timeout=FIRST_LOAD_MS)


def snap(page, locator, name: str, *, pad: int = 14) -> None:
    """Screenshot a region around ``locator`` (floating field labels sit above their box)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    locator.scroll_into_view_if_needed()
    box = locator.bounding_box()
    page.screenshot(
        path=str(SCREENSHOTS / f"{name}.png"),
        clip={
            "x": max(0, box["x"] - pad),
            "y": max(0, box["y"] - pad),
            "width": box["width"] + 2 * pad,
            "height": box["height"] + 2 * pad,
        },
    )


def open_features(page, card) -> None:
    card.locator(".as-actions button").click()
    page.wait_for_selector(".audiosoup-review", state="visible")
    page.locator(".audiosoup-review [data-panel=features]").click()
    page.locator(".audiosoup-features").wait_for(state="visible")


def test_toolbar_keeps_values_whole_and_search_runs_as_you_type(page, dashboard, dashboard_db, long_clip):
    open_dashboard(page, dashboard, width=1400)
    toolbar = page.locator(".audiosoup-grid .as-toolbar")
    for width in (1400, 1024):
        page.set_viewport_size({"width": width, "height": 900})
        boxes = assert_toolbar_whole(page)
        assert next(b for b in boxes if b["field"] == "as-f-dataset")["value"].startswith(DEMO)
        snap(page, toolbar, f"toolbar-{width}-default")
    for field, option in LONGEST.items():
        choose(page, field, option)
    for width in (1024, 1400):
        page.set_viewport_size({"width": width, "height": 900})
        boxes = assert_toolbar_whole(page)
        shown = {b["field"]: b["value"] for b in boxes}
        assert [shown[f[1:]] for f in LONGEST] == list(LONGEST.values())
        snap(page, toolbar, f"toolbar-{width}-longest-values")

    # Search as you type: no Enter, and no keystroke undone by the server's reply.
    page.locator(".as-summary button", has_text="Clear filters").click()
    expect(page.locator(".as-summary .as-total")).not_to_contain_text("match")
    store = Store(dashboard_db)
    try:
        expected = store.count_samples(SampleQuery(DEMO, search="noise"))
    finally:
        store.dispose()
    assert 0 < expected < 24
    search = page.locator(".as-f-search input")
    search.press_sequentially("noise", delay=90)
    expect(page.locator(".as-summary .as-total b")).to_have_text(str(expected), timeout=10_000)
    expect(page.locator(CARD)).to_have_count(expected)
    expect(search).to_have_value("noise")
    search.press_sequentially("zzz-none", delay=40)
    expect(page.locator(".audiosoup-grid .as-message")).to_contain_text("No samples match")
    expect(search).to_have_value("noisezzz-none")
    assert not page.page_errors, page.page_errors


def test_review_tables_and_feature_axes_lay_out_cleanly(page, dashboard):
    messages: list[str] = []
    page.on("console", lambda m: messages.append(m.text))
    open_dashboard(page, dashboard, width=1024)
    page.locator(CARD).filter(has=page.locator(".as-label", has_text="dog")).first.locator(
        ".as-actions button"
    ).click()
    page.locator(".audiosoup-review .as-table").first.wait_for(state="visible")
    assert page.locator(".audiosoup-review .as-table tbody tr").count() >= 10
    page.locator(".audiosoup-review [data-panel=edit]").click()
    page.locator(".audiosoup-editor .as-meta").wait_for(state="visible")
    assert page.locator(".audiosoup-editor .as-meta tbody tr.as-meta-new th").count() == 1
    snap(page, page.locator(".audiosoup-review"), "review-editor-1024", pad=0)
    page.locator(".audiosoup-review [data-panel=features]").click()
    page.locator(".audiosoup-features").wait_for(state="visible")
    for tab in ("spectral", "rhythmic", "deltas"):
        wait_tab(page, tab)
        for spec in features_in(tab):
            assert_axes_clear(page, spec.id)
        if tab == "spectral":
            for fid in ("spectral_contrast", "tonnetz"):
                snap(page, page.locator(f"[data-feature='{fid}']"), f"feature-{fid}-1024", pad=2)
    assert_whole_beats(page)
    snap(page, page.locator("[data-feature='stack_memory']"), "feature-stack_memory-1024", pad=2)
    # Vue compiles each template once it is shown: the overview's and the editor's are.
    assert not [m for m in messages if TABLE_WARNING in m]
    assert not page.page_errors, page.page_errors


def test_ten_minute_clip_shows_progress_and_leaves_the_page_answering(page, dashboard, long_clip, shot):
    open_dashboard(page, dashboard)
    choose(page, ".as-f-dataset", LONG_DATASET)
    expect(page.locator(CARD)).to_have_count(2)
    long_card = page.locator(CARD).filter(has=page.locator(".as-name", has_text="ten_minutes"))
    short_card = page.locator(CARD).filter(has=page.locator(".as-name", has_text="short"))
    # The progress line may be up for less than a polling interval on a fast machine, so
    # the page itself records every text it showed while the family was being computed.
    page.evaluate(
        """() => {
        window.__progressSeen = [];
        new MutationObserver(() => {
            for (const el of document.querySelectorAll('.audiosoup-features .as-progress')) {
                window.__progressSeen.push(el.textContent);
            }
        }).observe(document.body, {childList: true, subtree: true, characterData: true});
        }"""
    )
    t0 = time.monotonic()
    open_features(page, long_card)
    shot(page, "progress", full_page=False)
    page.wait_for_function("() => window.__progressSeen.length > 0", timeout=30_000)
    seen = " ".join(page.evaluate("() => window.__progressSeen"))
    assert "ten_minutes.wav" in seen
    assert "the first 60 s of 10 min 00 s" in seen
    page.wait_for_selector(".audiosoup-features [data-feature='mel_spectrogram'] g.axis", timeout=120_000)
    first_plot = time.monotonic() - t0
    expect(page.locator(".audiosoup-features .as-note")).to_contain_text("Only the first 60 s")
    wait_tab(page, "deltas")
    beats = assert_whole_beats(page)
    assert len(beats) >= 3
    assert_axes_clear(page, "stack_memory")
    snap(page, page.locator("[data-feature='stack_memory']"), "feature-stack_memory-ten-minutes", pad=2)
    # Start another family, close at once, pick the other card: the page answers.
    page.locator(".audiosoup-features [data-tab='rhythmic']").click()
    page.keyboard.press("Escape")
    page.locator(".audiosoup-review").wait_for(state="detached")
    t1 = time.monotonic()
    short_card.click()
    page.wait_for_selector(f"{CARD}.as-selected >> text=short.wav", timeout=30_000)
    answered = time.monotonic() - t1
    assert page.locator(".audiosoup-error").count() == 0  # no error banner
    print(
        f"first plot of the ten-minute clip after {first_plot:.1f} s; a card click answered "
        f"in {answered:.2f} s while a family was being computed"
    )
    assert not page.page_errors, page.page_errors
