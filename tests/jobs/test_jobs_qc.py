"""``audiosoup qc`` on a dataset with planted problems: each is found under its kind, clean clips never.

The dataset is real audio in the Speech Commands layout, loaded by the real loader;
the check measures, featurises and searches it end to end, through the command line.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from signals import noise, word

from audiosoup_widgets.cli import main
from audiosoup_widgets.jobs.ingest import load_dataset
from audiosoup_widgets.jobs.qc import run_qc
from audiosoup_widgets.store import Store

SR = 16000
LABELS = ("yes", "no", "up", "down")
SPEAKERS = [f"{i:02d}c0ffee" for i in range(8)]  # 0-5 train, 6 validation, 7 test


def _clip(label: int, speaker: int, n: int) -> np.ndarray:
    y = word(
        SR,
        f0=140 + 23 * speaker + 9 * label + 3 * n,
        level=0.25 + 0.04 * ((speaker + n) % 5),
        seed=97 * speaker + 13 * label + n,
    )
    # A quiet room, not digital silence, around every word.
    return (y + noise(SR, seconds=1.0, seed=1000 + 97 * speaker + 13 * label + n, level=0.002)).astype(
        np.float32
    )


def make_planted(root: Path) -> dict[str, str]:
    """Write the dataset; return planted name -> relative path."""
    validation, testing = [], []
    for li, lab in enumerate(LABELS):
        (root / lab).mkdir(parents=True)
        for si, spk in enumerate(SPEAKERS):
            for n in range(3):
                rel = f"{lab}/{spk}_nohash_{n}.wav"
                sf.write(root / rel, _clip(li, si, n), SR, subtype="PCM_16")
                if si == 6:
                    validation.append(rel)
                elif si == 7:
                    testing.append(rel)
    planted = {
        # The same file copied under another label.
        "copy_src": f"yes/{SPEAKERS[0]}_nohash_0.wav",
        "copy": f"no/{SPEAKERS[0]}_nohash_9.wav",
        # The same audio re-encoded as FLAC (same PCM, other container).
        "flac_src": f"up/{SPEAKERS[1]}_nohash_1.wav",
        "flac": f"up/{SPEAKERS[1]}_nohash_8.flac",
        "clipped": f"down/{SPEAKERS[2]}_nohash_7.wav",
        "silent": f"yes/{SPEAKERS[3]}_nohash_7.wav",
        # One speaker in train and in test.
        "leak_train": "no/leaky000_nohash_0.wav",
        "leak_test": "up/leaky000_nohash_1.wav",
    }
    shutil.copyfile(root / planted["copy_src"], root / planted["copy"])
    y, _ = sf.read(root / planted["flac_src"], dtype="int16")
    sf.write(root / planted["flac"], y, SR, format="FLAC", subtype="PCM_16")
    loud = np.clip(_clip(3, 2, 7) * 8.0, -1.0, 1.0)
    sf.write(root / planted["clipped"], loud, SR, subtype="PCM_16")
    sf.write(root / planted["silent"], np.zeros(SR, np.float32), SR, subtype="PCM_16")
    sf.write(root / planted["leak_train"], _clip(1, 4, 5) * 0.9, SR, subtype="PCM_16")
    sf.write(root / planted["leak_test"], _clip(2, 5, 6) * 0.9, SR, subtype="PCM_16")
    testing.append(planted["leak_test"])
    (root / "validation_list.txt").write_text("\n".join(validation) + "\n")
    (root / "testing_list.txt").write_text("\n".join(testing) + "\n")
    return planted


@pytest.mark.slow
def test_qc_reports_every_planted_problem_and_nothing_on_clean_clips(store: Store, tmp_path, capsys):
    planted = make_planted(tmp_path / "planted")
    load_dataset(store, tmp_path / "planted", dataset="planted", workers=1)
    report_path = tmp_path / "qc.json"
    code = main(
        ["qc", "--dataset", "planted", "--db", store.url, "--report", str(report_path), "--workers", "1"]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    data = json.loads(report_path.read_text())
    assert data["dataset"] == "planted"
    ids = {r: i for i, r in zip(*_ids_paths(store), strict=True)}
    by_kind: dict[str, list[set[int]]] = {}
    for f in data["findings"]:
        assert len(f["sample_ids"]) == len(f["paths"]) and f["detail"]
        assert [ids[p] for p in f["paths"]] == f["sample_ids"]
        by_kind.setdefault(f["kind"], []).append(set(f["sample_ids"]))
    p = {k: ids[v] for k, v in planted.items()}
    assert {p["copy_src"], p["copy"]} in by_kind["exact_duplicate"]
    assert {p["flac_src"], p["flac"]} in by_kind["exact_duplicate"]
    assert any(p["clipped"] in s for s in by_kind["clipping"])
    assert any(p["silent"] in s for s in by_kind["silence"])
    assert any({p["leak_train"], p["leak_test"]} <= s for s in by_kind["split_leak"])
    flagged = set().union(*(s for sets in by_kind.values() for s in sets))
    assert flagged <= set(p.values()), f"clean clips flagged: {_names(ids, flagged - set(p.values()))}"
    # Stored with the run, and the summary names each kind.
    stored = store.list_findings("planted")
    assert sorted(f.kind for f in stored) == sorted(f["kind"] for f in data["findings"])
    for kind in ("exact_duplicate", "clipping", "silence", "split_leak"):
        assert kind in out


def _ids_paths(store: Store) -> tuple[list[int], list[str]]:
    rows = store.sample_table("planted")
    return [r[0] for r in rows], [r[1] for r in rows]


def _names(ids: dict[str, int], flagged: set[int]) -> list[str]:
    back = {v: k for k, v in ids.items()}
    return sorted(back[i] for i in flagged)


@pytest.mark.slow
def test_a_rerun_measures_only_new_clips_and_replaces_the_findings(tmp_path):
    sqlite_store = Store(f"sqlite:///{tmp_path / 'qc.sqlite3'}")
    sqlite_store.upgrade()
    make_planted(tmp_path / "planted")
    load_dataset(sqlite_store, tmp_path / "planted", dataset="planted", workers=1)
    first = run_qc("planted", db=sqlite_store, workers=1)
    assert first.measured == 0  # measured at ingest already
    again = run_qc("planted", db=sqlite_store, workers=1)
    assert again.measured == 0 and again.features_computed == 0
    assert [f.sample_ids for f in again.findings] == [f.sample_ids for f in first.findings]
    assert len(sqlite_store.list_findings("planted")) == len(first.findings)  # replaced, not added
