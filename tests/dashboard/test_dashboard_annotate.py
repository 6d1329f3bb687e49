"""Journey: two reviewers annotate the same clips in blind mode, then read their agreement.

Two browser contexts are two people with their own kernels. Reviewer one votes on three
clips and tags the last; reviewer two opens the first clip and the page holds no trace of the
first vote (blind mode sends nothing) until they vote; then the distribution shows both.
Reviewer two drags a region across the waveform, sees it listed and plays it alone, tags a
clip from the suggestions, and the quality view's agreement card shows the alpha that the
``krippendorff`` package computes from the stored votes.
"""

from __future__ import annotations

import krippendorff
import numpy as np
import pytest
from dashboard_support import DEMO
from layout_checks import assert_toolbar_whole
from playwright.sync_api import expect
from test_dashboard_journeys import CARD, no_script_ran, open_dashboard, open_review
from test_jupyterlab import _shot as lab_shot
from test_jupyterlab import (
    lab,  # noqa: F401 - the JupyterLab server fixture
    open_lab_app,
)

from audiosoup_widgets import agreement
from audiosoup_widgets.store import Store

pytestmark = pytest.mark.browser

ANN = ".audiosoup-review .audiosoup-annotate"
MENU = ".v-overlay-container .v-overlay--active .v-list-item"
FIRST, SECOND = "Ana Annotator", "Ben Blind"
#: Whether each plot's drawing overlay spans exactly its figure's plot area (within 1.5 px).
ALIGNED = """() => {
    const plots = document.querySelectorAll('.audiosoup-annotate .as-an-plot');
    return plots.length === 2 && Array.from(plots).every(p => {
        const o = p.querySelector('.as-an-overlay').getBoundingClientRect();
        const area = p.querySelector('rect.plotarea_background');
        if (!area) { return false; }
        const a = area.getBoundingClientRect();
        return Math.abs(o.left - a.left) < 1.5 && Math.abs(o.right - a.right) < 1.5;
    });
}"""


def _annotate(page, card, name: str) -> None:
    """Open ``card``'s review on its Annotate tab, signed ``name``."""
    open_review(page, card)
    page.locator(".audiosoup-review [data-panel=annotate]").click()
    page.locator(ANN).wait_for(state="visible")
    who = page.locator(f"{ANN} .as-an-who input")
    if who.input_value() != name:
        who.fill(name)
        who.press("Enter")
    expect(page.locator(f"{ANN} .as-an-need")).to_have_count(0)
    page.wait_for_function(
        "() => document.querySelectorAll('.audiosoup-annotate .as-an-plot g.axis').length >= 4"
    )


def _vote(page, label: str) -> None:
    field = page.locator(f"{ANN} .as-an-vote input")
    field.click()
    field.fill(label)
    page.locator(MENU).filter(has_text=label).first.click()
    expect(page.locator(f"{ANN} .as-an-msg")).to_contain_text(f"Voted “{label}”")


def _close(page) -> None:
    page.keyboard.press("Escape")
    expect(page.locator(".audiosoup-review")).to_be_hidden()


def _card(page, sid: str):
    return page.locator(f"{CARD}[data-sample-id='{sid}']")


