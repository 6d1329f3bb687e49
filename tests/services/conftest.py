"""Fixtures of the service tests: real stores holding real audio, and services over them.

The dataset is the widget tests' own (``widgettest_helpers.add_samples``): ten
one-second clips over three labels, one quiet and one flagged.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "widgets"))

from widgettest_helpers import add_samples  # noqa: E402

from audiosoup_widgets.services import ReviewServices  # noqa: E402
from audiosoup_widgets.store import Store  # noqa: E402


@pytest.fixture
def sqlite_store(tmp_path):
    """An empty migrated SQLite store (for tests where the backend does not matter)."""
    s = Store(f"sqlite:///{tmp_path / 'services.sqlite3'}")
    s.upgrade()
    yield s
    s.dispose()


@pytest.fixture
def words(sqlite_store, tmp_path):
    """Services over a SQLite store holding dataset ``words``; (services, store, path -> id)."""
    ids = add_samples(sqlite_store, tmp_path / "audio")
    return ReviewServices(sqlite_store), sqlite_store, ids


@pytest.fixture
def words_any(store, tmp_path):
    """The same on SQLite and on PostgreSQL; (services, store, path -> id)."""
    ids = add_samples(store, tmp_path / "audio")
    return ReviewServices(store), store, ids


class Calls:
    """Counts the calls of some store methods (the reads a service makes)."""

    def __init__(self, monkeypatch, store, *names: str) -> None:
        self.counts = dict.fromkeys(names, 0)
        for name in names:
            real = getattr(store, name)

            def counted(*args, _name=name, _real=real, **kwargs):
                self.counts[_name] += 1
                return _real(*args, **kwargs)

            monkeypatch.setattr(store, name, counted)

    def __getitem__(self, name: str) -> int:
        return self.counts[name]


@pytest.fixture
def calls(monkeypatch):
    """Count store reads: ``calls(store, "get_sample", ...)["get_sample"]``."""
    return lambda store, *names: Calls(monkeypatch, store, *names)
