"""Where things live (the database URL, the user's data folder) and who is reviewing.

The URL comes, in order, from an explicit argument (``--db`` or ``db=``), the
``AUDIOSOUP_DATABASE_URL`` environment variable, and finally an embedded SQLite
file in the user's data folder, so that a first run needs no server.

An explicit empty URL (``--db ""``) is an error rather than a quiet fall back to
another database; an empty environment variable counts as unset, as shells and
compose files leave it when nothing is configured. PostgreSQL URLs without a
driver (``postgresql://``, ``postgres://``) mean psycopg2, the driver the
package installs and the one its bulk ``COPY`` writes use.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .errors import ConfigError

ENV_DATABASE_URL = "AUDIOSOUP_DATABASE_URL"
ENV_DATA_DIR = "AUDIOSOUP_DATA_DIR"
#: The HTTP header a trusted proxy puts the signed-in user's name in (set by the operator).
ENV_TRUSTED_USER_HEADER = "AUDIOSOUP_TRUSTED_USER_HEADER"
#: Set by JupyterHub in every single-user server (and so in its kernels).
ENV_JUPYTERHUB_USER = "JUPYTERHUB_USER"

# An HTTP header name (RFC 9110 token characters, in practice letters, digits and dashes).
_HEADER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,63}")


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


def augmented_dir() -> Path:
    """Return the folder of augmented clips (FLAC files) inside the data folder."""
    return data_dir() / "augmented"


def clip_root(path: str | os.PathLike[str], dataset_root: str) -> str:
    """Return the folder a clip's file must stay inside: its dataset's, or the augmented one.

    A derived clip's stored path is absolute and inside :func:`augmented_dir`; every
    other clip's lies inside its dataset folder. The check itself is the decoder's.
    """
    aug = os.path.abspath(augmented_dir())
    here = os.path.abspath(os.fspath(path))
    try:
        inside = os.path.commonpath([aug, here]) == aug
    except ValueError:  # different drives (Windows)
        inside = False
    return aug if inside else dataset_root


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
        If ``db`` is empty, or the URL names a database kind or driver this package
        does not support.
    """
    if db is not None and not str(db).strip():
        raise ConfigError(
            "the database URL is empty: give postgresql://... or sqlite:///..., "
            "or leave the option out for the default database"
        )
    url = db or os.environ.get(ENV_DATABASE_URL, "").strip() or default_database_url()
    return normalise_database_url(url)


def normalise_database_url(url: str) -> str:
    """Check a database URL and name its driver.

    Parameters
    ----------
    url : str
        ``postgresql://...``, ``postgres://...``, ``postgresql+psycopg2://...`` or
        ``sqlite:///...``.

    Returns
    -------
    str
        The URL, with ``postgresql+psycopg2`` for any PostgreSQL URL.

    Raises
    ------
    ConfigError
        If the URL is not one of those.
    """
    url = url.strip()
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ConfigError("not a database URL: use postgresql://... or sqlite:///...")
    kind, _, driver = scheme.partition("+")
    if kind == "postgres":
        kind = "postgresql"  # Heroku-style URLs; SQLAlchemy 2 only knows "postgresql".
    if kind not in {"postgresql", "sqlite"}:
        raise ConfigError(f"unsupported database URL scheme {kind!r}: use postgresql://... or sqlite:///...")
    if kind == "postgresql":
        # SQLAlchemy 2.1 picks psycopg 3 for a bare postgresql://, which is not installed.
        if driver not in ("", "psycopg2"):
            raise ConfigError(
                f"unsupported PostgreSQL driver {driver!r}: use postgresql://... or postgresql+psycopg2://..."
            )
        driver = "psycopg2"
    return f"{kind}+{driver}://{rest}" if driver else f"{kind}://{rest}"


@dataclass(frozen=True)
class Identity:
    """A reviewer named by the server, not typed by the user.

    Attributes
    ----------
    name : str
        The reviewer's name, recorded with every action.
    source : str
        Where it came from, for the page ("JupyterHub", "the proxy header X-Forwarded-User").
    """

    name: str
    source: str


def check_header_name(name: str) -> str:
    """Return ``name`` if it is a plausible HTTP header name.

    Raises
    ------
    ConfigError
        For anything else (spaces, colons, an empty name, over 64 characters).
    """
    name = name.strip()
    if not _HEADER_NAME.fullmatch(name):
        raise ConfigError(
            f"not an HTTP header name: {name!r} (letters, digits and dashes, e.g. X-Forwarded-User)"
        )
    return name


def header_env_name(header: str) -> str:
    """Return the environment variable a dashboard kernel gets ``header`` in (CGI style, as Voila sets it)."""
    return "HTTP_" + check_header_name(header).upper().replace("-", "_")


def reviewer_identity(environ: Mapping[str, str] | None = None) -> Identity | None:
    """Return the reviewer the server vouches for, or None when the user types a name.

    In order: ``JUPYTERHUB_USER`` (JupyterHub sets it in every single-user server);
    then, when the operator names a trusted proxy's header in
    ``AUDIOSOUP_TRUSTED_USER_HEADER``, that header of the visitor's request (which
    Voila hands a dashboard kernel as ``HTTP_<NAME>``). Only declare a header that
    the proxy always sets and strips from what browsers send; otherwise anyone
    could claim a name. A missing or blank value names no one, and a name is cut
    to 100 characters and stripped of control characters.

    Parameters
    ----------
    environ : mapping, optional
        The environment to read (default: this process's).

    Returns
    -------
    Identity or None
    """
    env = os.environ if environ is None else environ

    def clean(value: str | None) -> str:
        text = "".join(ch for ch in (value or "") if ch.isprintable())
        return text.strip()[:100].strip()

    hub = clean(env.get(ENV_JUPYTERHUB_USER))
    if hub:
        return Identity(hub, "JupyterHub")
    header = (env.get(ENV_TRUSTED_USER_HEADER) or "").strip()
    if header:
        name = clean(env.get(header_env_name(header)))
        if name:
            return Identity(name, f"the proxy header {header}")
    return None
