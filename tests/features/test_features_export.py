"""Every export format round-trips records and provenance, and writes atomically."""

from __future__ import annotations

import csv
import json
import math
import os
import stat

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml
from signals import clicks, speech_like

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


def provenance_path(path):
    """Where a text export's description goes (the documented name, spelled out here)."""
    return path.with_name(path.name + ".provenance.json")


SR = 16000


@pytest.fixture(scope="module")
def values():
    return compute_features(
        np.stack([speech_like(SR), clicks(SR)]), SR, ["mfcc", "onset_strength", "chroma", "stack_memory"]
    )


@pytest.fixture(scope="module")
def provenance():
    return make_provenance(FeatureParams(), dataset="demo", features=["mfcc", "chroma"])


def _meta(i: int) -> dict:
    return {
        "sample_id": i + 1,
        "path": f"yes/abc_nohash_{i}.wav",
        "label": ["yes", 'a "quoted", tabbed\tlabel\nwith newline'][i],
        "split": None,
    }


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
def test_every_format_round_trips(fmt, kind, tmp_path, provenance, summary_records, full_records):
    records = summary_records if kind == "summary" else full_records
    path = tmp_path / f"export.{fmt}"
    assert write_export(records, provenance=provenance, fmt=fmt, path=path) == path
    prov, back = read_export(path, fmt)
    assert prov == provenance
    assert len(back) == len(records)
    for original, read in zip(records, back, strict=True):
        assert _same(read, original), fmt
    # No temporary file left; text formats have their description beside them.
    beside = [provenance_path(path).name] if fmt in ("csv", "txt") else []
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([path.name, *beside])


@pytest.mark.parametrize("fmt", ["csv", "txt"])
def test_text_exports_read_with_a_plain_pandas_read_csv(
    fmt, tmp_path, provenance, summary_records, full_records
):
    sep = "," if fmt == "csv" else "\t"
    path = tmp_path / f"e.{fmt}"
    write_export(summary_records, provenance=provenance, fmt=fmt, path=path)
    frame = pd.read_csv(path) if fmt == "csv" else pd.read_csv(path, sep="\t")
    assert list(frame.columns) == list(summary_records[0])
    assert len(frame) == len(summary_records)  # the label with a newline is one cell
    assert frame["sample_id"].dtype == np.int64
    assert pd.api.types.is_string_dtype(frame["label"])
    assert frame["label"].tolist() == [r["label"] for r in summary_records]
    value_columns = [c for c in frame.columns if c.startswith("mfcc_")]
    assert all(frame[c].dtype == np.float64 for c in value_columns)
    assert math.isnan(frame["mfcc_mean_3"][1])
    np.testing.assert_array_equal(
        frame["mfcc_mean_0"].to_numpy(), [r["mfcc_mean_0"] for r in summary_records]
    )
    # The description lives beside the file: provenance and the type of every column.
    assert export_module.provenance_path(path) == provenance_path(path)
    described = json.loads(provenance_path(path).read_text())
    assert described["provenance"] == provenance and described["format"] == fmt
    assert described["schema"]["sample_id"] == "int" and described["data_file"] == path.name
    # Matrices are JSON cells, one row per sample.
    write_export(full_records[:1], provenance=provenance, fmt=fmt, path=path)
    frame = pd.read_csv(path, sep=sep)
    assert len(frame) == 1
    mfcc = json.loads(frame["mfcc"][0])
    assert len(mfcc["values"]) == math.prod(mfcc["shape"])


@pytest.mark.parametrize("fmt", ["csv", "txt"])
def test_text_exports_read_back_without_their_description(
    fmt, tmp_path, provenance, summary_records, full_records
):
    for records in (summary_records, full_records):
        path = tmp_path / f"e.{fmt}"
        write_export(records, provenance=provenance, fmt=fmt, path=path)
        provenance_path(path).unlink()
        prov, back = read_export(path)
        assert prov == {}
        for original, read in zip(records, back, strict=True):
            assert _same(read, original)


def test_files_of_an_earlier_release_still_read(tmp_path):
    path = tmp_path / "old.csv"
    path.write_text(
        '# provenance: {"dataset":"d"}\n# schema: {"sample_id":"int","x":"float"}\nsample_id,x\n1,0.5\n2,\n'
    )
    prov, back = read_export(path)
    assert prov == {"dataset": "d"} and back[0] == {"sample_id": 1, "x": 0.5}
    assert math.isnan(back[1]["x"])


FORMULAS = [
    "=cmd|' /C calc'!A0",
    "+1+1",
    "-2+3",
    "@SUM(A1)",
    "\tleading tab",
    "\rleading cr",
    "'=already quoted",
    "''+twice",
]
SAFE = ["plain", "'just a quote", "a=b", "", None]


