"""``audiosoup augment``: the same recipe on two databases gives bit-identical PCM and the same
lineage; a rerun adds nothing; ``--delete`` removes a recipe's clips; refusals are one line."""

from __future__ import annotations

import os

import numpy as np
import pytest
import soundfile as sf
from datasets import make_speech_commands
from sqlalchemy import text

from audiosoup_widgets.cli import main
from audiosoup_widgets.jobs.ingest import load_dataset
from audiosoup_widgets.store import Store

RECIPE = """\
seed: 11
steps:
  - Gain: {min_gain_db: -9.0, max_gain_db: 9.0}
  - AddGaussianSNR: {min_snr_db: 10.0, max_snr_db: 30.0}
  - Shift: {min_shift: -0.3, max_shift: 0.3}
  - LowPassFilter: {min_cutoff_freq: 2000.0, max_cutoff_freq: 6000.0}
"""


@pytest.fixture(autouse=True)
def quiet(tmp_path, monkeypatch):
    monkeypatch.setenv("AUDIOSOUP_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("AUDIOSOUP_NO_PROGRESS", "1")


@pytest.fixture
def folder(tmp_path):
    make_speech_commands(tmp_path / "sc")
    (tmp_path / "recipe.yaml").write_text(RECIPE)
    return tmp_path


def _sqlite(path) -> Store:
    store = Store(f"sqlite:///{path}")
    store.upgrade()
    return store


def _pairs(store: Store) -> dict[tuple[str, str, int], tuple[str, int]]:
    """(parent path, recipe name, variant) -> (derived file, seed) of every derived clip."""
    with store.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT p.path, r.name, s.aug_variant, s.path, s.aug_seed FROM samples s "
                "JOIN samples p ON p.id = s.parent_id JOIN aug_recipes r ON r.id = s.recipe_id"
            )
        ).all()
    return {(r[0], r[1], r[2]): (r[3], r[4]) for r in rows}


def _run_twice_and_compare(first: Store, second: Store, folder, capsys) -> None:
    for store in (first, second):
        load_dataset(store, folder / "sc", dataset="sc", workers=1)
        args = ["augment", "--dataset", "sc", "--recipe", str(folder / "recipe.yaml"), "--variants", "2"]
        code = main([*args, "--name", "mix", "--db", store.url, "--workers", "1"])
        out = capsys.readouterr().out
        assert code == 0
        # 25 clips are stored (26 files, one broken): 2 variants each.
        assert "50 clips created, 0 already stored, 0 failed" in out
        assert " s, " in out and "clips/s" in out
    a, b = _pairs(first), _pairs(second)
    assert len(a) == 50 and a.keys() == b.keys()
    for key, (file_a, seed_a) in a.items():
        file_b, seed_b = b[key]
        assert file_a != file_b  # each database has its own files
        assert seed_a == seed_b
        pcm_a, sr_a = sf.read(file_a, dtype="int16")
        pcm_b, sr_b = sf.read(file_b, dtype="int16")
        assert sr_a == sr_b and pcm_a.dtype == np.int16
        assert pcm_a.tobytes() == pcm_b.tobytes(), key
        assert sf.info(file_a).subtype == "PCM_16"
    # The variants differ from each other: the seed is per variant.
    some = next(iter(a))
    other = (some[0], some[1], 1 - some[2])
    assert sf.read(a[some][0], dtype="int16")[0].tobytes() != sf.read(a[other][0], dtype="int16")[0].tobytes()


def test_two_sqlite_databases_get_bit_identical_derived_clips(folder, tmp_path, capsys):
    _run_twice_and_compare(_sqlite(tmp_path / "a.sqlite3"), _sqlite(tmp_path / "b.sqlite3"), folder, capsys)


@pytest.mark.postgres
def test_sqlite_and_postgresql_get_bit_identical_derived_clips(folder, tmp_path, pg_store, capsys):
    _run_twice_and_compare(_sqlite(tmp_path / "a.sqlite3"), pg_store, folder, capsys)


def test_a_rerun_adds_nothing_and_delete_removes_the_clips(folder, tmp_path, capsys):
    store = _sqlite(tmp_path / "s.sqlite3")
    load_dataset(store, folder / "sc", dataset="sc", workers=1)
    args = ["augment", "--dataset", "sc", "--recipe", str(folder / "recipe.yaml"), "--db", store.url]
    assert main([*args, "--label", "yes", "--split", "train", "--name", "r", "--workers", "2"]) == 0
    assert "4 clips created, 0 already stored" in capsys.readouterr().out
    assert main([*args, "--label", "yes", "--split", "train", "--name", "r", "--workers", "2"]) == 0
    assert "0 clips created, 4 already stored" in capsys.readouterr().out
    files = [f for f, _ in _pairs(store).values()]
    assert len(files) == 4 and all(os.path.isfile(f) for f in files)
    assert main(["augment", "--dataset", "sc", "--delete", "r", "--db", store.url]) == 0
    assert "deleted 4 derived clips" in capsys.readouterr().out
    assert _pairs(store) == {} and not any(os.path.exists(f) for f in files)


@pytest.mark.parametrize(
    "extra, words",
    [
        ([], "--recipe FILE is required"),
        (["--recipe", "missing.yaml"], "cannot read the recipe file missing.yaml"),
        (["--recipe", "RECIPE", "--variants", "0"], "--variants must be between 1 and 1000"),
        (["--recipe", "RECIPE", "--workers", "0"], "--workers must be 1 or more"),
        (["--delete", "nope"], "nope"),
    ],
)
def test_bad_input_is_one_line(folder, tmp_path, capsys, extra, words):
    store = _sqlite(tmp_path / "s.sqlite3")
    load_dataset(store, folder / "sc", dataset="sc", workers=1)
    extra = [str(folder / "recipe.yaml") if e == "RECIPE" else e for e in extra]
    assert main(["augment", "--dataset", "sc", "--db", store.url, *extra]) == 2
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err and err.count("\n") == 1
