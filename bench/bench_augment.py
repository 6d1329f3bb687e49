"""Benchmark augmentation: a warm preview of a 1-s clip, and batch augmentation in clips/s.

* Preview: :meth:`AugmentService.preview` (the recipe applied to the cached decoded
  clip, rounded as stored) on a 1-s 16 kHz clip, warm; its baseline is the same
  preview cold (the clip decoded again each time). Target: at most 150 ms warm.
* Batch: :func:`augment_dataset` end to end (decode, apply, FLAC write, analysis,
  insert) of N one-second clips with gain + noise + shift on the worker pool;
  its baseline is the same run in one process. Target: at least 200 clips/s on 2 cores.
  Clips per CPU second (this process and its workers) are printed too: on a machine
  shared with other work, they say what the code does apart from the wait for a core.

Each number is the median of ``--repeats`` runs, the baseline measured in the same run.

    python bench/bench_augment.py --n 1000 --repeats 3 [--workers 2] [--db URL] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

RECIPE = """\
seed: 0
steps:
  - Gain: {min_gain_db: -6.0, max_gain_db: 6.0}
  - AddGaussianSNR: {min_snr_db: 15.0, max_snr_db: 30.0}
  - Shift: {min_shift: -0.2, max_shift: 0.2}
"""


def make_clips(root: Path, n: int) -> None:
    rng = np.random.default_rng(0)
    words = ["yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go"]
    t = np.arange(16000) / 16000
    for w in words:
        (root / w).mkdir(parents=True, exist_ok=True)
    for i in range(n):
        f = 150 + 40 * (i % 17)
        y = 0.3 * np.sin(2 * np.pi * f * t) * np.hanning(16000) + 0.01 * rng.standard_normal(16000)
        sf.write(
            root / words[i % 10] / f"{i:08x}_nohash_{i % 4}.wav",
            y.astype(np.float32),
            16000,
            subtype="PCM_16",
        )


def _cpu() -> float:
    """CPU seconds of this process and of its finished workers."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def bench_batch(store, n: int, workers: int) -> tuple[float, float]:
    """Return clips/s of wall time, and clips per CPU second (what a quiet core would do)."""
    from audiosoup_widgets.jobs.augment import augment_dataset, delete_augmented

    c0, t0 = _cpu(), time.perf_counter()
    report = augment_dataset("bench", RECIPE, name="bench", db=store, workers=workers)
    dt, cpu = time.perf_counter() - t0, _cpu() - c0
    assert report.created == n and not report.failed, report.summary()
    assert delete_augmented("bench", "bench", db=store) == n
    return n / dt, n / cpu


PITCH = "seed: 0\nsteps:\n  - PitchShift: {min_semitones: -4.0, max_semitones: 4.0}\n"


def bench_preview(store, repeats: int, text: str = RECIPE) -> tuple[float, float]:
    from audiosoup_widgets.audio.recipes import recipe_from_yaml
    from audiosoup_widgets.services import ReviewServices
    from audiosoup_widgets.store import SampleQuery

    services = ReviewServices(store)
    recipe = recipe_from_yaml(text)
    sid = store.sample_ids(SampleQuery("bench"), limit=1)[0]
    record = services.samples.get(sid)
    services.augment.preview(record, recipe)  # warm: imports, decode cached
    warm, cold = [], []
    for v in range(max(repeats, 5) * 4):
        t0 = time.perf_counter()
        services.augment.preview(record, recipe, variant=v)
        warm.append(time.perf_counter() - t0)
        services.audio._audio.clear()  # the baseline: decoded again every time
        t0 = time.perf_counter()
        services.augment.preview(record, recipe, variant=v)
        cold.append(time.perf_counter() - t0)
    return statistics.median(warm) * 1000, statistics.median(cold) * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--db", help="database URL (default: a throwaway SQLite file)")
    ap.add_argument("--json")
    args = ap.parse_args()
    from audiosoup_widgets.jobs.ingest import load_dataset
    from audiosoup_widgets.store import Store

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["AUDIOSOUP_DATA_DIR"] = str(Path(tmp) / "data")
        root = Path(tmp) / "clips"
        make_clips(root, args.n)
        store = Store(args.db or f"sqlite:///{Path(tmp) / 'bench.sqlite3'}")
        store.upgrade()
        load_dataset(store, root, dataset="bench", layout="speech-commands", workers=args.workers)
        warm_ms, cold_ms = bench_preview(store, args.repeats)
        pitch_ms, _ = bench_preview(store, args.repeats, PITCH)
        pool, one = [], []
        for _ in range(args.repeats):
            pool.append(bench_batch(store, args.n, args.workers))
            one.append(bench_batch(store, args.n, 1))
        out = {
            "n": args.n,
            "workers": args.workers,
            "load_average_1min": round(os.getloadavg()[0], 2),
            "preview_warm_ms": round(warm_ms, 2),
            "preview_cold_ms (baseline)": round(cold_ms, 2),
            "preview_pitch_shift_warm_ms": round(pitch_ms, 2),
            "batch_clips_per_s": round(statistics.median(r[0] for r in pool), 1),
            "batch_one_process_clips_per_s (baseline)": round(statistics.median(r[0] for r in one), 1),
            "batch_clips_per_cpu_s": round(statistics.median(r[1] for r in pool), 1),
            "batch_runs": [round(r[0], 1) for r in pool],
            "one_process_runs": [round(r[0], 1) for r in one],
        }
        for k, v in out.items():
            print(f"{k:45s} {v}")
        if args.json:
            Path(args.json).write_text(json.dumps(out, indent=2))
        store.dispose()


if __name__ == "__main__":
    main()
