"""Benchmark the quality view on a 100,000-sample PostgreSQL dataset: target, open in at most 1 s.

Creates a throwaway database (``audiosoup_bench_<random>``) through the admin URL,
seeds synthetic rows (:func:`audiosoup_widgets.testing.seed_synthetic`), gives them
random quality measures through ``Store.write_quality`` and stores a check's worth
of findings (2,000 duplicate pairs, a few hundred per-label findings), then times,
server side (no browser), the median of several runs of:

* reading the quality columns from the store (the one read per dataset);
* the service's overview, cold (a new service: read, histograms, class balance,
  findings);
* opening the quality view, cold: a new service and a new ``QualityPanel``, the
  view shown (overview, every figure built and drawn, the findings listed); target
  <= 1000 ms;
* opening it again, warm (the overview cached; one query to see whether a newer
  check ran, and the figures redrawn).

Usage::

    python bench/bench_quality.py [--db-admin URL] [--n 100000] [--runs 5] [--json out.json]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
import time
import uuid
from pathlib import Path

import numpy as np
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

DEFAULT_ADMIN = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"
TARGETS_MS = {"open_cold": 1000}


def _median_ms(samples: list[float]) -> float:
    return round(statistics.median(samples) * 1000, 1)


def seed_quality(store, dataset: str, *, seed: int = 0, batch: int = 10_000) -> list[int]:
    """Write random quality measures for every clip of ``dataset``; return the ids."""
    from audiosoup_widgets.store import SampleQuery

    ids = store.sample_ids(SampleQuery(dataset))
    rng = np.random.default_rng(seed)
    n = len(ids)
    clip = np.where(rng.random(n) < 0.9, 0.0, 10 ** rng.uniform(-5, -1, n))
    values = {
        "peak_dbfs": rng.uniform(-30, 0, n),
        "rms_dbfs": rng.normal(-26, 6, n),
        "clip_ratio": clip,
        "silence_ratio": rng.beta(1.2, 5, n),
        "leading_silence_s": rng.uniform(0, 0.3, n),
        "trailing_silence_s": rng.uniform(0, 0.3, n),
        "dc_offset": rng.normal(0, 1e-3, n),
        "snr_db": rng.gamma(4, 6, n),
        "bandwidth_hz": rng.uniform(3000, 8000, n),
    }
    for start in range(0, n, batch):
        rows = [
            {
                "sample_id": int(ids[j]),
                **{k: float(v[j]) for k, v in values.items()},
                "pcm_sha256": f"{j:064x}",
            }
            for j in range(start, min(n, start + batch))
        ]
        store.write_quality(rows, version=1)
    return ids


def seed_findings(store, dataset: str, ids: list[int]) -> int:
    """Store a check's worth of findings: duplicate pairs and per-label findings."""
    from audiosoup_widgets.analysis.qc import QcThresholds

    findings = [
        {
            "kind": "exact_duplicate",
            "label": None,
            "sample_ids": [ids[2 * k], ids[2 * k + 1]],
            "detail": {"summary": f"2 clips share one recording ({k})"},
        }
        for k in range(2000)
    ]
    for kind in ("clipping", "silence", "level_outlier"):
        for lab in range(4):
            chunk = ids[10_000 + 500 * lab : 10_000 + 500 * lab + 120]
            findings.append(
                {
                    "kind": kind,
                    "label": f"l{lab}",
                    "sample_ids": chunk,
                    "detail": {"summary": f"{kind} {lab}"},
                }
            )
    store.save_findings(
        dataset, findings=findings, params=QcThresholds().as_dict(), started_at=dt.datetime.now(dt.UTC)
    )
    return len(findings)


def run(admin_url: str, n: int, runs: int) -> dict:
    """Seed a throwaway database, time the quality view, drop the database; return the results."""
    from audiosoup_widgets.services import QualityService, ReviewServices
    from audiosoup_widgets.state import ReviewState
    from audiosoup_widgets.store import Store
    from audiosoup_widgets.testing import seed_synthetic
    from audiosoup_widgets.widgets import QualityPanel

    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = f"audiosoup_bench_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    store = Store(url)
    results: dict = {"n_samples": n, "runs": runs}
    try:
        store.upgrade()
        t0 = time.perf_counter()
        seed_synthetic(store, dataset="bench", n=n)
        ids = seed_quality(store, "bench")
        results["findings"] = seed_findings(store, "bench", ids)
        with store.engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
        results["seed_s"] = round(time.perf_counter() - t0, 1)
        store.quality_columns("bench")  # warm the connection pool and the page cache

        reads, overviews, cold, warm = [], [], [], []
        for _ in range(runs):
            t0 = time.perf_counter()
            cols = store.quality_columns("bench")
            reads.append(time.perf_counter() - t0)
            assert len(cols["sample_id"]) == n

            t0 = time.perf_counter()
            ov = QualityService(store).overview("bench")
            overviews.append(time.perf_counter() - t0)
            assert ov.clips == n and ov.measured == n

            state = ReviewState(dataset="bench")
            services = ReviewServices(store)
            t0 = time.perf_counter()
            panel = QualityPanel(state, services)
            state.show("quality")  # no event loop here: the overview is read and drawn at once
            cold.append(time.perf_counter() - t0)
            assert len(panel.figures) == 8 and panel.findings and not state.error, state.error

            state.show("clips")
            t0 = time.perf_counter()
            state.show("quality")
            warm.append(time.perf_counter() - t0)
            panel.close()
        results["read_columns"] = _median_ms(reads)
        results["overview_cold"] = _median_ms(overviews)
        results["open_cold"] = _median_ms(cold)
        results["open_warm"] = _median_ms(warm)
        results["open_cold_all_ms"] = [round(x * 1000, 1) for x in cold]
    finally:
        store.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    results["targets_ms"] = TARGETS_MS
    results["ok"] = all(results[k] <= v for k, v in TARGETS_MS.items())
    return results


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--db-admin", default=DEFAULT_ADMIN, help="PostgreSQL URL allowed to create databases")
    p.add_argument("--n", type=int, default=100_000, help="synthetic samples to seed")
    p.add_argument("--runs", type=int, default=5, help="runs per measurement (median reported)")
    p.add_argument("--json", help="also write the results to this JSON file")
    args = p.parse_args(argv)
    res = run(args.db_admin, args.n, args.runs)
    print(
        f"quality view on {res['n_samples']:,} samples and {res['findings']:,} findings "
        f"(seeded in {res['seed_s']} s), median of {res['runs']} runs"
    )
    print(f"{'measurement':<40}{'ms':>10}{'target':>10}")
    rows = [
        ("store: quality columns", "read_columns"),
        ("service: overview, cold", "overview_cold"),
        ("quality view opens, cold", "open_cold"),
        ("quality view opens again, warm", "open_warm"),
    ]
    for title, key in rows:
        target = TARGETS_MS.get(key)
        print(f"{title:<40}{res[key]:>10.1f}{('<= ' + str(target)) if target else '':>10}")
    print("all targets met" if res["ok"] else "SOME TARGETS MISSED")
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=2))
    return 0 if res["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
