"""SampleGrid: paging, filters, selection, keyboard and playback, as the browser drives it."""

from __future__ import annotations

import io
import os
import re

import numpy as np
import pytest
import soundfile as sf

from audiosoup_widgets.services import ReviewServices
from audiosoup_widgets.state import ReviewState
from audiosoup_widgets.testing import seed_synthetic
from audiosoup_widgets.widgets import SampleGrid
from audiosoup_widgets.widgets.grid import SORT_ITEMS, wave_path


def grid_on(store, dataset="words", **state):
    st = ReviewState(dataset=dataset, **state)
    return st, SampleGrid(st, ReviewServices(store))


def test_first_page_shows_cards_with_everything_a_card_needs(words):
    store, ids = words
    st, grid = grid_on(store)
    assert grid.total == 10 and grid.n_pages == 1 and len(grid.cards) == 10
    card = grid.cards[0]
    assert set(card) >= {
        "id",
        "name",
        "label",
        "split",
        "duration",
        "rate",
        "text",
        "flags",
        "status",
        "gain",
        "wave",
    }
    assert card["name"].endswith(".wav") and card["duration"] == "1.00 s" and card["rate"] == "16 kHz"
    # The first card is selected so the keyboard works at once.
    assert st.selected_sample_id == grid.cards[0]["id"] == grid.selected_id


def test_quiet_clip_is_amplified_and_says_by_how_much(words):
    store, ids = words
    _, grid = grid_on(store)
    quiet = next(c for c in grid.cards if c["name"] == "spk04_nohash_0.wav")
    loud = next(c for c in grid.cards if c["name"] == "spk00_nohash_0.wav")
    assert quiet["gain"].startswith("+") and quiet["gain"].endswith("dB")
    assert int(quiet["gain"][1:-3].split(".")[0]) >= 30
    assert loud["gain"] == "+6.0 dB"  # peak 0.5: raised to full height


def test_wave_path_is_numbers_only_and_fills_the_box():
    env = np.sin(np.linspace(0, np.pi, 200))
    path = wave_path(np.stack([-env, env]))
    assert re.fullmatch(r"M[0-9 ]+Z", path)
    nums = np.array(path[1:-1].split(), dtype=int).reshape(-1, 2)
    assert nums[:, 0].min() == 0 and nums[:, 0].max() == 2000
    assert nums[:, 1].min() == 10 and nums[:, 1].max() == 490  # full height, a small margin
    flat = wave_path(np.zeros((2, 10)))
    assert re.fullmatch(r"M[0-9 ]+Z", flat)


def test_paging_page_size_and_jump(sqlite_store):
    seed_synthetic(sqlite_store, dataset="big", n=130)
    st, grid = grid_on(sqlite_store, dataset="big")
    assert st.page_size == 24 and grid.total == 130 and grid.n_pages == 6
    first_ids = [c["id"] for c in grid.cards]
    grid.vue_set_page(5)
    assert st.page == 5 and len(grid.cards) == 130 - 5 * 24 and st.error == ""
    grid.vue_set_page(3.0)  # JSON numbers may arrive as floats
    assert st.page == 3 and grid.cards[0]["id"] not in first_ids
    grid.vue_set_page_size(48)
    assert st.page_size == 48 and st.page == 1 and grid.n_pages == 3  # card 72 is still on screen
    assert len(grid.cards) == 48


@pytest.mark.parametrize("bad", [6, 99, -1, "x", "3", None, 2.5, True, [1]])
def test_out_of_range_or_garbage_page_is_refused_and_nothing_changes(sqlite_store, bad):
    seed_synthetic(sqlite_store, dataset="big", n=130)
    st, grid = grid_on(sqlite_store, dataset="big")
    grid.vue_set_page(2)
    before = (st.page, [c["id"] for c in grid.cards])
    grid.vue_set_page(bad)
    assert st.error
    assert (st.page, [c["id"] for c in grid.cards]) == before


@pytest.mark.parametrize("bad", [10, 0, 1000, "many", 24.5])
def test_page_size_outside_the_choices_is_refused(words, bad):
    store, _ = words
    st, grid = grid_on(store)
    grid.vue_set_page_size(bad)
    assert st.error and st.page_size == 24


