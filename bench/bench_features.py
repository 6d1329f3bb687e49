"""Benchmark: the feature engine against the 2020 prototype's per-clip librosa path.

Writes N synthetic one-second 16 kHz WAV files (speech-like, tones, chirps, clicks,
noise, mixtures) to a temporary folder, then runs each path in its own subprocess on
one core (thread pools set to 1, CPU affinity pinned where the OS allows), so peak
memory (``ru_maxrss``) and timings do not mix:

(a) ``prototype``: per clip ``librosa.load`` at 22,050 Hz, then every panel computed
    separately as the 2020 prototype did (harmonic separation before tonnetz and CQT
    chroma, one onset envelope per tempogram, chroma + beat tracking + sync + stack).
(b) ``engine``: ``soundfile`` decoding at the native rate and
    :func:`audiosoup_widgets.features.compute_features` on batches, all 14 features.
(c) ``engine_store`` (``--with-store URL``): ``audiosoup features compute`` end to end
    with its default workers (decode, engine, summaries written to the database), each
    pass on a dataset of the N clips with no features stored yet; see
    :func:`run_engine_with_store`.

Each worker warms up first, untimed but reported (numba compilation for both; for the
engine, :func:`~audiosoup_widgets.features.warm_up` also builds the chroma and constant-Q
filters of all 100 tunings librosa can estimate, whatever the data), then times
``--repeats`` passes over all files. The table shows the median pass in wall-clock and
in process CPU time (robust to other load on a shared machine) and the first pass.

Usage::

    python bench/bench_features.py --n 256 --repeats 3 --json bench.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SR = 16000
SINGLE_THREAD = {
    name: "1"
    for name in (
        "OMP_NUM_THREADS",
        "OPENBLAS_NUM_THREADS",
        "MKL_NUM_THREADS",
        "NUMBA_NUM_THREADS",
        "VECLIB_MAXIMUM_THREADS",
        "NUMEXPR_NUM_THREADS",
    )
}


# -- Synthetic data -----------------------------------------------------------------------------
def synth_clip(i: int, sr: int = SR) -> np.ndarray:
    """One second of a varied synthetic signal, chosen by ``i``."""
    import scipy.signal

    rng = np.random.default_rng(i)
    t = np.arange(sr) / sr
    kind = i % 6
    if kind == 0:  # speech-like: glottal pulses through formants, syllabic envelope
        f0 = rng.uniform(90, 220) * (1 + 0.1 * np.sin(2 * np.pi * rng.uniform(1, 3) * t))
        pulses = (np.diff(np.floor(np.cumsum(f0 / sr)), prepend=0.0) > 0).astype(float)
        y = np.zeros(sr)
        for formant in rng.uniform([500, 1000, 2300], [900, 1800, 3000]):
            r = np.exp(-np.pi * 120 / sr)
            y += scipy.signal.lfilter([1 - r], [1, -2 * r * np.cos(2 * np.pi * formant / sr), r * r], pulses)
        y *= np.clip(np.sin(2 * np.pi * rng.uniform(2, 5) * t), 0, None)
    elif kind == 1:  # tone with vibrato
        f = rng.uniform(100, 2000)
        y = np.sin(2 * np.pi * f * t + rng.uniform(0, 5) * np.sin(2 * np.pi * 5 * t))
    elif kind == 2:  # chirp
        y = scipy.signal.chirp(t, f0=rng.uniform(50, 500), t1=1.0, f1=rng.uniform(1000, 7000))
    elif kind == 3:  # click train
        y = np.zeros(sr)
        period = int(sr * 60 / rng.uniform(70, 200))
        y[rng.integers(0, period) :: period] = 1.0
        y = scipy.signal.lfilter([1.0], [1, -0.9], y)
    elif kind == 4:  # noise bursts
        y = rng.standard_normal(sr) * (np.sin(2 * np.pi * rng.uniform(1, 4) * t) > 0.3)
    else:  # a mixture, quiet
        y = np.sin(2 * np.pi * rng.uniform(200, 800) * t) + 0.3 * rng.standard_normal(sr)
        y *= 0.01
    y = y / max(np.abs(y).max(), 1e-9) * rng.uniform(0.05, 0.9)
    return y.astype(np.float32)


def write_dataset(folder: Path, n: int) -> list[Path]:
    """Write ``n`` 16-bit WAV files and return their paths."""
    import soundfile as sf

    paths = []
    for i in range(n):
        path = folder / f"clip_{i:05d}.wav"
        sf.write(path, synth_clip(i), SR, subtype="PCM_16")
        paths.append(path)
    return paths


# -- Paths (run inside a worker subprocess) -----------------------------------------------------
def run_prototype(files: list[Path], args: argparse.Namespace) -> int:
    """The 2020 prototype: per clip, every panel computed on its own. Returns errors."""
    import librosa

    errors = 0
    for path in files:
        y, sr = librosa.load(path)  # resamples to 22,050 Hz, as the prototype did
        librosa.feature.melspectrogram(y=y, sr=sr)
        harmonic = librosa.effects.harmonic(y)
        librosa.feature.tonnetz(y=harmonic, sr=sr)
        librosa.feature.chroma_cqt(y=harmonic, sr=sr)
        librosa.feature.spectral_contrast(S=np.abs(librosa.stft(y)), sr=sr)
        librosa.feature.tempogram(onset_envelope=librosa.onset.onset_strength(y=y, sr=sr), sr=sr)
        librosa.feature.fourier_tempogram(onset_envelope=librosa.onset.onset_strength(y=y, sr=sr), sr=sr)
        mfcc = librosa.feature.mfcc(y=y, sr=sr)
        librosa.feature.delta(mfcc)
        librosa.feature.delta(mfcc, order=2)
        chroma = librosa.feature.chroma_stft(y=y, sr=sr)
        _, beats = librosa.beat.beat_track(y=y, sr=sr)
        try:
            librosa.feature.stack_memory(librosa.util.sync(chroma, beats, aggregate=np.median))
        except librosa.ParameterError:  # no beat found: the prototype failed here
            errors += 1
    return errors


def run_engine(files: list[Path], args: argparse.Namespace) -> int:
    """This package's engine: soundfile decoding, batches, all features. Returns errors."""
    import soundfile as sf

    from audiosoup_widgets.features import compute_features_with_status

    errors = 0
    for start in range(0, len(files), args.batch):
        clips = [sf.read(path, dtype="float32")[0] for path in files[start : start + args.batch]]
        result = compute_features_with_status(np.stack(clips), SR)
        errors += sum(status == "non_finite" for status in result.status)
    return errors


