"""User text is only ever data; the browser cannot make the server do what it did not declare."""

from __future__ import annotations

import json
import re
from pathlib import Path

import ipyvuetify as v
import ipywidgets as ipw
import pytest
from widgettest_helpers import (
    PAYLOADS,
    XSS_DATASET,
    XSS_FILE,
    XSS_LABEL,
    XSS_META_KEY,
    XSS_META_VALUE,
    XSS_TEXT,
    add_samples,
)

import audiosoup_widgets.widgets as widgets_pkg
from audiosoup_widgets.widgets.base import SafeTemplate

TEMPLATES = Path(widgets_pkg.__file__).parent

# Where user text may appear: synced data traits rendered with {{ }} / attribute bindings.
DATA_TRAITS = {
    ("SampleGrid", "cards"),
    ("SampleGrid", "label_items"),
    ("SampleGrid", "dataset_items"),
    ("SampleGrid", "dataset"),
    ("SampleGrid", "labels"),
    ("SampleGrid", "search"),
    ("ReviewDialog", "info"),
    ("ReviewDialog", "rows"),
    ("ReviewDialog", "custom"),
    ("MetadataEditor", "sample"),
    ("MetadataEditor", "label_items"),
    ("MetadataEditor", "meta_rows"),
    ("MetadataEditor", "history"),
    ("MetadataEditor", "message"),
    ("MetadataEditor", "conflict"),
    ("MetadataEditor", "reviewer"),
    ("SelectionBar", "reviewer"),
    ("VocabularyPanel", "reviewer"),
    ("SelectionBar", "label_items"),
    ("SelectionBar", "relabel_preview"),
    ("SelectionBar", "relabel_error"),
    ("SelectionBar", "outcome"),
    ("FeatureExplorer", "title"),
    ("FeatureExplorer", "subtitle"),
    ("FeatureExplorer", "export_note"),
    ("FeatureExplorer", "download"),
    ("FeatureExplorer", "progress"),
    ("ErrorBanner", "error"),
    ("ComparisonView", "panels"),
    ("ComparisonView", "labels"),
    ("ComparisonView", "group_options"),
    ("ComparisonView", "template_label"),
    ("ComparisonView", "template_note"),
    ("ComparisonView", "profile_legend"),
    ("AnnotatePanel", "reviewer"),
    ("AugmentPanel", "reviewer"),
    ("AugmentPanel", "sample"),
    ("AnnotatePanel", "sample"),
    ("AnnotatePanel", "label_items"),
    ("AnnotatePanel", "votes"),
    ("AnnotatePanel", "tags"),
    ("AnnotatePanel", "regions"),
    ("AnnotatePanel", "notes"),
    ("AnnotatePanel", "history"),
    ("AnnotatePanel", "message"),
    ("SampleGrid", "tag_items"),
    ("AgreementCard", "classes"),
    ("AgreementCard", "report"),
}


@pytest.fixture
def hostile(sqlite_store, tmp_path, make_app):
    """An app on a dataset whose names, labels, text and metadata are script payloads."""
    ids = add_samples(
        sqlite_store,
        tmp_path / "audio",
        dataset=XSS_DATASET,
        clips=[
            {"label": XSS_LABEL, "name": XSS_FILE, "text": XSS_TEXT, "meta": {XSS_META_KEY: XSS_META_VALUE}},
            {"label": "plain", "name": "plain", "text": "plain"},
        ],
    )
    app = make_app(sqlite_store, dataset=XSS_DATASET)
    sid = ids[f"{XSS_LABEL}/{XSS_FILE}.wav"]
    app.grid.vue_open_sample(sid)
    app.editor.vue_set_reviewer(XSS_TEXT[:90])
    app.editor.vue_save_text(XSS_TEXT + " edited")
    app.review.vue_set_panel("annotate")
    app.annotate.vue_set_blind(False)
    app.annotate.vue_vote(XSS_LABEL)
    app.annotate.vue_add_tag(XSS_LABEL)
    app.annotate.vue_draw_region({"fx0": 0.1, "fx1": 0.5})
    region = app.annotate.regions[0]
    app.annotate.vue_update_region({**region, "label": XSS_LABEL, "note": XSS_META_VALUE})
    app.annotate.vue_add_note(XSS_TEXT)
    app.review.vue_set_panel("features")
    app.explorer.vue_set_visible(True)
    app.explorer.vue_toggle_feature({"id": "mfcc", "selected": True})
    app.explorer.vue_export_selected("json")
    app.state.compare_ids = sorted(ids.values())
    app.state.show("compare")
    app.comparison.vue_set_template(XSS_LABEL)
    app.agreement.load()  # the per-class agreement lists the labels
    app.state.show("clips")
    app.state.select(ids.values())
    app.selection.vue_open_relabel()  # the preview shows the labels
    app.grid.vue_set_search(XSS_FILE[:20])
    app.state.report(f"No dataset named {XSS_DATASET}")  # user text in an error message too
    return app, sid


