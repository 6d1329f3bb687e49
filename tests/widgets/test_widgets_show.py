"""``show(df)``: a table of audio paths becomes a stored dataset and the review app on it, once."""

from __future__ import annotations

import pandas as pd
import pytest
import soundfile as sf
from signals import chirp, noise, tone

from audiosoup_widgets.app import ReviewApp, show
from audiosoup_widgets.errors import ConfigError
from audiosoup_widgets.store import SampleQuery


@pytest.fixture
def table(tmp_path) -> pd.DataFrame:
    """Three real clips and one path that names no file."""
    folder = tmp_path / "clips"
    (folder / "more").mkdir(parents=True)
    clips = {"a.wav": tone(16000), "b.wav": chirp(16000), "more/c.wav": noise(16000)}
    for name, y in clips.items():
        sf.write(folder / name, y, 16000, subtype="PCM_16")
    paths = [str(folder / name) for name in clips] + [str(folder / "gone.wav")]
    return pd.DataFrame(
        {"file": paths, "label": ["tone", "chirp", None, "x"], "fold": ["train", "val", "test", "train"]}
    )


def test_show_loads_the_table_once_and_reports_the_missing_file(sqlite_store, table, capsys):
    app = show(table, audio="file", split="fold", db=sqlite_store, workers=1, warm_up=False)
    try:
        assert (
            isinstance(app, ReviewApp)
            and "application/vnd.jupyter.widget-view+json" in app._repr_mimebundle_()
        )
        report = app.load_report
        assert report is not None and (report.loaded, len(report.skipped)) == (3, 1)
        assert report.skipped[0]["path"] == "gone.wav"
        assert "gone.wav" in capsys.readouterr().out  # said under the cell
        assert app.state.dataset == report.dataset
        records = sqlite_store.page_samples(SampleQuery(dataset=report.dataset), page_size=10)
        assert {r.path: (r.label, r.split) for r in records} == {
            "a.wav": ("tone", "train"),
            "b.wav": ("chirp", "validation"),
            "more/c.wav": (None, "test"),
        }
    finally:
        app.close()
    # The same table again: the same dataset, nothing decoded or stored twice.
    again = show(table, audio="file", split="fold", db=sqlite_store, workers=1, warm_up=False)
    try:
        assert again.load_report is not None and again.load_report.dataset == report.dataset
        assert (again.load_report.loaded, again.load_report.existing) == (0, 3)
        assert [d.n_samples for d in sqlite_store.list_datasets()] == [3]
    finally:
        again.close()


def test_a_missing_column_is_one_line_naming_it(sqlite_store, table):
    with pytest.raises(ConfigError, match=r"^the table has no column 'path' \(given as audio=\)$"):
        show(table, db=sqlite_store, warm_up=False)
    with pytest.raises(ConfigError, match=r"no column 'words' \(given as text=; text=None for none\)$"):
        show(table, audio="file", text="words", db=sqlite_store, warm_up=False)
    assert sqlite_store.list_datasets() == []  # refused before anything was stored


def test_without_a_database_the_store_is_the_embedded_file_in_the_data_folder(table, tmp_path, monkeypatch):
    monkeypatch.setenv("AUDIOSOUP_DATA_DIR", str(tmp_path / "home"))
    monkeypatch.delenv("AUDIOSOUP_DATABASE_URL", raising=False)
    app = show(table, audio="file", workers=1, warm_up=False)
    try:
        assert app.store.url.endswith(str(tmp_path / "home" / "audiosoup.sqlite3"))
        assert app.store.count_samples(SampleQuery(dataset=app.state.dataset)) == 3
    finally:
        app.close()
        app.store.dispose()
