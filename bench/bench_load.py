"""Benchmark `audiosoup load` on PostgreSQL: clips/s for N one-second 16 kHz clips.

Compares the loader (worker processes + COPY batches) with a baseline shaped like the
2020 prototype (decode every file in one process, one INSERT and one COMMIT per file),
both measured in the same run into fresh throwaway databases.

    python bench/bench_load.py --n 3000 --repeats 3 [--json out.json]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
import soundfile as sf
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from audiosoup_widgets.jobs.ingest import load_dataset
from audiosoup_widgets.store import SampleQuery, Store

ADMIN = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"


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


class TempDB:
    def __init__(self, admin: str) -> None:
        self.admin = create_engine(admin, isolation_level="AUTOCOMMIT")
        self.name = f"audiosoup_bench_{uuid.uuid4().hex[:8]}"
        self.url = make_url(admin).set(database=self.name).render_as_string(hide_password=False)

    def __enter__(self) -> Store:
        with self.admin.connect() as c:
            c.execute(text(f'CREATE DATABASE "{self.name}"'))
        self.store = Store(self.url)
        self.store.upgrade()
        return self.store

    def __exit__(self, *exc) -> None:
        self.store.dispose()
        with self.admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))


def run_loader(root: Path, admin: str) -> float:
    with TempDB(admin) as store:
        t0 = time.perf_counter()
        report = load_dataset(store, root, dataset="bench", layout="speech-commands")
        dt = time.perf_counter() - t0
        assert report.loaded == store.count_samples(SampleQuery("bench"))
        return report.loaded / dt


def run_baseline(root: Path, admin: str) -> float:
    """One process, decode each file, one INSERT + COMMIT per file (the prototype's shape)."""
    from audiosoup_widgets.audio import encode_peaks, waveform_peaks

    with TempDB(admin) as store:
        ds = store.ensure_dataset("bench", root=str(root), layout="folders")
        labels = store.ensure_labels(ds, [p.name for p in root.iterdir()])
        files = sorted(root.rglob("*.wav"))
        t0 = time.perf_counter()
        for f in files:
            y, sr = sf.read(f, dtype="float32")
            rel = f.relative_to(root).as_posix()
            store.insert_samples(
                [
                    {
                        "dataset_id": ds,
                        "label_id": labels[f.parent.name],
                        "path": rel,
                        "content_hash": hashlib.sha256(f.read_bytes()).hexdigest(),
                        "format": "WAV",
                        "subtype": "PCM_16",
                        "sample_rate": sr,
                        "channels": 1,
                        "frames": len(y),
                        "duration": len(y) / sr,
                        "peaks": encode_peaks(waveform_peaks(y)),
                    }
                ]
            )
        return len(files) / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=3000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--db-admin", default=ADMIN)
    ap.add_argument("--json")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "clips"
        make_clips(root, args.n)
        loader = [run_loader(root, args.db_admin) for _ in range(args.repeats)]
        base = [run_baseline(root, args.db_admin) for _ in range(args.repeats)]
    res = {
        "n": args.n,
        "repeats": args.repeats,
        "loader_clips_per_s": statistics.median(loader),
        "baseline_clips_per_s": statistics.median(base),
    }
    res["ratio"] = res["loader_clips_per_s"] / res["baseline_clips_per_s"]
    print(f"{'path':<44}{'clips/s (median)':>18}")
    print(f"{'audiosoup load (workers + COPY batches)':<44}{res['loader_clips_per_s']:>18.0f}")
    print(f"{'baseline (one process, commit per file)':<44}{res['baseline_clips_per_s']:>18.0f}")
    print(f"ratio: {res['ratio']:.1f}x   runs: {[round(x) for x in loader]} vs {[round(x) for x in base]}")
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=2) + "\n")


if __name__ == "__main__":
    main()
