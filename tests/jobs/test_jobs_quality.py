"""Quality measures at ingest and the resumable backfill of stored clips, on both databases.

The reference for every stored value is ``measure_quality`` of the decoded file with
its own sample encoding; a backfill must store exactly what ingest stored.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest
import soundfile as sf
from audio_fixtures import ODD_BYTES_NAME, make_mixed_folder
from datasets import make_speech_commands
from sqlalchemy import text

from audiosoup_widgets.audio import QUALITY_VERSION, decode, measure_quality
from audiosoup_widgets.errors import ConfigError, NotFoundError, ValidationError
from audiosoup_widgets.jobs.ingest import load_dataset
from audiosoup_widgets.jobs.quality import QualityReport, backfill_quality
from audiosoup_widgets.store import Store

MEASURES = {
    # samples column -> QualityMeasures field
    "peak_dbfs": "peak_dbfs",
    "rms_db": "rms_dbfs",
    "clip_ratio": "clip_ratio",
    "silence_ratio": "silence_ratio",
    "leading_silence": "leading_silence_s",
    "trailing_silence": "trailing_silence_s",
    "dc_offset": "dc_offset",
    "snr_db": "snr_db",
    "bandwidth_hz": "bandwidth_hz",
    "pcm_hash": "pcm_sha256",
}
COLUMNS = ", ".join(MEASURES)


def stored(store: Store) -> dict[str, dict[str, object]]:
    """Every sample's measures, quality version and edit version, by stored path."""
    with store.session() as sess:
        rows = sess.execute(
            text(f"SELECT path, {COLUMNS}, quality_version, version FROM samples ORDER BY id")
        ).mappings()
        return {r["path"]: dict(r) for r in rows}


def forget_measures(store: Store, where: str = "1 = 1") -> int:
    """Make samples look as if stored before the measures existed (NULL measures and version)."""
    sets = ", ".join(f"{c} = NULL" for c in MEASURES if c != "rms_db")
    with store.session() as sess:
        return sess.execute(text(f"UPDATE samples SET {sets}, quality_version = NULL WHERE {where}")).rowcount


def assert_rows_equal(a: dict[str, object], b: dict[str, object]) -> None:
    for column in MEASURES:
        if column == "pcm_hash":
            assert a[column] == b[column], column
        else:
            assert a[column] == pytest.approx(b[column], rel=1e-12, abs=1e-12), column


def files_by_stored_path(root: Path) -> dict[str, str]:
    """Each file under ``root`` by the path the store keeps for it (undecodable bytes escaped)."""
    out = {}
    for folder, _dirs, names in os.walk(os.fsencode(root)):
        for name in names:
            full = os.path.join(folder, name)
            rel = os.path.relpath(full, os.fsencode(root))
            out[rel.decode("utf-8", "backslashreplace")] = os.fsdecode(full)
    return out


@pytest.fixture
def sc(store: Store, tmp_path) -> tuple[Store, Path]:
    """25 Speech Commands clips loaded as dataset ``sc`` (1-s 16 kHz WAVs and a 5-s noise clip)."""
    root = tmp_path / "sc"
    make_speech_commands(root)
    load_dataset(store, root, dataset="sc", workers=1)
    return store, root


# -- ingest ----------------------------------------------------------------------------


def test_ingest_stores_the_measures_of_every_clip(store: Store, tmp_path):
    root = tmp_path / "mixed"
    make_mixed_folder(root)
    report = load_dataset(store, root, dataset="mixed", layout="folders", workers=2)
    rows = stored(store)
    assert len(rows) == report.loaded >= 12
    files = files_by_stored_path(root)
    for path, row in rows.items():
        assert row["quality_version"] == QUALITY_VERSION, path
        y, sr = decode(files[path], mono=False)
        q = measure_quality(y, sr=sr, subtype=sf.info(os.fsencode(files[path])).subtype).as_row()
        assert_rows_equal(row, {c: q[f] for c, f in MEASURES.items()})
        assert row["version"] == 1


# -- backfill --------------------------------------------------------------------------


