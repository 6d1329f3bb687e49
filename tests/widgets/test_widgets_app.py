"""The composed app: one state, the review dialog's flow, display, and the state's rules."""

from __future__ import annotations

import io

import bqplot as bq
import pytest
import soundfile as sf
from traitlets import TraitError

from audiosoup_widgets.app import ReviewApp, build_review_app
from audiosoup_widgets.errors import StoreError, ValidationError
from audiosoup_widgets.state import GENERIC_ERROR, PANELS, ReviewState, plain_message
from audiosoup_widgets.testing import seed_synthetic


def test_the_app_has_its_parts_and_displays(words, make_app):
    store, ids = words
    app = make_app(store)
    assert isinstance(app, ReviewApp)
    assert app.state.dataset == "words" and len(app.grid.cards) == 10
    bundle = app._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == app.widget.model_id
    # The dialog shows the editor and the explorer; widgets share only the state.
    assert app.review.edit_view is app.editor and app.review.features_view is app.explorer
    for w in (app.grid, app.review, app.editor, app.explorer, app.banner):
        assert w.state is app.state
        others = {id(x) for x in (app.grid, app.review, app.editor, app.explorer, app.banner)} - {id(w)}
        refs = {id(v) for k, v in vars(w).items() if not k.startswith("_trait")}
        if w is not app.review:
            assert not refs & others, f"{type(w).__name__} holds a sibling widget"


def test_enter_opens_the_review_with_figures_and_metadata(words, make_app):
    store, ids = words
    app = make_app(store)
    st = app.state
    app.grid.vue_key_press({"key": "ArrowRight", "columns": 4})
    app.grid.vue_key_press({"key": "Enter", "columns": 4})
    sid = app.grid.cards[1]["id"]
    assert st.panel == "review" and app.review.shown
    assert app.review.info["id"] == sid and app.review.info["name"] == app.grid.cards[1]["name"]
    rows = {r["key"]: r["value"] for r in app.review.rows}
    assert rows["Sample rate"] == "16 kHz" and rows["Duration"] == "1.00 s" and rows["Label"] == "no"
    assert isinstance(app.review.wave_fig, bq.Figure) and isinstance(app.review.spec_fig, bq.Figure)
    assert app.review.wave_fig.axes[0].label == "time (s)"
    assert app.review.spec_fig.axes[1].label == "frequency (Hz)"
    assert app.review.colorbar["label"] == "dB below the loudest point"
    assert app.review.info["peak"].endswith("dBFS")


def test_review_buttons_switch_to_edit_and_features_and_close(words, make_app, sent):
    store, ids = words
    app = make_app(store)
    app.grid.vue_open_sample(app.grid.cards[0]["id"])
    app.review.vue_set_panel("edit")
    assert app.state.panel == "edit" and app.review.panel == "edit"
    assert app.editor.sample["id"] == app.grid.cards[0]["id"]
    app.review.vue_set_panel("features")
    app.explorer.vue_set_visible(True)  # the browser reports the tab on screen
    assert len(app.explorer.items) == 5
    app.review.vue_set_panel("nonsense")
    assert app.state.error and app.state.panel == "features"
    out = sent(app.review)
    app.review.vue_play()
    ((content, buffers),) = out.messages
    assert sf.read(io.BytesIO(buffers[0]))[1] == 16000
    app.review.vue_close()
    assert app.state.panel == "" and not app.review.shown


def test_an_edit_in_the_dialog_shows_on_the_card(words, make_app):
    store, ids = words
    app = make_app(store)
    sid = app.grid.cards[0]["id"]
    app.grid.vue_open_sample(sid)
    app.editor.vue_set_reviewer("ann")
    app.editor.vue_save_label("up")
    assert app.grid.cards[0]["label"] == "up"
    assert {r["key"]: r["value"] for r in app.review.rows}["Label"] == "up"
    assert app.review.info["label"] == "up"


