"""Shared fixtures: a fresh store on SQLite and on PostgreSQL for every test.

PostgreSQL is never optional: if the server cannot be reached, the tests that
need it fail with a clear message rather than skip. Every test that reaches it
(the ``postgresql`` parameter of ``store``, ``pg_store``, ``pg_url``) carries the
``postgres`` marker, so ``-m "not postgres"`` runs without a server.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from backends import BACKENDS, PG_ADMIN_URL
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from audiosoup_widgets.store import Store
from audiosoup_widgets.store.models import Base


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A throwaway PostgreSQL database for this test session, migrated to head."""
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"audiosoup_test_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001
        pytest.fail(
            f"PostgreSQL is required for these tests and is unreachable at "
            f"{PG_ADMIN_URL}: {str(exc).splitlines()[0]}",
            pytrace=False,
        )
    url = make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    store = Store(url)
    store.upgrade()
    store.dispose()
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _truncate(store: Store) -> None:
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    with store.engine.begin() as conn:
        if store.dialect == "postgresql":
            conn.exec_driver_sql(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
        else:
            for t in tables:
                conn.exec_driver_sql(f"DELETE FROM {t}")


@pytest.fixture(params=BACKENDS)
def store(request, tmp_path) -> Iterator[Store]:
    """An empty, migrated store, once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        s = Store(f"sqlite:///{tmp_path / 'store.sqlite3'}")
        s.upgrade()
    else:
        s = Store(request.getfixturevalue("pg_url"))
        _truncate(s)
    yield s
    s.dispose()


@pytest.fixture
def pg_store(pg_url) -> Iterator[Store]:
    """An empty PostgreSQL store (for PostgreSQL-only paths such as Dask)."""
    s = Store(pg_url)
    _truncate(s)
    yield s
    s.dispose()
