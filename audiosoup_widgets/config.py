"""Where things live: the database URL and the user's data folder.

The URL comes, in order, from an explicit argument (``--db`` or ``db=``), the
``AUDIOSOUP_DATABASE_URL`` environment variable, and finally an embedded SQLite
file in the user's data folder, so that a first run needs no server.
"""

from __future__ import annotations

import os
from pathlib import Path

from .errors import ConfigError

ENV_DATABASE_URL = "AUDIOSOUP_DATABASE_URL"
ENV_DATA_DIR = "AUDIOSOUP_DATA_DIR"


def data_dir() -> Path:
    """Return the user's data folder for Audio Soup, creating it if needed.

    ``AUDIOSOUP_DATA_DIR`` overrides the platform default (for example
    ``~/.local/share/audiosoup`` on Linux).
    """
    override = os.environ.get(ENV_DATA_DIR)
    if override:
        path = Path(override).expanduser()
    else:
        import platformdirs

        path = Path(platformdirs.user_data_dir("audiosoup", appauthor=False))
    path.mkdir(parents=True, exist_ok=True)
    return path


def default_database_url() -> str:
    """Return the embedded SQLite URL used when no other URL is given."""
    return f"sqlite:///{data_dir() / 'audiosoup.sqlite3'}"


def resolve_database_url(db: str | None = None) -> str:
    """Pick the database URL from ``db``, the environment, or the default.

    Parameters
    ----------
    db : str, optional
        An SQLAlchemy URL such as ``postgresql+psycopg2://user@host/name`` or
        ``sqlite:///path/to/file.sqlite3``.

    Returns
    -------
    str
        The URL to connect to.

    Raises
    ------
    ConfigError
        If the URL names a database kind this package does not support.
    """
    url = db or os.environ.get(ENV_DATABASE_URL) or default_database_url()
    url = url.strip()
    if url.startswith("postgres://"):
        # Heroku-style URLs; SQLAlchemy 2 only knows "postgresql".
        url = "postgresql://" + url[len("postgres://"):]
    scheme = url.split(":", 1)[0].split("+", 1)[0]
    if scheme not in {"postgresql", "sqlite"}:
        raise ConfigError(
            f"unsupported database URL scheme {scheme!r}: use postgresql://... or sqlite:///..."
        )
    return url
