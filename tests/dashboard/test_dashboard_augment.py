"""Journey: a chain of transforms built in the review, heard A/B, applied to a selection, seen in the grid.

A reviewer checks three clips, opens the first one's Augment tab, adds a fixed +6 dB
gain (a value outside the safe range is refused on the page), listens to the original
and then the result (the player's source switches and plays), applies the chain to the
three clips with two variants each, and finds the six derived clips in the grid with the
"Origin: Derived" filter, each card naming its parent and the recipe.
"""

from __future__ import annotations

import os
import tempfile

import pytest
from dashboard_support import DEMO
from layout_checks import assert_toolbar_whole
from playwright.sync_api import expect
from test_dashboard_journeys import CARD, choose, no_script_ran, open_dashboard, open_review
from test_jupyterlab import _shot as lab_shot
from test_jupyterlab import (
    lab,  # noqa: F401 - the JupyterLab server fixture
    open_lab_app,
)

from audiosoup_widgets.store import SampleQuery, Store

pytestmark = pytest.mark.browser

# Derived clips' files go to a folder of this run, not the user's data folder (the
# dashboard's kernels inherit the environment).
os.environ.setdefault("AUDIOSOUP_DATA_DIR", tempfile.mkdtemp(prefix="audiosoup-augment-"))

AUG = ".audiosoup-review .audiosoup-augment"
AUDIO = ".audiosoup-augment audio"
PLAYING = """w => { const a = document.querySelector('.audiosoup-augment audio');
    return a && a.dataset.which === w && a.src.startsWith('blob:') && !a.paused && a.currentTime > 0; }"""


def _param(page, step: int, name: str, value: str) -> None:
    field = page.locator(f"{AUG} [data-step='{step}'] [data-param='{name}'] input.as-ag-value")
    field.fill(value)
    field.press("Enter")
    field.blur()


