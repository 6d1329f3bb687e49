"""Benchmark the review widgets on a 100,000-sample PostgreSQL dataset.

Creates a throwaway database (``audiosoup_bench_<random>``) through the admin URL,
seeds synthetic rows, and times, server side (no browser), the median of several
runs of:

* a page flip of 24 cards to the first, middle and last page, through the whole
  app (grid refresh plus every observer of the new selection); target <= 50 ms;
* a change of label filter (a new count);
* the spectral tab of the feature explorer for a 1-s clip, cold (a sample not in
  the cache, engine already warm) and cached; targets <= 200 ms and <= 50 ms.

Usage::

    python bench/bench_widgets.py [--db-admin URL] [--n 100000] [--runs 7] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
import soundfile as sf
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

DEFAULT_ADMIN = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"
TARGETS_MS = {
    "page_first": 50,
    "page_middle": 50,
    "page_last": 50,
    "spectral_cold": 200,
    "spectral_cached": 50,
}


def _median_ms(samples: list[float]) -> float:
    return round(statistics.median(samples) * 1000, 2)


def _time(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _clip(seconds: float, sr: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    f0 = 150 + 40 * seed
    y = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 6)) * np.hanning(len(t))
    return (0.3 * y / np.abs(y).max() + 0.003 * rng.standard_normal(len(t))).astype(np.float32)


def add_audio(store, root: Path, *, n: int) -> list[int]:
    """Write ``n`` one-second WAVs and insert them as dataset ``bench-audio``; return their ids."""
    import hashlib

    from audiosoup_widgets.store import SampleQuery
    from audiosoup_widgets.testing import sample_row

    ds = store.ensure_dataset("bench-audio", root=str(root), layout="folders")
    lab = store.ensure_labels(ds, ["tone"])["tone"]
    (root / "tone").mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(n):
        y = _clip(1.0, 16000, i)
        rel = f"tone/clip_{i:03d}.wav"
        sf.write(root / rel, y, 16000, subtype="PCM_16")
        rows.append(
            sample_row(
                ds,
                rel,
                audio=y,
                label_id=lab,
                content_hash=hashlib.sha256(rel.encode()).hexdigest(),
                subtype="PCM_16",
                split="train",
                rms_db=-20.0,
            )
        )
    store.insert_samples(rows)
    return [r.id for r in store.page_samples(SampleQuery("bench-audio"), page=0, page_size=n)]


def run(admin_url: str, n: int, runs: int) -> dict:
    """Seed a throwaway database, time the widgets, drop the database; return the results."""
    from audiosoup_widgets.app import build_review_app
    from audiosoup_widgets.features.engine import warm_up
    from audiosoup_widgets.store import Store
    from audiosoup_widgets.testing import seed_synthetic

    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = f"audiosoup_bench_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    store = Store(url)
    results: dict = {"n_samples": n, "runs": runs, "page_size": 24}
    try:
        store.upgrade()
        t0 = time.perf_counter()
        seed_synthetic(store, dataset="bench", n=n)
        with store.engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
        results["seed_s"] = round(time.perf_counter() - t0, 1)

        app = build_review_app(db=store, dataset="bench", warm_up=False)
        grid, st = app.grid, app.state
        assert grid.total == n, (grid.total, n)
        last = grid.n_pages - 1
        pages = {"page_first": 0, "page_middle": last // 2, "page_last": last}
        for key, target in pages.items():
            times = []
            for r in range(runs + 1):
                grid.vue_set_page(1 if target != 1 else 2)
                dt = _time(lambda target=target: grid.vue_set_page(target))
                assert st.page == target and len(grid.cards) > 0 and not st.error, st.error
                if r:  # the first run warms the query plan
                    times.append(dt)
            results[key] = _median_ms(times)
        labels = [lab.name for lab in store.list_labels("bench")]
        times = []
        for r in range(runs):
            grid.vue_set_labels([labels[r % len(labels)], labels[(r + 1) % len(labels)]])
            times.append(_time(lambda r=r: grid.vue_set_labels(labels[: 1 + r % 3])))
            app.services.samples.forget()
        results["filter_change_uncached_count"] = _median_ms(times)
        app.widget.close()

        with tempfile.TemporaryDirectory() as tmp:
            ids = add_audio(store, Path(tmp), n=runs + 2)
            warm_up()  # what the app does in the background at start-up
            app = build_review_app(db=store, dataset="bench-audio", warm_up=False)
            ex, st = app.explorer, app.state
            ex.vue_set_visible(True)
            st.selected_sample_id = ids[0]  # first compute in this process (filters, caches)
            cold = []
            for sid in ids[1 : runs + 1]:
                cold.append(_time(lambda sid=sid: setattr(st, "selected_sample_id", sid)))
                assert len(ex.items) == 5 and not st.error, st.error
            results["spectral_cold"] = _median_ms(cold)
            cached = []
            for r in range(runs):
                sid = ids[1 + r % 2]
                cached.append(_time(lambda sid=sid: setattr(st, "selected_sample_id", sid)))
            results["spectral_cached"] = _median_ms(cached)
            app.widget.close()
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
    p.add_argument("--runs", type=int, default=7, help="runs per measurement (median reported)")
    p.add_argument("--json", help="also write the results to this JSON file")
    args = p.parse_args(argv)
    res = run(args.db_admin, args.n, args.runs)
    print(
        f"review widgets on {res['n_samples']:,} samples (seeded in {res['seed_s']} s), "
        f"median of {res['runs']} runs"
    )
    print(f"{'measurement':<32}{'ms':>10}{'target':>10}")
    rows = [
        ("page flip, first page", "page_first"),
        ("page flip, middle page", "page_middle"),
        ("page flip, last page", "page_last"),
        ("label filter (new count)", "filter_change_uncached_count"),
        ("spectral tab 1-s clip, cold", "spectral_cold"),
        ("spectral tab 1-s clip, cached", "spectral_cached"),
    ]
    for title, key in rows:
        target = TARGETS_MS.get(key)
        print(f"{title:<32}{res[key]:>10.1f}{('<= ' + str(target)) if target else '':>10}")
    print("all targets met" if res["ok"] else "SOME TARGETS MISSED")
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=2))
    return 0 if res["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
