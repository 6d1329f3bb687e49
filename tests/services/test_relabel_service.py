"""RelabelService: the preview, the editor's label rules, caches dropped after a change, the undo."""

from __future__ import annotations

import datetime as dt

import pytest

from audiosoup_widgets import NotFoundError, ValidationError


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def test_preview_counts_most_common_first(words):
    services, store, ids = words
    sel = sorted(ids.values())[:7]  # yes no up yes no up yes
    assert services.relabel.preview("words", sel) == [("yes", 3), ("no", 2), ("up", 2)]
    with pytest.raises(ValidationError, match="Select at least one clip"):
        services.relabel.preview("words", [])
    with pytest.raises(ValidationError, match="1 of the selected clips are not in dataset 'words'"):
        services.relabel.preview("words", [*sel, 999])
    with pytest.raises(ValidationError):
        services.relabel.preview("words", "1,2")


def test_relabel_drops_stale_counts_and_undo_restores_them(words_any):
    services, store, ids = words_any
    sel = sorted(ids.values())[:3]
    filters = {
        "dataset": "words",
        "labels": ("up",),
        "split": None,
        "search": "",
        "status": None,
        "sort": "id",
    }
    assert services.samples.count(filters) == 3
    assert services.samples.get(sel[0]).label == "yes"  # cached now
    res = services.relabel.relabel("words", sel, "up", reviewer=" ana ", seen_at=_now(), reason="r")
    assert res.changed == 2 and res.unchanged == 1 and res.batch_id
    assert services.samples.count(filters) == 5
    assert services.samples.get(sel[0]).label == "up"  # not the stale cached record
    out = services.relabel.undo_batch(res.batch_id, reviewer="ana")
    assert out.reverted == 2 and services.samples.count(filters) == 3
    with pytest.raises(NotFoundError):
        services.relabel.undo_batch("f" * 32, reviewer="ana")


def test_a_new_label_only_when_asked(words):
    services, store, ids = words
    sel = sorted(ids.values())[:2]
    with pytest.raises(ValidationError, match="is not a label of this dataset; use “New label”"):
        services.relabel.relabel("words", sel, "cat", reviewer="ana", seen_at=_now())
    res = services.relabel.relabel("words", sel, " cat ", reviewer="ana", seen_at=_now(), create_label=True)
    assert res.label == "cat" and "cat" in services.samples.label_names("words")
    for label, message in (("", "empty"), ("x" * 201, "longer than 200")):
        with pytest.raises(ValidationError, match=message):
            services.relabel.relabel("words", sel, label, reviewer="ana", seen_at=_now(), create_label=True)
    with pytest.raises(ValidationError, match="enter your name"):
        services.relabel.relabel("words", sel, "up", reviewer="", seen_at=_now())
    with pytest.raises(ValidationError, match="Select at least one clip"):
        services.relabel.relabel("words", [], "up", reviewer="ana", seen_at=_now())
