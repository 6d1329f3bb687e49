"""Database URLs as users type them: no driver named, empty, or from the environment."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import make_url

from audiosoup_widgets.cli import main
from audiosoup_widgets.config import ENV_DATA_DIR, ENV_DATABASE_URL, resolve_database_url
from audiosoup_widgets.errors import ConfigError


def _without_driver(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.mark.postgres
def test_postgresql_url_without_a_driver_works(pg_url, capsys):
    bare = _without_driver(pg_url)
    assert bare.startswith("postgresql://")
    assert main(["db", "current", "--db", bare]) == 0
    assert capsys.readouterr().out.strip() == "0008"
    heroku = "postgres://" + bare.removeprefix("postgresql://")
    assert main(["db", "current", "--db", heroku]) == 0
    assert resolve_database_url(bare).startswith("postgresql+psycopg2://")


def test_other_postgresql_drivers_are_refused_in_one_line(capsys):
    assert main(["db", "current", "--db", "postgresql+asyncpg://u@127.0.0.1/x"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "asyncpg" in err and err.startswith("audiosoup: error:")


@pytest.mark.parametrize("value", ["", "   "])
def test_empty_db_option_is_an_error_not_the_default_database(value, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(ENV_DATA_DIR, str(tmp_path / "data"))
    monkeypatch.delenv(ENV_DATABASE_URL, raising=False)
    assert main(["db", "upgrade", "--db", value]) == 2
    err = capsys.readouterr().err
    assert err.startswith("audiosoup: error:") and err.count("\n") == 1 and "empty" in err
    assert "Traceback" not in err
    assert not (tmp_path / "data" / "audiosoup.sqlite3").exists()
    with pytest.raises(ConfigError):
        resolve_database_url(value)


def test_empty_environment_variable_counts_as_unset(tmp_path, monkeypatch):
    monkeypatch.setenv(ENV_DATA_DIR, str(tmp_path / "data"))
    monkeypatch.setenv(ENV_DATABASE_URL, "")
    assert resolve_database_url(None) == f"sqlite:///{tmp_path / 'data' / 'audiosoup.sqlite3'}"
    monkeypatch.setenv(ENV_DATABASE_URL, "sqlite:///x.sqlite3")
    assert resolve_database_url(None) == "sqlite:///x.sqlite3"
