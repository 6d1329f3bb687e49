"""Benchmark text by meaning on PostgreSQL: embedding 100,000 notes, a query, the grid filtered by meaning.

Creates a throwaway database (``audiosoup_bench_<random>``) through the admin URL,
seeds synthetic rows with short notes (a few words drawn from a small vocabulary, so
texts repeat words but rarely whole), and times the median of several runs of:

* ``embed_100k_s``: WordLlama embedding the 100,000 notes (the model alone);
* ``embed_store_s``: :func:`~audiosoup_widgets.jobs.text.embed_dataset` from nothing (read
  the texts, hash, embed, binary COPY of the vectors), once;
* ``embed_current_s``: the same again with nothing changed (hashes compared only);
* ``load_matrix_s``: a new kernel's first search preparation (stored vectors read, no
  embedding), once;
* ``query_ms``: one search by meaning over the cached matrix (the query embedded, one
  matrix-vector product, the best 20);
* ``tfidf_lsa_s``: the fallback embedder (character n-gram TF-IDF + LSA) fitted on and
  applied to the same notes, once;
* ``grid_ms``: the grid's work for a "by meaning" filter combined with a label filter:
  the ranking (:data:`~audiosoup_widgets.services.text.SEMANTIC_LIMIT` ids), the count
  and the first page of 24 cards, none cached; ``grid_letters_ms`` the same with a search
  by letters (the baseline), and ``grid_vs_letters`` their ratio;
* ``query_after_edit_ms``: a search right after a text edit (the texts read and hashed
  again, the one changed text embedded into the cached matrix);
* ``consistency_s``: the cross-validated text model over every clip (the "text
  disagrees" marks), once.

Usage::

    python bench/bench_text.py [--db-admin URL] [--n 100000] [--runs 5] [--json out.json]
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import time
import uuid
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

DEFAULT_ADMIN = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"

WORDS = (
    "wind breeze rain traffic dog cat bird engine voice child laughter door phone music "
    "street kitchen park office train bus crowd water river footsteps keys glass bell alarm "
    "quiet loud distant close short long soft harsh faint clear noisy muffled"
).split()


def _notes(n: int) -> list[str]:
    import numpy as np

    rng = np.random.default_rng(0)
    words = np.array(WORDS)
    lengths = rng.integers(3, 8, n)
    picks = rng.integers(0, len(words), (n, 7))
    return [" ".join(words[picks[i, : lengths[i]]]) for i in range(n)]


def run(admin_url: str, n: int, runs: int) -> dict[str, Any]:
    """Seed a throwaway database, time the embedding, a query and the grid, drop it; return results."""
    from audiosoup_widgets.analysis.text import WordLlamaEmbedder
    from audiosoup_widgets.jobs.text import embed_dataset
    from audiosoup_widgets.services import ReviewServices
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
        notes = _notes(n)
        ids = store.sample_ids(SampleQuery("bench"))
        raw = store.engine.raw_connection()
        try:
            cur = raw.cursor()
            cur.execute("CREATE TEMP TABLE notes (id int, t text)")
            rows = "".join(f"{i}\t{t}\n" for i, t in zip(ids, notes, strict=True))
            cur.copy_expert("COPY notes FROM STDIN", io.StringIO(rows))
            cur.execute("UPDATE samples SET text = notes.t FROM notes WHERE notes.id = samples.id")
            raw.commit()
        finally:
            raw.close()
        with store.engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
        results["seed_s"] = round(time.perf_counter() - t0, 1)

        emb = WordLlamaEmbedder()
        times = []
        for _ in range(runs):
            t = time.perf_counter()
            emb.embed(notes)
            times.append(time.perf_counter() - t)
        results["embed_100k_s" if n == 100_000 else f"embed_{n}_s"] = round(statistics.median(times), 2)
        # The fallback embedder on the same notes (fit and transform), for comparison.
        from audiosoup_widgets.analysis.text import TfidfLsaEmbedder

        t = time.perf_counter()
        TfidfLsaEmbedder().fit(notes).embed(notes)
        results["tfidf_lsa_s"] = round(time.perf_counter() - t, 2)

        t = time.perf_counter()
        report = embed_dataset("bench", db=store, embedder=emb)
        results["embed_store_s"] = round(time.perf_counter() - t, 2)
        assert report.embedded == n
        t = time.perf_counter()
        assert embed_dataset("bench", db=store, embedder=emb).embedded == 0
        results["embed_current_s"] = round(time.perf_counter() - t, 2)

        services = ReviewServices(store)
        t = time.perf_counter()
        assert services.text.prepare("bench") == n
        results["load_matrix_s"] = round(time.perf_counter() - t, 2)

        queries = ["wind", "a dog barking", "children in the park", "quiet kitchen", "train engine"]
        times = []
        for i in range(max(runs, 10)):
            t = time.perf_counter()
            hits = services.text.search("bench", queries[i % len(queries)], k=20)
            times.append(time.perf_counter() - t)
            assert len(hits) == 20
        results["query_ms"] = round(statistics.median(times) * 1000, 1)

        times = []
        for i in range(max(runs, 10)):
            t = time.perf_counter()
            ranked = services.text.ranked_ids("bench", queries[i % len(queries)])
            q = SampleQuery("bench", labels=("up",), ranked=ranked)
            total = store.count_samples(q)
            page = store.page_samples(q, page=0, page_size=24)
            times.append(time.perf_counter() - t)
            assert total > 0 and len(page) == min(24, total)
        results["grid_ms"] = round(statistics.median(times) * 1000, 1)

        # The baseline, in the same run: the grid's search by letters (ILIKE) with the same
        # label filter, the count and the first page.
        times = []
        for i in range(max(runs, 10)):
            t = time.perf_counter()
            q = SampleQuery("bench", labels=("up",), search=queries[i % len(queries)].split()[-1])
            store.count_samples(q)
            store.page_samples(q, page=0, page_size=24)
            times.append(time.perf_counter() - t)
        results["grid_letters_ms"] = round(statistics.median(times) * 1000, 1)
        results["grid_vs_letters"] = round(results["grid_ms"] / results["grid_letters_ms"], 2)

        times = []
        for i in range(runs):
            rec = services.samples.get(ids[i])
            services.samples.update(rec, reviewer="bench", text=f"strong wind noise {i}")
            t = time.perf_counter()
            hits = services.text.search("bench", "wind", k=20)
            times.append(time.perf_counter() - t)
        results["query_after_edit_ms"] = round(statistics.median(times) * 1000, 1)

        t = time.perf_counter()
        services.text.consistency("bench")
        results["consistency_s"] = round(time.perf_counter() - t, 1)
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
