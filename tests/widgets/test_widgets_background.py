"""Slow work off the kernel's main thread: the explorer on a long clip, and search as you type.

A kernel runs widget handlers on its main thread inside an asyncio event loop. These
tests run the handlers inside such a loop (``asyncio.run``), as a kernel does, and
check that the page answers while features are computed in the background, that
progress says what is happening, that a stale result never replaces a newer one, and
that a burst of keystrokes in the search field makes one query.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time

import numpy as np
import pytest
from signals import word
from widgettest_helpers import add_samples

import audiosoup_widgets.services.features as services_module
from audiosoup_widgets.widgets.grid import SEARCH_DELAY

LONG = "yes/ten_minutes.wav"
SHORT = "no/spk01_nohash_0.wav"


@pytest.fixture(scope="module")
def ten_minutes() -> np.ndarray:
    """Ten minutes at 16 kHz: a spoken-word-like clip, repeated (cheaper than synthesising)."""
    return np.tile(word(seconds=2.0, f0=200.0), 300)


@pytest.fixture
def long_words(words, tmp_path, ten_minutes):
    """The ``words`` dataset plus one ten-minute 16 kHz clip; (store, path -> id)."""
    store, _ = words
    ids = add_samples(
        store,
        tmp_path / "audio",
        clips=[{"label": "yes", "name": "ten_minutes", "audio": ten_minutes, "sr": 16000}],
    )
    return store, ids


async def until(condition, timeout: float = 20.0) -> None:
    """Let the event loop run until ``condition()`` holds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.01)


def gate_features(app, sample_id: int) -> tuple[threading.Event, threading.Event]:
    """Make computing ``sample_id``'s features wait for a gate; return (started, gate)."""
    started, gate = threading.Event(), threading.Event()
    real = app.services.features.compute

    def features(record, family, **kwargs):
        if record.id == sample_id and kwargs.get("names") is None:
            started.set()
            gate.wait(timeout=10)
        return real(record, family, **kwargs)

    app.services.features.compute = features
    return started, gate


def test_long_clip_computes_in_the_background_with_progress(long_words, make_app, monkeypatch):
    store, ids = long_words
    warm = threading.Event()
    warm.set()  # as after a warm-up; the first-use path has its own test
    monkeypatch.setattr(services_module, "_ENGINE_WARM", warm)
    app = make_app(store)
    ex = app.explorer
    stages: list[dict] = []
    ex.observe(lambda ch: ch["new"] and stages.append(ch["new"]), names=["progress"])
    started, gate = gate_features(app, ids[LONG])

    async def scenario():
        app.grid.vue_set_page_size(12)
        app.grid.vue_select_sample(ids[LONG])
        t0 = time.perf_counter()
        ex.vue_set_visible(True)  # the dialog's Features tab comes on screen
        assert time.perf_counter() - t0 < 1.0  # the handler returned; work goes on
        assert ex.busy and ex.title == "ten_minutes.wav"
        line = ex.progress["line"]
        assert "ten_minutes.wav" in line and "the first 60 s of 10 min 00 s" in line
        assert "at most 60 s" in line
        await until(started.is_set)
        await until(lambda: ex.progress.get("stage", "").startswith("Computing spectral"))
        # The page answers meanwhile: another handler runs and returns at once.
        t1 = time.perf_counter()
        app.grid.vue_set_page_size(24)
        assert time.perf_counter() - t1 < 1.0 and app.state.page_size == 24
        assert ex.busy and ex.items == []
        gate.set()
        await until(lambda: not ex.busy)
        assert len(ex.items) == 5 and "Only the first 60 s" in ex.note and ex.progress == {}
        # Another tab: the spectral plots leave at once, not when the rhythmic ones arrive.
        ex.vue_set_tab("rhythmic")
        assert ex.busy and ex.items == [] and ex.figures == [] and ex.note == ""
        await until(lambda: not ex.busy)

    asyncio.run(scenario())
    assert app.state.error == "" and len(ex.items) == 3 and len(ex.figures) == 3
    spectral = [s for s in stages if s["line"].startswith("Spectral")]
    names = [s["stage"] for s in spectral]
    assert names[0].startswith("Reading the audio") and names[-1].startswith("Drawing")
    assert [s["step"] for s in spectral] == [1, 2, 3] and {s["steps"] for s in spectral} == {3}


def test_first_feature_view_says_it_prepares_the_engine(long_words, make_app, monkeypatch):
    store, ids = long_words
    app = make_app(store)
    ex = app.explorer
    # A fresh kernel: no warm-up ran and no family was computed yet.
    monkeypatch.setattr(services_module, "_ENGINE_WARM", threading.Event())
    monkeypatch.setattr(services_module, "_FAMILIES_USED", set())
    assert not app.services.features.family_ready("spectral")
    started, gate = gate_features(app, ids[SHORT])
    later: list[str] = []

    async def scenario():
        app.grid.vue_select_sample(ids[SHORT])
        ex.vue_set_visible(True)
        await until(started.is_set)  # loading and compiling take seconds here
        await until(lambda: ex.progress.get("stage", "").startswith("Preparing the feature engine"))
        assert "first time" in ex.progress["stage"] and ex.busy
        gate.set()
        await until(lambda: not ex.busy)
        # The next clip's same family needs no preparation.
        ex.observe(lambda ch: ch["new"] and later.append(ch["new"]["stage"]), names=["progress"])
        app.grid.vue_select_sample(ids["up/spk02_nohash_0.wav"])
        await until(lambda: not ex.busy)
        assert any(s.startswith("Computing spectral") for s in later)
        assert not any(s.startswith("Preparing") for s in later)

    asyncio.run(scenario())
    assert len(ex.items) == 5 and app.state.error == ""
    assert app.services.features.family_ready("spectral")
    assert not app.services.features.family_ready("deltas")