def test_app_on_a_url_and_on_an_empty_or_unknown_dataset(tmp_path):
    url = f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
    app = build_review_app(db=url, warm_up=False)  # migrates a fresh file
    assert app.state.dataset == "" and "audiosoup load" in app.grid.message
    seed_synthetic(app.store, dataset="syn", n=30)
    app2 = build_review_app(db=url, dataset="missing", warm_up=False)
    assert app2.state.dataset == "syn" and "missing" in app2.state.error
    assert app2.grid.total == 30
    app.widget.close()
    app2.widget.close()


def test_error_banner_shows_and_dismisses(words, make_app):
    store, ids = words
    app = make_app(store)
    app.grid.vue_set_page(99)
    assert app.banner.error == app.state.error != ""
    app.banner.vue_dismiss()
    assert app.state.error == "" and app.banner.error == ""


def test_state_rules():
    st = ReviewState()
    assert (st.page, st.page_size, st.label_filter, st.selected_sample_id, st.panel) == (0, 24, [], None, "")
    assert PANELS == ("", "review", "edit", "annotate", "augment", "features")
    st.page = -5
    assert st.page == 0
    with pytest.raises(TraitError):
        st.page_size = 25
    assert plain_message(ValidationError("bad page")) == "bad page"
    assert plain_message(KeyError("internal")) == GENERIC_ERROR
    assert st.report(StoreError("database unreachable")) == "database unreachable"
    seen = []
    st.observe(lambda c: seen.append(c["new"]), names=["error"])
    st.report("same")
    st.report("same")  # shown again, so observers hear it again
    assert seen.count("same") == 2
    st.report("x" * 2000)
    assert len(st.error) <= 500


@pytest.mark.slow
def test_the_state_module_imports_no_ui():
    import subprocess
    import sys

    code = (
        "import sys, audiosoup_widgets.state, audiosoup_widgets.services; "
        "print(any(m.split('.')[0] in ('ipywidgets', 'ipyvuetify', 'ipyvue', 'bqplot') "
        "for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_the_app_loads_no_feature_engine_until_a_feature_is_shown():
    # A dashboard kernel imports the app before anyone connects: librosa and numba (about
    # 200 MB and seconds of start-up) wait until a feature view first draws.
    import json
    import subprocess
    import sys

    code = (
        "import sys, json, audiosoup_widgets.app; "
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert not {"librosa", "numba"} & set(json.loads(out.stdout))


def test_a_click_costs_one_read_shared_by_every_view(words, make_app, monkeypatch):
    store, ids = words
    app = make_app(store)
    app.grid.vue_open_sample(app.grid.cards[0]["id"])
    app.explorer.vue_set_visible(True)
    reads = []
    for name in ("get_sample", "page_samples", "count_samples", "sample_history"):
        real = getattr(store, name)
        monkeypatch.setattr(store, name, lambda *a, _n=name, _r=real, **k: reads.append(_n) or _r(*a, **k))
    sid = app.grid.cards[1]["id"]
    app.grid.vue_select_sample(sid)
    # The grid's page already held the record: the review, the editor and the explorer
    # share it; the editor's history is the one read this click costs.
    assert reads == ["sample_history"]
    assert app.review.info["id"] == app.editor.sample["id"] == sid
    assert app.explorer.title == app.grid.cards[1]["name"]


def test_under_jupyterhub_the_app_signs_the_user_in_and_edits_record_it(words, make_app, monkeypatch):
    store, ids = words
    monkeypatch.setenv("JUPYTERHUB_USER", "hub-user")
    app = make_app(store)
    assert (app.state.reviewer, app.state.reviewer_source) == ("hub-user", "JupyterHub")
    assert app.editor.reviewer_source == app.annotate.reviewer_source == "JupyterHub"
    app.annotate.vue_set_reviewer("someone else")
    assert app.state.reviewer == "hub-user"
    app.editor.vue_set_reviewer("someone else")
    assert app.state.reviewer == "hub-user" and "signed in as hub-user" in app.state.error
    sid = next(iter(ids.values()))
    app.state.open_review(sid)
    app.editor.vue_save_text("heard by the hub user")
    assert store.sample_history(sid)[0].reviewer == "hub-user"
