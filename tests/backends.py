"""The database backends of the store tests (a plain module: ``from backends import BACKENDS``).

Test modules import these from here, not from ``conftest``: several folders have a
``conftest.py``, and which one ``import conftest`` finds depends on the order pytest
collected them.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from audiosoup_widgets.store.models import Base

#: The PostgreSQL server the tests create their throwaway databases on.
PG_ADMIN_URL = os.environ.get("AUDIOSOUP_TEST_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test")
#: The store backends every ``store`` test runs on; PostgreSQL ones carry the ``postgres`` marker.
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


def schema_diff(store: Any) -> list[Any]:
    """Differences between the migrated schema and the models (none expected).

    SQLite adds ``samples.parent_id`` and ``recipe_id`` (0008) with an inline REFERENCES,
    which SQLAlchemy reflects without the constraint's name and ON DELETE: those two are
    checked here against SQLite's own foreign-key list instead.
    """
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        if store.dialect != "sqlite":
            return diff
        fks = {
            row[3]: (row[2], row[6])
            for row in conn.execute(text("PRAGMA foreign_key_list(samples)"))
            if row[3] in ("parent_id", "recipe_id")
        }
    assert fks == {"parent_id": ("samples", "CASCADE"), "recipe_id": ("aug_recipes", "CASCADE")}
    inline = {"parent_id", "recipe_id"}
    return [
        d
        for d in diff
        if not (
            d[0] in ("add_fk", "remove_fk")
            and d[1].table.name == "samples"
            and {c.name for c in d[1].columns} <= inline
        )
    ]