def test_filters_labels_split_search_status_and_sort(words_any):
    store, ids = words_any
    st, grid = grid_on(store)
    grid.vue_set_labels(["yes", "up"])
    assert st.label_filter == ["yes", "up"] and grid.total == 7
    assert {c["label"] for c in grid.cards} == {"yes", "up"} and grid.filtered
    grid.vue_set_split("validation")
    assert st.split_filter == "validation"
    assert all(c["split"] == "validation" for c in grid.cards)
    grid.vue_clear_filters()
    assert grid.total == 10 and not grid.filtered
    grid.vue_set_search("SPK03")  # case-insensitive, in file names
    assert [c["name"] for c in grid.cards] == ["spk03_nohash_0.wav"]
    grid.vue_set_search("says up")  # ... and in the text
    assert {c["label"] for c in grid.cards} == {"up"} and grid.total == 3
    grid.vue_set_search("")
    grid.vue_set_status("flagged")
    assert [c["name"] for c in grid.cards] == ["spk05_nohash_0.wav"]
    assert grid.cards[0]["flags"] == ["clipped"]
    grid.vue_set_status(None)
    grid.vue_set_sort("-path")
    paths = [c["path"] for c in grid.cards]
    assert paths == sorted(paths, reverse=True)
    assert st.error == ""


@pytest.mark.parametrize(
    "event,bad",
    [
        ("vue_set_labels", ["nope"]),
        ("vue_set_labels", "yes"),
        ("vue_set_labels", [1]),
        ("vue_set_split", "training"),
        ("vue_set_status", "broken"),
        ("vue_set_sort", "content_hash"),
        ("vue_set_sort", "path; DROP TABLE samples"),
        ("vue_set_sort", "--path"),
        ("vue_set_search", "x" * 201),
        ("vue_set_search", 5),
        ("vue_set_dataset", "no-such-dataset"),
        ("vue_set_dataset", None),
    ],
)
def test_bad_filters_are_refused_with_a_message_and_change_nothing(words, event, bad):
    store, _ = words
    st, grid = grid_on(store)
    grid.vue_set_labels(["yes"])
    before = (
        st.label_filter,
        st.split_filter,
        st.status_filter,
        st.sort,
        st.search,
        st.dataset,
        [c["id"] for c in grid.cards],
    )
    getattr(grid, event)(bad)
    assert st.error and "Traceback" not in st.error
    assert (
        st.label_filter,
        st.split_filter,
        st.status_filter,
        st.sort,
        st.search,
        st.dataset,
        [c["id"] for c in grid.cards],
    ) == before


@pytest.mark.parametrize("bad", [999_999, -3, "1", None, True, {"id": 1}])
def test_selecting_an_unknown_or_foreign_id_is_refused(words, bad):
    store, ids = words
    st, grid = grid_on(store)
    before = st.selected_sample_id
    grid.vue_select_sample(bad)
    assert st.error and st.selected_sample_id == before


def test_selecting_a_sample_of_another_page_or_dataset_is_refused(sqlite_store, tmp_path):
    seed_synthetic(sqlite_store, dataset="big", n=60)
    seed_synthetic(sqlite_store, dataset="other", n=5)
    st, grid = grid_on(sqlite_store, dataset="big")
    other = grid_on(sqlite_store, dataset="other")[1].cards[0]["id"]
    off_page = grid.cards[-1]["id"] + 1  # the first card of page 2
    for sid in (other, off_page):
        st.error = ""
        grid.vue_select_sample(sid)
        assert st.error and st.selected_sample_id == grid.cards[0]["id"]


def test_keyboard_moves_the_selection_and_flips_pages(sqlite_store):
    seed_synthetic(sqlite_store, dataset="big", n=50)
    st, grid = grid_on(sqlite_store, dataset="big")
    ids = [c["id"] for c in grid.cards]
    grid.vue_key_press({"key": "ArrowRight", "columns": 4})
    assert st.selected_sample_id == ids[1]
    grid.vue_key_press({"key": "ArrowDown", "columns": 4})
    assert st.selected_sample_id == ids[5]
    grid.vue_key_press({"key": "ArrowUp", "columns": 4})
    grid.vue_key_press({"key": "ArrowLeft", "columns": 4})
    assert st.selected_sample_id == ids[0]
    grid.vue_key_press({"key": "End", "columns": 4})
    assert st.selected_sample_id == ids[-1]
    grid.vue_key_press({"key": "ArrowRight", "columns": 4})  # past the last card: next page
    assert st.page == 1 and st.selected_sample_id == grid.cards[0]["id"]
    grid.vue_key_press({"key": "ArrowLeft", "columns": 4})  # before the first: previous page, last card
    assert st.page == 0 and st.selected_sample_id == ids[-1]
    grid.vue_key_press({"key": "PageDown", "columns": 4})
    assert st.page == 1
    for bad in ({"key": "Delete"}, {"key": "ArrowLeft", "columns": 0}, "ArrowLeft", None):
        st.error = ""
        grid.vue_key_press(bad)
        assert st.error


