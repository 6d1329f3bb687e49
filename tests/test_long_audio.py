"""Long and extreme audio, dataset-wide: bounded memory, exact segment summaries, bad clips.

The memory test runs a real ``audiosoup features compute`` in a child process and
reads the kernel's peak resident set of it; the others run on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from sqlalchemy import select

import audiosoup_widgets
from audiosoup_widgets import compute_features, export_features, feature_frame
from audiosoup_widgets.cli import main
from audiosoup_widgets.features import engine as engine_module
from audiosoup_widgets.features.export import read_export
from audiosoup_widgets.features.segments import segment_bounds, segment_samples
from audiosoup_widgets.features.summaries import summarize
from audiosoup_widgets.jobs.compute import compute_dataset
from audiosoup_widgets.jobs.ingest import load_dataset
from audiosoup_widgets.store import Store
from audiosoup_widgets.store.models import Dataset, FeatureSummary, Sample

GiB = 2**30
PKG_PARENT = str(Path(audiosoup_widgets.__file__).resolve().parents[1])


def varied(sr: int, seconds: float, *, seed: int = 0) -> np.ndarray:
    """Tones, noise bursts and clicks changing every second (float32, peak < 1)."""
    rng = np.random.default_rng(seed)
    out = np.empty(int(sr * seconds), np.float32)
    t = np.arange(sr) / sr
    for start in range(0, len(out), sr):
        k = min(sr, len(out) - start)
        kind = (start // sr) % 3
        if kind == 0:
            piece = np.sin(2 * np.pi * rng.uniform(100, 2000) * t)
        elif kind == 1:
            piece = rng.standard_normal(sr) * (np.sin(2 * np.pi * 3 * t) > 0)
        else:
            piece = np.zeros(sr)
            piece[:: int(sr * 60 / rng.uniform(80, 180))] = 1.0
        out[start : start + k] = (rng.uniform(0.05, 0.5) * piece[:k]).astype(np.float32)
    return out


def write_long(path: Path, *, sr: int, seconds: float, channels: int = 1) -> None:
    """Write a long 16-bit WAV in one-minute pieces (never the whole signal at once)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with sf.SoundFile(path, "w", samplerate=sr, channels=channels, subtype="PCM_16") as f:
        done, i = 0, 0
        while done < seconds:
            piece = varied(sr, min(60.0, seconds - done), seed=i)
            f.write(np.outer(piece, np.linspace(1.0, 0.5, channels)) if channels > 1 else piece)
            done += 60.0
            i += 1


def stored_rows(store: Store) -> dict[tuple[str, str], tuple]:
    """``(file name, feature) -> (status, n_rows, n_frames, float32 values)``."""
    with store.session() as sess:
        rows = sess.execute(
            select(
                Sample.path,
                Sample.id,
                FeatureSummary.feature,
                FeatureSummary.param_key,
                FeatureSummary.status,
                FeatureSummary.n_rows,
                FeatureSummary.n_frames,
            ).join(Sample, Sample.id == FeatureSummary.sample_id)
        ).all()
        dataset = sess.scalar(select(Dataset.name).join(Sample, Sample.dataset_id == Dataset.id).limit(1))
    values: dict[tuple[int, str], np.ndarray] = {}
    for feature, key in {(r[2], r[3]) for r in rows}:
        ids, matrix = store.summary_matrix(dataset, feature, key)
        values.update({(int(i), feature): v for i, v in zip(ids, matrix, strict=True)})

    def own(sid: int, feature: str, n: int) -> np.ndarray:
        # A matrix pads shorter summaries with NaN (means, then stds): cut them back.
        v = values.get((sid, feature), np.zeros(0, np.float32))
        half = len(v) // 2
        return np.concatenate([v[:n], v[half : half + n]]) if n else v[:0]

    return {(Path(p).name, f): (s, n, k, own(sid, f, n)) for p, sid, f, _, s, n, k in rows}


# -- Bounded memory ----------------------------------------------------------------------------
_MEASURE = r"""
import resource, subprocess, sys
rc = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE).returncode
print(rc, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024)
"""
HEAVY = "power_spectrogram,mel_spectrogram,mfcc,chroma,tonnetz"


