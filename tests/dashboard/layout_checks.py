"""What only a browser shows, measured from element boxes: clipped text, overlapping axis labels.

Shared by the Voila and the JupyterLab tests: each function takes a Playwright page
showing the review app and returns what it measured, or fails with what it saw.
"""

from __future__ import annotations

import re

import numpy as np

from audiosoup_widgets.features.registry import features_in

#: The toolbar boxes whose whole value must show, and their longest choices.
LONGEST = {".as-f-split": "Validation", ".as-f-status": "Flagged", ".as-f-sort": "Sample rate (high first)"}
TABLE_WARNING = "cannot be child of <table>"


def music_clip(seconds: float, sr: int = 16000) -> np.ndarray:
    """A clip with a steady beat and changing notes (so beats and chroma are non-trivial)."""
    n_bar = 2 * sr
    t = np.arange(n_bar) / sr
    beat = np.exp(-((t % 0.5) / 0.04))
    notes = 220.0 * 2 ** (np.floor(t / 0.5) % 4 * 3 / 12)
    bar = 0.3 * np.sin(2 * np.pi * np.cumsum(notes) / sr) + 0.25 * beat * np.sin(2 * np.pi * 90 * t)
    y = np.tile(bar, int(np.ceil(seconds * sr / n_bar)))[: int(seconds * sr)]
    return (0.8 * y / np.abs(y).max()).astype(np.float32)


def choose(page, field: str, option: str) -> None:
    """Pick the list item ``option`` in the Vuetify select ``field``; close the menu."""
    page.locator(f"{field} .v-field").first.click()
    page.locator(".v-overlay-container .v-overlay--active .v-list-item").filter(has_text=option).first.click()
    page.locator(".v-overlay-container .v-overlay--active .v-list").wait_for(state="detached")
    # The box shows the choice once the server has applied it and sent it back.
    page.locator(f"{field} .v-select__selection-text").filter(has_text=option).first.wait_for()


def toolbar_boxes(page) -> list[dict]:
    """Measure each toolbar box: its value's and its label's text, and whether either is cut."""
    return page.evaluate("""() => Array.from(document.querySelectorAll('.as-toolbar > .v-input')).map(el => {
        const field = (el.className.match(/as-f-\\w+/) || [''])[0];
        const value = el.querySelector('.v-select__selection-text');
        // Vuetify keeps two labels (in the box, and floating on its border): measure the one shown.
        const label = Array.from(el.querySelectorAll('.v-field-label')).find(l =>
            getComputedStyle(l).visibility !== 'hidden' && l.getClientRects().length);
        const box = el.getBoundingClientRect();
        return {field: field, width: box.width, right: box.right,
                value: value ? value.textContent.trim() : null,
                valueCut: value ? value.scrollWidth > value.clientWidth + 0.5 : false,
                label: label ? label.textContent.trim() : null,
                labelCut: label ? label.scrollWidth > label.clientWidth + 0.5 : false};
    })""")


def assert_toolbar_whole(page, *, right: float | None = None) -> list[dict]:
    """Fail if a toolbar box cuts its value or label, or reaches past ``right`` (the page's edge)."""
    boxes = toolbar_boxes(page)
    assert {b["field"] for b in boxes} >= {"as-f-dataset", "as-f-split", "as-f-status", "as-f-sort"}
    if right is None:
        right = page.evaluate("() => document.documentElement.clientWidth")
    for b in boxes:
        assert not b["valueCut"] and not b["labelCut"], b
        assert b["right"] <= right + 0.5, b
    return boxes


def axis_boxes(page, feature: str) -> list[dict]:
    """Boxes of every axis title and tick label of one feature card's figure."""
    return page.evaluate(
        """fid => {
        const card = document.querySelector(`.audiosoup-features [data-feature='${fid}']`);
        const fig = card.querySelector('.bqplot');
        const box = e => { const b = e.getBoundingClientRect();
            return {l: b.left, r: b.right, t: b.top, b: b.bottom}; };
        return Array.from(card.querySelectorAll('g.axis')).map(ax => {
            const title = ax.querySelector('text.axislabel');
            return {title: title ? title.textContent : '', titleBox: title ? box(title) : null,
                    figure: box(fig),
                    ticks: Array.from(ax.querySelectorAll('.tick text'))
                        .filter(t => t.textContent.trim())
                        .map(t => ({text: t.textContent, box: box(t)}))};
        });
    }""",
        feature,
    )


def _overlap(a: dict, b: dict) -> bool:
    return a["l"] < b["r"] - 0.5 and b["l"] < a["r"] - 0.5 and a["t"] < b["b"] - 0.5 and b["t"] < a["b"] - 0.5


def assert_axes_clear(page, feature: str) -> list[dict]:
    """Fail if an axis title touches one of its tick labels or leaves the figure."""
    axes = axis_boxes(page, feature)
    assert len(axes) >= 2, (feature, axes)
    for ax in axes:
        assert ax["title"] and ax["ticks"], (feature, ax)
        title, fig = ax["titleBox"], ax["figure"]
        for tick in ax["ticks"]:
            assert not _overlap(title, tick["box"]), (feature, ax["title"], tick)
        assert title["l"] >= fig["l"] - 0.5 and title["b"] <= fig["b"] + 0.5, (feature, ax)
    return axes


def assert_whole_beats(page) -> list[str]:
    """Fail unless the beat axis of the beat-synchronous chroma shows whole numbers only."""
    axes = axis_boxes(page, "stack_memory")
    (beat,) = [ax for ax in axes if ax["title"] == "beat"]
    texts = [t["text"] for t in beat["ticks"]]
    assert texts and all(re.fullmatch(r"-?\d+", t) for t in texts), texts
    return texts


def wait_tab(page, tab: str, timeout: float = 120_000) -> None:
    """Open a feature tab and wait until its own cards (not the last tab's) have drawn axes."""
    page.locator(f".audiosoup-features [data-tab='{tab}']").click()
    ids = [s.id for s in features_in(tab)]
    page.wait_for_function(
        """ids => {
            const cards = Array.from(document.querySelectorAll('.audiosoup-features .as-feature'));
            return !document.querySelector('.audiosoup-features .as-progress') &&
                cards.map(c => c.dataset.feature).join() === ids.join() &&
                cards.every(c => c.querySelectorAll('.tick text').length > 2 &&
                    c.querySelectorAll('text.axislabel').length >= 2);
        }""",
        arg=ids,
        timeout=timeout,
    )
    page.wait_for_timeout(300)  # let bqplot finish its relayout
