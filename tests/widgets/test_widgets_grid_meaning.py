"""SampleGrid's "by meaning" switch: texts closest to the words typed, with the other filters."""

from __future__ import annotations

import pytest
from widgettest_helpers import add_samples

from audiosoup_widgets.services import ReviewServices
from audiosoup_widgets.state import ReviewState
from audiosoup_widgets.widgets import SampleGrid

CLIPS = [
    {"label": "outdoor", "name": "a0", "text": "a light breeze through the trees"},
    {"label": "indoor", "name": "b0", "text": "the phone rings twice"},
    {"label": "outdoor", "name": "a1", "text": "children laughing in a park"},
    {"label": "indoor", "name": "b1", "text": "keys dropped on a table"},
    {"label": "indoor", "name": "b2", "text": "a gust of air from the fan"},
    {"label": "indoor", "name": "b3"},
]


@pytest.fixture
def grid(sqlite_store, tmp_path):
    add_samples(sqlite_store, tmp_path / "audio", clips=CLIPS)
    st = ReviewState(dataset="words")
    return st, SampleGrid(st, ReviewServices(sqlite_store))


def test_by_meaning_ranks_the_breeze_first_and_keeps_the_label_filter(grid):
    st, g = grid
    g.vue_set_search("wind")
    assert g.total == 0  # by letters, no text says "wind"
    g.vue_set_by_meaning(True)
    assert st.search_by_meaning and g.by_meaning and g.message == ""
    assert g.total == 5  # every clip with text, closest first; the clip without text is not shown
    # The two texts about moving air come first (neither says "wind").
    air = {"a light breeze through the trees", "a gust of air from the fan"}
    assert {c["text"] for c in g.cards[:2]} == air
    g.vue_set_labels(["indoor"])
    assert g.total == 3 and {c["label"] for c in g.cards} == {"indoor"}
    assert g.cards[0]["text"] == "a gust of air from the fan"
    g.vue_set_by_meaning(False)
    assert g.total == 0 and not g.by_meaning


def test_by_meaning_refuses_anything_but_a_boolean_and_shows_one_line(grid):
    st, g = grid
    g.vue_set_by_meaning("yes")
    assert st.error and "\n" not in st.error and not g.by_meaning
    # Without words the switch filters nothing.
    g.vue_set_by_meaning(True)
    assert g.total == 6


def test_cards_say_where_the_text_disagrees_once_the_text_model_has_run(sqlite_store, tmp_path):
    clips = [{"label": "dog", "name": f"d{i}", "text": "a dog barks at the gate"} for i in range(6)]
    clips += [{"label": "cat", "name": f"c{i}", "text": "a cat meows on the sofa"} for i in range(6)]
    clips.append({"label": "cat", "name": "odd", "text": "a dog barks at the gate"})
    add_samples(sqlite_store, tmp_path / "audio", clips=clips)
    st = ReviewState(dataset="words", page_size=48)
    services = ReviewServices(sqlite_store)
    g = SampleGrid(st, services)
    assert all(c["text_mark"] == "" for c in g.cards)  # the cards never wait for the text model
    checks = services.text.consistency("words")
    odd = next(c for c in g.cards if c["name"] == "odd.wav")["id"]
    assert set(checks) == {odd} and checks[odd].suggested == "dog" and not checks[odd].strong
    g.refresh()
    marked = {c["id"]: c for c in g.cards if c["text_mark"]}
    assert set(marked) == {odd}
    assert marked[odd]["text_mark"].startswith("text says dog · ")
    assert "'cat'" in marked[odd]["text_title"]
