"""Checking cards, selecting pages or every match, the id filter and the selection bar.

Driven as the browser drives them (``vue_*`` events), on real stores; the id filter and
"select all" run in the store on both databases.
"""

from __future__ import annotations

import io

import pandas as pd
import pytest

from audiosoup_widgets.services import ReviewServices
from audiosoup_widgets.state import ReviewState
from audiosoup_widgets.testing import seed_synthetic
from audiosoup_widgets.widgets import SampleGrid, SelectionBar


def parts(store, dataset="big"):
    st = ReviewState(dataset=dataset)
    services = ReviewServices(store)
    return st, SampleGrid(st, services), SelectionBar(st, services)


def test_checking_cards_one_by_one_and_with_shift(sqlite_store):
    seed_synthetic(sqlite_store, dataset="big", n=60)
    st, grid, bar = parts(sqlite_store)
    ids = [c["id"] for c in grid.cards]
    grid.vue_toggle_check({"id": ids[2], "shift": False})
    assert st.selection == {ids[2]} and grid.checked == [ids[2]] and bar.n_selected == 1
    grid.vue_toggle_check({"id": ids[6], "shift": True})  # a range, in page order
    assert st.selection == set(ids[2:7]) and grid.checked == ids[2:7]
    grid.vue_toggle_check({"id": ids[4], "shift": False})  # unchecks one
    assert st.selection == set(ids[2:7]) - {ids[4]}
    # A shift-click gives the whole range the clicked card's new state.
    grid.vue_toggle_check({"id": ids[0], "shift": True})
    assert st.selection == set(ids[0:7])
    grid.vue_toggle_check({"id": ids[1], "shift": True})
    assert st.selection == set(ids[2:7])
    assert st.error == ""


def test_checks_survive_paging_and_show_on_their_page(sqlite_store):
    seed_synthetic(sqlite_store, dataset="big", n=60)
    st, grid, bar = parts(sqlite_store)
    first = [c["id"] for c in grid.cards]
    grid.vue_check_page(True)
    assert st.selection == set(first) and grid.checked == first
    grid.vue_set_page(1)
    assert grid.checked == [] and bar.n_selected == 24
    grid.vue_toggle_check({"id": grid.cards[0]["id"], "shift": True})  # anchor on another page: just one
    assert bar.n_selected == 25
    grid.vue_set_page(0)
    assert grid.checked == first
    grid.vue_check_page(False)
    assert bar.n_selected == 1


@pytest.mark.parametrize(
    "event, bad",
    [
        ("vue_toggle_check", {"id": 10**9}),
        ("vue_toggle_check", {"id": "3"}),
        ("vue_toggle_check", 3),
        ("vue_check_page", "yes"),
    ],
)
def test_bad_check_events_are_refused_and_change_nothing(sqlite_store, event, bad):
    seed_synthetic(sqlite_store, dataset="big", n=30)
    st, grid, _ = parts(sqlite_store)
    grid.vue_toggle_check({"id": grid.cards[0]["id"]})
    getattr(grid, event)(bad)
    assert st.error and st.selection == {grid.cards[0]["id"]}


def test_select_all_matching_checks_every_page_in_the_store(store):
    seed_synthetic(store, dataset="big", n=130, labels=("yes", "no"))
    st, grid, bar = parts(store)
    grid.vue_set_labels(["no"])
    grid.vue_check_all()
    expected = {r.id for r in ReviewServices(store).samples.page(st.filters(), page=0, page_size=96)} | {
        r.id for r in ReviewServices(store).samples.page(st.filters(), page=1, page_size=96)
    }
    assert len(expected) == 65 and st.selection == expected and bar.n_selected == 65


def test_show_only_the_selection_then_remove_that_filter(store):
    seed_synthetic(store, dataset="big", n=100)
    st, grid, bar = parts(store)
    grid.vue_set_page(2)
    picked = [grid.cards[i]["id"] for i in (1, 3, 5)]
    grid.vue_check_page(False)
    st.select(picked)
    bar.vue_filter()
    assert st.id_filter == tuple(sorted(picked)) and st.page == 0
    assert grid.total == 3 and [c["id"] for c in grid.cards] == sorted(picked)
    assert grid.id_filter_note == "3 clips from the selection" and grid.filtered
    grid.vue_set_labels(["yes"])  # the id filter combines with the others
    assert {c["id"] for c in grid.cards} <= set(picked) and grid.id_filter_note
    grid.vue_clear_id_filter()
    assert st.id_filter is None and grid.id_filter_note == "" and grid.total == 25
    grid.vue_clear_filters()
    assert grid.total == 100


def test_a_finding_or_lasso_becomes_a_grid_filter_with_its_name(sqlite_store):
    seed_synthetic(sqlite_store, dataset="big", n=50)
    st, grid, _ = parts(sqlite_store)
    st.filter_to([5, 6, 7, 999_999], source="the map selection")
    assert grid.total == 3 and grid.id_filter_note == "4 clips from the map selection"
    grid.vue_clear_filters()  # "clear filters" clears it too
    assert st.id_filter is None and grid.total == 50


def test_switching_dataset_drops_the_selection_and_the_id_filter(sqlite_store):
    seed_synthetic(sqlite_store, dataset="big", n=30)
    seed_synthetic(sqlite_store, dataset="other", n=5)
    st, grid, bar = parts(sqlite_store)
    grid.vue_check_page(True)
    st.filter_to([1, 2], source="the selection")
    grid.vue_set_dataset("other")
    assert st.selection == frozenset() and st.id_filter is None and grid.total == 5 and bar.n_selected == 0


def test_compare_needs_two_to_six_clips(sqlite_store):
    seed_synthetic(sqlite_store, dataset="big", n=30)
    st, grid, bar = parts(sqlite_store)
    ids = [c["id"] for c in grid.cards]
    st.select(ids[:1])
    bar.vue_compare()
    assert "2 to 6" in st.error and st.compare_ids == []
    st.select(ids[1:4])
    bar.vue_compare()
    assert st.compare_ids == sorted(ids[:4])
    st.select(ids[4:7])
    st.clear_error()
    bar.vue_compare()
    assert "7 are selected" in st.error and st.compare_ids == sorted(ids[:4])


@pytest.mark.slow
def test_export_of_the_selection_holds_exactly_its_clips(tmp_path, sent):
    from widgettest_helpers import add_samples

    from audiosoup_widgets.jobs.compute import compute_dataset
    from audiosoup_widgets.store import Store

    store = Store(f"sqlite:///{tmp_path / 'x.sqlite3'}")
    store.upgrade()
    add_samples(store, tmp_path / "audio")
    compute_dataset(store, "words", workers=1)
    st, grid, bar = parts(store, dataset="words")
    picked = [grid.cards[i]["id"] for i in (0, 4, 7)]
    st.select(picked)
    msgs = sent(bar).messages
    bar.vue_export_features("csv")
    assert st.error == "" and len(msgs) == 1
    name, mime, data = bar.last_download
    frame = pd.read_csv(io.BytesIO(data))
    assert sorted(frame["sample_id"]) == sorted(picked) and name.endswith("_3_selected.csv")
    assert mime == "text/csv" and any(c.startswith("mfcc_mean_") for c in frame.columns)
    bar.vue_export_features("exe")
    assert "unknown export format" in st.error
    st.clear_selection()
    assert bar.n_selected == 0 and bar.note == ""
