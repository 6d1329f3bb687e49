"""Benchmark label suspects on 100,000 clips in PostgreSQL, and a retrain after 10 edits on the demo.

Seeds synthetic samples (``seed_synthetic``: 8 labels, speakers, an 8/1/1 split) and
summaries of ``--features`` (default ``mfcc,chroma``, the issue's example: 64 columns)
around one centre per label into a throwaway database, relabels 10% of the non-test clips
to another label, then reports, each as the median of ``--repeats`` runs:

* ``suspects_s``: ``label_suspects(dataset, features=...)`` end to end: the summaries
  read into a frame, the cross-validation on the train split (grouped by speaker), the
  validation fit, cleanlab, the nearest clips of each suggestion, the run and every
  clip's suspicion stored, and the suspects read back; its stages apart
  (``reading_s``, ``fitting_s``, ``explaining_s``, ``saving_s``);
* ``recall_at_k``: the share of the relabelled clips among the top k suspects (k the
  number relabelled);
* ``retrain_s``: on the packaged demo dataset (148 clips, every feature; loaded and
  featurised into a throwaway SQLite file first), 10 label edits, then ``label_suspects``
  again (a fresh run with the same features, scored, judged and stored).

    python bench/bench_suspects.py --n 100000 --repeats 3 [--workers 1] [--json out.json]
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
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from audiosoup_widgets import label_suspects
from audiosoup_widgets.features.params import FeatureParams
from audiosoup_widgets.store import Store
from audiosoup_widgets.testing import seed_synthetic

ADMIN = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"
ROWS = {"mfcc": 20, "chroma": 12, "mel_spectrogram": 128, "spectral_contrast": 7, "tonnetz": 6}
LABELS = ("yes", "no", "up", "down", "left", "right", "on", "off")
TARGETS = {"suspects_s": 60.0, "retrain_s": 2.0}


def seed(store: Store, features: list[str], *, spread: float) -> set[int]:
    """Summaries around one centre per label; 10% of non-test clips relabelled. Return those ids."""
    fp = FeatureParams()
    rng = np.random.default_rng(0)
    width = 2 * sum(ROWS[f] for f in features)
    centres = rng.normal(0.0, spread, (len(LABELS), width)).astype(np.float32)
    with store.engine.connect() as conn:
        rows = conn.execute(text("SELECT id, split FROM samples ORDER BY id")).all()
    ids = [r[0] for r in rows]
    for start in range(0, len(ids), 10_000):
        block = ids[start : start + 10_000]
        values = centres[np.arange(start, start + len(block)) % len(LABELS)]
        values = values + rng.standard_normal(values.shape, dtype=np.float32)
        out = []
        for i, sid in enumerate(block):
            col = 0
            for feat in features:
                k = ROWS[feat]
                out.append(
                    {
                        "sample_id": sid,
                        "feature": feat,
                        "param_key": fp.key_for(feat),
                        "status": "ok",
                        "n_rows": k,
                        "n_frames": 32,
                        "data": values[i, col : col + 2 * k].astype("<f4").tobytes(),
                    }
                )
                col += 2 * k
        store.write_summaries(out)
    pool = [r[0] for r in rows if r[1] != "test"]
    flipped = rng.choice(pool, size=len(pool) // 10, replace=False)
    shift = rng.integers(1, len(LABELS), len(flipped))
    with store.engine.begin() as conn:
        label_ids = dict(conn.execute(text("SELECT name, id FROM labels")).all())
        order = [label_ids[lab] for lab in LABELS]
        # A bench shortcut: relabel in one statement (no history rows), clip i has label i % 8.
        values = [
            {"sid": int(s), "lab": order[(int(s) - 1 + int(d)) % len(LABELS)]}
            for s, d in zip(flipped, shift, strict=True)
        ]
        conn.execute(text("UPDATE samples SET label_id = :lab WHERE id = :sid"), values)
    return {int(s) for s in flipped}


def time_suspects(store: Store, features: list[str], flipped: set[int], repeats: int, workers: int) -> dict:
    totals, stages, recalls, counts = [], [], [], []
    for _ in range(repeats):
        marks: dict[str, float] = {}

        def progress(stage: str, done: int, total: int, marks: dict[str, float] = marks) -> None:
            marks[f"{stage}_{'end' if done == total else 'start'}"] = time.perf_counter()

        t0 = time.perf_counter()
        frame = label_suspects("big", db=store, features=features, workers=workers, progress=progress)
        totals.append(time.perf_counter() - t0)
        stages.append(
            {
                s: marks[f"{s}_end"] - marks[f"{s}_start"]
                for s in ("reading", "fitting", "explaining", "saving")
            }
        )
        top = set(frame["sample_id"].head(len(flipped)).tolist())
        recalls.append(len(top & flipped) / len(flipped))
        counts.append(len(frame))
    return {
        "suspects_s": round(statistics.median(totals), 2),
        "suspects_runs_s": [round(t, 2) for t in totals],
        **{f"{s}_s": round(statistics.median(d[s] for d in stages), 2) for s in stages[0]},
        "recall_at_k": round(statistics.median(recalls), 4),
        "k": len(flipped),
        "suspects": counts[-1],
    }


def time_retrain(repeats: int) -> dict:
    from audiosoup_widgets.jobs.demo import DEMO_DATASET, ensure_demo

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'demo.sqlite3'}"
        t0 = time.perf_counter()
        store = ensure_demo(url)
        prepare = time.perf_counter() - t0
        first = label_suspects(DEMO_DATASET, db=store)  # a first run: the features to reuse
        table = store.sample_table(DEMO_DATASET)
        labels = sorted({r[2] for r in table if r[2] is not None})
        runs: list[float] = []
        cpus: list[float] = []
        for r in range(repeats):
            # Ten clips spread over the labels (a label of nine clips keeps enough to be cross-validated).
            train = [row for row in table if row[3] == "train" and row[2] is not None]
            edits = train[r :: max(1, len(train) // 10)][:10]
            for sid, _, label, _ in edits:
                rec = store.get_sample(sid)
                other = labels[(labels.index(label) + 1) % len(labels)]
                store.update_sample(sid, version=rec.version, reviewer="bench", label=other)
            t0, c0 = time.perf_counter(), time.process_time()
            frame = label_suspects(DEMO_DATASET, db=store)
            runs.append(time.perf_counter() - t0)
            cpus.append(time.process_time() - c0)
        n = len(table)
        run = store.latest_model_run(DEMO_DATASET)
        store.dispose()
    return {
        "retrain_s": round(statistics.median(runs), 3),
        "retrain_runs_s": [round(t, 3) for t in runs],
        "retrain_cpu_s": round(statistics.median(cpus), 3),
        "demo_clips": n,
        "demo_features": len(run.features) if run else 0,
        "demo_prepare_s": round(prepare, 1),
        "demo_first_suspects": len(first),
        "demo_suspects_after_edits": len(frame),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--features", default="mfcc,chroma")
    ap.add_argument("--spread", type=float, default=0.35, help="spread of the label centres (overlap)")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--skip-retrain", action="store_true")
    ap.add_argument("--only-retrain", action="store_true")
    ap.add_argument("--json")
    args = ap.parse_args(argv)
    features = args.features.split(",")
    if args.only_retrain:
        result = time_retrain(args.repeats)
        print(f"retrain after 10 edits on the demo: {result}")
        return 0
    admin = create_engine(ADMIN, isolation_level="AUTOCOMMIT")
    name = f"audiosoup_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    result: dict = {"n": args.n, "features": features, "workers": args.workers}
    try:
        store = Store(make_url(ADMIN).set(database=name).render_as_string(hide_password=False))
        store.upgrade()
        t0 = time.perf_counter()
        seed_synthetic(store, dataset="big", n=args.n, labels=LABELS)
        flipped = seed(store, features, spread=args.spread)
        result["seed_s"] = round(time.perf_counter() - t0, 1)
        result.update(time_suspects(store, features, flipped, args.repeats, args.workers))
        store.dispose()
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    if not args.skip_retrain:
        result.update(time_retrain(args.repeats))
    print(
        f"suspects end to end, {args.n:,} clips x {2 * sum(ROWS[f] for f in features)} columns: "
        f"{result['suspects_s']} s median of {args.repeats} (runs {result['suspects_runs_s']}; reading "
        f"{result['reading_s']} s, fitting {result['fitting_s']} s, explaining {result['explaining_s']} s, "
        f"saving {result['saving_s']} s)  (target {TARGETS['suspects_s']:.0f} s); "
        f"recall of the {result['k']:,} relabelled clips in the top {result['k']:,}: {result['recall_at_k']}"
    )
    if "retrain_s" in result:
        print(
            f"retrain after 10 edits on the demo ({result['demo_clips']} clips, "
            f"{result['demo_features']} features): {result['retrain_s']} s median "
            f"(runs {result['retrain_runs_s']}, CPU {result['retrain_cpu_s']} s)  "
            f"(target {TARGETS['retrain_s']:.0f} s)"
        )
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(result, f, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