def test_enter_and_double_click_ask_for_the_review(words):
    store, ids = words
    st, grid = grid_on(store)
    second = grid.cards[1]["id"]
    grid.vue_key_press({"key": "ArrowRight", "columns": 3})
    grid.vue_key_press({"key": "Enter", "columns": 3})
    assert st.open_request == 1 and st.selected_sample_id == second
    grid.vue_open_sample(grid.cards[2]["id"])
    assert st.open_request == 2 and st.selected_sample_id == grid.cards[2]["id"]


def test_play_decodes_only_that_sample_and_sends_a_wav(words, sent):
    store, ids = words
    st, grid = grid_on(store)
    out = sent(grid)
    sid = grid.cards[3]["id"]
    grid.vue_play_sample(sid)
    ((content, buffers),) = out.messages
    assert content["method"] == "play_audio" and content["args"][0]["id"] == sid
    y, sr = sf.read(io.BytesIO(buffers[0]))
    assert sr == 16000 and len(y) == 16000
    assert st.selected_sample_id == sid
    grid.vue_key_press({"key": " ", "columns": 3})  # space plays the selected card
    assert out.messages[-1][0]["args"][0]["id"] == sid


def test_playing_a_missing_file_is_a_plain_message(words, sent):
    store, ids = words
    st, grid = grid_on(store)
    out = sent(grid)
    sid = grid.cards[0]["id"]
    os.remove(store.sample_file(sid))
    grid.vue_play_sample(sid)
    assert not out.messages
    assert "cannot be used" in st.error and "Traceback" not in st.error and "/tmp" not in st.error


def test_counts_are_cached_per_filter_until_an_edit(words, monkeypatch):
    store, _ = words
    st, grid = grid_on(store)
    calls = []
    real = store.count_samples
    monkeypatch.setattr(store, "count_samples", lambda q: calls.append(q) or real(q))
    grid.vue_set_labels(["yes"])
    grid.vue_set_labels([])
    grid.vue_set_labels(["yes"])
    assert len(calls) == 1  # "all" was counted when the grid opened, the second "yes" is cached
    st.revision += 1  # a notice alone: the services know nothing changed
    assert len(calls) == 1
    samples = grid.services.samples
    samples.update(samples.get(grid.cards[0]["id"]), reviewer="ann", label="no")
    st.revision += 1  # an edit through the services: counts may have changed
    assert len(calls) == 2


def test_an_edit_elsewhere_refreshes_the_cards(words):
    store, ids = words
    st, grid = grid_on(store)
    rec = store.get_sample(grid.cards[0]["id"])
    store.update_sample(rec.id, version=rec.version, reviewer="ann", label="up")
    st.revision += 1
    assert grid.cards[0]["label"] == "up"


def test_switching_dataset_resets_the_filters(sqlite_store):
    seed_synthetic(sqlite_store, dataset="a", n=30, labels=("x", "y"))
    seed_synthetic(sqlite_store, dataset="b", n=7, labels=("z",))
    st, grid = grid_on(sqlite_store, dataset="a")
    grid.vue_set_labels(["x"])
    grid.vue_set_page(0)
    assert {d["value"] for d in grid.dataset_items} == {"a", "b"}
    grid.vue_set_dataset("b")
    assert st.dataset == "b" and st.label_filter == [] and grid.total == 7
    assert [i["value"] for i in grid.label_items] == ["z"]


def test_empty_store_says_how_to_load_data(sqlite_store):
    st, grid = grid_on(sqlite_store, dataset="")
    assert grid.cards == [] and "audiosoup load" in grid.message


def test_deep_pages_do_not_fetch_more_rows(sqlite_store, monkeypatch):
    seed_synthetic(sqlite_store, dataset="big", n=300)
    st, grid = grid_on(sqlite_store, dataset="big")
    sizes = []
    real = sqlite_store.page_samples
    monkeypatch.setattr(
        sqlite_store,
        "page_samples",
        lambda q, page, page_size: sizes.append(page_size) or real(q, page=page, page_size=page_size),
    )
    grid.vue_set_page(grid.n_pages - 1)
    assert sizes == [24] and len(grid.cards) == 300 - 12 * 24


def test_toolbar_boxes_are_sized_for_their_longest_choice(words):
    store, ids = words
    st, grid = grid_on(store)
    widths = grid.field_widths
    assert widths["sort"] == max(len(t) for _, t in SORT_ITEMS)
    assert widths["split"] == len("All splits") and widths["status"] == len("Any status")
    assert widths["dataset"] == len("words (10)")
    # A long status explanation goes to the menu's subtitle, not into the box.
    flagged = next(i for i in grid.status_items if i["value"] == "flagged")
    assert flagged["title"] == "Flagged" and "clipped" in flagged["subtitle"]
    seed_synthetic(store, dataset="a-much-longer-dataset-name", n=3)
    grid.vue_reload()
    assert grid.field_widths["dataset"] == len("a-much-longer-dataset-name (3)")
