"""Loads at the same time: one schema creation, and "loaded" totals that add up to the rows written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import soundfile as sf
from signals import tone
from sqlalchemy import create_engine, event, text

import audiosoup_widgets
from audiosoup_widgets.store import SampleQuery, Store
from audiosoup_widgets.testing import sample_row, seed_synthetic

ROUNDS = 3
# `audiosoup load` exactly as the console script runs it (cli.main), started once every
# process has imported what it needs: a start line instead of the seconds of import
# jitter, which would otherwise let one process finish the schema before the next begins.
AT_THE_SIGNAL = """
import os, sys, time
import alembic.command, audiosoup_widgets.store, audiosoup_widgets.jobs.ingest
from audiosoup_widgets.cli import main
ready, go = sys.argv[1:3]
open(ready, "w").close()
while not os.path.exists(go):
    time.sleep(0.002)
sys.exit(main(sys.argv[3:]))
"""


def _folder(root: Path, label: str, n: int) -> Path:
    (root / label).mkdir(parents=True)
    for i in range(n):
        sf.write(root / label / f"{i:04d}.wav", tone(seconds=0.1, freq=200 + 7 * i, level=0.3), 16000)
    return root


def _empty_database(backend: str, tmp_path: Path, admin) -> tuple[str, str | None]:
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / f'{uuid.uuid4().hex[:8]}.sqlite3'}", None
    name = f"audiosoup_race_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    return admin.url.set(database=name).render_as_string(hide_password=False), name


def _loads_at_once(
    jobs: list[tuple[Path, str]], url: str, tmp_path: Path, tag: str, env: dict[str, str]
) -> list[int]:
    """Run ``audiosoup load`` for each (folder, dataset) at one signal; return "loaded" counts."""
    go = tmp_path / f"go{tag}"
    ready = [tmp_path / f"ready{tag}_{k}" for k in range(len(jobs))]
    reports = [tmp_path / f"report{tag}_{k}.json" for k in range(len(jobs))]
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                AT_THE_SIGNAL,
                str(ready[k]),
                str(go),
                "load",
                str(folder),
                "--dataset",
                name,
                "--db",
                url,
                "--workers",
                "1",
                "--report",
                str(reports[k]),
            ],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for k, (folder, name) in enumerate(jobs)
    ]
    try:
        deadline = time.monotonic() + 120
        while not all(r.exists() for r in ready) and time.monotonic() < deadline:
            assert all(p.poll() is None for p in procs), "a load ended before the start"
            time.sleep(0.01)
        go.touch()
        results = [p.communicate(timeout=300) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    for proc, (_out, err) in zip(procs, results, strict=True):
        assert proc.returncode == 0, f"round {tag}: {err.strip()}"
        assert "error" not in err
    return [json.loads(r.read_text())["loaded"] for r in reports]


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_loads_started_together_on_an_empty_database(backend, tmp_path, request):
    """Two loads of one folder and a third of another, at once, on a new database, 3 times."""
    one = _folder(tmp_path / "one", "yes", 60)
    two = _folder(tmp_path / "two", "no", 40)
    env = {
        **os.environ,
        "AUDIOSOUP_NO_PROGRESS": "1",
        "PYTHONPATH": os.pathsep.join(
            [str(Path(audiosoup_widgets.__file__).parents[1]), os.environ.get("PYTHONPATH", "")]
        ),
    }
    # Any database of the test server can create others: the session's own will do.
    admin = (
        create_engine(request.getfixturevalue("pg_url"), isolation_level="AUTOCOMMIT")
        if backend == "postgresql"
        else None
    )
    created: list[str] = []
    try:
        for attempt in range(ROUNDS):
            url, pg_name = _empty_database(backend, tmp_path, admin)
            created += [pg_name] if pg_name else []
            loaded = _loads_at_once(
                [(one, "one"), (one, "one"), (two, "two")], url, tmp_path, str(attempt), env
            )
            store = Store(url)
            try:
                assert store.current_revision() == "0008"
                assert loaded[0] + loaded[1] == store.count_samples(SampleQuery("one")) == 60
                assert loaded[2] == store.count_samples(SampleQuery("two")) == 40
            finally:
                store.dispose()
    finally:
        if admin is not None:
            with admin.connect() as conn:
                for name in created:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


def test_loaded_count_leaves_out_rows_another_writer_adds(store: Store):
    """Rows committed by another process during an insert are not counted as this one's."""
    other = Store(store.url)
    seed_synthetic(store, dataset="mine", n=0)
    ds_id = store.ensure_dataset("mine", root="/nonexistent/synthetic", layout="folders")
    fired = []

    def other_writer_commits(*_args) -> None:
        if not fired:
            fired.append(True)
            seed_synthetic(other, dataset="theirs", n=7)

    # The other write lands between this store's connection checkout (PostgreSQL's COPY
    # path) or the INSERT statement (SQLite) and its commit.
    if store.dialect == "sqlite":

        def hook(conn, cursor, statement, *rest):
            if statement.lstrip().upper().startswith("INSERT INTO SAMPLES"):
                other_writer_commits()

        event.listen(store.engine, "before_cursor_execute", hook)
    else:
        event.listen(store.engine.pool, "checkout", other_writer_commits)
    rows = [sample_row(ds_id, f"m/{i}.wav") for i in range(5)]
    try:
        assert store.insert_samples(rows) == 5
        assert fired
        assert store.insert_samples(rows) == 0  # all present: nothing added
    finally:
        other.dispose()
    assert store.count_samples(SampleQuery("theirs")) == 7
