"""Texts by meaning in a browser: the grid's "by meaning" search and the label-name merges.

A dataset loaded from a manifest whose labels include "dog", "Dog" and "dogs" (and
"cat"), and whose texts talk about wind without the word: in Voila the search "wind"
by meaning puts the breeze and the gust first, combined with the label filter; the
quality view proposes {dog, Dog, dogs} as one name, leaves "cat" alone, and a merge
relabels the clips in one step (each clip's history says why) and undoes in one step.
Screenshots at 1400 and 1024 px, and of the search in a JupyterLab cell.
"""

from __future__ import annotations

import csv

import pytest
import soundfile as sf
from layout_checks import assert_toolbar_whole, choose
from playwright.sync_api import expect
from signals import speech_like
from test_dashboard_journeys import CARD, close_menus, open_dashboard
from test_dashboard_journeys import choose as choose_many
from test_jupyterlab import _shot as lab_shot
from test_jupyterlab import (
    lab,  # noqa: F401 - the JupyterLab server fixture
    open_lab_app,
)

from audiosoup_widgets.store import SampleQuery, Store

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# Named after the demo dataset, so the dashboard still opens on the demo first.
TEXT_DATASET = "voices-and-notes"
ROWS = [
    ("dog", "strong wind noise over the barking"),
    ("dog", "a dog barks twice at the door"),
    ("dog", "traffic outside the window"),
    ("dog", "the puppy yelps"),
    ("Dog", "a light breeze moves the leaves"),
    ("Dog", "barking far away"),
    ("dogs", "two dogs growl"),
    ("cat", "a cat meows on the sofa"),
    ("cat", "a gust of air from the open window"),
    ("cat", "purring close to the microphone"),
    ("cat", "a kitten hisses"),
    ("cat", "car horns in the street"),
]


