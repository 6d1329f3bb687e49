"""Curated labels out: ``labels_frame`` (edited labels and their provenance) and every export format."""

from __future__ import annotations

import json
import os

import pandas as pd
import pytest
from datasets import CURATION_ROWS, make_curation_manifest

from audiosoup_widgets.errors import ConfigError
from audiosoup_widgets.jobs.ingest import load_dataset
from audiosoup_widgets.jobs.labels import LABEL_COLUMNS, consensus, export_dataset, labels_frame
from audiosoup_widgets.store import SampleQuery, Store


@pytest.fixture
def curated(store: Store, tmp_path) -> Store:
    """Dataset ``cur`` (four clips) with two labels changed through the store, one by a bulk relabel."""
    make_curation_manifest(tmp_path / "data")
    report = load_dataset(store, tmp_path / "data", dataset="cur", workers=1)
    assert report.loaded == 4, report.summary()
    ids = _ids(store)
    one = store.get_sample(ids["a/one.wav"])
    store.update_sample(one.id, version=one.version, reviewer="ana", label="dog", reason="it barks")
    two = store.get_sample(ids["a/two.wav"])
    store.update_sample(two.id, version=two.version, reviewer="bo", label="=HYPERLINK(1)", create_label=True)
    return store


def _ids(store: Store) -> dict[str, int]:
    return {r.path: r.id for r in store.page_samples(SampleQuery(dataset="cur"), page_size=100)}


def test_labels_frame_gives_the_edited_labels_and_who_changed_them(curated):
    frame = labels_frame("cur", db=curated)
    assert list(frame.columns) == list(LABEL_COLUMNS)
    assert frame.attrs["dataset"] == "cur" and os.path.isdir(frame.attrs["root"])
    rows = frame.set_index("path")
    assert sorted(rows.index) == sorted(p for p, *_ in CURATION_ROWS)
    assert rows.loc["a/one.wav", "label"] == "dog"  # was "cat" in the manifest
    assert rows.loc["a/one.wav", "label_edited_by"] == "ana"
    assert rows.loc["a/one.wav", "label_edit_reason"] == "it barks"
    assert rows.loc["a/one.wav", "label_edit_kind"] == "edit"
    assert pd.notna(rows.loc["a/one.wav", "label_edited_at"])
    assert (
        rows.loc["a/two.wav", "label"] == "=HYPERLINK(1)" and rows.loc["a/two.wav", "label_edited_by"] == "bo"
    )
    # Never edited: the loaded label, no provenance.
    assert rows.loc["b/three.wav", "label"] == "dog" and rows.loc["b/three.wav", "label_edited_by"] is None
    assert rows.loc["b/three.wav", "file_name"] == "three.wav"
    assert rows.loc["b/three.wav", "split"] == "test" and rows.loc["b/three.wav", "speaker"] == "spk1"
    assert rows.loc["-dash.wav", "split"] is None
    assert rows.loc["a/one.wav", "duration"] == pytest.approx(1.0)
    assert rows.loc["a/one.wav", "sample_rate"] == 16000
    # Without annotations every annotation column is still there, empty.
    assert rows.loc["a/one.wav", "tags"] == [] and rows.loc["a/one.wav", "votes"] == {}
    assert rows.loc["a/one.wav", "n_votes"] == 0 and rows.loc["a/one.wav", "consensus"] is None


def test_an_undone_edit_is_the_labels_newest_change(curated):
    sid = _ids(curated)["a/one.wav"]
    rec = curated.get_sample(sid)
    curated.undo_last_edit(sid, version=rec.version, reviewer="cy")
    row = labels_frame("cur", db=curated).set_index("sample_id").loc[sid]
    assert row["label"] == "cat"
    assert (row["label_edited_by"], row["label_edit_kind"]) == ("cy", "undo")


