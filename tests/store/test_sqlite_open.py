"""Several processes opening one brand-new SQLite file at the same instant all get a WAL connection."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

# Each process waits for a common start signal, then opens the engine and asks for the
# journal mode. Switching to WAL needs an exclusive lock that SQLite refuses at once
# ("database is locked") rather than waiting, so without a retry some processes fail.
OPEN_AT_THE_SIGNAL = """
import os, sys, time
from sqlalchemy import text
from audiosoup_widgets.store.engine import make_engine
url, ready, go = sys.argv[1:4]
engine = make_engine(url)
open(ready, "w").close()
while not os.path.exists(go):
    time.sleep(0.001)
with engine.connect() as conn:
    print(conn.execute(text("PRAGMA journal_mode")).scalar())
"""


@pytest.mark.slow
def test_processes_opening_a_new_sqlite_file_together_all_get_wal(tmp_path: Path) -> None:
    rounds, width = 6, 8
    for r in range(rounds):
        url = f"sqlite:///{tmp_path / f'new{r}.sqlite3'}"
        go = tmp_path / f"go{r}"
        ready = [tmp_path / f"ready{r}_{k}" for k in range(width)]
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", OPEN_AT_THE_SIGNAL, url, str(p), str(go)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for p in ready
        ]
        while not all(p.exists() for p in ready):
            assert all(proc.poll() is None for proc in procs), [proc.communicate() for proc in procs]
        go.touch()
        for proc in procs:
            out, err = proc.communicate(timeout=60)
            assert proc.returncode == 0, err.strip().splitlines()[-1:]
            assert out.strip() == "wal"