@pytest.fixture(scope="module")
def notes_dataset(dashboard_db, tmp_path_factory) -> str:
    """Add the manifest dataset to the session database (once)."""
    from audiosoup_widgets.jobs.ingest import load_dataset

    folder = tmp_path_factory.mktemp("notes")
    with open(folder / "manifest.csv", "w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["path", "label", "split", "text"])
        for i, (label, text) in enumerate(ROWS):
            sf.write(folder / f"clip{i:02d}.wav", speech_like(16000, seconds=1.0, seed=i), 16000)
            out.writerow([f"clip{i:02d}.wav", label, "train", text])
    store = Store(dashboard_db)
    try:
        if TEXT_DATASET not in {d.name for d in store.list_datasets()}:
            load_dataset(store, folder, dataset=TEXT_DATASET, layout="manifest", workers=1)
    finally:
        store.dispose()
    return TEXT_DATASET


def _texts(page) -> list[str]:
    return page.locator(f"{CARD} .as-text").all_inner_texts()


def test_wind_by_meaning_finds_the_breeze_and_a_merge_of_dog_names_undoes(
    page, dashboard, dashboard_db, notes_dataset, shot
):
    open_dashboard(page, dashboard)
    choose(page, ".as-f-dataset", notes_dataset)
    expect(page.locator(CARD)).to_have_count(12)
    search = page.locator(".audiosoup-grid .as-f-search input")
    search.fill("wind")
    search.press("Enter")
    # By letters: the note that says "wind", and the two that say "window".
    expect(page.locator(CARD)).to_have_count(3)
    assert "a light breeze moves the leaves" not in _texts(page)
    page.locator(".audiosoup-grid .as-meaning").click()
    expect(page.locator(".audiosoup-grid .as-meaning")).to_have_attribute("aria-pressed", "true")
    expect(page.locator(CARD)).to_have_count(12)
    first = _texts(page)[:3]
    assert "strong wind noise over the barking" in first
    # Texts that share no word with "wind" but mean moving air rank above the rest.
    assert {"a light breeze moves the leaves", "a gust of air from the open window"} & set(first)
    ranks = {t: i for i, t in enumerate(_texts(page))}
    assert ranks["a light breeze moves the leaves"] < ranks["purring close to the microphone"]
    assert ranks["a gust of air from the open window"] < ranks["a kitten hisses"]
    for width in (1400, 1024):
        page.set_viewport_size({"width": width, "height": 900})
        page.wait_for_timeout(300)
        assert_toolbar_whole(page)
        shot(page, f"search-by-meaning-{width}", full_page=False)
    page.set_viewport_size({"width": 1400, "height": 900})
    # Combined with the label filter: only the cat clips, the gust first.
    choose_many(page, ".as-f-labels", "cat (")
    close_menus(page)
    expect(page.locator(CARD)).to_have_count(5)
    assert _texts(page)[0] == "a gust of air from the open window"

    # The quality view: {dog, Dog, dogs} is one group, "cat" is not in any.
    page.locator(".audiosoup-views .as-view-quality").click()
    groups = page.locator(".audiosoup-vocabulary .as-voc-group")
    expect(groups).to_have_count(1)
    expect(groups.first.locator(".as-voc-label")).to_have_text(["dog", "Dog", "dogs"])
    page.locator(".audiosoup-vocabulary .as-voc-who input").fill("Merge Tester")
    groups.first.locator(".as-voc-merge").click()
    outcome = page.locator(".audiosoup-vocabulary .as-voc-outcome")
    expect(outcome).to_contain_text("Relabelled 3 clips")
    expect(groups).to_have_count(0)
    # The class balance is drawn again with the merged labels, largest first.
    ticks = page.locator(".audiosoup-quality .as-q-balance g.axis").first.locator(".tick text")
    expect(ticks).to_have_text(["dog", "cat"])
    page.locator(".audiosoup-vocabulary").scroll_into_view_if_needed()
    shot(page, "merged-labels", full_page=False)
    store = Store(dashboard_db)
    try:
        labels = [r.label for r in store.page_samples(SampleQuery(notes_dataset), page_size=50)]
        assert sorted(set(labels)) == ["cat", "dog"] and labels.count("dog") == 7
        dog_like = store.page_samples(SampleQuery(notes_dataset, sort="id"), page_size=50)[4]
        assert store.sample_history(dog_like.id)[0].reason == "merge labels"
        assert store.sample_history(dog_like.id)[0].reviewer == "Merge Tester"
    finally:
        store.dispose()
    page.locator(".audiosoup-vocabulary .as-voc-undo").click()
    expect(outcome).to_contain_text("Undid the merge: 3 clips")
    expect(groups).to_have_count(1)
    store = Store(dashboard_db)
    try:
        labels = [r.label for r in store.page_samples(SampleQuery(notes_dataset), page_size=50)]
        assert labels.count("Dog") == 2 and labels.count("dogs") == 1
    finally:
        store.dispose()
    assert not page.page_errors, page.page_errors


def test_search_by_meaning_in_a_jupyterlab_cell(page, lab, notes_dataset):  # noqa: F811 - the fixture
    url, _ = lab
    open_lab_app(page, url)
    choose(page, ".as-f-dataset", notes_dataset)
    search = page.locator(".audiosoup-grid .as-f-search input")
    search.fill("a windy day")
    search.press("Enter")
    page.locator(".audiosoup-grid .as-meaning").click()
    expect(page.locator(".audiosoup-grid .as-meaning")).to_have_attribute("aria-pressed", "true")
    expect(page.locator(".jp-OutputArea .audiosoup-card")).to_have_count(12, timeout=60_000)
    first = page.locator(".jp-OutputArea .audiosoup-card .as-text").first.inner_text()
    assert first in {
        "strong wind noise over the barking",
        "a light breeze moves the leaves",
        "a gust of air from the open window",
    }
    lab_shot(page, page.locator(".jp-OutputArea .audiosoup-grid"), "search-by-meaning-1400", pad=0)
    assert not page.page_errors, page.page_errors
