"""Benchmark the store's dataset-insight reads on a 100,000-sample PostgreSQL dataset.

Creates a throwaway database (``audiosoup_bench_<random>``) through the admin URL,
seeds synthetic rows with quality measures, and times the median of several runs of:

* ``quality_columns`` (what the quality panel and the QC job read); the panel opens
  in at most 1 s, so this should stay well under 0.5 s;
* a lasso becoming a grid filter: the count plus the first page of 24, filtered by
  the ids of every sample and by 10,000 of them; target <= 300 ms;
* ``sample_ids`` of every sample matching a filter ("select all N matching");
* ``write_quality`` of one backfill batch (500 rows) and a 100,000-point map saved
  and loaded.

Usage::

    python bench/bench_insight.py [--db-admin URL] [--n 100000] [--runs 5] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import uuid
from collections.abc import Callable
from typing import Any

import numpy as np
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

DEFAULT_ADMIN = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"
TARGETS_MS = {"quality_columns": 500, "lasso_all": 300, "lasso_10k": 300}


def _median_ms(fn: Callable[[], Any], runs: int) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return round(statistics.median(times) * 1000, 1)


def _seed(store: Any, n: int) -> None:
    """Synthetic rows (as ``seed_synthetic``) carrying quality measures, inserted in batches."""
    import hashlib

    from audiosoup_widgets.testing import sample_row

    rng = np.random.default_rng(0)
    ds = store.ensure_dataset("bench", root="/nonexistent/bench", layout="folders")
    labels = ("yes", "no", "up", "down")
    label_ids = store.ensure_labels(ds, labels)
    splits = ("train",) * 8 + ("validation", "test")
    for start in range(0, n, 20_000):
        rows = []
        for i in range(start, min(n, start + 20_000)):
            lab = labels[i % len(labels)]
            rows.append(
                sample_row(
                    ds,
                    f"{lab}/{i:08x}_nohash_{i % 5}.wav",
                    label_id=label_ids[lab],
                    split=splits[i % len(splits)],
                    speaker=f"{i % 997:08x}",
                    text=f"synthetic clip {i} of {lab}",
                    rms_db=float(rng.uniform(-50, -5)),
                    peak_dbfs=float(rng.uniform(-30, 0)),
                    clip_ratio=float(rng.uniform(0, 0.01)),
                    silence_ratio=float(rng.uniform(0, 1)),
                    leading_silence=float(rng.uniform(0, 0.3)),
                    trailing_silence=float(rng.uniform(0, 0.3)),
                    dc_offset=float(rng.uniform(0, 0.01)),
                    snr_db=float(rng.uniform(0, 60)),
                    bandwidth_hz=float(rng.uniform(2000, 8000)),
                    pcm_hash=hashlib.sha256(f"{i % (n - 500)}".encode()).hexdigest(),
                    quality_version=1,
                )
            )
        store.insert_samples(rows)


def run(admin_url: str, n: int, runs: int) -> dict[str, Any]:
    """Seed a throwaway database, time the reads, drop the database; return the results."""
    from audiosoup_widgets.store import SampleQuery, Store

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
        _seed(store, n)
        with store.engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
        results["seed_s"] = round(time.perf_counter() - t0, 1)

        cols = store.quality_columns("bench")
        assert len(cols["sample_id"]) == n
        results["quality_columns"] = _median_ms(lambda: store.quality_columns("bench"), runs)

        ids = np.asarray(cols["sample_id"])
        rng = np.random.default_rng(1)
        lasso_10k = np.sort(rng.choice(ids, 10_000, replace=False))
        for key, chosen in (("lasso_all", ids), ("lasso_10k", lasso_10k)):

            def lasso(chosen: np.ndarray = chosen) -> None:
                # What the grid does on a lasso: a new query, its count, its first page.
                q = SampleQuery("bench", ids=chosen)  # type: ignore[arg-type]
                assert store.count_samples(q) == len(chosen)
                assert len(store.page_samples(q, page=0, page_size=24)) == 24

            results[key] = _median_ms(lasso, runs)
            q = SampleQuery("bench", ids=tuple(chosen.tolist()))
            results[key + "_query_built"] = _median_ms(
                lambda chosen=chosen: SampleQuery("bench", ids=chosen),  # type: ignore[misc]
                runs,
            )
            results[key + "_count_page_prebuilt_query"] = _median_ms(
                lambda q=q: (store.count_samples(q), store.page_samples(q, page=0, page_size=24)), runs
            )
        lasso_label = SampleQuery("bench", ids=lasso_10k, labels=("yes",), sort="-duration")  # type: ignore[arg-type]
        results["lasso_10k_label_sorted"] = _median_ms(
            lambda: (store.count_samples(lasso_label), store.page_samples(lasso_label)), runs
        )
        results["sample_ids_all"] = _median_ms(lambda: store.sample_ids(SampleQuery("bench")), runs)
        results["sample_ids_split_by_path"] = _median_ms(
            lambda: store.sample_ids(SampleQuery("bench", split="train", sort="path")), runs
        )

        batch = [
            {"sample_id": int(i), "rms_db": -12.0, "snr_db": 40.0, "pcm_sha256": f"{int(i):064x}"}
            for i in ids[:500]
        ]
        results["write_quality_500"] = _median_ms(lambda: store.write_quality(batch, version=2), runs)
        results["missing_quality_batch_500"] = _median_ms(
            lambda: store.samples_missing_quality("bench", version=2, limit=500), runs
        )
        xy = rng.normal(size=(n, 2)).astype(np.float32)
        results["save_projection"] = _median_ms(
            lambda: store.save_projection(
                "bench", family="all", method="pca", input_key="k", sample_ids=ids, xy=xy
            ),
            runs,
        )
        results["load_projection"] = _median_ms(
            lambda: store.load_projection("bench", family="all", method="pca"), runs
        )
        for key, target in TARGETS_MS.items():
            results[key + "_target_ms"] = target
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
    ap.add_argument("--n", type=int, default=100_000)
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
