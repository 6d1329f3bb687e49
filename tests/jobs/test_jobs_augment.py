"""Augmentation jobs: derived FLAC clips checked against the recipe applied by hand, lineage,
idempotence, one bad parent costing one item, the worker pool, features and deletion."""

from __future__ import annotations

import os

import numpy as np
import pytest
import soundfile as sf
from datasets import make_speech_commands
from sqlalchemy import text

from audiosoup_widgets.audio.decode import decode
from audiosoup_widgets.audio.recipes import apply_recipe, recipe_from_yaml, variant_seed
from audiosoup_widgets.errors import ConfigError, NotFoundError, RecipeError
from audiosoup_widgets.jobs.augment import (
    _Job,
    augment_batch,
    augment_dataset,
    delete_augmented,
    parent_key,
    to_pcm16,
)
from audiosoup_widgets.jobs.ingest import load_dataset
from audiosoup_widgets.store import SampleQuery, Store


def p_file(store: Store, record) -> str:
    return os.path.join(store.dataset_root(record.dataset), record.path)


RECIPE = """\
seed: 3
steps:
  - Gain: {min_gain_db: -6.0, max_gain_db: 6.0}
  - AddGaussianSNR: {min_snr_db: 15.0, max_snr_db: 30.0}
  - Shift: {min_shift: -0.2, max_shift: 0.2}
"""


@pytest.fixture(autouse=True)
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("AUDIOSOUP_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


@pytest.fixture
def sc(store: Store, tmp_path) -> Store:
    make_speech_commands(tmp_path / "sc")
    load_dataset(store, tmp_path / "sc", dataset="sc", workers=1)
    return store


def _derived(store: Store) -> list:
    return store.page_samples(SampleQuery("sc", origin="derived", sort="id"), page_size=200)


def _lineage(store: Store) -> dict[int, tuple[int, int, int, int]]:
    """Every derived clip's (parent, recipe, variant, seed), read straight from the table."""
    with store.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT id, parent_id, recipe_id, aug_variant, aug_seed FROM samples "
                "WHERE parent_id IS NOT NULL"
            )
        ).all()
    return {r[0]: (r[1], r[2], r[3], r[4]) for r in rows}


def test_to_pcm16_clips_rounds_half_to_even_and_zeroes_nan():
    # float64, so that 1.5 / 32767 scales back to exactly 1.5 (a tie, rounded to even).
    y = np.array([0.0, 1.0, -1.0, 2.0, -3.0, 0.5 / 32767, 1.5 / 32767, np.nan, 0.25])
    want = np.array([0, 32767, -32767, 32767, -32767, 0, 2, 0, 8192], dtype=np.int16)
    got = to_pcm16(y)
    assert got.dtype == np.int16
    np.testing.assert_array_equal(got, want)


def test_a_derived_file_holds_the_recipe_applied_by_hand_and_a_bad_parent_costs_one_item(tmp_path):
    from signals import tone

    root = tmp_path / "clips"
    root.mkdir()
    sf.write(root / "a.wav", tone(16000, freq=300, level=0.3), 16000, subtype="PCM_16")
    (root / "bad.wav").write_bytes(b"RIFF not audio")
    recipe = recipe_from_yaml(RECIPE)
    out_dir = tmp_path / "data" / "augmented" / "r"
    job = _Job(str(root), str(out_dir), recipe, None)
    items = [(1, str(root / "a.wav"), "a.wav#h", 0), (2, str(root / "bad.wav"), "bad.wav#h", 0)]
    (pid, variant, values, problem), bad = augment_batch(items, job)
    assert (pid, variant, problem) == (1, 0, None)
    assert bad[0] == 2 and bad[2] is None and bad[3] is not None
    info = sf.info(values["path"])
    assert (info.format, info.subtype, info.samplerate) == ("FLAC", "PCM_16", 16000)
    y, sr = decode(root / "a.wav", sr=None, mono=True)
    want = to_pcm16(apply_recipe(y, sr, recipe, parent_key="a.wav#h", variant=0))
    got, _ = sf.read(values["path"], dtype="int16")
    np.testing.assert_array_equal(got, want)
    assert values["frames"] == len(want) and values["content_hash"]
    assert os.path.commonpath([str(out_dir), values["path"]]) == str(out_dir)


