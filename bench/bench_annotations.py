"""Benchmark annotations on 100,000 clips in PostgreSQL: a selection's tags, their undo, disagreements.

Seeds synthetic samples (``seed_synthetic``) into a throwaway database and three reviewers'
votes on every clip (70 % the same label, else one of four at random), then reports, each
as the median of ``--repeats`` runs:

* ``bulk_tag_s``: two tags given to ``--selection`` clips in one step (one batch);
* ``undo_batch_s``: that batch undone in one step;
* ``disagreement_count_s`` and ``disagreement_page_s``: counting the clips whose votes
  disagree, and their 100th page of 48;
* ``agreement_s``: ``agreement(dataset)`` over every vote (alpha, per-class, majorities).

    python bench/bench_annotations.py --n 100000 --selection 20000 --repeats 3 [--json out.json]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import time
import uuid

import numpy as np
from sqlalchemy import create_engine, insert, text
from sqlalchemy.engine import make_url

from audiosoup_widgets import agreement
from audiosoup_widgets.store import SampleQuery, Store
from audiosoup_widgets.store.models import AnnotationVote
from audiosoup_widgets.testing import seed_synthetic

ADMIN = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"


def _votes(store: Store, ids: list[int]) -> None:
    rng = np.random.default_rng(0)
    now = dt.datetime.now(dt.UTC)
    rows = [
        {
            "sample_id": i,
            "reviewer": f"r{r}",
            "label": "abcd"[int(rng.integers(0, 4))] if rng.random() < 0.3 else "a",
            "at": now,
        }
        for i in ids
        for r in range(3)
    ]
    with store.session() as sess:
        sess.execute(insert(AnnotationVote), rows)


def _timed(fn: object) -> float:
    t = time.perf_counter()
    fn()  # type: ignore[operator]
    return time.perf_counter() - t


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--selection", type=int, default=20_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json")
    args = ap.parse_args(argv)
    admin = create_engine(ADMIN, isolation_level="AUTOCOMMIT")
    name = f"bench_annotations_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        store = Store(make_url(ADMIN).set(database=name).render_as_string(hide_password=False))
        store.upgrade()
        seed_synthetic(store, dataset="d", n=args.n)
        ids = store.sample_ids(SampleQuery("d"))
        _votes(store, ids)
        chosen = ids[: args.selection]
        times: dict[str, list[float]] = {}
        for _ in range(args.repeats):
            t = time.perf_counter()
            batch = store.mark_samples("tag", chosen, ["music", "loud"], reviewer="bench", dataset="d")
            times.setdefault("bulk_tag_s", []).append(time.perf_counter() - t)
            t = time.perf_counter()
            store.undo_annotation_batch(batch.batch_id or "", reviewer="bench")
            times.setdefault("undo_batch_s", []).append(time.perf_counter() - t)
            q = SampleQuery("d", disagreement=True)
            times.setdefault("disagreement_count_s", []).append(_timed(lambda q=q: store.count_samples(q)))
            times.setdefault("disagreement_page_s", []).append(
                _timed(lambda q=q: store.page_samples(q, page=100, page_size=48))
            )
            times.setdefault("agreement_s", []).append(_timed(lambda: agreement("d", db=store)))
        out = {
            "n": args.n,
            "selection": args.selection,
            "pairs": 2 * len(chosen),
            "disputed": store.count_samples(SampleQuery("d", disagreement=True)),
            **{k: round(statistics.median(v), 3) for k, v in times.items()},
        }
        store.dispose()
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    print(json.dumps(out, indent=2))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(out, f, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
