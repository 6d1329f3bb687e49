"""ExportService: downloads in every format, checked input, nothing left on disk."""

from __future__ import annotations

import io
import json
import os
import tempfile

import pytest

from audiosoup_widgets.errors import FeatureError, ValidationError
from audiosoup_widgets.features import FORMATS
from audiosoup_widgets.services import EXPORT_FORMATS

FIRST = "yes/spk00_nohash_0.wav"


def test_every_writer_format_is_offered_in_the_menu_order():
    assert EXPORT_FORMATS == ("csv", "yaml", "json", "txt", "parquet")
    assert set(EXPORT_FORMATS) == set(FORMATS)


@pytest.mark.parametrize("fmt", EXPORT_FORMATS)
def test_a_download_in_each_format_leaves_no_file_behind(words, fmt, tmp_path, monkeypatch):
    services, _, ids = words
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    record = services.samples.get(ids[FIRST])
    name, data, mime = services.exports.features(record, ["mfcc", "onset_strength", "mfcc"], fmt)
    assert name == f"features_{record.id}_spk00_nohash_0.{fmt}" and data and "/" in mime
    assert os.listdir(scratch) == []
    if fmt == "json":
        doc = json.loads(data)
        assert doc["provenance"]["features"] == ["mfcc", "onset_strength"]
        assert doc["provenance"]["analysed_seconds"] == 1.0
        assert doc["samples"][0]["sample_id"] == record.id
    if fmt == "parquet":
        import pyarrow.parquet as pq

        assert pq.read_table(io.BytesIO(data)).num_rows == 1


@pytest.mark.parametrize(
    "names,fmt,error,message",
    [
        (["mfcc"], "exe", ValidationError, "unknown export format 'exe'; choose one of csv, yaml"),
        ([], "csv", ValidationError, "select at least one feature"),
        (["evil"], "csv", FeatureError, "evil"),
    ],
)
def test_bad_requests_are_refused_plainly(words, names, fmt, error, message):
    services, _, ids = words
    with pytest.raises(error, match=message):
        services.exports.features(services.samples.get(ids[FIRST]), names, fmt)


def test_the_download_uses_the_features_already_computed(words, monkeypatch):
    import audiosoup_widgets.features as feature_api

    services, _, ids = words
    record = services.samples.get(ids[FIRST])
    services.features.compute(record, "deltas")
    monkeypatch.setattr(
        feature_api, "compute_features_with_status", lambda *a, **k: pytest.fail("computed again")
    )
    assert services.exports.features(record, ["mfcc", "mfcc_delta"], "csv").data
