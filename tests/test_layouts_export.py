"""The curated-data writers on plain rows: Label Studio results, spreadsheet-safe cells, table rows."""

from __future__ import annotations

import json
import os

import pandas as pd
import pytest

from audiosoup_widgets.errors import ConfigError
from audiosoup_widgets.layouts import listed
from audiosoup_widgets.layouts_export import check_output, write_dataset

ROW = {
    "sample_id": 7,
    "path": "birds/wren one.wav",
    "label": "wren",
    "split": "train",
    "speaker": None,
    "text": "+44 call",
    "tags": ["noisy", "=cmd"],
    "notes": ["check the end"],
    "regions": [
        {"start": 0.25, "end": 1.5, "label": "song", "note": "two phrases"},
        {"start": 2.0, "end": 2.5, "label": None, "note": None},
    ],
    "votes": {"ana": "wren", "bo": "robin"},
}


def test_label_studio_task_holds_label_tags_regions_and_notes(tmp_path):
    out = tmp_path / "tasks.json"
    write_dataset([ROW], fmt="label-studio", output=out, root=str(tmp_path), audio_prefix="http://h/a/")
    [task] = json.loads(out.read_text(encoding="utf-8"))
    assert task["data"]["audio"] == "http://h/a/birds/wren%20one.wav"
    assert task["data"]["sample_id"] == 7 and task["data"]["text"] == "+44 call"
    results = task["annotations"][0]["result"]
    by = [(r["from_name"], r["type"], r["value"]) for r in results]
    assert by == [
        ("label", "choices", {"choices": ["wren"]}),
        ("tags", "choices", {"choices": ["noisy", "=cmd"]}),
        ("regions", "labels", {"start": 0.25, "end": 1.5, "labels": ["song"]}),
        ("region_note", "textarea", {"start": 0.25, "end": 1.5, "text": ["two phrases"]}),
        ("regions", "labels", {"start": 2.0, "end": 2.5, "labels": []}),
        ("notes", "textarea", {"text": ["check the end"]}),
    ]
    # A region and its note share an id, as Label Studio ties a per-region text to its region.
    assert results[2]["id"] == results[3]["id"] != results[4]["id"]
    assert {r["to_name"] for r in results} == {"audio"}


def test_csv_cells_are_spreadsheet_safe_and_lists_are_json(tmp_path):
    out = tmp_path / "m.csv"
    rows = [ROW, {**ROW, "sample_id": 8, "path": "@x.wav", "label": "-1", "tags": []}]
    write_dataset(rows, fmt="manifest-csv", output=out, root=str(tmp_path))
    back = pd.read_csv(out, keep_default_na=False)
    assert list(back["path"]) == ["birds/wren one.wav", "./@x.wav"]
    assert list(back["label"]) == ["wren", "'-1"] and list(back["text"]) == ["'+44 call"] * 2
    # A JSON cell starts with [ or {, never a formula; its texts are kept exact.
    assert json.loads(back["tags"][0]) == ["noisy", "=cmd"]
    assert json.loads(back["votes"][0]) == {"ana": "wren", "bo": "robin"}
    assert json.loads(back["regions"][0])[0] == ROW["regions"][0]


def test_outputs_are_checked_before_any_work(tmp_path):
    with pytest.raises(ConfigError, match="unknown format 'xml'"):
        check_output(tmp_path / "a", "xml")
    (tmp_path / "f").write_text("x")
    with pytest.raises(ConfigError, match="is a file"):
        check_output(tmp_path / "f", "audiofolder")
    with pytest.raises(ConfigError, match="is a folder"):
        check_output(tmp_path, "jsonl")
    (tmp_path / "empty").mkdir()
    assert check_output(tmp_path / "empty", "audiofolder") == tmp_path / "empty"  # empty is fine


def test_listed_rows_share_the_deepest_root_and_carry_problems(tmp_path):
    base = str(tmp_path)
    rows = [
        {"path": os.path.join(base, "a", "x.wav"), "label": " dog ", "split": "val"},
        {"path": os.path.join(base, "a", "b", "y.wav"), "label": float("nan"), "split": None},
        {"path": os.path.join(base, "a", "x.wav"), "label": "cat"},
        {"path": None},
        {"path": os.path.join(base, "a", "z.wav"), "split": "dev"},
    ]
    root, cands = listed(rows)
    assert root == os.path.join(base, "a")
    got = {(c.relpath, c.label, c.split, c.problem[0] if c.problem else None) for c in cands}
    assert got == {
        ("x.wav", "dog", "validation", None),
        ("b/y.wav", None, None, None),
        ("x.wav", "cat", None, "listed_twice"),
        ("row 4", None, None, "missing_path"),
        ("z.wav", None, None, "invalid_split"),
    }
    with pytest.raises(ConfigError, match="no row names an audio file"):
        listed([{"path": None}])


def test_a_path_that_is_not_utf8_is_written_as_its_bytes(tmp_path):
    name = "caf\udce9.wav"  # the byte 0xe9, as the loader keeps an undecodable name
    rows = [{**ROW, "path": name, "regions": [], "tags": []}]
    write_dataset(rows, fmt="manifest-csv", output=tmp_path / "m.csv", root=str(tmp_path))
    write_dataset(rows, fmt="jsonl", output=tmp_path / "m.jsonl", root=str(tmp_path))
    assert b"\ncaf\xe9.wav," in (tmp_path / "m.csv").read_bytes()
    assert b'"path": "caf\xe9.wav"' in (tmp_path / "m.jsonl").read_bytes()


def test_label_studio_config_names_every_control_and_escapes_values(tmp_path):
    import xml.etree.ElementTree as ET

    out = tmp_path / "tasks.json"
    rows = [ROW, {**ROW, "sample_id": 8, "label": 'a "quoted" <b>', "tags": [], "regions": []}]
    write_dataset(rows, fmt="label-studio", output=out, root=str(tmp_path))
    view = ET.fromstring((tmp_path / "tasks.json.config.xml").read_text(encoding="utf-8"))
    names = {el.get("name"): el for el in view}
    assert set(names) == {"audio", "label", "tags", "regions", "region_note", "notes"}
    assert [c.get("value") for c in names["label"]] == ['a "quoted" <b>', "wren"]  # text, not markup
    assert [c.get("value") for c in names["tags"]] == ["=cmd", "noisy"]
    assert [c.get("value") for c in names["regions"]] == ["song"]
    # Every result's from_name is a control of the config.
    [task, _] = json.loads(out.read_text(encoding="utf-8"))
    assert {r["from_name"] for r in task["annotations"][0]["result"]} <= set(names)
    with pytest.raises(ConfigError, match="config.xml exists"):
        (tmp_path / "other.json.config.xml").write_text("x")
        write_dataset(rows, fmt="label-studio", output=tmp_path / "other.json", root=str(tmp_path))
