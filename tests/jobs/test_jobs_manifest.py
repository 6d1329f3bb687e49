"""Bad manifest input: each bad row is one skipped row with a reason, on both databases."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import soundfile as sf
from datasets import make_speech_commands
from signals import tone

from audiosoup_widgets.cli import main
from audiosoup_widgets.jobs.compute import ComputeReport
from audiosoup_widgets.jobs.ingest import load_dataset
from audiosoup_widgets.store import SampleQuery, Store


def _clips(root: Path, *names: str) -> None:
    for i, name in enumerate(names):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        sf.write(root / name, tone(seconds=0.2, freq=300 + 20 * i, level=0.3), 16000)


def _manifest(
    root: Path,
    rows: list[list[str]],
    *,
    bom: bool = False,
    header: tuple[str, ...] = ("path", "label", "split", "speaker", "text"),
) -> Path:
    path = root / "manifest.csv"
    with open(path, "w", newline="", encoding="utf-8-sig" if bom else "utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _skipped(report) -> dict[str, str]:
    return {s["path"]: s["reason"] for s in report.skipped}


def _stored(store: Store, dataset: str) -> dict[str, object]:
    return {r.path: r for r in store.page_samples(SampleQuery(dataset), page_size=200)}


def _accounted(report) -> None:
    """Every row ends as loaded, already stored or skipped; the run record agrees."""
    assert report.found == report.loaded + report.existing + len(report.skipped)


def test_manifest_saved_with_a_byte_order_mark_loads(store: Store, tmp_path):
    _clips(tmp_path, "a.wav", "b.wav")
    _manifest(tmp_path, [["a.wav", "dog", "train", "", ""], ["b.wav", "cat", "test", "", ""]], bom=True)
    report = load_dataset(store, tmp_path, dataset="bom", workers=1)
    assert report.loaded == 2 and report.skipped == []
    stored = _stored(store, "bom")
    assert stored["a.wav"].label == "dog" and stored["b.wav"].split == "test"


def test_speech_commands_lists_with_a_byte_order_mark(store: Store, tmp_path):
    make_speech_commands(tmp_path / "sc")
    for name in ("validation_list.txt", "testing_list.txt"):
        lst = tmp_path / "sc" / name
        lst.write_bytes(b"\xef\xbb\xbf" + lst.read_bytes())
    load_dataset(store, tmp_path / "sc", dataset="sc", workers=1)
    assert store.count_samples(SampleQuery("sc", split="validation")) == 6
    assert store.count_samples(SampleQuery("sc", split="test")) == 6


def test_manifest_paths_are_normalised_and_repeats_reported(store: Store, tmp_path):
    root = tmp_path / "data"
    _clips(root, "a.wav", "c.wav", "d.wav", "sub/b.wav")
    _clips(tmp_path, "elsewhere.wav")  # a real file, next to the root but outside it
    (tmp_path / "link").symlink_to(root)  # the root under another name
    manifest = _manifest(
        root,
        [
            ["./a.wav", "dog", "train", "", ""],
            ["a.wav", "cat", "test", "", ""],  # the same file again
            ["sub/../c.wav", "dog", "val", "", ""],  # val is validation
            [str(root / "sub" / "b.wav"), "cat", "", "", ""],  # absolute, inside the root
            [str(tmp_path / "elsewhere.wav"), "dog", "", "", ""],
            ["../elsewhere.wav", "dog", "", "", ""],
            ["sub/../../elsewhere.wav", "dog", "", "", ""],
            ["", "dog", "train", "", ""],  # no path at all
            ["", "", "", "", ""],  # an empty row names no file
            [str(tmp_path / "link" / "d.wav"), "dog", "", "", ""],  # absolute, through a symlink
        ],
    )
    report = load_dataset(store, manifest, dataset="norm", workers=1)
    stored = _stored(store, "norm")
    assert set(stored) == {"a.wav", "c.wav", "d.wav", "sub/b.wav"}
    # The first row of a path counts; the repeat is reported, not a silent last-wins.
    assert stored["a.wav"].label == "dog" and stored["a.wav"].split == "train"
    assert stored["c.wav"].split == "validation"
    assert _skipped(report) == {
        "a.wav": "listed_twice",
        str(tmp_path / "elsewhere.wav"): "outside_root",
        "../elsewhere.wav": "outside_root",
        "sub/../../elsewhere.wav": "outside_root",
        "manifest.csv:9": "missing_path",
    }
    twice = next(s for s in report.skipped if s["reason"] == "listed_twice")
    assert "line 2" in twice["message"]
    assert not any("No such file" in s["message"] for s in report.skipped)
    _accounted(report)
    # Manifest problems are in the stored run record like undecodable files.
    (run,) = store.list_load_runs("norm")
    assert sorted((p, r) for p, r, _ in run.failures) == sorted(_skipped(report).items())
    assert run.n_skipped == 5 and run.n_loaded == 4
    # A second run finds the stored files and reports the same bad rows again.
    again = load_dataset(store, manifest, dataset="norm", workers=1)
    assert again.loaded == 0 and again.existing == 4 and _skipped(again) == _skipped(report)


def test_unknown_split_is_a_skipped_row_naming_the_allowed_ones(store: Store, tmp_path):
    _clips(tmp_path, "a.wav", "b.wav", "c.wav")
    _manifest(
        tmp_path,
        [
            ["a.wav", "dog", "holdout", "", ""],
            ["b.wav", "dog", "VAL", "", ""],
            ["c.wav", "dog", "Test", "", ""],
        ],
    )
    report = load_dataset(store, tmp_path, dataset="splits", workers=1)
    assert _skipped(report) == {"a.wav": "invalid_split"}
    message = report.skipped[0]["message"]
    assert "'holdout'" in message and all(s in message for s in ("train", "validation", "test"))
    stored = _stored(store, "splits")
    assert {p: r.split for p, r in stored.items()} == {"b.wav": "validation", "c.wav": "test"}


def test_fields_the_store_cannot_keep_are_skipped_rows(store: Store, tmp_path):
    names = [f"{c}.wav" for c in "abcdefgh"]
    _clips(tmp_path, *names)
    rows = [
        ["a.wav", "x" * 201, "train", "", ""],  # label over the 200 stored
        ["b.wav", "dog\x00cat", "train", "", ""],  # NUL: PostgreSQL text cannot hold it
        ["c.wav", "dog", "train", "s" * 201, ""],  # speaker over the 200 stored
        ["d.wav", "dog", "train", "spk\x00", ""],
        ["e.wav", "dog", "train", "", "t" * 10_001],  # text over the 10,000 stored
        ["f.wav", "dog", "train", "", "a\x00b"],
        ["g.wav", "dog\nnewline", "train", "", ""],  # a label is one line (as in the editor)
        ["h.wav", "y" * 200, "train", "spk", "multi\nline\ttext is fine"],
        ["i\x00.wav", "dog", "train", "", ""],
    ]
    _manifest(tmp_path, rows)
    report = load_dataset(store, tmp_path, dataset="fields", workers=1)
    assert _skipped(report) == {
        "a.wav": "field_too_long",
        "b.wav": "invalid_character",
        "c.wav": "field_too_long",
        "d.wav": "invalid_character",
        "e.wav": "field_too_long",
        "f.wav": "invalid_character",
        "g.wav": "invalid_character",
        "i\\x00.wav": "invalid_path",
    }
    by_path = {s["path"]: s["message"] for s in report.skipped}
    assert by_path["a.wav"].startswith("label is 201 characters")
    assert by_path["c.wav"].startswith("speaker") and by_path["e.wav"].startswith("text")
    stored = _stored(store, "fields")
    assert set(stored) == {"h.wav"} and stored["h.wav"].label == "y" * 200
    assert stored["h.wav"].text == "multi\nline\ttext is fine"
    _accounted(report)
    (run,) = store.list_load_runs("fields")
    assert run.status == "completed" and len(run.failures) == 8


def test_cli_load_with_bad_rows_exits_0_and_lists_them(store: Store, tmp_path, capsys):
    _clips(tmp_path, "a.wav", "b.wav")
    _manifest(tmp_path, [["a.wav", "L" * 250, "train", "", ""], ["b.wav", "ok", "dev", "", ""]])
    assert main(["load", str(tmp_path), "--dataset", "cli", "--db", store.url]) == 0
    out, err = capsys.readouterr()
    assert "0 loaded" in out and "2 skipped" in out
    assert "field_too_long" in out and "invalid_split" in out and "'dev'" in out
    assert "Traceback" not in err and "error" not in err


def test_summaries_show_one_file_per_line(store: Store, tmp_path):
    root = tmp_path / "odd"
    (root / "x").mkdir(parents=True)
    odd = ["new\nline.wav", "tab\there.wav", "cr\rreturn.wav", "esc\x1b[31mred.wav"]
    for name in odd:
        (root / "x" / name).write_bytes(b"not audio at all")
    report = load_dataset(store, root, dataset="odd", layout="folders", workers=1)
    assert len(report.skipped) == 4
    lines = report.summary().splitlines()
    skipped_lines = lines[lines.index("skipped:") + 1 :]
    assert len(skipped_lines) == 4
    assert any("x/new\\nline.wav" in ln for ln in skipped_lines)
    assert any("x/tab\\there.wav" in ln for ln in skipped_lines)
    assert any("x/esc\\x1b[31mred.wav" in ln for ln in skipped_lines)
    assert not any(c in report.summary() for c in "\t\r\x1b")
    # The stored paths and the JSON report keep the real names.
    assert {s["path"] for s in report.skipped} == {f"x/{n}" for n in odd}
    # The features summary too.
    compute = ComputeReport(
        dataset="odd",
        features=["mfcc"],
        failed=[{"path": "a\nb.wav", "reason": "too_short", "message": "line one\nline two"}],
    )
    assert len(compute.summary().splitlines()) == 2
    assert "a\\nb.wav: line one\\nline two" in compute.summary()


def test_folder_named_with_bytes_that_are_not_utf8_is_a_label(store: Store, tmp_path):
    root = tmp_path / "bytes"
    _clips(root, "tmp.wav")
    folder = os.path.join(os.fsencode(root), b"caf\xe9")  # Latin-1 "café"
    os.mkdir(folder)
    os.rename(os.fsencode(root / "tmp.wav"), os.path.join(folder, b"a.wav"))
    report = load_dataset(store, root, dataset="bytes", layout="folders", workers=1)
    assert report.loaded == 1 and report.skipped == []
    (rec,) = store.page_samples(SampleQuery("bytes"))
    assert rec.label == "caf\\xe9" and rec.path == "caf\\xe9/a.wav"
