"""Fixtures of the widget tests: stores holding real audio, and apps built on them.

Widgets are exercised without a kernel or a browser: tests set traits and call
the ``vue_*`` event methods exactly as the front end would, then assert the state,
the synced traits and the database.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from widgettest_helpers import add_samples

from audiosoup_widgets.app import build_review_app
from audiosoup_widgets.store import Store


@pytest.fixture
def sqlite_store(tmp_path) -> Iterator[Store]:
    """An empty migrated SQLite store (for tests where the backend does not matter)."""
    s = Store(f"sqlite:///{tmp_path / 'widgets.sqlite3'}")
    s.upgrade()
    yield s
    s.dispose()


@pytest.fixture
def words(sqlite_store, tmp_path):
    """A SQLite store with ten real one-second clips in dataset ``words``; (store, path -> id)."""
    ids = add_samples(sqlite_store, tmp_path / "audio")
    return sqlite_store, ids


@pytest.fixture
def words_any(store, tmp_path):
    """The same dataset on SQLite and on PostgreSQL; (store, path -> id)."""
    ids = add_samples(store, tmp_path / "audio")
    return store, ids


@pytest.fixture
def make_app():
    """Build review apps on a store (no background warm-up in tests)."""
    built = []

    def make(store, dataset: str | None = "words"):
        app = build_review_app(db=store, dataset=dataset, warm_up=False)
        built.append(app)
        return app

    yield make
    for app in built:
        app.close()


class Sent:
    """Records the custom messages a widget sends to the browser."""

    def __init__(self, widget) -> None:
        self.messages: list[tuple[dict, list]] = []
        widget.send = self._send

    def _send(self, content, buffers=None):
        self.messages.append((content, list(buffers or [])))


@pytest.fixture
def sent():
    """Capture ``widget.send`` calls: ``sent(widget).messages``."""
    return Sent
