"""Benchmark bulk relabel on PostgreSQL: a selection of 10,000 and of 100,000 clips.

Creates a throwaway database (``audiosoup_bench_<random>``) through the admin URL,
seeds synthetic rows, and times the median of several runs, for each selection size, of:

* ``preview``: how many selected clips carry each label (what the dialog shows);
* ``relabel``: every selected clip to one label, with one history row each (one
  transaction, a handful of set-based statements);
* ``undo``: the undo of that batch (every clip given back its label, recorded).

Each run relabels the whole selection to a label it does not carry yet, then undoes
it, so every run changes every clip.

Usage::

    python bench/bench_relabel.py [--db-admin URL] [--n 120000] [--runs 5] [--json out.json]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import time
import uuid
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

DEFAULT_ADMIN = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"
SIZES = (10_000, 100_000)


def run(admin_url: str, n: int, runs: int) -> dict[str, Any]:
    """Seed a throwaway database, time preview, relabel and undo, drop it; return the results."""
    from audiosoup_widgets.store import SampleQuery, Store
    from audiosoup_widgets.testing import seed_synthetic

    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = f"audiosoup_bench_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    store = Store(url)
    results: dict[str, Any] = {"n_samples": n, "runs": runs}
    try:
        store.upgrade()
        t0 = time.perf_counter()
        seed_synthetic(store, dataset="bench", n=n, labels=("yes", "no", "up", "down"))
        with store.engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
        results["seed_s"] = round(time.perf_counter() - t0, 1)
        all_ids = store.sample_ids(SampleQuery("bench"))
        for size in (s for s in SIZES if s <= n):
            ids = all_ids[:: max(1, len(all_ids) // size)][:size]
            assert len(ids) == size
            timings: dict[str, list[float]] = {"preview": [], "relabel": [], "undo": []}
            for _ in range(runs):
                t = time.perf_counter()
                counts = store.label_counts("bench", ids)
                timings["preview"].append(time.perf_counter() - t)
                assert sum(counts.values()) == size
                seen = dt.datetime.now(dt.UTC)
                t = time.perf_counter()
                res = store.relabel_samples(
                    "bench", ids, label="bench", reviewer="bench", seen_at=seen, create_label=True
                )
                timings["relabel"].append(time.perf_counter() - t)
                assert res.changed == size and res.batch_id is not None
                t = time.perf_counter()
                out = store.undo_batch(res.batch_id, reviewer="bench")
                timings["undo"].append(time.perf_counter() - t)
                assert out.reverted == size
            for key, values in timings.items():
                results[f"{key}_{size // 1000}k_ms"] = round(statistics.median(values) * 1000, 1)
    finally:
        store.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    return results


def main() -> None:
    """Run the benchmark from the command line."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db-admin", default=DEFAULT_ADMIN)
    ap.add_argument("--n", type=int, default=120_000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    results = run(args.db_admin, args.n, args.runs)
    text_out = json.dumps(results, indent=2)
    print(text_out)
    if args.json:
        with open(args.json, "w") as fh:
            fh.write(text_out + "\n")


if __name__ == "__main__":
    main()