@pytest.mark.parametrize(
    "votes, expected",
    [
        ({}, None),
        ({"a": "dog"}, "dog"),
        ({"a": "dog", "b": "cat", "c": "dog"}, "dog"),
        ({"a": "dog", "b": "cat"}, None),  # a tie has no consensus
        ({"a": "dog", "b": "cat", "c": "bird", "d": "cat"}, "cat"),
    ],
)
def test_consensus_is_the_majority_and_none_on_a_tie(votes, expected):
    assert consensus(votes) == expected


def test_manifest_csv_reads_back_with_the_edits_escaped_and_loads_again(curated, tmp_path):
    root = labels_frame("cur", db=curated).attrs["root"]
    out = os.path.join(root, "curated.csv")
    result = export_dataset("cur", fmt="manifest-csv", output=out, db=curated)
    assert result.rows == 4
    back = pd.read_csv(out, keep_default_na=False)
    assert list(back.columns[:5]) == ["path", "label", "split", "speaker", "text"]
    rows = back.set_index("path")
    assert rows.loc["a/one.wav", "label"] == "dog"
    # Formula-like cells carry one quote; a path starting with "-" gets "./" instead.
    assert rows.loc["a/two.wav", "label"] == "'=HYPERLINK(1)"
    assert rows.loc["a/two.wav", "text"] == "'=1+2"
    assert rows.loc["./-dash.wav", "text"] == "'@note"
    assert json.loads(rows.loc["a/one.wav", "tags"]) == []
    assert all(os.path.isfile(os.path.join(root, p)) for p in back["path"])
    # Written in the dataset folder, it is a manifest the loader reads.
    again = load_dataset(curated, out, dataset="again", workers=1)
    assert again.loaded == 4 and not again.skipped
    labels = {r.path: r.label for r in curated.page_samples(SampleQuery(dataset="again"), page_size=10)}
    assert labels["a/one.wav"] == "dog" and labels["-dash.wav"] == "dog"


def test_jsonl_keeps_values_exact_and_paths_relative_to_the_file(curated, tmp_path):
    out = tmp_path / "out" / "cur.jsonl"
    out.parent.mkdir()
    export_dataset("cur", fmt="jsonl", output=out, db=curated)
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(lines) == 4
    by_label = {(d["text"] or ""): d for d in lines}
    two = by_label["=1+2"]
    assert two["label"] == "=HYPERLINK(1)"  # JSON is not a spreadsheet: no quote
    assert two["label_edited_by"] == "bo" and two["tags"] == [] and two["votes"] == {}
    assert os.path.isfile(out.parent / two["path"]) and two["path"].startswith("../")
    one = next(d for d in lines if d["label_edit_reason"] == "it barks")
    assert one["label"] == "dog" and "T" in one["label_edited_at"]  # ISO-8601 text


def test_audiofolder_with_copied_audio_reads_back_with_pandas(curated, tmp_path):
    out = tmp_path / "af"
    seen = []
    result = export_dataset(
        "cur",
        fmt="audiofolder",
        output=out,
        db=curated,
        copy_audio=True,
        progress=lambda d, t: seen.append((d, t)),
    )
    assert (result.rows, result.copied, result.skipped) == (4, 4, [])
    assert seen[-1] == (4, 4)
    meta = pd.read_csv(out / "metadata.csv", keep_default_na=False)
    assert list(meta.columns[:2]) == ["file_name", "label"]
    files = dict(zip(meta["path"], meta["file_name"], strict=True))
    assert files == {
        "a/one.wav": "train/a/one.wav",
        "a/two.wav": "train/a/two.wav",
        "b/three.wav": "test/b/three.wav",
        "./-dash.wav": "unsplit/-dash.wav",  # the path cell guarded, the same file
    }
    labels = dict(zip(meta["file_name"], meta["label"], strict=True))
    assert labels["train/a/one.wav"] == "dog" and labels["train/a/two.wav"] == "'=HYPERLINK(1)"
    # Each split's own metadata (what Hugging Face's builder reads), one schema for all.
    train = pd.read_parquet(out / "train" / "metadata.parquet")
    test = pd.read_parquet(out / "test" / "metadata.parquet")
    assert dict(zip(train["file_name"], train["label"], strict=True)) == {
        "a/one.wav": "dog",
        "a/two.wav": "=HYPERLINK(1)",  # Parquet is not a spreadsheet: exact
    }
    assert list(test["file_name"]) == ["b/three.wav"] and test["label_edited_by"].isna().all()
    assert dict(train.dtypes) == dict(test.dtypes)
    assert not (out / "unsplit" / "metadata.parquet").exists()
    src = labels_frame("cur", db=curated).attrs["root"]
    for rel, name in files.items():
        assert (out / name).read_bytes() == open(os.path.join(src, rel.removeprefix("./")), "rb").read()
    assert not [p for p in os.listdir(tmp_path) if p.endswith((".tmp", ".old"))]


