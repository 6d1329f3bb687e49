"""Every export format round-trips records and provenance, and writes atomically."""

from __future__ import annotations

import json
import math
import os

import numpy as np
import pyarrow.parquet as pq
import pytest
import yaml
from featuretest_helpers import clicks, speech_like

from audiosoup_widgets.errors import FeatureError
from audiosoup_widgets.features import (
    FORMATS,
    FeatureParams,
    compute_features,
    full_to_record,
    make_provenance,
    read_export,
    summarize,
    summary_row,
    unpad,
    write_export,
)
from audiosoup_widgets.features import export as export_module

SR = 16000


@pytest.fixture(scope="module")
def values():
    return compute_features(np.stack([speech_like(SR), clicks(SR)]), SR,
                            ["mfcc", "onset_strength", "chroma", "stack_memory"])


@pytest.fixture(scope="module")
def provenance():
    return make_provenance(FeatureParams(), dataset="demo", features=["mfcc", "chroma"])


def _meta(i: int) -> dict:
    return {"sample_id": i + 1, "path": f"yes/abc_nohash_{i}.wav",
            "label": ["yes", 'a "quoted", tabbed\tlabel\nwith newline'][i], "split": None}


@pytest.fixture(scope="module")
def summary_records(values):
    summaries = summarize(values)
    records = [{**_meta(i), **summary_row(summaries, i)} for i in range(2)]
    records[1]["mfcc_mean_3"] = math.nan  # NaN must survive every format
    return records


@pytest.fixture(scope="module")
def full_records(values):
    records = []
    for i in range(2):
        record = _meta(i)
        for name, array in values.items():
            clip = unpad(array[i]) if name == "stack_memory" else array[i]
            record[name] = full_to_record(clip)
        records.append(record)
    return records


def _same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def test_provenance_describes_the_export(provenance):
    assert provenance["parameters"]["n_fft"] == 2048
    assert provenance["librosa_version"] and provenance["package_version"]
    assert provenance["engine_version"] and provenance["dataset"] == "demo"
    assert provenance["exported_at"].endswith("+00:00")  # ISO-8601, UTC


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("kind", ["summary", "full"])
def test_every_format_round_trips(fmt, kind, tmp_path, provenance, summary_records,
                                  full_records):
    records = summary_records if kind == "summary" else full_records
    path = tmp_path / f"export.{fmt}"
    assert write_export(records, provenance=provenance, fmt=fmt, path=path) == path
    prov, back = read_export(path, fmt)
    assert prov == provenance
    assert len(back) == len(records)
    for original, read in zip(records, back, strict=True):
        assert _same(read, original), fmt
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left


@pytest.mark.parametrize("fmt", ["csv", "txt"])
def test_delimited_files_start_with_provenance_comments_and_have_one_row_per_sample(
        fmt, tmp_path, provenance, summary_records, full_records):
    for records in (summary_records, full_records[:1]):
        path = tmp_path / f"e.{fmt}"
        write_export(records, provenance=provenance, fmt=fmt, path=path)
        lines = path.read_text(encoding="utf-8").split("\n")
        assert lines[0].startswith("# provenance: {")
        assert json.loads(lines[0].partition(": ")[2]) == provenance
        assert lines[1].startswith("# schema: ")
        assert lines[2].split("," if fmt == "csv" else "\t")[:4] == [
            "sample_id", "path", "label", "split"]
    # the label with a newline is quoted, so rows are parsed back one per sample
    assert len(read_export(path, fmt)[1]) == 1


def test_json_is_strict_and_yaml_is_safe(tmp_path, provenance, summary_records):
    path = tmp_path / "e.json"
    write_export(summary_records, provenance=provenance, fmt="json", path=path)
    text = path.read_text()
    assert "NaN" not in text
    document = json.loads(text)
    assert set(document) >= {"provenance", "samples"}
    assert document["samples"][1]["mfcc_mean_3"] is None
    path = tmp_path / "e.yaml"
    write_export(summary_records, provenance=provenance, fmt="yaml", path=path)
    document = yaml.safe_load(path.read_text())
    assert document["provenance"] == provenance and len(document["samples"]) == 2


def test_parquet_keeps_provenance_in_metadata_and_matrices_as_lists(tmp_path, provenance,
                                                                    full_records):
    path = tmp_path / "e.parquet"
    write_export(full_records, provenance=provenance, fmt="parquet", path=path)
    table = pq.read_table(path)
    assert json.loads(table.schema.metadata[b"audiosoup.provenance"]) == provenance
    assert table.num_rows == 2
    assert "mfcc__shape" in table.column_names
    assert table.column("mfcc__shape").to_pylist()[0] == [20, 32]


def test_numpy_values_are_converted(tmp_path, provenance, values):
    records = [{"sample_id": np.int64(7), "path": "a.wav", "label": "yes", "split": "train",
                "mfcc": values["mfcc"][0], "gain": np.float32(0.5)}]
    path = tmp_path / "e.json"
    write_export(records, provenance=provenance, fmt="json", path=path)
    _, back = read_export(path)
    assert back[0]["sample_id"] == 7 and back[0]["gain"] == 0.5
    np.testing.assert_allclose(np.reshape(back[0]["mfcc"]["values"], (20, 32)),
                               values["mfcc"][0])


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, provenance,
                                                             summary_records, monkeypatch):
    path = tmp_path / "e.csv"
    path.write_text("old\n")

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(export_module.os, "replace", broken_replace)
    with pytest.raises(OSError):
        write_export(summary_records, provenance=provenance, fmt="csv", path=path)
    assert path.read_text() == "old\n"
    assert os.listdir(tmp_path) == ["e.csv"]


def test_bad_formats_and_records_are_refused(tmp_path, provenance):
    with pytest.raises(FeatureError) as info:
        write_export([], provenance=provenance, fmt="xlsx", path=tmp_path / "e.xlsx")
    assert info.value.code == "unknown_format"
    with pytest.raises(FeatureError) as info:
        write_export([{"sample_id": 1, "x": object()}], provenance=provenance, fmt="csv",
                     path=tmp_path / "e.csv")
    assert info.value.code == "invalid_record"
    with pytest.raises(FeatureError) as info:
        write_export([{"sample_id": 1, "m": {"shape": [2, 2], "values": [1.0]}}],
                     provenance=provenance, fmt="json", path=tmp_path / "e.json")
    assert info.value.code == "invalid_record"
    with pytest.raises(FeatureError):
        write_export([], provenance={"when": object()}, fmt="json", path=tmp_path / "e.json")
    assert not list(tmp_path.iterdir())