def test_augment_stores_derived_clips_with_their_lineage_and_a_rerun_adds_nothing(sc, data_dir):
    parents = sc.page_samples(SampleQuery("sc", labels=("yes",), sort="id"), page_size=200)
    assert len(parents) == 8
    report = augment_dataset("sc", RECIPE, name="loud", variants=2, label="yes", db=sc, workers=1)
    assert (report.created, report.existing, report.failed) == (16, 0, [])
    derived = _derived(sc)
    assert len(derived) == 16
    by_id = {p.id: p for p in parents}
    recipe = recipe_from_yaml(RECIPE)
    lineage = _lineage(sc)
    assert sorted(lineage) == [d.id for d in derived]
    assert sorted((parent, variant) for parent, _, variant, _ in lineage.values()) == sorted(
        (p, v) for p in by_id for v in (0, 1)
    )
    for d in derived:
        assert d.label == "yes" and d.path.endswith(".flac")
        assert os.path.commonpath([str(data_dir), d.path]) == str(data_dir)
        parent_id, recipe_id, variant, seed = lineage[d.id]
        p = by_id[parent_id]
        assert recipe_id == report.recipe_id
        assert seed == variant_seed(recipe, parent_key=parent_key(p.path, p.content_hash), variant=variant)
        assert d.split == p.split and d.speaker == p.speaker
        # The stored audio is the recipe applied to the parent by hand.
        y, sr = decode(p_file(sc, p), sr=None, mono=True)
        want = to_pcm16(
            apply_recipe(y, sr, recipe, parent_key=parent_key(p.path, p.content_hash), variant=variant)
        )
        np.testing.assert_array_equal(sf.read(d.path, dtype="int16")[0], want)
    # Idempotent: the same recipe and seeds add nothing.
    again = augment_dataset("sc", RECIPE, name="loud", variants=2, label="yes", db=sc, workers=1)
    assert (again.created, again.existing, again.recipe_id) == (0, 16, report.recipe_id)
    # One more variant makes only the new one.
    more = augment_dataset("sc", RECIPE, name="loud", variants=3, label="yes", db=sc, workers=1)
    assert (more.created, more.existing) == (8, 16)
    # Derived clips are never parents.
    assert (
        len(sc.page_samples(SampleQuery("sc", origin="original"), page_size=200))
        == len(sc.page_samples(SampleQuery("sc"), page_size=200)) - 24
    )


def test_the_pool_makes_the_same_bytes_as_one_process(sc, tmp_path, monkeypatch):
    one = augment_dataset("sc", RECIPE, name="one", variants=1, split="train", db=sc, workers=1)
    files_one = {os.path.basename(d.path): open(d.path, "rb").read() for d in _derived(sc)}
    assert delete_augmented("sc", "one", db=sc) == one.created
    monkeypatch.setenv("AUDIOSOUP_DATA_DIR", str(tmp_path / "data2"))
    pool = augment_dataset(
        "sc", RECIPE, name="one", variants=1, split="train", db=sc, workers=2, batch_size=3
    )
    assert pool.created == one.created > 0
    files_pool = {os.path.basename(d.path): open(d.path, "rb").read() for d in _derived(sc)}
    assert files_pool == files_one


def test_a_missing_parent_file_costs_one_item(sc, tmp_path):
    victim = sc.page_samples(SampleQuery("sc", labels=("no",), sort="id"), page_size=1)[0]
    os.remove(tmp_path / "sc" / victim.path)
    report = augment_dataset("sc", RECIPE, name="n", label="no", db=sc, workers=1)
    # 8 "no" clips were written, one broken at load (not stored) and one removed now.
    assert report.created == 7 and len(report.failed) == 1
    assert report.failed[0]["path"] == victim.path
    again = augment_dataset("sc", RECIPE, name="n", label="no", db=sc, workers=1)
    assert (again.created, again.existing, len(again.failed)) == (0, 7, 1)