_STORE: dict[str, object] = {}


def reset_store(files: list[Path], args: argparse.Namespace) -> None:
    """Before each pass of (c), untimed: a dataset of the clips with no features stored.

    The clips are loaded into a fresh dataset of the store at ``--with-store`` once;
    before every later pass its summaries are deleted, so each pass is a first
    ``features compute`` of the whole dataset.
    """
    from audiosoup_widgets.features import FEATURES
    from audiosoup_widgets.jobs.ingest import load_dataset
    from audiosoup_widgets.store import Store

    if "store" not in _STORE:
        store = Store(args.with_store)
        store.upgrade()
        name = f"bench-{os.getpid()}"
        folder = Path(args.dir) / "dataset"
        (folder / "clip").mkdir(parents=True, exist_ok=True)
        # Copies, not symlinks: the loader refuses links that leave the dataset root.
        for f in files:
            (folder / "clip" / f.name).write_bytes(f.read_bytes())
        load_dataset(store, folder, dataset=name, layout="folders")
        _STORE.update(store=store, name=name)
    _STORE["store"].clear_summaries(_STORE["name"], list(FEATURES))


def run_engine_with_store(files: list[Path], args: argparse.Namespace) -> int:
    """Path (c): ``audiosoup features compute`` end to end with its default workers.

    Decoding, the engine and the summaries written to the database by the workers,
    for every clip of a dataset that has none yet (see :func:`reset_store`).
    """
    from audiosoup_widgets.jobs.compute import compute_dataset

    report = compute_dataset(_STORE["store"], _STORE["name"])
    return len(report.failed)


def warm_prototype() -> None:
    import librosa

    y = synth_clip(3, 22050)
    librosa.beat.beat_track(y=y, sr=22050)
    librosa.feature.tonnetz(y=librosa.effects.harmonic(y), sr=22050)


def warm_engine() -> None:
    from audiosoup_widgets.features import warm_up

    warm_up(SR)


RESETS: dict[str, Callable[[list[Path], argparse.Namespace], None]] = {
    "engine_store": reset_store,
}
PATHS: dict[str, tuple[Callable[[list[Path], argparse.Namespace], int], Callable[[], None]]] = {
    "prototype": (run_prototype, warm_prototype),
    "engine": (run_engine, warm_engine),
    "engine_store": (run_engine_with_store, warm_engine),
}


def _maxrss_mb() -> float:
    scale = 1024 * 1024 if sys.platform == "darwin" else 1024  # bytes on macOS, KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / scale


