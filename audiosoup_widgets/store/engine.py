"""Engines, sessions and migrations: how the package opens a database.

A :class:`Store` wraps one SQLAlchemy engine. Each user action opens its own
short session through :meth:`Store.session` (open, do, commit or roll back), so
a database error in one action never poisons the next one.

Migrations run one process at a time: a PostgreSQL advisory lock (held by the
migrating transaction) or, for an SQLite file, a lock file beside it. Two
commands started at once on an empty database therefore create the schema once;
the second finds it at head and has nothing to do.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import time
from collections.abc import Iterator
from importlib import resources

from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from ..config import normalise_database_url, resolve_database_url
from ..errors import StoreError

log = logging.getLogger(__name__)

#: Advisory lock key of schema migrations (any constant unique to this package).
MIGRATION_LOCK = 0x6175_6469_6F73  # "audios"


def _enable_wal(cursor: sqlite3.Cursor, timeout: float = 30.0) -> None:
    """Switch a SQLite connection to WAL journaling, waiting out other processes.

    Changing the journal mode needs an exclusive lock, and SQLite answers
    "database is locked" at once instead of calling its busy handler. Two
    processes opening a brand-new file together (two loaders, a loader and a
    dashboard) would then fail, so retry with short sleeps up to ``timeout``.
    """
    deadline = time.monotonic() + timeout
    delay = 0.01
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.2)


def make_engine(url: str) -> Engine:
    """Create an engine tuned for this package.

    PostgreSQL gets a small pool per process (a Voila kernel is one user) with
    ``pool_pre_ping`` so a server restart while a dashboard sits idle costs
    nothing. SQLite gets WAL journaling, foreign keys and a busy timeout so a
    loader and a dashboard can share one file.
    """
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: sqlite3.Connection, _record: object) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            _enable_wal(cur)
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    return create_engine(
        url,
        pool_size=2,
        max_overflow=3,
        pool_pre_ping=True,
        pool_recycle=1800,
        connect_args={"connect_timeout": 10, "application_name": "audiosoup"},
    )


def _alembic_config(engine_url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("audiosoup_widgets.store") / "migrations"))
    cfg.set_main_option("sqlalchemy.url", engine_url.replace("%", "%%"))
    return cfg


class BaseStore:
    """Connection handling shared by every part of the store.

    Parameters
    ----------
    url : str
        SQLAlchemy database URL.
    """

    def __init__(self, url: str) -> None:
        url = normalise_database_url(url)
        self.url = url
        self.engine = make_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        """``"postgresql"`` or ``"sqlite"``."""
        return self.engine.dialect.name

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.engine.url.render_as_string(hide_password=True)!r})"

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        """Open a short session: commit on success, roll back on any error.

        Database errors become :class:`StoreError` with a plain message; the
        details go to the log.
        """
        sess = self._sessions()
        try:
            yield sess
            sess.commit()
        except SQLAlchemyError as exc:
            sess.rollback()
            log.exception("database error")
            raise StoreError(_plain_db_message(exc)) from exc
        except BaseException:
            sess.rollback()
            raise
        finally:
            sess.close()

    def check(self) -> None:
        """Connect once, raising :class:`StoreError` if the database is unreachable."""
        try:
            with self.engine.connect() as conn:
                conn.exec_driver_sql("SELECT 1")
        except SQLAlchemyError as exc:
            raise StoreError(_plain_db_message(exc)) from exc

    def upgrade(self, revision: str = "head") -> None:
        """Apply the packaged Alembic migrations up to ``revision``."""
        from alembic import command

        self.check()
        cfg = _alembic_config(self.url)
        with self._migration_file_lock(), self.engine.begin() as conn:
            if self.dialect == "postgresql":
                # Held until this transaction ends, so a second process waits here and
                # then sees the finished schema instead of racing to create it.
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)

    def downgrade(self, revision: str) -> None:
        """Undo the packaged Alembic migrations down to ``revision`` (same locks as :meth:`upgrade`)."""
        from alembic import command

        self.check()
        cfg = _alembic_config(self.url)
        with self._migration_file_lock(), self.engine.begin() as conn:
            if self.dialect == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, revision)

    def _migration_file_lock(self) -> contextlib.AbstractContextManager[object]:
        """Return a lock on a file beside an SQLite database file (a no-op for others)."""
        database = self.engine.url.database
        if self.dialect != "sqlite" or not database or database == ":memory:" or database.startswith("file:"):
            return contextlib.nullcontext()
        from filelock import FileLock, Timeout

        lock = FileLock(f"{database}.migrate.lock", timeout=600)
        try:
            return lock.acquire()
        except Timeout as exc:
            # An OS lock: it ends with the process that holds it, so a crash leaves none.
            raise StoreError(
                f"another process has been migrating {database} for 10 minutes; "
                "try again when it has finished"
            ) from exc

    def current_revision(self) -> str | None:
        """Return the schema's Alembic revision, or None on an empty database."""
        from alembic.runtime.migration import MigrationContext

        with self.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    def head_revision(self) -> str | None:
        """Return the newest revision of the packaged migrations."""
        from alembic.script import ScriptDirectory

        return ScriptDirectory.from_config(_alembic_config(self.url)).get_current_head()

    def has_schema(self) -> bool:
        """Whether the tables exist already."""
        return inspect(self.engine).has_table("samples")

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


def _plain_db_message(exc: SQLAlchemyError) -> str:
    """Turn a driver exception into one plain line (no SQL, no traceback)."""
    if isinstance(exc, OperationalError):
        first = str(exc.orig).strip().splitlines()[0] if exc.orig else "connection failed"
        return f"database unreachable or refused the operation: {first}"
    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc).strip().splitlines()
    return f"database error: {text[0] if text else type(exc).__name__}"


def resolve(db: str | None) -> str:
    """Resolve a user-supplied URL (see :func:`audiosoup_widgets.config.resolve_database_url`)."""
    return resolve_database_url(db)
