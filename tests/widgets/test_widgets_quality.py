"""The quality panel, driven as the browser drives it: findings and bars become grid filters.

Real stores; template events through the ``vue_*`` methods, bar clicks through the bqplot
marks' own message handler (the message a click in the browser sends).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from audiosoup_widgets.analysis.qc import QcThresholds
from audiosoup_widgets.services import ReviewServices
from audiosoup_widgets.state import ReviewState
from audiosoup_widgets.store import SampleQuery
from audiosoup_widgets.testing import seed_synthetic
from audiosoup_widgets.widgets import QualityPanel, SampleGrid

XSS = "<img src=x onerror=window.__xss=9>{{ 7*7 }}"


def parts(store, dataset="q"):
    st = ReviewState(dataset=dataset)
    services = ReviewServices(store)
    return st, services, SampleGrid(st, services), QualityPanel(st, services)


def with_measures(store, *, dataset="q", n=300):
    seed_synthetic(store, dataset=dataset, n=n)
    ids = store.sample_ids(SampleQuery(dataset))
    rng = np.random.default_rng(0)
    store.write_quality(
        [
            {
                "sample_id": int(i),
                "peak_dbfs": float(rng.uniform(-30, 0)),
                "rms_dbfs": float(rng.normal(-25, 5)),
                "clip_ratio": 0.01 if j % 50 == 0 else 0.0,
                "silence_ratio": 0.97 if j % 30 == 0 else float(rng.uniform(0, 0.5)),
                "snr_db": float(rng.uniform(5, 50)),
            }
            for j, i in enumerate(ids)
        ],
        version=1,
    )
    return ids


def save(store, dataset, findings):
    return store.save_findings(
        dataset,
        findings=findings,
        params=QcThresholds().as_dict(),
        started_at=dt.datetime(2026, 5, 6, 7, 8, 9, tzinfo=dt.UTC),
    )


def click(mark, index, **extra):
    """Send what bqplot's front end sends when a bar is clicked."""
    mark._handle_custom_msgs(None, {"event": "element_click", "data": {"index": index, **extra}})


def test_nothing_is_read_until_the_quality_view_opens(sqlite_store):
    with_measures(sqlite_store)
    st, services, _, panel = parts(sqlite_store)
    assert panel.overview is None and not services.quality._entries and panel.figures == []
    st.show("quality")
    assert panel.overview is not None and len(panel.figures) == 8 and panel.headline.startswith("300 clips")
    assert [c["measure"] for c in panel.cards][:3] == ["duration", "sample_rate", "channels"]


def test_without_a_check_the_panel_says_how_to_run_one(sqlite_store):
    with_measures(sqlite_store)
    st, _, _, panel = parts(sqlite_store)
    st.show("quality")
    assert panel.empty.startswith("No quality check has run yet. Run it here or with")
    assert panel.command == "audiosoup qc --dataset q" and panel.checked == "" and panel.findings == []
    # The distributions show all the same: the clips were measured when they were loaded.
    assert panel.cards[3]["measure"] == "rms_db" and not panel.cards[3]["empty"]


def test_clicking_a_finding_filters_the_grid_to_its_clips(store):
    ids = with_measures(store)
    save(
        store,
        "q",
        [
            {
                "kind": "silence",
                "label": "yes",
                "sample_ids": ids[10:14],
                "detail": {"summary": "4 silent clips"},
            },
            {
                "kind": "exact_duplicate",
                "label": None,
                "sample_ids": [ids[1], ids[200]],
                "detail": {"summary": XSS},
            },
        ],
    )
    st, _, grid, panel = parts(store)
    st.show("quality")
    assert panel.empty == "" and panel.checked.startswith("Last check: 2026-")
    assert [f["kind"] for f in panel.findings] == ["exact_duplicate", "silence"]
    assert panel.findings[0]["summary"] == XSS  # data, shown as text by the template
    assert [k["count"] for k in panel.kinds] == [1, 1]
    silence = panel.findings[1]
    panel.vue_open_finding(silence["id"])
    assert st.view == "clips" and st.error == ""
    assert st.id_filter == tuple(ids[10:14]) and st.id_filter_source == "finding: 4 silent clips"
    assert grid.total == 4 and grid.id_filter_note == "4 clips from finding: 4 silent clips"
    assert sorted(c["id"] for c in grid.cards) == ids[10:14]


def test_clicking_a_histogram_bar_shows_exactly_its_clips(store):
    with_measures(store)
    st, services, grid, panel = parts(store)
    st.show("quality")
    plot = panel._plots["silence_ratio"]
    hist = plot.hist
    last = len(hist.counts) - 1
    assert hist.flagged[last] and hist.counts[last] == 10  # 1 clip in 30 is 97 % silent
    click(plot.bars, last + 1)  # the marks' bar 0 is an empty one before the first
    assert st.view == "clips" and st.error == ""
    assert list(st.id_filter) == services.quality.bar_ids("q", "silence_ratio", last)
    assert grid.total == 10 and grid.id_filter_note == "10 clips from the silence bar 95 to 100 % of frames"
    # The flagged bar is drawn in the warning colour and shaded.
    assert plot.bars.colors[last + 1] != plot.bars.colors[1] and plot.shade.visible
    assert np.atleast_2d(plot.shade.x)[0].tolist() == [last - 0.5, last - 0.5, last + 0.5, last + 0.5]


def test_hovering_a_bar_reads_out_its_range_and_count(sqlite_store):
    with_measures(sqlite_store)
    st, _, _, panel = parts(sqlite_store)
    st.show("quality")
    bars = panel._plots["sample_rate"].bars
    bars._handle_custom_msgs(None, {"event": "hover", "point": {"index": 1}})
    assert panel.readouts == {"sample_rate": "16 kHz: 300 clips"}