def test_audiofolder_without_copies_points_at_the_original_files(curated, tmp_path):
    out = tmp_path / "af"
    export_dataset("cur", fmt="audiofolder", output=out, db=curated)
    assert os.listdir(out) == ["metadata.csv"]
    meta = pd.read_csv(out / "metadata.csv", keep_default_na=False)
    assert all(os.path.isfile(out / name) for name in meta["file_name"])
    assert sorted(meta["label"]) == ["'=HYPERLINK(1)", "dog", "dog", "dog"]


def test_a_missing_file_costs_its_row_and_an_existing_output_needs_force(curated, tmp_path):
    root = labels_frame("cur", db=curated).attrs["root"]
    os.unlink(os.path.join(root, "b", "three.wav"))
    out = tmp_path / "af"
    out.mkdir()
    (out / "old.txt").write_text("x")
    with pytest.raises(ConfigError, match="not empty"):
        export_dataset("cur", fmt="audiofolder", output=out, db=curated, copy_audio=True)
    result = export_dataset("cur", fmt="audiofolder", output=out, db=curated, copy_audio=True, force=True)
    assert (result.rows, result.copied) == (3, 3)
    assert [s["path"] for s in result.skipped] == ["b/three.wav"]
    assert sorted(os.listdir(out)) == ["metadata.csv", "train", "unsplit"]  # old.txt replaced
    assert "3 rows" in result.summary() and "1 left out" in result.summary()
    csv_out = tmp_path / "c.csv"
    csv_out.write_text("keep")
    with pytest.raises(ConfigError, match="exists"):
        export_dataset("cur", fmt="manifest-csv", output=csv_out, db=curated)
    assert csv_out.read_text() == "keep"
    with pytest.raises(ConfigError, match="audiofolder format only"):
        export_dataset("cur", fmt="jsonl", output=tmp_path / "x.jsonl", db=curated, copy_audio=True)


def test_label_studio_tasks_carry_the_label_as_a_choice(curated, tmp_path):
    out = tmp_path / "ls.json"
    export_dataset("cur", fmt="label-studio", output=out, db=curated)
    tasks = json.loads(out.read_text(encoding="utf-8"))
    assert len(tasks) == 4
    by_path = {t["data"]["path"]: t for t in tasks}
    one = by_path["a/one.wav"]
    assert one["data"]["audio"] == "/data/local-files/?d=a/one.wav"
    [result] = one["annotations"][0]["result"]
    assert result["type"] == "choices" and result["value"] == {"choices": ["dog"]}
    assert (result["from_name"], result["to_name"]) == ("label", "audio")


