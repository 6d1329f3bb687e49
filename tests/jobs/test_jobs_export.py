"""Feature exports: every format parses back, full matrices, spreadsheet safety, the CLI."""

from __future__ import annotations

import io
import os
import stat

import numpy as np
import pandas as pd
import pytest
from datasets import make_speech_commands

from audiosoup_widgets import export_features, feature_frame
from audiosoup_widgets.cli import main
from audiosoup_widgets.features.export import read_export
from audiosoup_widgets.features.params import ENGINE_VERSION, FeatureParams
from audiosoup_widgets.jobs.compute import compute_dataset
from audiosoup_widgets.jobs.provenance import dataset_provenance, sample_provenance
from audiosoup_widgets.store import SampleQuery, Store


@pytest.mark.parametrize("fmt", ["csv", "yaml", "json", "txt", "parquet"])
def test_export_every_format_parses_back(loaded: Store, tmp_path, fmt):
    compute_dataset(loaded, "sc", features=["mfcc", "chroma"], workers=1)
    out = tmp_path / f"out.{fmt}"
    n = export_features("sc", ["mfcc", "chroma"], fmt=fmt, output=out, db=loaded)
    prov, records = read_export(out, fmt)
    assert n == len(records) == loaded.count_samples(SampleQuery("sc"))
    assert prov["parameters"]["n_mfcc"] == 20 and prov["librosa_version"]
    assert prov["exported_at"] and prov["dataset"] == "sc"
    assert prov["engine_version"] and prov["filters"] == {}
    labels = {r.id: r.label for r in loaded.page_samples(SampleQuery("sc"), page_size=200)}
    # Every value read back equals the stored summary (float32 widened to float64).
    want = feature_frame("sc", ["mfcc", "chroma"], db=loaded).set_index("sample_id")
    columns = [c for c in want.columns if c not in ("path", "label", "split")]
    assert len(columns) == 2 * (20 + 12)
    for rec in records:
        sid = int(rec["sample_id"])
        assert rec["label"] == labels[sid]
        got = np.array([float(rec[c]) for c in columns])
        np.testing.assert_allclose(got, want.loc[sid, columns].to_numpy(np.float64), rtol=1e-12)


@pytest.mark.parametrize("fmt", ["json", "parquet", "csv"])
def test_full_export_has_shapes_and_numbers(loaded: Store, tmp_path, fmt):
    out = tmp_path / f"full.{fmt}"
    n = export_features(
        "sc", ["chroma", "onset_strength"], fmt=fmt, output=out, db=loaded, label="up", full=True
    )
    _, records = read_export(out, fmt)
    assert n == len(records) == 8
    rec = records[0]
    chroma = rec["chroma"]
    assert list(chroma["shape"])[0] == 12
    assert np.asarray(chroma["values"], dtype=float).size == int(np.prod(chroma["shape"]))


FORMULA = "=cmd|' /C calc'!A0"


def _relabel_first(store: Store, label: str) -> int:
    rec = store.page_samples(SampleQuery("sc"), page_size=1)[0]
    store.update_sample(rec.id, version=rec.version, reviewer="pytest", label=label, create_label=True)
    return rec.id


@pytest.mark.parametrize("fmt", ["csv", "txt"])
def test_text_exports_are_safe_in_a_spreadsheet_and_read_with_pandas(loaded: Store, tmp_path, fmt):
    sid = _relabel_first(loaded, FORMULA)
    compute_dataset(loaded, "sc", features=["mfcc"], workers=1)
    out = tmp_path / f"out.{fmt}"
    n = export_features("sc", ["mfcc"], fmt=fmt, output=out, db=loaded)
    frame = pd.read_csv(out, sep="," if fmt == "csv" else "\t")
    assert len(frame) == n == loaded.count_samples(SampleQuery("sc"))
    assert list(frame.columns[:4]) == ["sample_id", "path", "label", "split"]
    assert frame["sample_id"].dtype == np.int64 and frame["mfcc_mean_0"].dtype == np.float64
    assert (frame["mfcc_mean_0"] < 0).any()  # negative numbers stay numbers
    assert frame.set_index("sample_id").loc[sid, "label"] == "'" + FORMULA
    prov, records = read_export(out)
    assert prov["dataset"] == "sc" and prov["parameters"]["n_mfcc"] == 20
    assert {r["sample_id"]: r["label"] for r in records}[sid] == FORMULA


