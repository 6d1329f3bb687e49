"""store.engine: migrations match the models and run on an empty file."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from audiosoup_widgets.store import Store
from audiosoup_widgets.store.models import Base


def test_migrations_match_models(store: Store):
    assert store.current_revision() == "0006"
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_upgrade_on_empty_sqlite_file(tmp_path):
    s = Store(f"sqlite:///{tmp_path / 'new.sqlite3'}")
    assert not s.has_schema()
    s.upgrade()
    assert s.has_schema() and s.current_revision() == "0006"
    s.upgrade()  # a second upgrade is a no-op
    assert s.current_revision() == "0006"