def test_deleting_a_recipe_removes_its_rows_and_files_only(sc, data_dir):
    a = augment_dataset("sc", RECIPE, name="a", label="up", db=sc, workers=1)
    b = augment_dataset("sc", RECIPE.replace("seed: 3", "seed: 4"), name="b", label="up", db=sc, workers=1)
    assert a.created == b.created == 8
    files = {d.path for d in _derived(sc)}
    assert len(files) == 16 and all(os.path.isfile(f) for f in files)
    assert delete_augmented("sc", "a", db=sc) == 8
    left = {d.path for d in _derived(sc)}
    assert len(left) == 8
    assert all(os.path.isfile(f) for f in left)
    assert not any(os.path.exists(f) for f in files - left)
    with pytest.raises(NotFoundError):
        delete_augmented("sc", "nope", db=sc)


def test_derived_clips_get_features_like_loaded_ones(sc):
    from audiosoup_widgets.jobs.compute import compute_dataset

    augment_dataset("sc", RECIPE, name="f", label="yes", db=sc, workers=1)
    report = compute_dataset(sc, "sc", features=["mfcc"], workers=1)
    assert not [f for f in report.failed if f["path"].endswith(".flac")]
    assert report.done == sc.get_dataset("sc").n_samples


def test_bad_input_is_refused_in_one_line(sc, tmp_path):
    with pytest.raises(RecipeError):
        augment_dataset("sc", "seed: 0\nsteps:\n  - Gain: {min_gain_db: 99}\n", db=sc)
    with pytest.raises(ConfigError, match="variants"):
        augment_dataset("sc", RECIPE, variants=0, db=sc)
    with pytest.raises(NotFoundError):
        augment_dataset("nope", RECIPE, db=sc)
    recipe_file = tmp_path / "r.yaml"
    recipe_file.write_text(RECIPE)
    assert augment_dataset("sc", recipe_file, name="file", label="up", db=sc, workers=1).created == 8


def test_the_quality_backfill_measures_derived_clips_in_their_folder(sc):
    from audiosoup_widgets.jobs.quality import backfill_quality

    augment_dataset("sc", RECIPE, name="q", label="up", db=sc, workers=1)
    with sc.engine.begin() as conn:
        measured = (
            conn.execute(text("SELECT pcm_hash FROM samples WHERE parent_id IS NOT NULL")).scalars().all()
        )
        conn.execute(
            text("UPDATE samples SET quality_version = NULL, pcm_hash = NULL WHERE parent_id IS NOT NULL")
        )
    report = backfill_quality("sc", db=sc, workers=1)
    assert report.todo == 8 and not report.failed
    with sc.engine.connect() as conn:
        again = conn.execute(text("SELECT pcm_hash FROM samples WHERE parent_id IS NOT NULL")).scalars().all()
    assert sorted(again) == sorted(measured) and all(again)


@pytest.mark.slow
def test_a_dask_local_cluster_makes_the_same_bytes(sc, tmp_path, monkeypatch):
    one = augment_dataset("sc", RECIPE, name="d", label="yes", db=sc, workers=1)
    want = {os.path.basename(d.path): open(d.path, "rb").read() for d in _derived(sc)}
    delete_augmented("sc", "d", db=sc)
    monkeypatch.setenv("AUDIOSOUP_DATA_DIR", str(tmp_path / "data3"))
    rep = augment_dataset("sc", RECIPE, name="d", label="yes", db=sc, workers=2, dask="local", batch_size=3)
    assert rep.created == one.created == 8 and rep.scheduler == "dask:local"
    assert {os.path.basename(d.path): open(d.path, "rb").read() for d in _derived(sc)} == want