def test_build_listen_apply_and_see_the_derived_clips(browser, dashboard, dashboard_db, shot):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(60_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.page_errors = errors  # type: ignore[attr-defined]
    try:
        open_dashboard(page, dashboard)
        cards = page.locator(CARD)
        ids = cards.evaluate_all("cs => cs.slice(0, 3).map(c => c.dataset.sampleId)")
        for sid in ids:
            page.locator(f"{CARD}[data-sample-id='{sid}'] .as-check").click()
        open_review(page, page.locator(f"{CARD}[data-sample-id='{ids[0]}']"))
        page.locator(".audiosoup-review [data-panel=augment]").click()
        page.locator(AUG).wait_for(state="visible")
        who = page.locator(f"{AUG} .as-ag-who input")
        who.fill("Ada Augment")
        who.press("Enter")
        expect(page.locator(f"{AUG} .as-ag-msg")).to_contain_text("recorded as Ada Augment")

        # One step: a fixed +6 dB gain, typed beside its sliders; its explanation shows.
        choose(page, f"{AUG} .as-ag-addpick", "Gain (louder or quieter)")
        step = page.locator(f"{AUG} .as-ag-step")
        expect(step).to_have_count(1)
        expect(step.locator(".as-ag-explain")).to_contain_text("louder or quieter")
        expect(step.locator(".as-ag-slider")).to_have_count(3)
        _param(page, 0, "max_gain_db", "6")
        _param(page, 0, "min_gain_db", "6")
        expect(page.locator(f"{AUG} [data-param='min_gain_db'] input.as-ag-value")).to_have_value("6")
        # Out of the safe range: refused on the page, in one sentence, and the value stays.
        _param(page, 0, "max_gain_db", "99")
        expect(page.locator(f"{AUG} .as-ag-msg.as-ag-error")).to_contain_text("outside its safe range")
        expect(page.locator(f"{AUG} [data-param='max_gain_db'] input.as-ag-value")).to_have_value("6")
        assert "Traceback" not in page.locator(".audiosoup-review").inner_text()
        banner = page.locator(".audiosoup-error")
        expect(banner).to_contain_text("outside its safe range")

        # The preview: both waveforms, the mel spectrogram of both and their difference.
        page.wait_for_function(
            "() => document.querySelectorAll('.audiosoup-augment .as-ag-panel g.axis').length >= 10",
            timeout=120_000,
        )

        # A/B: the player's source switches from the original to the result, and plays.
        page.locator(f"{AUG} .as-ag-a").click()
        page.wait_for_function(PLAYING, arg="a")
        first = page.evaluate(f"() => document.querySelector('{AUDIO}').src")
        page.locator(f"{AUG} .as-ag-b").click()
        page.wait_for_function(PLAYING, arg="b")
        second = page.evaluate(f"() => document.querySelector('{AUDIO}').src")
        assert second != first
        expect(page.locator(f"{AUG} .as-ag-b.as-on")).to_have_count(1)
        page.evaluate(f"() => document.querySelector('{AUDIO}').pause()")

        # Apply to the three checked clips, two variants each.
        page.locator(f"{AUG} .as-ag-name input").fill("louder")
        variants = page.locator(f"{AUG} .as-ag-variants input")
        variants.fill("2")
        apply = page.locator(f"{AUG} .as-ag-apply")
        expect(apply).to_have_text("Apply to 3 selected")
        apply.click()
        expect(page.locator(f"{AUG} .as-ag-msg")).to_contain_text("Made 6 derived clips", timeout=180_000)
        expect(page.locator(f"{AUG} .as-ag-count")).to_have_text("6 / 6 clips")
        page.locator(f"{AUG} .as-ag-look").scroll_into_view_if_needed()
        shot(page, "augment-1400", full_page=False)
        page.set_viewport_size({"width": 1024, "height": 1000})
        page.wait_for_timeout(500)
        shot(page, "augment-1024", full_page=False)
        page.set_viewport_size({"width": 1400, "height": 1000})
        page.keyboard.press("Escape")
        expect(page.locator(".audiosoup-review")).to_be_hidden()
        banner.locator("button").click()  # the refusal above, dismissed once the dialog is closed
        expect(banner).to_be_hidden()

        store = Store(dashboard_db)
        try:
            derived = store.count_samples(SampleQuery(DEMO, origin="derived"))
        finally:
            store.dispose()
        assert derived == 6

        # The grid's origin filter shows the six, each card saying where it comes from.
        page.locator(".audiosoup-grid .as-f-origin .v-field").click()
        menu = page.locator(".v-overlay-container .v-overlay--active .v-list-item")
        menu.filter(has=page.get_by_text("Derived", exact=True)).click()
        expect(cards).to_have_count(6)
        notes = page.locator(f"{CARD} .as-derived")
        expect(notes).to_have_count(6)
        for text in notes.all_inner_texts():
            assert "derived from" in text and "louder" in text
        for width in (1400, 1024):
            page.set_viewport_size({"width": width, "height": 900})
            page.wait_for_timeout(300)
            assert_toolbar_whole(page)
            shot(page, f"grid-derived-{width}", full_page=False)
        no_script_ran(page)
    finally:
        context.close()


def test_augment_tab_in_a_jupyterlab_cell(page, lab):  # noqa: F811 - the imported fixture
    """The Augment tab inside a JupyterLab cell, with a step previewed: a screenshot."""
    url, _ = lab
    open_lab_app(page, url)
    page.locator(".audiosoup-card .as-actions button").first.click()
    page.locator(".audiosoup-review [data-panel=augment]").click()
    page.locator(AUG).wait_for(state="visible")
    choose(page, f"{AUG} .as-ag-addpick", "Pitch shift")
    expect(page.locator(f"{AUG} .as-ag-step")).to_have_count(1)
    # The kernel may still be compiling the spectrogram's code (no warm-up ran before the cell).
    page.wait_for_function(
        "() => document.querySelectorAll('.audiosoup-augment .as-ag-panel g.axis').length >= 10",
        timeout=180_000,
    )
    lab_shot(page, page.locator(".audiosoup-review"), "augment-1400", pad=0)
    assert not page.page_errors, page.page_errors