def peak_rss(db: str, dataset: str, features: str) -> int:
    """Peak resident set (bytes) of one ``audiosoup features compute`` and its workers."""
    cmd = [
        sys.executable,
        "-m",
        "audiosoup_widgets.cli",
        "features",
        "compute",
        "--dataset",
        dataset,
        "--workers",
        "1",
        "--features",
        features,
        "--db",
        db,
    ]
    env = {"PYTHONPATH": PKG_PARENT, "AUDIOSOUP_NO_PROGRESS": "1", "PATH": "/usr/bin:/bin"}
    res = subprocess.run(
        [sys.executable, "-c", _MEASURE, *cmd], capture_output=True, text=True, env=env, timeout=300
    )
    rc, peak = res.stdout.split()
    assert rc == "0", res.stderr
    return int(peak)


@pytest.mark.slow
def test_features_compute_memory_is_bounded_and_does_not_grow_with_length(tmp_path):
    sr = 16000
    write_long(tmp_path / "short" / "a" / "four_minutes.wav", sr=sr, seconds=240)
    write_long(tmp_path / "long" / "a" / "twenty_minutes_4ch.wav", sr=sr, seconds=1200, channels=4)
    db = f"sqlite:///{tmp_path / 'mem.sqlite3'}"
    for name in ("short", "long"):
        assert main(["load", str(tmp_path / name), "--dataset", name, "--workers", "1", "--db", db]) == 0
    small = peak_rss(db, "short", HEAVY)
    large = peak_rss(db, "long", HEAVY)
    # Five times the audio (and four channels to mix): the same peak, well under the bound.
    assert large < 1.5 * GiB
    assert large - small < 100 * 2**20, (small / 2**20, large / 2**20)
    # And every frame of the 20 minutes was analysed, segment by segment.
    store = Store(db)
    rows = stored_rows(store)
    status, n_rows, n_frames, _ = rows[("twenty_minutes_4ch.wav", "mfcc")]
    bounds = segment_bounds(1200 * sr)
    assert status == "ok" and n_rows == 20
    assert n_frames == sum(1 + (b - a) // 512 for a, b in bounds) and len(bounds) == 10
    store.dispose()


# -- Exact summaries of long clips; short clips as before ----------------------------------
FEATS = ["mfcc", "chroma", "onset_strength", "stack_memory"]
_EXPECTED: dict[str, dict] = {}


@pytest.mark.slow
def test_long_clip_summary_is_over_its_segments_and_short_clips_are_unchanged(store: Store, tmp_path):
    sr = 48000
    size = segment_samples()
    clips = {
        "long.wav": varied(sr, 2.4 * size / sr, seed=1),
        "exactly_one_segment.wav": varied(sr, size / sr, seed=2),
        "one_second.wav": varied(sr, 1.0, seed=3),
    }
    folder = _mkdir(tmp_path / "d" / "x")
    for name, y in clips.items():
        sf.write(folder / name, y, sr, subtype="FLOAT")
    load_dataset(store, tmp_path / "d", dataset="d", workers=1)
    report = compute_dataset(store, "d", features=FEATS, workers=1)
    assert report.done == 3 and report.failed == [] and report.segmented == 1
    assert "1 clip longer than 2,097,152 samples (44 s at 48000 Hz) analysed in segments" in report.summary()
    rows = stored_rows(store)

    if not _EXPECTED:  # computed once for both databases
        y = clips["long.wav"]
        bounds = segment_bounds(len(y))
        assert len(bounds) == 3 and len(clips["exactly_one_segment.wav"]) == size
        parts = [compute_features(y[a:b], sr, FEATS) for a, b in bounds]
        for name in FEATS:
            frames = np.concatenate([np.atleast_2d(p[name]) for p in parts], axis=-1)
            frames = frames.astype(np.float64)
            _EXPECTED[("long.wav", name)] = (
                np.concatenate([frames.mean(-1), frames.std(-1)]).astype(np.float32),
                frames.shape[-1],
            )
        for clip in ("exactly_one_segment.wav", "one_second.wav"):
            values = compute_features(clips[clip], sr, FEATS)
            for name, summary in summarize(values).items():
                _EXPECTED[(clip, name)] = (summary, np.atleast_2d(values[name]).shape[-1])

    for (clip, name), (want, frames) in _EXPECTED.items():
        status, n_rows, n_frames, got = rows[(clip, name)]
        assert status == "ok" and n_frames == frames and n_rows == len(want) // 2
        if clip == "long.wav":
            np.testing.assert_allclose(got, want, rtol=2e-6, atol=1e-7, err_msg=name)
        else:  # the path of every clip that fits in a segment: bit for bit as before
            np.testing.assert_array_equal(got, want, err_msg=f"{clip} {name}")


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


# -- Extreme samples: one bad clip costs one clip, and is not retried unless asked ----------
@pytest.fixture
def batch_with_a_huge_clip(store: Store, tmp_path) -> Store:
    folder = _mkdir(tmp_path / "h" / "tone")
    sr = 16000
    t = np.arange(sr) / sr
    for i in range(41):
        y = (0.3 * np.sin(2 * np.pi * (200 + 20 * i) * t)).astype(np.float32)
        if i == 17:
            y[5000] = 1e30  # finite, and far beyond full scale
        sf.write(folder / f"c{i:02d}.wav", y, sr, subtype="FLOAT")
    load_dataset(store, tmp_path / "h", dataset="h", workers=1)
    return store


def test_a_huge_sample_costs_one_clip_and_reruns_skip_it_until_asked(
    batch_with_a_huge_clip: Store, tmp_path, capsys
):
    store = batch_with_a_huge_clip
    args = [
        "features",
        "compute",
        "--dataset",
        "h",
        "--features",
        "mfcc,chroma",
        "--workers",
        "1",
        "--db",
        store.url,
    ]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "40 computed, 0 already up to date, 1 failed" in out
    assert "out_of_range" in out and "c17.wav: samples reach 1e+30" in out
    rows = stored_rows(store)
    assert rows[("c17.wav", "mfcc")][:3] == ("out_of_range", 0, 0)
    assert sum(1 for (_c, f), r in rows.items() if f == "mfcc" and r[1] == 20) == 40
    frame = feature_frame("h", ["mfcc"], db=store)
    assert frame["mfcc_mean_0"].notna().sum() == 40

    assert main(args) == 0  # a rerun does not try the known-bad clip again
    out = capsys.readouterr().out
    assert "0 computed, 40 already up to date, 0 failed" in out
    assert "1 known-bad clip skipped (out_of_range 1); --retry-failed tries it again" in out

    assert main([*args, "--retry-failed"]) == 0
    out = capsys.readouterr().out
    assert "0 computed, 40 already up to date, 1 failed" in out and "out_of_range" in out
    assert "Traceback" not in capsys.readouterr().err


def test_a_stack_that_raises_is_computed_clip_by_clip(batch_with_a_huge_clip: Store, monkeypatch):
    # Without the out_of_range check, 1e30 reaches librosa, which raises for the whole
    # stack: the batch falls back to one clip at a time and loses that clip only.
    monkeypatch.setattr(engine_module, "MAX_PEAK", np.inf)
    report = compute_dataset(batch_with_a_huge_clip, "h", features=["mfcc", "chroma"], workers=1)
    assert report.done == 40 and len(report.failed) == 1
    fail = report.failed[0]
    assert fail["path"].endswith("c17.wav") and fail["reason"] == "engine_error"
    assert fail["message"] == "ParameterError: Input must be finite"
    assert "engine_error  " in report.summary()
    again = compute_dataset(batch_with_a_huge_clip, "h", features=["mfcc", "chroma"], workers=1)
    assert again.done == 0 and again.known_bad == {"engine_error": 1}


def test_the_dashboard_says_why_a_huge_clip_has_no_features(batch_with_a_huge_clip: Store):
    from audiosoup_widgets.errors import FeatureError
    from audiosoup_widgets.services import ReviewServices

    store = batch_with_a_huge_clip
    services = ReviewServices(store)
    ids = {Path(p).name: sid for sid, p, _l, _s in store.sample_table("h")}
    with pytest.raises(FeatureError) as info:
        services.features.compute(services.samples.get(ids["c17.wav"]), "spectral")
    assert info.value.code == "out_of_range" and "far beyond full scale" in info.value.message
    assert services.features.compute(services.samples.get(ids["c16.wav"]), "spectral").status == "ok"


# -- Full matrices on demand: the dashboard's window, said in the provenance --------------------
def test_full_export_analyses_the_first_minute_and_says_so(store: Store, tmp_path):
    sr = 8000
    sf.write(_mkdir(tmp_path / "e" / "x") / "seventy_seconds.wav", varied(sr, 70.0), sr)
    load_dataset(store, tmp_path / "e", dataset="e", workers=1)
    out = tmp_path / "full.json"
    assert export_features("e", ["chroma"], fmt="json", output=out, db=store, full=True) == 1
    prov, records = read_export(out, "json")
    assert records[0]["chroma"]["shape"] == [12, 1 + 60 * sr // 512]
    assert records[0]["analysed_seconds"] == 60.0
    assert prov["analysis_window_seconds"] == 60.0
    assert "first 60 s" in prov["analysis"]
    assert json.dumps(prov)  # plain data
