"""Benchmark: peak memory and time of ``audiosoup features compute`` on one long file.

Writes one long synthetic WAV (default: 2 hours, 16 kHz, mono, 16-bit; speech-like
pulses through formants, tones, clicks and noise, changing every few seconds),
written in pieces so this script never holds the whole signal. It loads the file
into a fresh SQLite database with ``audiosoup load``, then runs
``audiosoup features compute`` (all features) in a child process and reports:

* ``peak_rss_mb``: the largest resident set of any process of the run, from the
  kernel's own accounting (``getrusage(RUSAGE_CHILDREN).ru_maxrss`` of a wrapper
  whose only descendants are the command and its workers);
* ``tree_rss_mb``: the largest sum of the resident sets of the command and all its
  descendants, polled every 0.2 s with psutil (forked workers share pages with their
  parent, so this sum over-counts; it is what a process monitor shows);
* ``seconds``: wall time of the command, and its exit code.

Run it against any checkout by setting ``PYTHONPATH``; the file and the database
are made in a temporary folder (or ``--dir``) and reused when present.

``--compare-whole`` instead measures how much segmenting changes the summaries: it
computes every feature of the same synthetic signal (``--minutes`` long, held in
memory, so keep it to about 10 minutes) once whole and once in segments, and prints
per feature how far the rows' means and standard deviations moved (root mean square
over rows), in units of the feature's typical spread (root mean square of the whole
clip's row standard deviations).

Usage::

    python bench/bench_long.py --minutes 120 --sr 16000 --workers 1 --json long.json
    python bench/bench_long.py --minutes 10 --compare-whole
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

PIECE_S = 10.0  # seconds synthesised at a time


def synth_piece(i: int, sr: int, seconds: float) -> np.ndarray:
    """``seconds`` of a varied signal, chosen by ``i`` (float32, peak below 0.9)."""
    import scipy.signal

    rng = np.random.default_rng(i)
    n = int(round(sr * seconds))
    t = np.arange(n) / sr
    kind = i % 4
    if kind == 0:  # speech-like: glottal pulses through three formants, syllabic envelope
        f0 = rng.uniform(90, 220) * (1 + 0.1 * np.sin(2 * np.pi * rng.uniform(1, 3) * t))
        pulses = (np.diff(np.floor(np.cumsum(f0 / sr)), prepend=0.0) > 0).astype(float)
        y = np.zeros(n)
        for formant in rng.uniform([500, 1000, 2300], [900, 1800, 3000]):
            formant = min(formant, 0.45 * sr)
            r = np.exp(-np.pi * 120 / sr)
            y += scipy.signal.lfilter([1 - r], [1, -2 * r * np.cos(2 * np.pi * formant / sr), r * r], pulses)
        y *= np.clip(np.sin(2 * np.pi * rng.uniform(2, 5) * t), 0, None)
    elif kind == 1:  # tone with vibrato
        y = np.sin(2 * np.pi * rng.uniform(100, 2000) * t + 3 * np.sin(2 * np.pi * 5 * t))
    elif kind == 2:  # click train at a steady tempo
        y = np.zeros(n)
        period = int(sr * 60 / rng.uniform(70, 200))
        y[rng.integers(0, period) :: period] = 1.0
        y = scipy.signal.lfilter([1.0], [1, -0.9], y)
    else:  # noise bursts
        y = rng.standard_normal(n) * (np.sin(2 * np.pi * rng.uniform(1, 4) * t) > 0.3)
    y = y / max(np.abs(y).max(), 1e-9) * rng.uniform(0.05, 0.9)
    return y.astype(np.float32)


def write_long_wav(
    path: Path, *, minutes: float, sr: int, channels: int = 1, subtype: str = "PCM_16"
) -> None:
    """Write a long WAV in pieces of :data:`PIECE_S` seconds."""
    import soundfile as sf

    total = int(round(minutes * 60 * sr))
    piece = int(PIECE_S * sr)
    fmt = "RF64" if total * channels * 4 > 2**32 - 2**20 else "WAV"
    with sf.SoundFile(path, "w", samplerate=sr, channels=channels, subtype=subtype, format=fmt) as f:
        written, i = 0, 0
        while written < total:
            k = min(piece, total - written)
            y = synth_piece(i, sr, PIECE_S)[:k]
            # Channels are the same signal at different gains, so the mono mix is not silent.
            f.write(np.outer(y, np.linspace(1.0, 0.5, channels)) if channels > 1 else y)
            written += k
            i += 1


_MEASURE = r"""
import json, resource, subprocess, sys, time
import psutil
cmd = json.loads(sys.argv[1])
t0 = time.perf_counter()
proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
ps = psutil.Process(proc.pid)
tree = 0
while proc.poll() is None:
    try:
        procs = [ps, *ps.children(recursive=True)]
        total = 0
        for p in procs:
            try:
                total += p.memory_info().rss
            except psutil.Error:
                pass
        tree = max(tree, total)
    except psutil.Error:
        pass
    time.sleep(0.2)
