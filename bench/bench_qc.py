"""Benchmark the near-duplicate scan of the quality check at 100,000 clips.

Builds feature summaries with the structure of real ones (a few latent factors seen through
352 columns, noise, some missing cells and constant columns), plants near-duplicate pairs
and exact copies, then times :func:`~audiosoup_widgets.analysis.neighbours.near_duplicate_groups`
(median of several runs, wall clock and process CPU) and checks that every planted pair
is found. The whole check (``find_issues`` on a quality table) is timed once as well.

    python bench/bench_qc.py --n 100000 --repeats 3 [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np
import pandas as pd

from audiosoup_widgets.analysis.neighbours import near_duplicate_groups
from audiosoup_widgets.analysis.qc import QcThresholds, find_issues


def make_features(n: int, d: int, *, pairs: int, seed: int = 0) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """Return (n, d) float32 summaries with ``pairs`` planted near-duplicate pairs."""
    rng = np.random.default_rng(seed)
    latent = rng.standard_normal((n, 16)).astype(np.float32)
    mix = rng.standard_normal((16, d)).astype(np.float32)
    x = latent @ mix + 0.5 * rng.standard_normal((n, d)).astype(np.float32)
    x[:, :8] = 1.0  # constant columns (a band a 16 kHz clip never reaches)
    x[rng.random((n, d)) < 0.01] = np.nan
    planted = []
    idx = rng.choice(n, size=2 * pairs, replace=False)
    for a, b in zip(idx[::2], idx[1::2], strict=True):
        x[b] = x[a]
        x[b, 8:] += 1e-3 * rng.standard_normal(d - 8).astype(np.float32)  # constant columns stay so
        planted.append((int(min(a, b)), int(max(a, b))))
    return x, planted


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--d", type=int, default=352)
    ap.add_argument("--pairs", type=int, default=500)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json")
    args = ap.parse_args(argv)
    x, planted = make_features(args.n, args.d, pairs=args.pairs)
    th = QcThresholds()
    walls, cpus = [], []
    found = 0
    for _ in range(args.repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        groups = near_duplicate_groups(x, threshold=th.near_duplicate)
        walls.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - c0)
        pairs = {tuple(sorted(int(i) for i in g)) for g in groups.groups if len(g) == 2}
        found = sum(p in pairs for p in planted)
    table = pd.DataFrame(
        {
            "sample_id": np.arange(1, args.n + 1),
            "label": np.array(["yes", "no", "up", "down"])[np.arange(args.n) % 4],
            "split": "train",
            "speaker": None,
            "sample_rate": 16000,
            "channels": 1,
            "rms_dbfs": -20.0,
            "clip_ratio": 0.0,
            "silence_ratio": 0.3,
            "pcm_sha256": [f"{i:064x}" for i in range(args.n)],
        }
    )
    w0 = time.perf_counter()
    findings = find_issues(table, features=x, thresholds=th)
    whole = time.perf_counter() - w0
    result = {
        "n": args.n,
        "columns": args.d,
        "near_duplicate_scan_s": round(statistics.median(walls), 2),
        "runs_s": [round(w, 2) for w in walls],
        "cpu_s": round(statistics.median(cpus), 2),
        "planted_pairs_found": f"{found}/{len(planted)}",
        "find_issues_s": round(whole, 2),
        "findings": len(findings),
    }
    print(
        f"near-duplicate scan, {args.n:,} clips x {args.d} columns: {result['near_duplicate_scan_s']} s "
        f"median of {args.repeats} (runs {result['runs_s']}, CPU {result['cpu_s']} s), "
        f"planted pairs found {result['planted_pairs_found']}; whole find_issues {whole:.1f} s  (target 60 s)"
    )
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(result, f, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