def test_a_stale_result_never_replaces_a_newer_one(long_words, make_app):
    store, ids = long_words
    app = make_app(store)
    ex = app.explorer
    drawn: list[int] = []
    draw = ex._draw
    ex._draw = lambda key, record, out: drawn.append(record.id) or draw(key, record, out)
    started, gate = gate_features(app, ids[LONG])

    async def scenario():
        app.grid.vue_set_page_size(12)
        app.grid.vue_select_sample(ids[LONG])
        ex.vue_set_visible(True)
        await until(started.is_set)
        app.grid.vue_select_sample(ids[SHORT])  # the user moves on while it computes
        assert ex.title == "spk01_nohash_0.wav" and ex.busy
        gate.set()
        await until(lambda: not ex.busy)
        await asyncio.sleep(0.2)  # anything still queued would arrive now

    asyncio.run(scenario())
    assert drawn == [ids[SHORT]]
    assert ex.title == "spk01_nohash_0.wav" and ex._shown[0] == ids[SHORT]
    assert "Only the first 60 s" not in ex.note and app.state.error == ""


def test_closing_while_it_computes_frees_the_page_and_keeps_the_work(long_words, make_app):
    store, ids = long_words
    app = make_app(store)
    ex = app.explorer
    started, gate = gate_features(app, ids[LONG])

    async def scenario():
        app.grid.vue_set_page_size(12)
        app.grid.vue_select_sample(ids[LONG])
        ex.vue_set_visible(True)
        await until(started.is_set)
        ex.vue_set_visible(False)  # the dialog closes
        assert not ex.busy and ex.progress == {}
        app.grid.vue_select_sample(ids[SHORT])  # a click on another card is answered
        assert app.state.selected_sample_id == ids[SHORT]
        gate.set()
        await until(lambda: not ex._job.running)
        await asyncio.sleep(0.1)
        assert ex.items == [] and not ex.busy  # nothing drawn for a closed view
        # The work was not lost: reopening on the long clip draws from the cache at once.
        app.grid.vue_select_sample(ids[LONG])
        ex.vue_set_visible(True)
        assert not ex.busy and len(ex.items) == 5 and ex.title == "ten_minutes.wav"

    asyncio.run(scenario())
    assert app.state.error == ""


def test_a_failure_in_the_background_reaches_the_error_banner(long_words, make_app):
    store, ids = long_words
    app = make_app(store)
    ex = app.explorer
    os.remove(store.sample_file(ids[LONG]))

    async def scenario():
        app.grid.vue_set_page_size(12)
        app.grid.vue_select_sample(ids[LONG])
        ex.vue_set_visible(True)
        await until(lambda: not ex.busy)

    asyncio.run(scenario())
    assert "ten_minutes.wav cannot be used" in app.state.error
    assert ex.message == app.state.error and "Traceback" not in ex.message and ex.items == []


def _count_queries(store) -> list[str]:
    searches: list[str] = []
    real = store.page_samples

    def page_samples(query, **kwargs):
        searches.append(query.search)
        return real(query, **kwargs)

    store.page_samples = page_samples
    return searches


def test_a_burst_of_keystrokes_makes_one_query(words, make_app):
    store, ids = words
    app = make_app(store)
    grid = app.grid
    queries = _count_queries(store)

    async def scenario():
        for text in ("s", "sp", "spk", "spk0", "spk03"):
            grid.vue_type_search(text)
            await asyncio.sleep(SEARCH_DELAY / 5)  # a quick typist
        assert queries == [] and app.state.search == ""
        await asyncio.sleep(SEARCH_DELAY * 2)

    asyncio.run(scenario())
    assert queries == ["spk03"] and app.state.search == "spk03"
    assert grid.total == 1 and grid.cards[0]["name"] == "spk03_nohash_0.wav"


def test_enter_searches_at_once_and_drops_the_pending_search(words, make_app):
    store, ids = words
    app = make_app(store)
    grid = app.grid
    queries = _count_queries(store)

    async def scenario():
        grid.vue_type_search("spk0")
        grid.vue_set_search("spk03")  # Enter
        assert queries == ["spk03"] and grid.total == 1
        await asyncio.sleep(SEARCH_DELAY * 2)

    asyncio.run(scenario())
    assert queries == ["spk03"] and app.state.search == "spk03"


def test_clearing_the_filters_drops_a_search_still_waiting(words, make_app):
    store, ids = words
    app = make_app(store)
    grid = app.grid

    async def scenario():
        grid.vue_set_search("spk03")
        grid.vue_type_search("spk0")  # typed, then "Clear filters" before the pause ends
        grid.vue_clear_filters()
        await asyncio.sleep(SEARCH_DELAY * 2)

    asyncio.run(scenario())
    assert app.state.search == "" and grid.total == 10


def test_typed_search_text_is_checked_on_the_server(words, make_app):
    store, ids = words
    app = make_app(store)
    grid = app.grid
    queries = _count_queries(store)

    async def scenario():
        for bad in ("x" * 201, 5, ["spk"]):
            app.state.clear_error()
            grid.vue_type_search(bad)
            assert app.state.error
        assert "longer than 200" in grid.state.error or app.state.error
        await asyncio.sleep(SEARCH_DELAY * 2)

    asyncio.run(scenario())
    assert queries == [] and app.state.search == ""