@pytest.mark.parametrize("fmt", ["csv", "txt"])
def test_text_cells_that_a_spreadsheet_would_run_are_neutralised(fmt, tmp_path, provenance):
    texts = FORMULAS + SAFE
    records = [
        {
            "sample_id": i,
            "path": "-dash.wav" if i == 0 else f"{i}.wav",
            "label": t,
            "split": "train",
            "gain": -1.5 * (i + 1),
            "count": -i,
        }
        for i, t in enumerate(texts)
    ]
    path = tmp_path / f"e.{fmt}"
    write_export(records, provenance=provenance, fmt=fmt, path=path)
    with open(path, encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="," if fmt == "csv" else "\t"))
    for row, text in zip(rows, texts, strict=True):
        if text in FORMULAS:
            assert row["label"] == "'" + text  # one quote in front, as OWASP recommends
        else:
            assert row["label"] == (text or "")
        assert row["label"][:1] not in ("=", "+", "-", "@", "\t", "\r")
    assert rows[0]["path"] == "'-dash.wav"
    # Numbers stay numbers: a negative float or int is not touched.
    assert [row["gain"] for row in rows] == [repr(-1.5 * (i + 1)) for i in range(len(texts))]
    frame = pd.read_csv(path, sep="," if fmt == "csv" else "\t")
    assert frame["gain"].dtype == np.float64 and frame["gain"][0] == -1.5
    assert frame["count"].dtype == np.int64 and frame["count"][3] == -3
    # read_export gives the text back as exported.
    _, back = read_export(path)
    assert [r["label"] for r in back] == [t or None for t in texts]
    assert back[0]["path"] == "-dash.wav" and back[1]["gain"] == -3.0


def test_exports_honour_the_umask(tmp_path, provenance, summary_records):
    old = os.umask(0o022)
    try:
        for fmt in FORMATS:
            path = tmp_path / f"e.{fmt}"
            write_export(summary_records, provenance=provenance, fmt=fmt, path=path)
            assert stat.S_IMODE(path.stat().st_mode) == 0o644, fmt
        assert stat.S_IMODE(provenance_path(tmp_path / "e.csv").stat().st_mode) == 0o644
        os.umask(0o077)
        write_export(summary_records, provenance=provenance, fmt="csv", path=tmp_path / "p.csv")
        assert stat.S_IMODE((tmp_path / "p.csv").stat().st_mode) == 0o600
    finally:
        os.umask(old)


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


def test_parquet_keeps_provenance_in_metadata_and_matrices_as_lists(tmp_path, provenance, full_records):
    path = tmp_path / "e.parquet"
    write_export(full_records, provenance=provenance, fmt="parquet", path=path)
    table = pq.read_table(path)
    assert json.loads(table.schema.metadata[b"audiosoup.provenance"]) == provenance
    assert table.num_rows == 2
    assert "mfcc__shape" in table.column_names
    assert table.column("mfcc__shape").to_pylist()[0] == [20, 32]


def test_numpy_values_are_converted(tmp_path, provenance, values):
    records = [
        {
            "sample_id": np.int64(7),
            "path": "a.wav",
            "label": "yes",
            "split": "train",
            "mfcc": values["mfcc"][0],
            "gain": np.float32(0.5),
        }
    ]
    path = tmp_path / "e.json"
    write_export(records, provenance=provenance, fmt="json", path=path)
    _, back = read_export(path)
    assert back[0]["sample_id"] == 7 and back[0]["gain"] == 0.5
    np.testing.assert_allclose(np.reshape(back[0]["mfcc"]["values"], (20, 32)), values["mfcc"][0])


def test_a_failed_write_leaves_the_old_file_and_no_temporary(
    tmp_path, provenance, summary_records, monkeypatch
):
    path = tmp_path / "e.csv"
    path.write_text("old\n")

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(export_module.os, "replace", broken_replace)
    with pytest.raises(OSError):
        write_export(summary_records, provenance=provenance, fmt="csv", path=path)
    assert path.read_text() == "old\n"
    assert os.listdir(tmp_path) == ["e.csv"]  # neither temporary file nor description left


def test_bad_formats_and_records_are_refused(tmp_path, provenance):
    with pytest.raises(FeatureError) as info:
        write_export([], provenance=provenance, fmt="xlsx", path=tmp_path / "e.xlsx")
    assert info.value.code == "unknown_format"
    with pytest.raises(FeatureError) as info:
        write_export(
            [{"sample_id": 1, "x": object()}], provenance=provenance, fmt="csv", path=tmp_path / "e.csv"
        )
    assert info.value.code == "invalid_record"
    with pytest.raises(FeatureError) as info:
        write_export(
            [{"sample_id": 1, "m": {"shape": [2, 2], "values": [1.0]}}],
            provenance=provenance,
            fmt="json",
            path=tmp_path / "e.json",
        )
    assert info.value.code == "invalid_record"
    with pytest.raises(FeatureError):
        write_export([], provenance={"when": object()}, fmt="json", path=tmp_path / "e.json")
    assert not list(tmp_path.iterdir())