def worker(args: argparse.Namespace) -> None:
    """Time one path in this process and print one JSON line."""
    # (a) and (b) are measured on one core; (c) is the CLI with its default workers.
    if hasattr(os, "sched_setaffinity") and args.worker != "engine_store":
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    sys.path.insert(0, str(REPO))
    warnings.simplefilter("ignore")
    files = sorted(Path(args.dir).glob("*.wav"))[: args.limit or None]
    run, warm = PATHS[args.worker]
    start = time.perf_counter()
    warm()
    warm_seconds = time.perf_counter() - start
    rss_warm = _maxrss_mb()
    seconds, cpu_seconds, errors = [], [], 0
    for _ in range(args.repeats):
        if args.worker in RESETS:
            RESETS[args.worker](files, args)
        start, cpu_start = time.perf_counter(), time.process_time()
        errors = run(files, args)
        seconds.append(time.perf_counter() - start)
        cpu_seconds.append(time.process_time() - cpu_start)
    print(
        json.dumps(
            {
                "path": args.worker,
                "clips": len(files),
                "warm_up_seconds": warm_seconds,
                "seconds": seconds,
                "cpu_seconds": cpu_seconds,
                "clips_per_s": [len(files) / s for s in seconds],
                "cpu_clips_per_s": [len(files) / s for s in cpu_seconds],
                "errors": errors,
                "maxrss_after_warmup_mb": rss_warm,
                "maxrss_mb": _maxrss_mb(),
                "children_maxrss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
            }
        )
    )


# -- Driver -------------------------------------------------------------------------------------
def run_path(name: str, folder: Path, args: argparse.Namespace, limit: int) -> dict:
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--worker",
        name,
        "--dir",
        str(folder),
        "--repeats",
        str(args.repeats),
        "--batch",
        str(args.batch),
        "--limit",
        str(limit),
    ]
    if args.with_store:
        command += ["--with-store", args.with_store]
    env = {**os.environ, **SINGLE_THREAD} if name != "engine_store" else dict(os.environ)
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {"path": name, "failed": last}
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["median_clips_per_s"] = statistics.median(result["clips_per_s"])
    result["median_cpu_clips_per_s"] = statistics.median(result["cpu_clips_per_s"])
    result["first_pass_clips_per_s"] = result["clips_per_s"][0]
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=256, help="number of synthetic clips")
    parser.add_argument("--repeats", type=int, default=3, help="timed passes per path")
    parser.add_argument("--batch", type=int, default=64, help="engine batch size")
    parser.add_argument(
        "--prototype-n",
        type=int,
        default=0,
        help="clips for the (slow, per-clip) prototype path; default: --n",
    )
    parser.add_argument("--paths", default="prototype,engine", help="comma-separated paths to run")
    parser.add_argument(
        "--with-store", metavar="URL", default="", help="also run path (c), the engine writing to this store"
    )
    parser.add_argument("--json", metavar="FILE", help="write the numbers as JSON")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--dir", help=argparse.SUPPRESS)
    parser.add_argument("--limit", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(args)
        return 0

    names = [p for p in args.paths.split(",") if p]
    if args.with_store and "engine_store" not in names:
        names.append("engine_store")
    results = {}
    with tempfile.TemporaryDirectory(prefix="audiosoup-bench-") as tmp:
        write_dataset(Path(tmp), args.n)
        for name in names:
            limit = args.prototype_n if name == "prototype" and args.prototype_n else args.n
            print(f"running {name} on {limit} clips x {args.repeats} ...", file=sys.stderr)
            results[name] = run_path(name, Path(tmp), args, limit)

    print(
        f"\n{'path':<14}{'clips':>7}{'clips/s':>9}{'CPU clips/s':>13}{'first pass':>12}"
        f"{'warm-up s':>11}{'peak RSS MB':>13}{'errors':>8}"
    )
    for name, r in results.items():
        if "failed" in r:
            print(f"{name:<14}  failed: {r['failed']}")
            continue
        print(
            f"{name:<14}{r['clips']:>7}{r['median_clips_per_s']:>9.1f}"
            f"{r['median_cpu_clips_per_s']:>13.1f}{r['first_pass_clips_per_s']:>12.1f}"
            f"{r['warm_up_seconds']:>11.1f}{r['maxrss_mb']:>13.0f}{r['errors']:>8}"
        )
    print(
        "(clips/s: median wall-clock pass; CPU clips/s: median over process CPU time, "
        "which other load on the machine does not inflate)"
    )
    ratio = cpu_ratio = None
    a, b = results.get("prototype", {}), results.get("engine", {})
    if "median_clips_per_s" in a and "median_clips_per_s" in b:
        ratio = b["median_clips_per_s"] / a["median_clips_per_s"]
        cpu_ratio = b["median_cpu_clips_per_s"] / a["median_cpu_clips_per_s"]
        print(f"\nspeed-up engine / prototype: {ratio:.1f}x wall-clock, {cpu_ratio:.1f}x CPU time")
    if args.json:
        import librosa

        report = {
            "n": args.n,
            "repeats": args.repeats,
            "batch": args.batch,
            "sr": SR,
            "paths": results,
            "ratio_engine_over_prototype": ratio,
            "cpu_ratio_engine_over_prototype": cpu_ratio,
            "python": platform.python_version(),
            "librosa": librosa.__version__,
            "machine": platform.machine(),
            "processor": platform.processor(),
        }
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