def _all_widgets():
    from ipywidgets.widgets.widget import _instances

    return list(_instances.values())


def test_templates_are_constant_files_without_v_html(hostile):
    app, _ = hostile
    for w in (app.grid, app.review, app.editor, app.explorer, app.banner, app.comparison):
        assert isinstance(w, SafeTemplate)
        path = Path(w.template_file[0]).parent / w.template_file[1]
        assert w.template.template == path.read_text(encoding="utf-8")
        assert not any(p in w.template.template for p in PAYLOADS)
    for path in TEMPLATES.glob("*.vue"):
        text = path.read_text(encoding="utf-8")
        assert "v-html" not in text and "innerHTML" not in text and "insertAdjacentHTML" not in text
        # No user-facing data is bound to an href except registry links and blob URLs we make.
        assert set(re.findall(r':href="([^"]+)"', text)) <= {"l.url", "downloadUrl"}


def test_user_text_reaches_the_browser_only_as_data(hostile):
    app, sid = hostile
    found = set()
    for w in _all_widgets():
        state = w.get_state()
        for key, value in state.items():
            try:
                blob = json.dumps(value, default=str)
            except TypeError:
                continue
            if any(p in blob or json.dumps(p)[1:-1] in blob for p in PAYLOADS):
                found.add((type(w).__name__, key))
    assert found, "the payloads should be on the page (as text)"
    assert found <= DATA_TRAITS, found - DATA_TRAITS
    # In particular never in a template, an HTML widget, or a bqplot label.
    assert not any(
        name in ("Template", "HTML", "HTMLMath", "Html") or key == "template" for name, key in found
    )


def test_no_raw_html_widgets_in_the_app(hostile):
    app, _ = hostile
    for w in _all_widgets():
        assert not isinstance(w, (ipw.HTML, ipw.HTMLMath)), type(w).__name__
        if isinstance(w, v.Html):
            for child in w.children or []:
                if isinstance(child, str):
                    assert not any(p in child for p in PAYLOADS)


def test_payloads_are_stored_and_shown_literally(hostile):
    app, sid = hostile
    card = next(c for c in app.grid.cards if c["id"] == sid)
    assert card["name"] == f"{XSS_FILE}.wav" and card["label"] == XSS_LABEL
    assert card["text"].startswith("<script>")
    assert app.editor.meta_rows == [{"key": XSS_META_KEY, "value": XSS_META_VALUE}]
    assert app.grid.dataset == XSS_DATASET
    assert app.explorer.download["name"].startswith("features_") and "<" not in app.explorer.download["name"]


def test_ipyvue_object_creation_messages_are_dropped(words, make_app, monkeypatch):
    store, ids = words
    app = make_app(store)
    called = []
    import importlib

    real_import = importlib.import_module
    monkeypatch.setattr(importlib, "import_module", lambda *a, **k: called.append(a) or real_import(*a))
    for w in (app.grid, app.editor, app.explorer, app.review, app.banner):
        w._handle_event(
            None, {"create_widget": ["os", "system"], "props": {"command": "true"}, "id": "x"}, []
        )
        w._handle_event(None, {"update_ref": {"objectRef": "state"}, "id": "x", "prop": "p"}, [])
        w._handle_event(None, {"event": "__init__", "data": {}}, [])
        w._handle_event(None, {"event": "refresh", "data": None}, [])  # not a declared event
    assert called == []
    before = app.state.selected_sample_id
    app.grid._handle_event(None, {"event": "select_sample", "data": app.grid.cards[2]["id"]}, [])
    assert app.state.selected_sample_id != before  # declared events still work


def test_browser_trait_writes_are_ignored(words, make_app):
    store, ids = words
    app = make_app(store)
    cards = list(app.grid.cards)
    app.grid.set_state({"cards": [{"id": 999}], "selected_id": 999, "page": 7, "total": 1})
    assert app.grid.cards == cards and app.grid.page == 0 and app.grid.total == 10
    app.editor.set_state({"sample": {"id": 1, "version": 99}, "reviewer": "mallory"})
    assert app.state.reviewer == "" and app.editor.sample.get("version") != 99
    app.explorer.set_state({"selected": ["evil"]})
    assert app.state.selected_features == []


def test_every_event_handler_survives_garbage(words, make_app):
    store, ids = words
    app = make_app(store)
    app.grid.vue_open_sample(app.grid.cards[0]["id"])
    garbage = [None, True, -1, 10**30, 1.5, "x" * 5000, [], {}, {"id": None}, [1, 2], "<img>"]
    for w in (app.grid, app.editor, app.explorer, app.review, app.banner):
        for event in w.events:
            for data in garbage:
                getattr(w, "vue_" + event)(data)
                assert "Traceback" not in app.state.error
                assert 'File "' not in app.state.error
