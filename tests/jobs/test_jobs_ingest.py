"""Loader: layouts, broken files, idempotence, resumability and the CLI, on both databases."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import soundfile as sf
from audio_fixtures import make_mixed_folder
from datasets import make_speech_commands
from signals import tone
from sqlalchemy import text

from audiosoup_widgets.cli import main
from audiosoup_widgets.jobs.ingest import load_dataset
from audiosoup_widgets.layouts import detect_layout
from audiosoup_widgets.store import SampleQuery, Store


def test_speech_commands_layout(store: Store, tmp_path):
    make_speech_commands(tmp_path / "sc")
    assert detect_layout(tmp_path / "sc") == "speech-commands"
    report = load_dataset(store, tmp_path / "sc", dataset="sc", layout="speech-commands", workers=2)
    assert report.loaded == 25 and report.skipped == []
    assert store.count_samples(SampleQuery("sc", split="train")) == 12
    assert store.count_samples(SampleQuery("sc", split="validation")) == 6
    assert store.count_samples(SampleQuery("sc", split="test")) == 6
    bg = store.page_samples(SampleQuery("sc", labels=("_background_noise_",)))
    assert len(bg) == 1 and bg[0].duration == pytest.approx(5.0) and bg[0].split is None
    yes = store.page_samples(SampleQuery("sc", labels=("yes",)), page_size=50)
    assert {r.speaker for r in yes} == {"0a7c2a8d", "1b2c3d4e", "9f8e7d6c", "c0ffee00"}
    rec = yes[0]
    assert (rec.format, rec.sample_rate, rec.channels, rec.frames) == ("WAV", 16000, 1, 16000)
    assert rec.peaks and len(rec.content_hash) == 64


def test_mixed_real_world_folder(store: Store, tmp_path):
    root = tmp_path / "mixed"
    expected = make_mixed_folder(root)
    report = load_dataset(store, root, dataset="mixed", layout="folders", workers=2)
    skipped = {s["path"]: s["reason"] for s in report.skipped}
    want_skipped = {p: r for p, r in expected.items() if r is not None}
    want_loaded = {p for p, r in expected.items() if r is None}

    def text(p: str) -> str:
        return os.fsencode(p).decode("utf-8", "backslashreplace")

    assert skipped == {text(p): r for p, r in want_skipped.items()}
    assert report.loaded == len(want_loaded)
    assert all(s["message"] and "\n" not in s["message"] for s in report.skipped)
    stored = {r.path for r in store.page_samples(SampleQuery("mixed"), page_size=200)}
    assert stored == {text(p) for p in want_loaded}
    # The run record keeps the counts and the skipped files.
    run = store.list_load_runs("mixed")[0]
    assert (run.status, run.n_loaded, run.n_skipped) == ("completed", report.loaded, len(want_skipped))
    assert {f[0] for f in run.failures} == set(skipped)
    # Idempotent: a second run adds nothing and decodes nothing already stored.
    again = load_dataset(store, root, dataset="mixed", layout="folders", workers=2)
    assert again.loaded == 0 and again.existing == len(want_loaded)
    assert store.count_samples(SampleQuery("mixed")) == len(want_loaded)


def test_format_comes_from_content(store: Store, tmp_path):
    (tmp_path / "d" / "a").mkdir(parents=True)
    sf.write(tmp_path / "d" / "a" / "really_flac.wav", tone(level=0.3), 16000, format="FLAC")
    load_dataset(store, tmp_path / "d", dataset="d", workers=1)
    rec = store.page_samples(SampleQuery("d"))[0]
    assert rec.format == "FLAC" and rec.label == "a"


def test_manifest_layout(store: Store, tmp_path):
    (tmp_path / "clips").mkdir()
    for i in range(3):
        sf.write(tmp_path / "clips" / f"c{i}.wav", tone(freq=300 + i, level=0.3), 16000)
    (tmp_path / "manifest.csv").write_text(
        "path,label,split,text\n"
        "clips/c0.wav,dog,train,a bark\n"
        "clips/c1.wav,cat,test,\n"
        "clips/c2.wav,cat,validation,<script>x</script>\n"
        "../outside.wav,cat,train,\n"
    )
    assert detect_layout(tmp_path) == "manifest"
    report = load_dataset(store, tmp_path / "manifest.csv", dataset="m", layout="auto", workers=1)
    assert report.loaded == 3
    assert [(s["path"], s["reason"]) for s in report.skipped] == [("../outside.wav", "outside_root")]
    recs = {r.path: r for r in store.page_samples(SampleQuery("m"))}
    assert recs["clips/c0.wav"].text == "a bark" and recs["clips/c0.wav"].label == "dog"
    assert recs["clips/c2.wav"].text == "<script>x</script>"
    assert recs["clips/c1.wav"].split == "test"


def test_resume_after_lost_rows(store: Store, tmp_path):
    make_speech_commands(tmp_path / "sc")
    first = load_dataset(store, tmp_path / "sc", dataset="sc", workers=1)
    with store.engine.begin() as conn:
        conn.execute(text("DELETE FROM samples WHERE id % 3 = 0"))
    lost = first.loaded - store.count_samples(SampleQuery("sc"))
    assert lost > 0
    resumed = load_dataset(store, tmp_path / "sc", dataset="sc", workers=1)
    assert resumed.loaded == lost and resumed.existing == first.loaded - lost
    assert store.count_samples(SampleQuery("sc")) == first.loaded


@pytest.mark.slow
def test_killed_load_resumes_to_the_same_rows(store: Store, tmp_path):
    root = tmp_path / "many" / "tone"
    root.mkdir(parents=True)
    y = tone(seconds=0.05, level=0.3)
    for i in range(1600):
        sf.write(root / f"{i:05d}.wav", y * (1 + i % 7) / 8, 16000, subtype="PCM_16")
    env = {**os.environ, "AUDIOSOUP_NO_PROGRESS": "1"}
    cmd = [
        sys.executable,
        "-m",
        "audiosoup_widgets.cli",
        "load",
        str(tmp_path / "many"),
        "--dataset",
        "many",
        "--db",
        store.url,
        "--workers",
        "2",
    ]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    import time

    deadline = time.monotonic() + 60
    ds = None
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            ds = store.get_dataset("many")
        except Exception:  # noqa: BLE001 - not created yet
            ds = None
        if ds is not None and ds.n_samples >= 500:
            break
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    partial = store.count_samples(SampleQuery("many"))
    assert subprocess.run(cmd, env=env, capture_output=True, timeout=300).returncode == 0
    assert store.count_samples(SampleQuery("many")) == 1600
    paths = [r.path for r in store.page_samples(SampleQuery("many", sort="path"), page_size=200)]
    assert paths[0] == "tone/00000.wav" and len(set(paths)) == 200
    assert partial <= 1600
    runs = store.list_load_runs("many")
    assert runs[0].status == "completed"
    assert all(r.status in ("completed", "interrupted") for r in runs[1:])


def test_cli_load_report_and_exit_codes(tmp_path, capsys):
    db = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    make_speech_commands(tmp_path / "sc")
    (tmp_path / "sc" / "yes" / "broken.wav").write_bytes(b"RIFF not really")
    report_file = tmp_path / "report.json"
    code = main(["load", str(tmp_path / "sc"), "--dataset", "sc", "--db", db, "--report", str(report_file)])
    out = capsys.readouterr().out
    assert code == 0
    assert "25 loaded" in out and "broken.wav" in out
    rep = json.loads(report_file.read_text())
    assert rep["dataset"] == "sc" and rep["loaded"] == 25
    assert [(s["path"], s["reason"]) for s in rep["skipped"]] == [("yes/broken.wav", "not_audio")]
    assert (
        main(["load", str(tmp_path / "sc"), "--dataset", "sc", "--db", db, "--report", str(report_file)]) == 0
    )
    assert json.loads(report_file.read_text())["loaded"] == 0
    # Fatal errors: one line, non-zero, no traceback.
    capsys.readouterr()
    assert main(["load", str(tmp_path / "missing"), "--dataset", "x", "--db", db]) != 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err and "not found" in err


def test_cli_unreachable_database_is_one_line(tmp_path):
    make_speech_commands(tmp_path / "sc")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "audiosoup_widgets.cli",
            "load",
            str(tmp_path / "sc"),
            "--dataset",
            "sc",
            "--db",
            "postgresql+psycopg2://nobody@127.0.0.1:1/none",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().count("\n") == 0 and "database" in proc.stderr
