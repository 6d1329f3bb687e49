"""Dataset-wide features: compute (processes and Dask), resumability, invalidation, pandas, export."""

from __future__ import annotations

import io
import os
import stat

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from datasets import make_speech_commands

from audiosoup_widgets import compute_features, export_features, feature_frame
from audiosoup_widgets.cli import main
from audiosoup_widgets.features.export import read_export
from audiosoup_widgets.features.params import FeatureParams
from audiosoup_widgets.features.summaries import summarize
from audiosoup_widgets.ingest import load_dataset
from audiosoup_widgets.pipeline import compute_dataset
from audiosoup_widgets.store import SampleQuery, Store

FEATS = ["mel_spectrogram", "chroma", "mfcc", "onset_strength"]


@pytest.fixture
def loaded(store: Store, tmp_path) -> Store:
    make_speech_commands(tmp_path / "sc")
    (tmp_path / "sc" / "no" / "deadbeef_nohash_0.wav").write_bytes(b"RIFF broken")
    load_dataset(store, tmp_path / "sc", dataset="sc", workers=1)
    return store


def test_compute_frame_and_resume(loaded: Store):
    n = loaded.count_samples(SampleQuery("sc"))
    rep = compute_dataset(loaded, "sc", features=FEATS, workers=2)
    assert rep.done == n and rep.failed == [] and rep.already == 0
    frame = feature_frame("sc", FEATS, db=loaded)
    assert len(frame) == n and frame["sample_id"].is_unique
    assert list(frame.columns[:4]) == ["sample_id", "path", "label", "split"]
    assert "mfcc_mean_0" in frame and "mfcc_std_19" in frame and "chroma_mean_11" in frame
    assert "onset_strength_mean_0" in frame
    assert not frame.filter(like="mfcc_").isna().any().any()
    # Stored summaries equal the engine's on the decoded file.
    row = frame.iloc[0]
    y, sr = sf.read(loaded.sample_file(int(row["sample_id"])), dtype="float32")
    want = summarize(compute_features(y, sr, ["mfcc"]))["mfcc"]
    got = row.filter(like="mfcc_").to_numpy(dtype=np.float32)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    # Resumable: nothing left to do; --force recomputes everything.
    again = compute_dataset(loaded, "sc", features=FEATS, workers=1)
    assert again.done == 0 and again.already == n
    forced = compute_dataset(loaded, "sc", features=["mfcc"], workers=1, force=True)
    assert forced.done == n
    # Filters
    yes = feature_frame("sc", ["mfcc"], db=loaded, label="yes")
    assert set(yes["label"]) == {"yes"} and len(yes) == 8
    assert set(feature_frame("sc", ["mfcc"], db=loaded, split="test")["split"]) == {"test"}


def test_parameter_change_invalidates_exactly_what_it_affects(loaded: Store):
    compute_dataset(loaded, "sc", features=FEATS, workers=1)
    n = loaded.count_samples(SampleQuery("sc"))
    small = FeatureParams(n_mels=64)
    stale = [f for f in FEATS if small.key_for(f) != FeatureParams().key_for(f)]
    assert "mel_spectrogram" in stale and "chroma" not in stale
    rep = compute_dataset(loaded, "sc", features=["chroma"], params=small, workers=1)
    assert rep.done == 0  # chroma does not depend on n_mels
    rep = compute_dataset(loaded, "sc", features=["mel_spectrogram"], params=small, workers=1)
    assert rep.done == n
    frame = feature_frame("sc", ["mel_spectrogram"], db=loaded, params=small)
    assert "mel_spectrogram_mean_63" in frame and "mel_spectrogram_mean_64" not in frame


def test_dask_local_cluster_on_postgres(pg_store: Store, tmp_path):
    make_speech_commands(tmp_path / "sc")
    load_dataset(pg_store, tmp_path / "sc", dataset="sc", workers=1)
    n = pg_store.count_samples(SampleQuery("sc"))
    rep = compute_dataset(pg_store, "sc", features=FEATS, workers=2, scheduler="local",
                          batch_size=8)
    assert rep.done == n and rep.scheduler == "dask:local"
    frame = feature_frame("sc", FEATS, db=pg_store)
    assert len(frame) == n and not frame.filter(like="chroma_").isna().any().any()


@pytest.mark.parametrize("fmt", ["csv", "yaml", "json", "txt", "parquet"])
def test_export_every_format_parses_back(loaded: Store, tmp_path, fmt):
    compute_dataset(loaded, "sc", features=["mfcc", "chroma"], workers=1)
    out = tmp_path / f"out.{fmt}"
    n = export_features("sc", ["mfcc", "chroma"], fmt=fmt, output=out, db=loaded)
    prov, records = read_export(out, fmt)
    assert n == len(records) == loaded.count_samples(SampleQuery("sc"))
    assert prov["parameters"]["n_mfcc"] == 20 and prov["librosa_version"]
    assert prov["exported_at"] and prov["dataset"] == "sc"
    labels = {r.id: r.label for r in loaded.page_samples(SampleQuery("sc"), page_size=200)}
    for rec in records:
        assert rec["label"] == labels[int(rec["sample_id"])]
        assert float(rec["mfcc_mean_0"]) == pytest.approx(float(rec["mfcc_mean_0"]))


@pytest.mark.parametrize("fmt", ["json", "parquet", "csv"])
def test_full_export_has_shapes_and_numbers(loaded: Store, tmp_path, fmt):
    out = tmp_path / f"full.{fmt}"
    n = export_features("sc", ["chroma", "onset_strength"], fmt=fmt, output=out, db=loaded,
                        label="up", full=True)
    _, records = read_export(out, fmt)
    assert n == len(records) == 8
    rec = records[0]
    chroma = rec["chroma"]
    assert list(chroma["shape"])[0] == 12
    assert np.asarray(chroma["values"], dtype=float).size == int(np.prod(chroma["shape"]))


