"""Benchmark `rank_features` on 100,000 samples in PostgreSQL.

Seeds synthetic samples (8 labels, 80 % in the train split) and summaries that cluster
by label (the shapes of ``bench_frame.py``: mfcc 20 rows, chroma 12, mel 128, spectral
contrast 7, tonnetz 6, onset 1: 348 columns) into a throwaway database, then times
``rank_features(level="all")`` with its defaults, median of ``--repeats`` runs, split
into reading the summaries and computing the scores. Target: 10 s.

    python bench/bench_ranking.py --n 100000 --repeats 3 [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from audiosoup_widgets import rank_features
from audiosoup_widgets.store import Store
from audiosoup_widgets.testing import seed_summaries, seed_synthetic

ADMIN = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"
ROWS = {
    "mfcc": 20,
    "chroma": 12,
    "mel_spectrogram": 128,
    "spectral_contrast": 7,
    "tonnetz": 6,
    "onset_strength": 1,
}
LABELS = ("yes", "no", "up", "down", "left", "right", "on", "off")
TARGET_S = 10.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--db-admin", default=ADMIN)
    ap.add_argument("--json")
    args = ap.parse_args()
    admin = create_engine(args.db_admin, isolation_level="AUTOCOMMIT")
    name = f"audiosoup_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(args.db_admin).set(database=name).render_as_string(hide_password=False)
    try:
        store = Store(url)
        store.upgrade()
        t0 = time.perf_counter()
        seed_synthetic(store, dataset="big", n=args.n, labels=LABELS)
        seed_summaries(store, "big", rows=ROWS, spread=0.3)
        print(f"seeded {args.n} samples x {len(ROWS)} features in {time.perf_counter() - t0:.0f} s")
        total, reading, computing = [], [], []
        for _ in range(args.repeats):
            t = time.perf_counter()
            frame = rank_features("big", db=store, level="all")
            total.append(time.perf_counter() - t)
            reading.append(frame.attrs["reading"])
            computing.append(frame.attrs["computing"])
        res = {
            "n": args.n,
            "train_rows": frame.attrs["n_rows"],
            "columns": int((frame["level"] == "column").sum() // (1 + len(LABELS))),
            "rank_s": statistics.median(total),
            "reading_s": statistics.median(reading),
            "computing_s": statistics.median(computing),
            "target_s": TARGET_S,
        }
        print(
            f"rank_features: {res['rank_s']:.2f} s (median of {args.repeats}; reading "
            f"{res['reading_s']:.2f} s, computing {res['computing_s']:.2f} s) for "
            f"{res['train_rows']} train rows x {res['columns']} columns, {len(LABELS)} labels; "
            f"target {TARGET_S:.0f} s: {'met' if res['rank_s'] <= TARGET_S else 'MISSED'}"
        )
        if args.json:
            Path(args.json).write_text(json.dumps(res, indent=2) + "\n")
        store.dispose()
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


if __name__ == "__main__":
    main()