out = proc.stdout.read()
seconds = time.perf_counter() - t0
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
print(json.dumps({"rc": proc.returncode, "seconds": seconds, "peak_rss": peak,
                  "tree_rss": tree, "output": out[-3000:]}))
"""


def measure(cmd: list[str]) -> dict:
    """Run ``cmd`` under a wrapper and return its exit code, time and peak memory."""
    res = subprocess.run(
        [sys.executable, "-c", _MEASURE, json.dumps(cmd)], capture_output=True, text=True, check=True
    )
    return json.loads(res.stdout.strip().splitlines()[-1])


def compare_whole(minutes: float, sr: int) -> dict[str, dict[str, float]]:
    """Summaries of one signal computed whole and in segments: the largest differences."""
    from audiosoup_widgets.features import compute_features, summarize
    from audiosoup_widgets.features.segments import segment_bounds, summarize_segments

    n = int(round(minutes * 60 * sr))
    y = np.concatenate([synth_piece(i, sr, PIECE_S) for i in range(-(-n // int(PIECE_S * sr)))])
    y = y[:n]
    bounds = segment_bounds(n)
    seg = summarize_segments((y[a:b] for a, b in bounds), sr)
    whole = summarize(compute_features(y, sr))
    out = {}
    for name, w in whole.items():
        rows = len(w) // 2
        w = w.astype(np.float64)
        d = seg.summaries[name].astype(np.float64) - w
        # In units of the feature's typical spread (RMS over rows of the whole clip's
        # std), so rows near zero or nearly constant do not blow the ratio up.
        spread = max(float(np.sqrt(np.mean(w[rows:] ** 2))), 1e-12)
        out[name] = {
            "mean": float(np.sqrt(np.mean(d[:rows] ** 2)) / spread),
            "std": float(np.sqrt(np.mean(d[rows:] ** 2)) / spread),
            "segments": len(bounds),
        }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=120.0)
    ap.add_argument("--sr", type=int, default=16000)
    ap.add_argument("--channels", type=int, default=1)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--features", default=None, help="comma-separated ids (default: all)")
    ap.add_argument("--dir", default=None, help="work folder (default: a temporary one)")
    ap.add_argument("--json", default=None, help="also write the result here")
    ap.add_argument(
        "--compare-whole", action="store_true", help="compare segmented and whole-clip summaries instead"
    )
    args = ap.parse_args()
    if args.compare_whole:
        report = compare_whole(args.minutes, args.sr)
        for name, d in report.items():
            print(
                f"{name:18s} mean {d['mean']:.4f}  std {d['std']:.4f}  (x spread; {d['segments']} segments)"
            )
        if args.json:
            Path(args.json).write_text(json.dumps(report, indent=2))
        return

    work = Path(args.dir or tempfile.mkdtemp(prefix="audiosoup-bench-long-"))
    data = work / f"long_{args.minutes:g}min_{args.sr}Hz_{args.channels}ch"
    data.mkdir(parents=True, exist_ok=True)
    wav = data / "long.wav"
    if not wav.exists():
        t0 = time.perf_counter()
        write_long_wav(wav, minutes=args.minutes, sr=args.sr, channels=args.channels)
        print(f"wrote {wav.stat().st_size / 1e6:.0f} MB in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    db_file = work / f"bench_{os.getpid()}.sqlite3"
    db = f"sqlite:///{db_file}"
    exe = [sys.executable, "-m", "audiosoup_widgets.cli"]
    subprocess.run(
        [*exe, "load", str(data), "--dataset", "long", "--layout", "folders", "--workers", "1", "--db", db],
        check=True,
        capture_output=True,
    )
    cmd = [*exe, "features", "compute", "--dataset", "long", "--workers", str(args.workers), "--db", db]
    if args.features:
        cmd += ["--features", args.features]
    result = measure(cmd)
    db_file.unlink(missing_ok=True)
    report = {
        "file": {
            "minutes": args.minutes,
            "sr": args.sr,
            "channels": args.channels,
            "bytes": wav.stat().st_size,
        },
        "workers": args.workers,
        "rc": result["rc"],
        "seconds": round(result["seconds"], 1),
        "peak_rss_mb": round(result["peak_rss"] / 2**20),
        "tree_rss_mb": round(result["tree_rss"] / 2**20),
        "output_tail": result["output"].strip().splitlines()[-3:],
    }
    print(json.dumps(report, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