def test_cli_features_and_export(tmp_path, capsys):
    db = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    make_speech_commands(tmp_path / "sc")
    assert main(["load", str(tmp_path / "sc"), "--dataset", "sc", "--db", db]) == 0
    assert main(["features", "compute", "--dataset", "sc", "--features", "mfcc,chroma",
                 "--workers", "1", "--db", db]) == 0
    assert "25 computed" in capsys.readouterr().out
    assert main(["features", "compute", "--dataset", "sc", "--features", "mfcc", "chroma",
                 "--workers", "1", "--db", db]) == 0
    assert "0 computed" in capsys.readouterr().out
    out = tmp_path / "e.csv"
    assert main(["export", "--dataset", "sc", "--features", "mfcc", "--format", "csv",
                 "--output", str(out), "--split", "test", "--db", db]) == 0
    _, recs = read_export(out, "csv")
    assert len(recs) == 6 and {r["split"] for r in recs} == {"test"}
    assert main(["features", "compute", "--dataset", "sc", "--features", "nope", "--db", db]) == 2
    assert main(["features", "compute", "--dataset", "missing", "--db", db]) == 2
    assert "Traceback" not in capsys.readouterr().err


FORMULA = "=cmd|' /C calc'!A0"


def _relabel_first(store: Store, label: str) -> int:
    rec = store.page_samples(SampleQuery("sc"), page_size=1)[0]
    store.update_sample(rec.id, version=rec.version, reviewer="pytest", label=label,
                        create_label=True)
    return rec.id


@pytest.mark.parametrize("fmt", ["csv", "txt"])
def test_text_exports_are_safe_in_a_spreadsheet_and_read_with_pandas(loaded: Store, tmp_path,
                                                                     fmt):
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


def test_dashboard_download_is_neutralised_and_leaves_no_files(loaded: Store, tmp_path,
                                                               monkeypatch):
    import tempfile

    from audiosoup_widgets.services import ReviewServices

    sid = _relabel_first(loaded, FORMULA)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    name, data, _mime = ReviewServices(loaded).exports.features(loaded.get_sample(sid), ["mfcc"],
                                                                 "csv")
    assert name.endswith(".csv")
    frame = pd.read_csv(io.BytesIO(data))
    assert frame["label"].tolist() == ["'" + FORMULA] and len(frame) == 1
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("audiosoup-export")] == []


def test_cli_output_into_a_missing_folder_is_one_line_before_any_work(tmp_path, capsys):
    db = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    make_speech_commands(tmp_path / "sc")
    code = main(["load", str(tmp_path / "sc"), "--dataset", "sc", "--db", db,
                 "--report", str(tmp_path / "missing" / "report.json")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and err.startswith("audiosoup: error: --report")
    assert "missing" in err and "Traceback" not in err
    assert main(["db", "current", "--db", db]) == 0
    assert capsys.readouterr().out.strip().startswith("empty")  # nothing was loaded
    assert main(["load", str(tmp_path / "sc"), "--dataset", "sc", "--db", db]) == 0
    assert main(["features", "compute", "--dataset", "sc", "--features", "mfcc",
                 "--workers", "1", "--db", db]) == 0
    capsys.readouterr()
    for output in (tmp_path / "missing" / "x.csv", tmp_path):
        code = main(["export", "--dataset", "sc", "--features", "mfcc", "--format", "csv",
                     "--output", str(output), "--db", db])
        err = capsys.readouterr().err
        assert code == 2 and err.count("\n") == 1 and err.startswith("audiosoup: error: --output")
    assert not (tmp_path / "missing").exists()


def test_cli_export_file_honours_the_umask(tmp_path, capsys):
    db = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    make_speech_commands(tmp_path / "sc")
    assert main(["load", str(tmp_path / "sc"), "--dataset", "sc", "--db", db]) == 0
    assert main(["features", "compute", "--dataset", "sc", "--features", "mfcc",
                 "--workers", "1", "--db", db]) == 0
    old = os.umask(0o022)
    try:
        for fmt in ("csv", "parquet"):
            out = tmp_path / f"e.{fmt}"
            assert main(["export", "--dataset", "sc", "--features", "mfcc", "--format", fmt,
                         "--output", str(out), "--db", db]) == 0
            assert stat.S_IMODE(out.stat().st_mode) == 0o644
    finally:
        os.umask(old)


def test_features_summary_shows_one_file_per_line(tmp_path, capsys):
    db = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    folder = tmp_path / "odd" / "x"
    folder.mkdir(parents=True)
    names = ["new\nline.wav", "tab\there.wav", "esc\x1b[2Jclear.wav"]
    for i, name in enumerate(names):
        sf.write(folder / name, (0.1 * np.sin(np.arange(16000) * (0.05 + 0.01 * i))), 16000)
    assert main(["load", str(tmp_path / "odd"), "--dataset", "odd", "--db", db]) == 0
    for name in names:
        (folder / name).unlink()  # gone since the load: each one fails in features compute
    capsys.readouterr()
    assert main(["features", "compute", "--dataset", "odd", "--features", "mfcc",
                 "--workers", "1", "--db", db]) == 0
    out = capsys.readouterr().out
    assert "3 failed" in out and len(out.strip().splitlines()) == 1 + len(names)
    assert "x/new\\nline.wav" in out and "x/tab\\there.wav" in out and "\x1b" not in out