@pytest.fixture
def annotated(curated: Store) -> Store:
    """``cur`` with annotations: one clip tagged, flagged, noted, with a region and three votes."""
    ids = _ids(curated)
    one, two = ids["a/one.wav"], ids["a/two.wav"]
    curated.add_tag(one, "noisy", reviewer="ana")
    curated.add_tag(one, "=cmd", reviewer="ana")
    curated.add_flag(one, "check-label", reviewer="bo")
    curated.add_note(one, "bark at the end", reviewer="ana")
    curated.add_region(one, start=0.25, end=0.75, label="bark", note="loud", reviewer="ana")
    for who, vote in (("ana", "dog"), ("bo", "dog"), ("cy", "cat")):
        curated.set_vote(one, vote, reviewer=who)
    for who, vote in (("ana", "dog"), ("bo", "cat")):  # a tie
        curated.set_vote(two, vote, reviewer=who)
    return curated


def test_labels_frame_holds_the_annotations_and_the_majority_vote(annotated):
    rows = labels_frame("cur", db=annotated).set_index("path")
    one = rows.loc["a/one.wav"]
    assert one["tags"] == ["=cmd", "noisy"] and one["reviewer_flags"] == ["check-label"]
    assert one["notes"] == ["bark at the end"]
    assert one["regions"] == [{"start": 0.25, "end": 0.75, "label": "bark", "note": "loud"}]
    assert one["votes"] == {"ana": "dog", "bo": "dog", "cy": "cat"}
    assert (one["n_votes"], one["consensus"]) == (3, "dog")
    assert (rows.loc["a/two.wav", "n_votes"], rows.loc["a/two.wav", "consensus"]) == (2, None)
    assert (rows.loc["b/three.wav", "n_votes"], rows.loc["b/three.wav", "tags"]) == (0, [])


def test_annotations_reach_every_format(annotated, tmp_path):
    export_dataset("cur", fmt="audiofolder", output=tmp_path / "af", db=annotated, copy_audio=True)
    meta = pd.read_csv(tmp_path / "af" / "metadata.csv", keep_default_na=False).set_index("file_name")
    one = meta.loc["train/a/one.wav"]
    assert json.loads(one["tags"]) == ["=cmd", "noisy"]  # a JSON cell: exact, and never a formula
    assert json.loads(one["regions"])[0]["label"] == "bark"
    assert (one["n_votes"], one["consensus"]) == (3, "dog")
    assert meta.loc["train/a/two.wav", "consensus"] == ""  # a tie: no consensus
    export_dataset("cur", fmt="jsonl", output=tmp_path / "c.jsonl", db=annotated)
    lines = [json.loads(x) for x in (tmp_path / "c.jsonl").read_text(encoding="utf-8").splitlines()]
    first = next(d for d in lines if d["n_votes"] == 3)
    assert first["votes"] == {"ana": "dog", "bo": "dog", "cy": "cat"} and first["reviewer_flags"] == [
        "check-label"
    ]
    export_dataset("cur", fmt="label-studio", output=tmp_path / "ls.json", db=annotated)
    tasks = {t["data"]["path"]: t for t in json.loads((tmp_path / "ls.json").read_text(encoding="utf-8"))}
    results = tasks["a/one.wav"]["annotations"][0]["result"]
    kinds = {(r["from_name"], r["type"]): r["value"] for r in results}
    assert kinds[("label", "choices")] == {"choices": ["dog"]}
    assert kinds[("regions", "labels")] == {"start": 0.25, "end": 0.75, "labels": ["bark"]}
    assert kinds[("region_note", "textarea")]["text"] == ["loud"]
    assert kinds[("notes", "textarea")] == {"text": ["bark at the end"]}


def test_an_empty_dataset_gives_the_columns_and_a_header(store, tmp_path):
    store.ensure_dataset("none", root=str(tmp_path), layout="folders")
    frame = labels_frame("none", db=store)
    assert list(frame.columns) == list(LABEL_COLUMNS) and len(frame) == 0
    result = export_dataset("none", fmt="audiofolder", output=tmp_path / "af", db=store, copy_audio=True)
    assert (result.rows, result.copied) == (0, 0)
    assert (tmp_path / "af" / "metadata.csv").read_text().startswith("file_name,label")