def test_backfill_stores_what_ingest_stored(store: Store, tmp_path):
    root = tmp_path / "mixed"
    make_mixed_folder(root)
    load_dataset(store, root, dataset="mixed", layout="folders", workers=2)
    at_ingest = stored(store)
    if sys.platform.startswith("linux"):
        # A name that is not UTF-8: stored escaped, opened by its exact bytes.
        assert (
            f"cat/{ODD_BYTES_NAME}".encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
            in at_ingest
        )
    n = forget_measures(store)
    assert n == len(at_ingest) and store.count_missing_quality("mixed", version=QUALITY_VERSION) == n
    seen: list[tuple[int, int]] = []
    report = backfill_quality(
        "mixed", db=store, workers=2, batch=4, progress=lambda d, t: seen.append((d, t))
    )
    assert isinstance(report, QualityReport)
    assert (report.todo, report.measured, report.failed) == (n, n, [])
    assert seen[0] == (0, n) and seen[-1] == (n, n) and len(seen) >= n // 4
    after = stored(store)
    assert after.keys() == at_ingest.keys()
    for path, row in after.items():
        assert_rows_equal(row, at_ingest[path])
        assert row["quality_version"] == QUALITY_VERSION
        # Measures are not edits: the reviewer's optimistic counter is untouched.
        assert row["version"] == at_ingest[path]["version"] == 1, path
    assert store.count_missing_quality("mixed", version=QUALITY_VERSION) == 0
    again = backfill_quality("mixed", db=store, workers=1)
    assert (again.todo, again.measured, again.failed) == (0, 0, [])
    assert "0 measured, 0 failed of 0" in again.summary()


def test_an_interrupted_backfill_resumes_with_what_is_left(sc):
    store, _root = sc
    at_ingest = stored(store)
    n = forget_measures(store)

    def stop_after_first_batch(done: int, total: int) -> None:
        if done:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        backfill_quality("sc", db=store, workers=2, batch=5, progress=stop_after_first_batch)
    # One batch stored, nothing lost beyond the batch under way.
    assert store.count_missing_quality("sc", version=QUALITY_VERSION) == n - 5
    report = backfill_quality("sc", db=store, workers=2, batch=5)
    assert (report.todo, report.measured, report.failed) == (n - 5, n - 5, [])
    for path, row in stored(store).items():
        assert_rows_equal(row, at_ingest[path])


def test_an_outdated_version_is_measured_again_and_the_rest_left_alone(sc):
    store, _root = sc
    at_ingest = stored(store)
    with store.session() as sess:
        stale = sess.execute(
            text("UPDATE samples SET quality_version = :v, snr_db = -1 WHERE path LIKE 'yes/%'"),
            {"v": QUALITY_VERSION - 1},
        ).rowcount
    assert stale == 8
    report = backfill_quality("sc", db=store.url, workers=1)  # a URL works as well as a store
    assert (report.todo, report.measured) == (8, 8)
    for path, row in stored(store).items():
        assert_rows_equal(row, at_ingest[path])
        assert row["quality_version"] == QUALITY_VERSION


def test_a_missing_or_corrupt_file_costs_one_clip(sc):
    store, root = sc
    n = forget_measures(store)
    (root / "yes" / "0a7c2a8d_nohash_0.wav").unlink()
    (root / "no" / "1b2c3d4e_nohash_1.wav").write_bytes(b"RIFF broken since it was loaded")
    cut = root / "up" / "c0ffee00_nohash_0.wav"
    cut.write_bytes(cut.read_bytes()[:20000])
    report = backfill_quality("sc", db=store, workers=2, batch=3)
    assert report.measured == n - 3
    failed = dict(report.failed)
    assert failed.keys() == {
        "yes/0a7c2a8d_nohash_0.wav",
        "no/1b2c3d4e_nohash_1.wav",
        "up/c0ffee00_nohash_0.wav",
    }
    assert failed["yes/0a7c2a8d_nohash_0.wav"].startswith("unreadable: ")
    assert failed["no/1b2c3d4e_nohash_1.wav"].startswith("not_audio: ")
    assert failed["up/c0ffee00_nohash_0.wav"].startswith("truncated: ")
    lines = report.summary().splitlines()
    assert f"{n - 3} measured, 3 failed of {n}" in lines[0]
    assert sorted(lines[2:]) == sorted(f"  {p}: {r}" for p, r in report.failed)
    rows = stored(store)
    for path in failed:
        # Stored as measured-and-failed: no measures, not retried on every run.
        assert rows[path]["quality_version"] == QUALITY_VERSION
        assert rows[path]["peak_dbfs"] is None and rows[path]["pcm_hash"] is None
    again = backfill_quality("sc", db=store, workers=1)
    assert (again.todo, again.measured, again.failed) == (0, 0, [])


def test_a_missing_dataset_or_folder_is_refused_before_anything_is_written(sc, tmp_path):
    store, root = sc
    n = forget_measures(store)
    with pytest.raises(NotFoundError):
        backfill_quality("nope", db=store)
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValidationError):
            backfill_quality("sc", db=store, batch=bad)  # type: ignore[arg-type]
    shutil.move(root, tmp_path / "moved")
    with pytest.raises(ConfigError, match="missing"):
        backfill_quality("sc", db=store)
    # A folder that is away for a while must not turn every clip into a failure.
    assert store.count_missing_quality("sc", version=QUALITY_VERSION) == n