def test_clicking_the_class_balance_shows_a_label_in_a_split(sqlite_store):
    with_measures(sqlite_store)
    st, services, grid, panel = parts(sqlite_store)
    st.show("quality")
    b = panel.overview.balance
    li, si = b.labels.index("no"), b.splits.index("test")
    click(panel._balance.bars, li + 1, subIndex=si)
    expected = services.quality.balance_ids("q", li, si)
    assert st.view == "clips" and list(st.id_filter) == expected and grid.total == len(expected) > 0
    assert grid.id_filter_note.endswith("from the class balance: no in test")
    assert [x["split"] for x in panel.legend] == ["train", "validation", "test"]


@pytest.mark.parametrize(
    "act",
    [
        lambda p: p.vue_open_finding("12"),
        lambda p: p.vue_open_finding(987_654),
        lambda p: p.vue_open_finding(None),
        lambda p: click(p._plots["rms_db"].bars, 999),
        lambda p: click(p._plots["rms_db"].bars, "3"),
        lambda p: p._plots["rms_db"].bars._handle_custom_msgs(None, {"event": "element_click", "data": 3}),
        lambda p: click(p._balance.bars, 99),
        lambda p: p.vue_set_kind("<b>nope</b>"),
    ],
)
def test_bad_events_are_refused_and_change_nothing(sqlite_store, act):
    ids = with_measures(sqlite_store)
    save(sqlite_store, "q", [{"kind": "silence", "label": None, "sample_ids": ids[:3], "detail": {}}])
    st, _, grid, panel = parts(sqlite_store)
    st.show("quality")
    act(panel)
    assert st.error and st.view == "quality" and st.id_filter is None and grid.total == 300


def test_the_ends_of_the_bars_are_not_clips(sqlite_store):
    with_measures(sqlite_store)
    st, _, _, panel = parts(sqlite_store)
    st.show("quality")
    click(panel._plots["rms_db"].bars, 0)  # the empty bar bqplot needs before the first
    assert st.error == "" and st.view == "quality" and st.id_filter is None


def test_many_findings_are_listed_a_page_at_a_time_and_by_kind(sqlite_store):
    ids = with_measures(sqlite_store)
    findings = [
        {"kind": "exact_duplicate", "label": None, "sample_ids": [ids[2 * k], ids[2 * k + 1]], "detail": {}}
        for k in range(70)
    ] + [{"kind": "clipping", "label": "yes", "sample_ids": ids[200:206], "detail": {"summary": "loud"}}]
    save(sqlite_store, "q", findings)
    st, _, _, panel = parts(sqlite_store)
    st.show("quality")
    assert len(panel.findings) == 50 and panel.n_listed == 71
    panel.vue_more_findings()
    assert len(panel.findings) == 71
    panel.vue_set_kind("clipping")
    assert [f["summary"] for f in panel.findings] == ["loud"] and panel.n_listed == 1
    panel.vue_set_kind("")
    assert panel.n_listed == 71


def test_a_newer_check_an_edit_or_another_dataset_is_shown_when_the_view_opens(sqlite_store):
    ids = with_measures(sqlite_store)
    with_measures(sqlite_store, dataset="other", n=40)
    st, services, _, panel = parts(sqlite_store)
    st.show("quality")
    assert panel.findings == []
    st.show("clips")
    save(sqlite_store, "q", [{"kind": "silence", "label": None, "sample_ids": ids[:5], "detail": {}}])
    st.show("quality")  # a check run elsewhere (the command line)
    assert [f["count"] for f in panel.findings] == [5]
    rec = services.samples.get(ids[0], dataset="q")
    services.samples.update(rec, reviewer="t", label="fresh", create_label=True)
    st.revision += 1
    assert "fresh" in panel.overview.balance.labels
    st.dataset = "other"
    assert panel.headline.startswith("40 clips") and panel.dataset == "other" and panel.findings == []


def test_the_app_shows_the_panel_in_the_quality_view(words, make_app):
    store, _ = words
    app = make_app(store)
    assert app.quality in app.views["quality"].children
    app.tabs.vue_show("quality")
    assert app.views["quality"].style_ == "" and app.quality.overview is not None
    assert app.quality.headline.startswith("10 clips")


@pytest.mark.slow
def test_run_quality_check_from_the_panel_lists_its_findings(words):
    store, paths = words
    st, _, grid, panel = parts(store, dataset="words")
    st.show("quality")
    assert panel.empty.startswith("No quality check has run yet")
    panel.vue_run_check()  # no event loop here: runs at once
    assert st.error == "" and not panel.busy and panel.message.startswith("The check of words took")
    assert panel.empty == "" and panel.checked.startswith("Last check:")
    kinds = [f["kind"] for f in panel.findings]
    assert "split_leak" in kinds and "level_outlier" in kinds, panel.message
    # The quiet clip (at a fiftieth of the others' level) is the level outlier.
    outlier = next(f for f in panel.findings if f["kind"] == "level_outlier")
    panel.vue_open_finding(outlier["id"])
    assert st.view == "clips" and paths["no/spk04_nohash_0.wav"] in st.id_filter
    assert grid.total == outlier["count"] and grid.id_filter_note.startswith(f"{outlier['count']} clip")


def test_a_failing_check_reaches_the_error_banner(sqlite_store):
    with_measures(sqlite_store)
    st, services, _, panel = parts(sqlite_store)
    st.show("quality")

    def broken(dataset, **kwargs):
        raise OSError("disk on fire")

    services.quality.run_check = broken
    panel.vue_run_check()
    assert st.error == "Something went wrong; details are in the log." and not panel.busy
    assert "disk" not in st.error