def test_dashboard_download_is_neutralised_and_leaves_no_files(loaded: Store, tmp_path, monkeypatch):
    import tempfile

    from audiosoup_widgets.services import ReviewServices

    sid = _relabel_first(loaded, FORMULA)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    name, data, _mime = ReviewServices(loaded).exports.features(loaded.get_sample(sid), ["mfcc"], "csv")
    assert name.endswith(".csv")
    frame = pd.read_csv(io.BytesIO(data))
    assert frame["label"].tolist() == ["'" + FORMULA] and len(frame) == 1
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("audiosoup-export")] == []


def test_cli_output_into_a_missing_folder_is_one_line_before_any_work(tmp_path, capsys):
    db = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    make_speech_commands(tmp_path / "sc")
    code = main(
        [
            "load",
            str(tmp_path / "sc"),
            "--dataset",
            "sc",
            "--db",
            db,
            "--report",
            str(tmp_path / "missing" / "report.json"),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and err.startswith("audiosoup: error: --report")
    assert "missing" in err and "Traceback" not in err
    assert main(["db", "current", "--db", db]) == 0
    assert capsys.readouterr().out.strip().startswith("empty")  # nothing was loaded
    assert main(["load", str(tmp_path / "sc"), "--dataset", "sc", "--db", db]) == 0
    assert (
        main(["features", "compute", "--dataset", "sc", "--features", "mfcc", "--workers", "1", "--db", db])
        == 0
    )
    capsys.readouterr()
    for output in (tmp_path / "missing" / "x.csv", tmp_path):
        code = main(
            [
                "export",
                "--dataset",
                "sc",
                "--features",
                "mfcc",
                "--format",
                "csv",
                "--output",
                str(output),
                "--db",
                db,
            ]
        )
        err = capsys.readouterr().err
        assert code == 2 and err.count("\n") == 1 and err.startswith("audiosoup: error: --output")
    assert not (tmp_path / "missing").exists()


def test_cli_export_file_honours_the_umask(tmp_path, capsys):
    db = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    make_speech_commands(tmp_path / "sc")
    assert main(["load", str(tmp_path / "sc"), "--dataset", "sc", "--db", db]) == 0
    assert (
        main(["features", "compute", "--dataset", "sc", "--features", "mfcc", "--workers", "1", "--db", db])
        == 0
    )
    old = os.umask(0o022)
    try:
        for fmt in ("csv", "parquet"):
            out = tmp_path / f"e.{fmt}"
            assert (
                main(
                    [
                        "export",
                        "--dataset",
                        "sc",
                        "--features",
                        "mfcc",
                        "--format",
                        fmt,
                        "--output",
                        str(out),
                        "--db",
                        db,
                    ]
                )
                == 0
            )
            assert stat.S_IMODE(out.stat().st_mode) == 0o644
    finally:
        os.umask(old)


def test_every_export_path_carries_the_same_provenance(loaded: Store, tmp_path, capsys):
    """CLI exports, library exports and dashboard downloads: one builder, one set of fields."""
    from audiosoup_widgets.services import ReviewServices

    compute_dataset(loaded, "sc", features=["mfcc"], workers=1)
    out = tmp_path / "cli.json"
    assert (
        main(
            [
                "export",
                "--dataset",
                "sc",
                "--features",
                "mfcc",
                "--format",
                "json",
                "--output",
                str(out),
                "--split",
                "test",
                "--db",
                loaded.url,
            ]
        )
        == 0
    )
    cli, _ = read_export(out, "json")
    rec = loaded.page_samples(SampleQuery("sc"), page_size=1)[0]
    _name, data, _mime = ReviewServices(loaded).exports.features(rec, ["mfcc"], "json")
    download = tmp_path / "download.json"
    download.write_bytes(data)
    one, _ = read_export(download, "json")
    common = {
        "parameters",
        "param_keys",
        "engine_version",
        "librosa_version",
        "package_version",
        "audiosoup_version",
        "exported_at",
        "dataset",
        "features",
        "content",
    }
    assert common <= set(cli) and common <= set(one)
    assert cli["engine_version"] == one["engine_version"] == ENGINE_VERSION
    assert cli["filters"] == {"split": "test"} and cli["features"] == one["features"] == ["mfcc"]
    assert one["sample_id"] == rec.id and one["analysed_seconds"] == pytest.approx(rec.duration)
    fp = FeatureParams()
    summaries = dataset_provenance("sc", ["mfcc"], fp, full=False, filters={})
    assert set(summaries) - {"analysis", "filters", "labels"} == (
        set(sample_provenance(rec, ["mfcc"], fp)) - {"sample_id", "analysed_seconds"}
    )
