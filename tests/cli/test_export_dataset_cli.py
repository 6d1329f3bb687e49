"""``audiosoup export-dataset``: every format read back, the edited labels in it, refusals in one line."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from datasets import make_curation_manifest

from audiosoup_widgets.cli import main
from audiosoup_widgets.jobs.ingest import load_dataset
from audiosoup_widgets.store import SampleQuery, Store


@pytest.fixture
def cur(tmp_path) -> Store:
    """Dataset ``cur`` on SQLite with ``a/one.wav`` relabelled cat -> dog by ``ana``."""
    store = Store(f"sqlite:///{tmp_path / 'cur.sqlite3'}")
    store.upgrade()
    make_curation_manifest(tmp_path / "data")
    load_dataset(store, tmp_path / "data", dataset="cur", workers=1)
    [one] = [r for r in store.page_samples(SampleQuery(dataset="cur")) if r.path == "a/one.wav"]
    store.update_sample(one.id, version=one.version, reviewer="ana", label="dog", reason="it barks")
    return store


def test_audiofolder_reads_back_with_pandas_with_the_edited_label(cur, tmp_path, capsys):
    out = tmp_path / "hf"
    code = main(["export-dataset", "--dataset", "cur", "--format", "audiofolder", "--output", str(out),
                 "--copy-audio", "--db", cur.url])  # fmt: skip
    assert code == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines == [f"wrote 4 rows as audiofolder to {out}, 4 audio files copied"]
    meta = pd.read_csv(out / "metadata.csv", keep_default_na=False)
    assert meta.columns[0] == "file_name"
    row = meta.set_index("file_name").loc["train/a/one.wav"]
    assert (row["label"], row["label_edited_by"], row["label_edit_reason"]) == ("dog", "ana", "it barks")
    assert (out / "train" / "a" / "one.wav").is_file() and (out / "unsplit" / "-dash.wav").is_file()
    assert meta.set_index("file_name").loc["train/a/two.wav", "text"] == "'=1+2"  # spreadsheet-safe


@pytest.mark.parametrize("fmt", ["manifest-csv", "jsonl", "label-studio"])
def test_each_file_format_holds_the_edited_label(cur, tmp_path, capsys, fmt):
    out = tmp_path / f"cur.{fmt}"
    assert (
        main(["export-dataset", "--dataset", "cur", "--format", fmt, "--output", str(out), "--db", cur.url])
        == 0
    )
    assert capsys.readouterr().out.strip() == f"wrote 4 rows as {fmt} to {out}"
    if fmt == "manifest-csv":
        labels = dict(zip(pd.read_csv(out)["path"], pd.read_csv(out)["label"], strict=True))
        assert labels["data/a/one.wav"] == "dog" and labels["data/a/two.wav"] == "cat"
    elif fmt == "jsonl":
        rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
        assert {r["path"]: r["label"] for r in rows}["data/a/one.wav"] == "dog"
    else:
        tasks = {t["data"]["path"]: t for t in json.loads(out.read_text(encoding="utf-8"))}
        assert tasks["a/one.wav"]["annotations"][0]["result"][0]["value"] == {"choices": ["dog"]}


def test_refusals_are_one_line_and_write_nothing(cur, tmp_path, capsys):
    base = ["export-dataset", "--db", cur.url]
    assert main([*base, "--dataset", "nope", "--format", "jsonl", "--output", str(tmp_path / "x.jsonl")]) == 2
    assert capsys.readouterr().err.strip() == "audiosoup: error: no dataset named 'nope'"
    full = tmp_path / "full"
    full.mkdir()
    (full / "keep.txt").write_text("x")
    assert main([*base, "--dataset", "cur", "--format", "audiofolder", "--output", str(full)]) == 2
    err = capsys.readouterr().err
    assert "is not empty" in err and "--force" in err and len(err.strip().splitlines()) == 1
    assert main([*base, "--dataset", "cur", "--format", "jsonl", "--output", str(tmp_path / "no" / "x")]) == 2
    assert "no such folder" in capsys.readouterr().err
    assert main([*base, "--dataset", "cur", "--format", "jsonl", "--copy-audio",
                 "--output", str(tmp_path / "y.jsonl")]) == 2  # fmt: skip
    assert "audiofolder format only" in capsys.readouterr().err
    written = sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("cur.sqlite3"))
    assert written == ["data", "full"]
    assert main([*base, "--dataset", "cur", "--format", "audiofolder", "--output", str(full), "--force"]) == 0
    assert sorted(p.name for p in full.iterdir()) == ["metadata.csv"]
