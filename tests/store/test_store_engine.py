"""store.engine: migrations match the models and run on an empty file."""

from __future__ import annotations

from backends import schema_diff

from audiosoup_widgets.store import Store


def test_migrations_match_models(store: Store):
    assert store.current_revision() == "0008"
    assert schema_diff(store) == []


def test_upgrade_on_empty_sqlite_file(tmp_path):
    s = Store(f"sqlite:///{tmp_path / 'new.sqlite3'}")
    assert not s.has_schema()
    s.upgrade()
    assert s.has_schema() and s.current_revision() == "0008"
    s.upgrade()  # a second upgrade is a no-op
    assert s.current_revision() == "0008"
