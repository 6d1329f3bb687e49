"""A newcomer's first steps: the demo has features at once; missing features say what to run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from datasets import make_speech_commands

import audiosoup_widgets
from audiosoup_widgets import feature_frame
from audiosoup_widgets.cli import main
from audiosoup_widgets.errors import FeatureError
from audiosoup_widgets.jobs.compute import compute_dataset
from audiosoup_widgets.jobs.ingest import load_dataset

PACKAGE_PARENT = str(Path(audiosoup_widgets.__file__).resolve().parents[1])


def test_feature_frame_and_export_say_what_to_run_before_features_exist(store, tmp_path, capsys):
    make_speech_commands(tmp_path / "sc")
    load_dataset(store, tmp_path / "sc", dataset="my set", workers=1)
    with pytest.raises(FeatureError) as info:
        feature_frame("my set", db=store)
    assert info.value.code == "not_computed"
    assert "audiosoup features compute --dataset 'my set'" in info.value.message
    compute_dataset(store, "my set", features=["mfcc"], workers=1)
    assert feature_frame("my set", ["mfcc"], db=store)["mfcc_mean_0"].notna().all()
    with pytest.raises(FeatureError, match="--features chroma"):
        feature_frame("my set", ["mfcc", "chroma"], db=store)
    code = main(
        [
            "export",
            "--dataset",
            "my set",
            "--features",
            "chroma",
            "--format",
            "csv",
            "--output",
            str(tmp_path / "out.csv"),
            "--db",
            store.url,
        ]
    )
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert err.startswith("audiosoup: error: no summaries of chroma are stored")
    assert not (tmp_path / "out.csv").exists()


@pytest.mark.slow
def test_demo_computes_the_features_once(tmp_path):
    env = dict(os.environ, AUDIOSOUP_DATA_DIR=str(tmp_path / "data"), AUDIOSOUP_NO_PROGRESS="1")
    env.pop("AUDIOSOUP_DATABASE_URL", None)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (PACKAGE_PARENT, env.get("PYTHONPATH")) if p)
    cmd = [sys.executable, "-m", "audiosoup_widgets.cli", "demo", "--no-serve"]
    first = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, first.stderr[-2000:]
    assert "148 computed" in first.stdout and "0 failed" in first.stdout
    code = (
        "import audiosoup_widgets as asw; df = asw.feature_frame('speech-commands-mini'); "
        "print(len(df), int(df.filter(like='_mean_').notna().all(axis=1).sum()))"
    )
    frame = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert frame.returncode == 0, frame.stderr[-2000:]
    assert frame.stdout.split() == ["148", "148"]
    again = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and "computed" not in again.stdout