def test_two_reviewers_blind_votes_regions_tags_and_agreement(browser, dashboard, dashboard_db, shot):
    contexts = [browser.new_context(viewport={"width": 1400, "height": 1000}) for _ in range(2)]
    one, two = (c.new_page() for c in contexts)
    errors: list[str] = []
    for p in (one, two):
        p.set_default_timeout(30_000)
        p.on("pageerror", lambda exc: errors.append(str(exc)))
        p.page_errors = errors  # type: ignore[attr-defined]
    try:
        open_dashboard(one, dashboard)
        ids = one.locator(CARD).evaluate_all("cs => cs.slice(0, 3).map(c => c.dataset.sampleId)")
        store = Store(dashboard_db)
        try:
            labels = sorted(lab.name for lab in store.list_labels(DEMO) if lab.name.isalpha())[:2]
        finally:
            store.dispose()
        a, b = labels
        first_votes = dict(zip(ids, (a, b, a), strict=True))
        second_votes = dict(zip(ids, (a, b, b), strict=True))

        # Reviewer one votes on three clips and tags the last.
        for sid in ids:
            _annotate(one, _card(one, sid), FIRST)
            _vote(one, first_votes[sid])
            if sid == ids[2]:
                tag = one.locator(f"{ANN} .as-an-tagfield input")
                tag.fill("breathy")
                tag.press("Enter")
                expect(one.locator(f"{ANN} .as-an-tag")).to_have_text(["breathy"])
            _close(one)

        # Reviewer two, blind: nothing of reviewer one's vote reaches the page before voting.
        open_dashboard(two, dashboard)
        _annotate(two, _card(two, ids[0]), SECOND)
        expect(two.locator(f"{ANN} .as-an-blind-box")).to_be_checked()
        expect(two.locator(f"{ANN} .as-an-hidden")).to_be_visible()
        assert two.locator(f"{ANN} .as-an-dist").count() == 0
        assert FIRST not in two.locator(".audiosoup-review").inner_text()
        shot(two, "blind-before-voting")
        _vote(two, second_votes[ids[0]])
        dist = two.locator(f"{ANN} .as-an-dist")
        expect(dist.locator(".as-an-dist-title")).to_have_text("2 votes")
        expect(dist.locator(".as-an-voter")).to_have_text([f"{FIRST}: {a}", f"{SECOND}: {a}"])

        # A region dragged across the waveform is listed and plays alone.
        overlay = two.locator(f"{ANN} .as-an-wave .as-an-overlay")
        box = overlay.bounding_box()
        y = box["y"] + box["height"] / 2
        two.mouse.move(box["x"] + 0.2 * box["width"], y)
        two.mouse.down()
        for f in (0.3, 0.4, 0.5, 0.6):
            two.mouse.move(box["x"] + f * box["width"], y)
        two.mouse.up()
        rows = two.locator(f"{ANN} .as-an-region-row")
        expect(rows).to_have_count(1)
        expect(two.locator(f"{ANN} .as-an-wave .as-an-region")).to_have_count(1)
        start = float(rows.first.locator(".as-an-start").input_value())
        end = float(rows.first.locator(".as-an-end").input_value())
        store = Store(dashboard_db)
        try:
            duration = store.get_sample(int(ids[0])).duration
        finally:
            store.dispose()
        assert start == pytest.approx(0.2 * duration, abs=0.02 * duration)
        assert end == pytest.approx(0.6 * duration, abs=0.02 * duration)
        label = rows.first.locator(".as-an-rlabel")
        label.fill("onset")
        label.press("Tab")
        expect(two.locator(f"{ANN} .as-an-region-label")).to_have_text("onset")
        rows.first.locator(".as-an-play").click()
        two.wait_for_function(
            "() => { const a = document.querySelector('.audiosoup-annotate audio');"
            " return a && a.src.startsWith('blob:') && a.readyState >= 1; }"
        )
        played = two.evaluate("() => document.querySelector('.audiosoup-annotate audio').duration")
        assert played == pytest.approx(end - start, abs=0.01)
        # The spectrogram below takes a drag the same way: a second region, 70 % to 90 %.
        spec = two.locator(f"{ANN} .as-an-spec .as-an-overlay").bounding_box()
        y = spec["y"] + spec["height"] / 2
        two.mouse.move(spec["x"] + 0.9 * spec["width"], y)
        two.mouse.down()
        for f in (0.85, 0.8, 0.75, 0.7):
            two.mouse.move(spec["x"] + f * spec["width"], y)
        two.mouse.up()
        expect(rows).to_have_count(2)
        assert float(rows.nth(1).locator(".as-an-start").input_value()) == pytest.approx(
            0.7 * duration, abs=0.02
        )
        assert float(rows.nth(1).locator(".as-an-end").input_value()) == pytest.approx(
            0.9 * duration, abs=0.02
        )
        expect(two.locator(f"{ANN} .as-an-spec .as-an-region")).to_have_count(2)
        two.locator(f"{ANN} .as-an-flag", has_text="noisy").locator("input").check()
        expect(two.locator(f"{ANN} .as-an-flag.as-an-on")).to_have_text(["noisy"])
        two.locator(f"{ANN} .as-an-section", has_text="Time regions").scroll_into_view_if_needed()
        two.wait_for_function(ALIGNED)
        shot(two, "annotate-1400")
        two.set_viewport_size({"width": 1024, "height": 1000})
        # bqplot lays its figures out again after a resize: the overlays must still match them.
        two.wait_for_function(ALIGNED)
        shot(two, "annotate-1024", full_page=False)
        two.set_viewport_size({"width": 1400, "height": 1000})
        _close(two)

        # The next clips: a tag from the suggestions (reviewer one's word), then the votes.
        _annotate(two, _card(two, ids[1]), SECOND)
        field = two.locator(f"{ANN} .as-an-tagfield input")
        field.click()
        field.press_sequentially("bre", delay=60)
        two.locator(MENU).filter(has_text="breathy").first.click()
        expect(two.locator(f"{ANN} .as-an-tag")).to_have_text(["breathy"])
        _vote(two, second_votes[ids[1]])
        _close(two)
        _annotate(two, _card(two, ids[2]), SECOND)
        _vote(two, second_votes[ids[2]])
        expect(two.locator(f"{ANN} .as-an-dist-title")).to_have_text("2 votes")
        _close(two)

        # The agreement card: Krippendorff's alpha of the stored votes, as the package computes it.
        store = Store(dashboard_db)
        try:
            table = store.vote_table(DEMO)
        finally:
            store.dispose()
        reviewers = sorted({r for _, r, _ in table})
        samples = sorted({s for s, _, _ in table})
        codes = {lab: i for i, lab in enumerate(sorted({lab for _, _, lab in table}))}
        data = np.full((len(reviewers), len(samples)), np.nan)
        for sid, reviewer, lab in table:
            data[reviewers.index(reviewer), samples.index(sid)] = codes[lab]
        expected = krippendorff.alpha(reliability_data=data, level_of_measurement="nominal")
        two.locator(".audiosoup-views .as-view-quality").click()
        card = two.locator(".audiosoup-agreement")
        expect(card.locator(".as-ag-value")).to_have_text(f"{expected:.3f}")
        # Consensus: two clips agreed (a, then b), the third is a tie and stays unresolved.
        counts = card.locator(".as-ag-counts")
        expect(counts).to_contain_text("Consensus: 2 clips with a majority label, 1 tied")
        report = agreement(DEMO, db=dashboard_db)
        assert {str(k): v for k, v in report.consensus.items() if str(k) in ids} == {
            ids[0]: a,
            ids[1]: b,
            ids[2]: None,
        }
        assert report.distribution[int(ids[2])] == {a: 1, b: 1}
        shot(two, "agreement-card", full_page=False)

        # The grid's "Disagreements" keeps the one disputed clip; the toolbar stays whole.
        two.locator(".audiosoup-views .as-view-clips").click()
        two.locator(".audiosoup-grid .as-disagree").click()
        expect(two.locator(CARD)).to_have_count(1)
        assert two.locator(CARD).first.get_attribute("data-sample-id") == ids[2]
        for width in (1400, 1024):
            two.set_viewport_size({"width": width, "height": 900})
            two.wait_for_timeout(300)
            assert_toolbar_whole(two)
            shot(two, f"grid-disagreements-{width}", full_page=False)
        no_script_ran(two)
        no_script_ran(one)
    finally:
        for c in contexts:
            c.close()


def test_annotate_tab_in_a_jupyterlab_cell(page, lab):  # noqa: F811 - the imported fixture
    """The Annotate tab inside a JupyterLab cell (Lab's styles, a narrower page): a screenshot."""
    url, _ = lab
    open_lab_app(page, url)
    page.locator(".audiosoup-card .as-actions button").first.click()
    page.locator(".audiosoup-review [data-panel=annotate]").click()
    page.locator(ANN).wait_for(state="visible")
    who = page.locator(f"{ANN} .as-an-who input")
    who.fill("Lab Reviewer")
    who.press("Enter")
    # The kernel may still be compiling the spectrogram's code (no warm-up ran before the cell).
    expect(page.locator(f"{ANN} .as-an-need")).to_have_count(0, timeout=120_000)
    page.wait_for_function(
        "() => document.querySelectorAll('.audiosoup-annotate .as-an-plot g.axis').length >= 2"
    )
    expect(page.locator(f"{ANN} .as-an-flag").first).to_be_visible()
    expect(page.locator(f"{ANN} .as-an-msg")).to_contain_text("recorded as Lab Reviewer")
    lab_shot(page, page.locator(".audiosoup-review"), "annotate-1400", pad=0)
    assert not page.page_errors, page.page_errors
