"""``audiosoup qc``: options, refusals in one line, and the summary and report of a small dataset."""

from __future__ import annotations

import json

import pytest
from datasets import make_speech_commands

from audiosoup_widgets.cli import main
from audiosoup_widgets.jobs.ingest import load_dataset
from audiosoup_widgets.store import Store


@pytest.fixture
def sc(tmp_path) -> Store:
    store = Store(f"sqlite:///{tmp_path / 'qc.sqlite3'}")
    store.upgrade()
    make_speech_commands(tmp_path / "sc")
    load_dataset(store, tmp_path / "sc", dataset="sc", workers=1)
    return store


@pytest.mark.parametrize(
    "option, value, words",
    [
        ("--clip-ratio", "1.5", "clip_ratio"),
        ("--near-duplicate", "-1", "near_duplicate"),
        ("--imbalance", "x", "invalid float value"),
    ],
)
def test_a_bad_threshold_is_refused_in_one_line_before_any_work(sc, capsys, option, value, words):
    with pytest.raises(SystemExit) if value == "x" else _no_raise():
        code = main(["qc", "--dataset", "sc", "--db", sc.url, option, value])
        assert code == 2
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err
    assert sc.latest_qc_run("sc") is None  # nothing ran


def test_an_unknown_dataset_and_an_unwritable_report_are_one_line(sc, capsys, tmp_path):
    assert main(["qc", "--dataset", "nope", "--db", sc.url]) == 2
    assert "no dataset named 'nope'" in capsys.readouterr().err
    assert main(["qc", "--dataset", "sc", "--db", sc.url, "--report", str(tmp_path / "no" / "r.json")]) == 2
    assert "no such folder" in capsys.readouterr().err


def test_qc_without_features_reports_and_stores_the_findings(sc, capsys, tmp_path):
    report = tmp_path / "qc.json"
    code = main(["qc", "--dataset", "sc", "--db", sc.url, "--no-features", "--report", str(report)])
    out = capsys.readouterr().out
    assert code == 0
    data = json.loads(report.read_text())
    assert data["dataset"] == "sc" and isinstance(data["findings"], list)
    assert "near duplicates not searched" in out  # said, not silently skipped
    # The background-noise folder holds 1 clip against a mean class of 25 / 4 = 6.25: above a
    # tenth of it, so not a small class; at --imbalance 0.2 (1.25) it is.
    assert not [f for f in data["findings"] if f["kind"] == "class_imbalance"]
    assert (
        main(
            [
                "qc",
                "--dataset",
                "sc",
                "--db",
                sc.url,
                "--no-features",
                "--imbalance",
                "0.2",
                "--report",
                str(report),
            ]
        )
        == 0
    )
    small = [f for f in json.loads(report.read_text())["findings"] if f["kind"] == "class_imbalance"]
    assert [f["paths"] for f in small] == [["_background_noise_/white_noise.wav"]]
    assert "class_imbalance" in capsys.readouterr().out
    assert sc.latest_qc_run("sc") is not None


class _no_raise:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_every_threshold_is_an_option_whose_help_shows_the_real_default():
    import dataclasses

    from audiosoup_widgets.analysis.qc import QcThresholds
    from audiosoup_widgets.cli import build_parser

    sub = next(a for a in build_parser()._subparsers._group_actions)
    actions = {a.dest: a for a in sub.choices["qc"]._actions}
    for f in dataclasses.fields(QcThresholds):
        assert f.name in actions, f.name
        assert f"(default: {f.default})" in actions[f.name].help
