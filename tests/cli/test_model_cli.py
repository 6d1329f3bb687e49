"""``audiosoup model`` and ``audiosoup suspects``: scores printed, the report's JSON, one-line refusals."""

from __future__ import annotations

import json

import pytest

from audiosoup_widgets.cli import main
from audiosoup_widgets.store import Store
from audiosoup_widgets.testing import seed_summaries, seed_synthetic

LABELS = ("yes", "no", "up", "down")


@pytest.fixture
def db(tmp_path) -> Store:
    store = Store(f"sqlite:///{tmp_path / 'model.sqlite3'}")
    store.upgrade()
    seed_synthetic(store, dataset="d", n=200, labels=LABELS)
    seed_summaries(store, "d", rows={"mfcc": 4, "chroma": 3}, spread=1.5)
    # Five clips relabelled by mistake: the suspects to find.
    table = [r for r in store.sample_table("d") if r[3] == "train"][:5]
    for sid, _, label, _ in table:
        store.update_sample(sid, version=1, reviewer="t", label=LABELS[(LABELS.index(label) + 1) % 4])
    return store


def test_model_fit_prints_the_scores_and_records_the_run(db, capsys):
    code = main(
        ["model", "fit", "--dataset", "d", "--features", "mfcc,chroma", "--db", db.url, "--reviewer", "ann"]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "cross-validated on train (5 folds, grouped by speaker)" in out
    assert "validation: accuracy" in out and "recall per label" in out and "confusion" in out
    run = db.latest_model_run("d")
    assert run is not None and run.reviewer == "ann" and run.features == ["mfcc", "chroma"]
    assert (
        main(["model", "fit", "--dataset", "d", "--features", "mfcc", "--model", "forest", "--db", db.url])
        == 0
    )
    assert "removing chroma and switching from logreg to forest" in capsys.readouterr().out
    assert main(["model", "history", "--dataset", "d", "--db", db.url]) == 0
    out = capsys.readouterr().out
    assert out.count("run ") == 2 and "balanced accuracy validation" in out


def test_suspects_writes_the_report_most_suspicious_first(db, capsys, tmp_path):
    report = tmp_path / "suspects.json"
    code = main(
        ["suspects", "--dataset", "d", "--features", "mfcc,chroma", "--db", db.url, "--report", str(report)]
    )
    assert code == 0
    data = json.loads(report.read_text())
    assert set(data) == {"dataset", "run", "suspects"} and data["dataset"] == "d"
    assert data["run"] == db.latest_model_run("d").id
    rows = data["suspects"]
    assert rows and all(set(r) == {"sample_id", "path", "label", "suggested", "score"} for r in rows)
    assert [r["score"] for r in rows] == sorted((r["score"] for r in rows), reverse=True)
    paths = {sid: path for sid, path, _, _ in db.sample_table("d")}
    assert all(r["path"] == paths[r["sample_id"]] for r in rows)
    edited = {e for e in paths if db.sample_history(e)}
    # cleanlab prunes by estimated noise rates: most, not necessarily all, of the five.
    assert len(edited & {r["sample_id"] for r in rows}) >= 4
    out = capsys.readouterr().out
    assert "label suspects in 'd'" in out
    # Without --features, the latest run's choices are used again.
    assert main(["suspects", "--dataset", "d", "--db", db.url]) == 0
    assert db.latest_model_run("d").features == ["mfcc", "chroma"]


def test_model_test_is_a_separate_labelled_step(db, capsys):
    assert main(["model", "fit", "--dataset", "d", "--features", "mfcc", "--db", db.url]) == 0
    assert db.latest_model_run("d").test_scores is None
    assert main(["model", "test", "--dataset", "d", "--db", db.url]) == 0
    assert "TEST SPLIT scored" in capsys.readouterr().out
    assert db.latest_model_run("d").test_scores is not None


@pytest.mark.parametrize(
    "argv, words",
    [
        (["model", "fit", "--dataset", "nope", "--features", "mfcc"], "no dataset named 'nope'"),
        (["model", "fit", "--dataset", "d", "--features", "mfcc,bogus"], "unknown feature or family 'bogus'"),
        (["model", "fit", "--dataset", "d", "--features", "tempogram"], "audiosoup features compute"),
        (["suspects", "--dataset", "d", "--run", "42"], "no model run 42"),
        (["model", "test", "--dataset", "d"], "has no model run yet"),
    ],
)
def test_bad_input_is_one_line(db, capsys, argv, words):
    assert main([*argv, "--db", db.url]) == 2
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err and err.count("\n") == 1


def test_a_bad_report_folder_and_a_bad_model_are_refused_before_any_work(db, capsys, tmp_path):
    assert (
        main(["suspects", "--dataset", "d", "--db", db.url, "--report", str(tmp_path / "no" / "s.json")]) == 2
    )
    assert "no such folder" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["model", "fit", "--dataset", "d", "--model", "svm", "--db", db.url])
    assert "invalid choice" in capsys.readouterr().err
    assert db.latest_model_run("d") is None
