"""Benchmark `feature_frame` on 100,000 samples in PostgreSQL (or SQLite).

Seeds synthetic samples and synthetic summaries (real shapes: mfcc 20 rows, chroma 12,
mel 128, spectral contrast 7, tonnetz 6, onset 1) into a throwaway database, then times
``feature_frame`` (median of several runs) and, as the baseline in the same run, a plain
``pandas.read_sql`` of the same vectors that decodes each blob row by row.

    python bench/bench_frame.py --n 100000 --repeats 3 [--sqlite] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from audiosoup_widgets import feature_frame
from audiosoup_widgets.features.params import FeatureParams
from audiosoup_widgets.features.summaries import summary_columns
from audiosoup_widgets.store import Store
from audiosoup_widgets.testing import seed_synthetic

ADMIN = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"
ROWS = {
    "mfcc": 20,
    "chroma": 12,
    "mel_spectrogram": 128,
    "spectral_contrast": 7,
    "tonnetz": 6,
    "onset_strength": 1,
}


def seed_summaries(store: Store, n_rows: dict[str, int]) -> None:
    fp = FeatureParams()
    rng = np.random.default_rng(0)
    with store.engine.connect() as conn:
        ids = [r[0] for r in conn.execute(text("SELECT id FROM samples ORDER BY id"))]
    for start in range(0, len(ids), 10_000):
        rows = []
        for sid in ids[start : start + 10_000]:
            for feat, k in n_rows.items():
                rows.append(
                    {
                        "sample_id": sid,
                        "feature": feat,
                        "param_key": fp.key_for(feat),
                        "status": "ok",
                        "n_rows": k,
                        "n_frames": 32,
                        "data": rng.standard_normal(2 * k).astype("<f4").tobytes(),
                    }
                )
        store.write_summaries(rows)


def baseline(url: str, features: list[str]) -> pd.DataFrame:
    """Naive reading: one SQL row per sample, each vector decoded in Python, cut by its layout."""
    engine = create_engine(url)
    df = pd.read_sql(
        text(
            "SELECT v.sample_id, l.entries, v.data FROM summary_vectors v "
            "JOIN summary_layouts l ON l.id = v.layout_id "
            "JOIN samples s ON s.id = v.sample_id ORDER BY v.sample_id"
        ),
        engine,
    )
    engine.dispose()
    rows, cols = [], None
    for entries, blob in zip(df["entries"], df["data"], strict=True):
        entries = json.loads(entries) if isinstance(entries, str) else entries
        vec = np.frombuffer(bytes(blob), "<f4")
        parts, offset = {}, 0
        for feat, _key, n in entries:
            parts[feat] = vec[offset : offset + 2 * n]
            offset += 2 * n
        rows.append(np.concatenate([parts[f] for f in features]))
        if cols is None:
            cols = [c for f in features for c in summary_columns(f, len(parts[f]) // 2)]
    return pd.DataFrame(rows, columns=cols, index=df["sample_id"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--db-admin", default=ADMIN)
    ap.add_argument("--sqlite", action="store_true", help="an SQLite file in a temporary folder instead")
    ap.add_argument("--json")
    args = ap.parse_args()
    tmp = tempfile.TemporaryDirectory() if args.sqlite else None
    if tmp is not None:
        url = f"sqlite:///{Path(tmp.name) / 'bench.sqlite3'}"
    else:
        admin = create_engine(args.db_admin, isolation_level="AUTOCOMMIT")
        name = f"audiosoup_bench_{uuid.uuid4().hex[:8]}"
        with admin.connect() as c:
            c.execute(text(f'CREATE DATABASE "{name}"'))
        url = make_url(args.db_admin).set(database=name).render_as_string(hide_password=False)
    try:
        store = Store(url)
        store.upgrade()
        t0 = time.perf_counter()
        seed_synthetic(store, dataset="big", n=args.n)
        seed_summaries(store, ROWS)
        print(f"seeded {args.n} samples x {len(ROWS)} features in {time.perf_counter() - t0:.0f} s")
        feats = list(ROWS)
        ours, base = [], []
        for _ in range(args.repeats):
            t = time.perf_counter()
            frame = feature_frame("big", feats, db=store)
            ours.append(time.perf_counter() - t)
            t = time.perf_counter()
            ref = baseline(url, feats)
            base.append(time.perf_counter() - t)
        assert len(frame) == args.n == len(ref)
        res = {
            "database": "sqlite" if args.sqlite else "postgresql",
            "n": args.n,
            "columns": frame.shape[1],
            "feature_frame_s": statistics.median(ours),
            "baseline_s": statistics.median(base),
        }
        res["ratio"] = res["baseline_s"] / res["feature_frame_s"]
        print(
            f"feature_frame: {res['feature_frame_s']:.2f} s for {args.n} rows x "
            f"{frame.shape[1]} columns (median of {args.repeats}); naive read_sql + pivot: "
            f"{res['baseline_s']:.2f} s; {res['ratio']:.1f}x faster"
        )
        if args.json:
            Path(args.json).write_text(json.dumps(res, indent=2) + "\n")
        store.dispose()
    finally:
        if tmp is not None:
            tmp.cleanup()
        else:
            with admin.connect() as c:
                c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


if __name__ == "__main__":
    main()
