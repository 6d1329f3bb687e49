"""Dataset-wide feature computation: processes and Dask, resumability, invalidation, the CLI."""

from __future__ import annotations

import os

import numpy as np
import pytest
import soundfile as sf
from datasets import make_speech_commands

from audiosoup_widgets import compute_features, feature_frame
from audiosoup_widgets.cli import main
from audiosoup_widgets.features.export import read_export
from audiosoup_widgets.features.params import FeatureParams
from audiosoup_widgets.features.summaries import summarize
from audiosoup_widgets.jobs.compute import compute_dataset
from audiosoup_widgets.jobs.ingest import load_dataset
from audiosoup_widgets.store import SampleQuery, Store

FEATS = ["mel_spectrogram", "chroma", "mfcc", "onset_strength"]


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


@pytest.mark.postgres
def test_dask_local_cluster_on_postgres(pg_store: Store, tmp_path):
    make_speech_commands(tmp_path / "sc")
    load_dataset(pg_store, tmp_path / "sc", dataset="sc", workers=1)
    n = pg_store.count_samples(SampleQuery("sc"))
    rep = compute_dataset(pg_store, "sc", features=FEATS, workers=2, scheduler="local", batch_size=8)
    assert rep.done == n and rep.scheduler == "dask:local"
    frame = feature_frame("sc", FEATS, db=pg_store)
    assert len(frame) == n and not frame.filter(like="chroma_").isna().any().any()


def test_cli_features_and_export(tmp_path, capsys):
    db = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    make_speech_commands(tmp_path / "sc")
    assert main(["load", str(tmp_path / "sc"), "--dataset", "sc", "--db", db]) == 0
    assert (
        main(
            [
                "features",
                "compute",
                "--dataset",
                "sc",
                "--features",
                "mfcc,chroma",
                "--workers",
                "1",
                "--db",
                db,
            ]
        )
        == 0
    )
    assert "25 computed" in capsys.readouterr().out
    assert (
        main(
            [
                "features",
                "compute",
                "--dataset",
                "sc",
                "--features",
                "mfcc",
                "chroma",
                "--workers",
                "1",
                "--db",
                db,
            ]
        )
        == 0
    )
    assert "0 computed" in capsys.readouterr().out
    out = tmp_path / "e.csv"
    assert (
        main(
            [
                "export",
                "--dataset",
                "sc",
                "--features",
                "mfcc",
                "--format",
                "csv",
                "--output",
                str(out),
                "--split",
                "test",
                "--db",
                db,
            ]
        )
        == 0
    )
    _, recs = read_export(out, "csv")
    assert len(recs) == 6 and {r["split"] for r in recs} == {"test"}
    assert main(["features", "compute", "--dataset", "sc", "--features", "nope", "--db", db]) == 2
    assert main(["features", "compute", "--dataset", "missing", "--db", db]) == 2
    assert "Traceback" not in capsys.readouterr().err


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
    assert (
        main(["features", "compute", "--dataset", "odd", "--features", "mfcc", "--workers", "1", "--db", db])
        == 0
    )
    out = capsys.readouterr().out
    assert "3 failed" in out and len(out.strip().splitlines()) == 1 + len(names)
    assert "x/new\\nline.wav" in out and "x/tab\\there.wav" in out and "\x1b" not in out


def test_compute_decodes_inside_the_dataset_folder_only(loaded: Store, tmp_path):
    """A stored file swapped for a link to a file outside the dataset is not read."""
    rec = loaded.page_samples(SampleQuery("sc"), page_size=1)[0]
    path = loaded.sample_file(rec.id)
    outside = tmp_path / "outside.wav"
    outside.write_bytes(open(path, "rb").read())
    os.remove(path)
    os.symlink(outside, path)
    rep = compute_dataset(loaded, "sc", features=["mfcc"], workers=1)
    assert [f["reason"] for f in rep.failed] == ["outside_root"]
    assert rep.done == loaded.count_samples(SampleQuery("sc")) - 1


def test_importing_the_jobs_does_not_load_the_engine():
    """The CLI checks numba's cache before loading librosa; importing the jobs must not load it."""
    import json
    import subprocess
    import sys

    code = (
        "import sys, json; import audiosoup_widgets.jobs.compute, audiosoup_widgets.jobs.export,"
        " audiosoup_widgets.jobs.frames, audiosoup_widgets.jobs.ingest;"
        " print(json.dumps(sorted(sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    ).stdout
    loaded = {m.split(".")[0] for m in json.loads(out)}
    assert not loaded & {"librosa", "numba"}
