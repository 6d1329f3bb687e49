"""VocabularyPanel: merge groups of look-alike label names, undo, and the text check's marks."""

from __future__ import annotations

from widgettest_helpers import add_samples

from audiosoup_widgets.services import ReviewServices
from audiosoup_widgets.state import ReviewState
from audiosoup_widgets.widgets import VocabularyPanel


def _panel(store, tmp_path, clips):
    add_samples(store, tmp_path / "audio", clips=clips)
    st = ReviewState(dataset="words")
    panel = VocabularyPanel(st, ReviewServices(store))
    st.show("quality")  # the panel reads only when its view is shown
    return st, panel


def _labels(store) -> dict[str, int]:
    out: dict[str, int] = {}
    for r in store.page_samples(_query(), page_size=100):
        out[r.label] = out.get(r.label, 0) + 1
    return out


def _query():
    from audiosoup_widgets.store import SampleQuery

    return SampleQuery("words")


def test_dog_dog_dogs_are_one_group_cat_stays_and_a_merge_undoes_in_one_step(sqlite_store, tmp_path):
    clips = (
        [{"label": "dog", "name": f"a{i}"} for i in range(3)]
        + [{"label": "Dog", "name": f"b{i}"} for i in range(2)]
        + [{"label": "dogs", "name": "c0"}]
        + [{"label": "cat", "name": f"d{i}"} for i in range(2)]
    )
    st, panel = _panel(sqlite_store, tmp_path, clips)
    assert len(panel.groups) == 1
    group = panel.groups[0]
    assert [(n["name"], n["n"]) for n in group["names"]] == [("dog", 3), ("Dog", 2), ("dogs", 1)]
    assert group["keep"] == "dog" and group["total"] == 6
    # Without a name nothing is merged, and the panel says why.
    panel.vue_merge({"index": 0, "keep": "dog"})
    assert "Enter your name" in panel.message and _labels(sqlite_store)["Dog"] == 2
    before = st.revision
    panel.vue_merge({"index": 0, "keep": "dog", "who": "Ann"})
    assert _labels(sqlite_store) == {"dog": 6, "cat": 2}
    assert "Relabelled 3 clips" in panel.outcome["text"] and panel.outcome["batch"]
    assert st.revision > before and st.reviewer == "Ann"
    sid = sqlite_store.page_samples(_query(), page_size=100)[3].id
    assert sqlite_store.sample_history(sid)[0].reason == "merge labels"
    assert panel.groups == []  # re-read after the merge: nothing looks alike any more
    panel.vue_undo_merge()
    assert _labels(sqlite_store) == {"dog": 3, "Dog": 2, "dogs": 1, "cat": 2}
    assert "Undid the merge: 3 clips" in panel.outcome["text"] and "batch" not in panel.outcome


def test_a_bad_merge_request_is_refused_in_one_line(sqlite_store, tmp_path):
    st, panel = _panel(sqlite_store, tmp_path, [{"label": "dog", "name": "a"}, {"label": "Dog", "name": "b"}])
    st.sign("Ann")
    panel.vue_merge({"index": 0, "keep": "cat"})
    assert st.error and "\n" not in st.error
    panel.vue_merge({"index": 7, "keep": "dog"})
    assert "index" in st.error
    assert _labels(sqlite_store) == {"dog": 1, "Dog": 1}


def test_the_text_check_counts_disagreements_and_filters_the_grid_to_them(sqlite_store, tmp_path):
    clips = [{"label": "dog", "name": f"d{i}", "text": "a dog barks at the gate"} for i in range(6)]
    clips += [{"label": "cat", "name": f"c{i}", "text": "a cat meows on the sofa"} for i in range(6)]
    clips.append({"label": "cat", "name": "odd", "text": "a dog barks at the gate"})
    st, panel = _panel(sqlite_store, tmp_path, clips)
    panel.vue_check_texts()
    assert panel.check_busy == "" and panel.check["n"] >= 1
    odd = next(r.id for r in sqlite_store.page_samples(_query(), page_size=100) if r.file_name == "odd.wav")
    panel.vue_show_checked()
    assert odd in st.id_filter and st.view == "clips"
    assert "disagree" in st.id_filter_source


def test_look_alike_tags_merge_into_the_kept_one_and_undo_in_one_step(sqlite_store, tmp_path):
    clips = [{"label": "a", "name": f"a{i}"} for i in range(5)]
    st, panel = _panel(sqlite_store, tmp_path, clips)
    ids = [r.id for r in sqlite_store.page_samples(_query(), page_size=10)]
    tags = ["wind noise", "wind noise", "Wind-Noise", "birdsong", "wind noise"]
    for sid, tag in zip(ids, tags, strict=True):
        panel.services.annotations.tag(sid, tag, reviewer="ann")
    panel.services.annotations.tag(ids[2], "birdsong", reviewer="ann")
    st.saved()  # as the Annotate tab does after a tag
    tag_groups = [g for g in panel.groups if g["kind"] == "tag"]
    assert [[n["name"] for n in g["names"]] for g in tag_groups] == [["wind noise", "Wind-Noise"]]
    st.sign("Ann")
    panel.vue_merge({"index": panel.groups.index(tag_groups[0]), "keep": "wind noise"})
    assert "Tagged “wind noise” instead of “Wind-Noise”" in panel.outcome["text"]
    tags = sqlite_store.annotation_columns("words")
    assert tags[ids[2]]["tags"] == ["birdsong", "wind noise"]
    assert sum("Wind-Noise" in v["tags"] for v in tags.values()) == 0
    assert not [g for g in panel.groups if g["kind"] == "tag"]
    # The addition and the removal are one batch: one undo brings the old tag back.
    history = sqlite_store.annotation_history(ids[2])
    assert len({e.batch_id for e in history[:2]}) == 1 and history[0].batch_id
    panel.vue_undo_merge()
    assert "Undid the tag merge" in panel.outcome["text"]
    assert sqlite_store.annotation_columns("words")[ids[2]]["tags"] == ["Wind-Noise", "birdsong"]
